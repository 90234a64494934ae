// Typed runtime errors. Each has a stable `code` the gRPC layer maps to a status code, and a
// message that says what to do about it.

export const RUNTIME_ERROR_CODE = {
  modelNotFound: 'MODEL_NOT_FOUND',
  modelAlreadyLoaded: 'MODEL_ALREADY_LOADED',
  modelLoadFailed: 'MODEL_LOAD_FAILED',
  promptTooLong: 'PROMPT_TOO_LONG',
  batchTooLarge: 'BATCH_TOO_LARGE',
  emptyBatch: 'EMPTY_BATCH',
  invalidRequest: 'INVALID_REQUEST',
  runtimeUnavailable: 'RUNTIME_UNAVAILABLE',
} as const;
export type RuntimeErrorCode = (typeof RUNTIME_ERROR_CODE)[keyof typeof RUNTIME_ERROR_CODE];

export class RuntimeError extends Error {
  constructor(
    readonly code: RuntimeErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** The model is not loaded (or, at load time, its file does not exist). Maps to NOT_FOUND. */
export class ModelNotFoundError extends RuntimeError {
  constructor(
    readonly model: string,
    detail: string,
  ) {
    super(RUNTIME_ERROR_CODE.modelNotFound, `model ${model}: ${detail}`);
  }
}

/** A model of this name is already loaded. Maps to ALREADY_EXISTS. */
export class ModelAlreadyLoadedError extends RuntimeError {
  constructor(readonly model: string) {
    super(
      RUNTIME_ERROR_CODE.modelAlreadyLoaded,
      `model ${model} is already loaded; unload it first to load it again`,
    );
  }
}

/** llama.cpp could not load the file (not a GGUF, unsupported architecture, out of memory). */
export class ModelLoadError extends RuntimeError {
  constructor(
    readonly model: string,
    readonly path: string,
    cause: unknown,
  ) {
    super(
      RUNTIME_ERROR_CODE.modelLoadFailed,
      `model ${model}: llama.cpp could not load ${path}: ${cause instanceof Error ? cause.message : String(cause)}`,
      { cause },
    );
  }
}

/** Prompt plus requested tokens exceed one sequence's context. Maps to INVALID_ARGUMENT. */
export class PromptTooLongError extends RuntimeError {
  constructor(
    readonly requestId: string,
    readonly promptTokens: number,
    readonly maxTokens: number,
    readonly sequenceContextTokens: number,
  ) {
    super(
      RUNTIME_ERROR_CODE.promptTooLong,
      `request ${requestId}: prompt of ${promptTokens} tokens plus maxTokens ${maxTokens} exceeds ` +
        `the ${sequenceContextTokens}-token context of one sequence; shorten the prompt or lower maxTokens`,
    );
  }
}

/** More requests than the model's context has sequences. Maps to RESOURCE_EXHAUSTED. */
export class BatchTooLargeError extends RuntimeError {
  constructor(
    readonly model: string,
    readonly requested: number,
    readonly maxSequences: number,
  ) {
    super(
      RUNTIME_ERROR_CODE.batchTooLarge,
      `model ${model}: batch of ${requested} requests exceeds the ${maxSequences} sequences its ` +
        `context holds; split the batch or load the model with more maxSequences`,
    );
  }
}

/** generateBatch with no requests. Maps to INVALID_ARGUMENT. */
export class EmptyBatchError extends RuntimeError {
  constructor(readonly model: string) {
    super(RUNTIME_ERROR_CODE.emptyBatch, `model ${model}: a batch needs at least one request`);
  }
}

/** A request field is out of range (maxTokens < 1, duplicate ids, ...). Maps to INVALID_ARGUMENT. */
export class InvalidRequestError extends RuntimeError {
  constructor(
    readonly requestId: string,
    detail: string,
  ) {
    super(RUNTIME_ERROR_CODE.invalidRequest, `request ${requestId}: ${detail}`);
  }
}

/** The runtime was disposed or llama.cpp could not start. Maps to UNAVAILABLE. */
export class RuntimeUnavailableError extends RuntimeError {
  constructor(detail: string, options?: { cause?: unknown }) {
    super(
      RUNTIME_ERROR_CODE.runtimeUnavailable,
      `inference runtime unavailable: ${detail}`,
      options,
    );
  }
}
