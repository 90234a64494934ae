// The small interface the agent uses to run inference. src/runtime/llama.ts implements it
// with node-llama-cpp; nothing outside src/runtime imports node-llama-cpp.

/** A model variant the runtime can load: a GGUF file on local disk. */
export interface ModelSpec {
  /** Name the operator schedules by (EdgeNode spec.models[].name), e.g. `smollm2-135m`. */
  readonly name: string;
  /** Quantization label, e.g. Q4_K_M, Q8_0, F16 (informational; the file decides). */
  readonly quantization: string;
  /** Absolute path of the GGUF file. */
  readonly path: string;
  /** Context size (tokens) shared by the sequences of one batch; default: runtime's choice. */
  readonly contextTokens?: number;
  /** Most sequences one batch may hold (one sequence per request). */
  readonly maxSequences?: number;
}

/** What the runtime knows about a loaded model. */
export interface LoadedModel {
  readonly name: string;
  readonly quantization: string;
  readonly path: string;
  readonly fileBytes: number;
  /** Total context (tokens) of the batch context; each sequence gets contextTokens / maxSequences. */
  readonly contextTokens: number;
  readonly maxSequences: number;
  /** Architecture read from the GGUF metadata. */
  readonly layers: number;
  readonly hiddenSize: number;
  readonly parameters: number;
  readonly loadSeconds: number;
}

export interface RuntimeCapabilities {
  /** Whether the runtime can execute only some layers of a model (split inference). */
  readonly partialModelExecution: boolean;
  /** `cpu`, or the GPU backend in use (`cuda`, `vulkan`, `metal`). */
  readonly accelerator: string;
  readonly threads: number;
  /**
   * How llama.cpp's threads are kept (llama-thread-pool.ts): `persistent`, a pool per context,
   * or `per-call`, created on every decode; absent where the runtime has none.
   */
  readonly threadPool?: 'persistent' | 'per-call';
  /** The pool module's path, or why the threads are per-call. */
  readonly threadPoolDetail?: string;
}

export interface SamplingOptions {
  /** 0 means greedy decoding. */
  readonly temperature: number;
  readonly seed?: number;
  readonly topK?: number;
  readonly topP?: number;
}

/**
 * How a prompt becomes the model's input: `text` tokenizes it as is (plain completion, BOS added
 * when the model wants one); `chat` makes it one user message in the model's chat template,
 * ending where the assistant's reply begins (what instruct models are trained to answer).
 */
export type PromptFormat = 'text' | 'chat';

/** One turn of a conversation (format `chat`). */
export interface ChatMessage {
  readonly role: 'system' | 'user' | 'assistant';
  readonly content: string;
}

/** One request of a batch: one sequence of the shared context. */
export interface GenerationRequest {
  readonly id: string;
  readonly prompt: string;
  /** Default `text`. */
  readonly promptFormat?: PromptFormat;
  /**
   * Format `chat` only: the conversation so far, rendered with the model's chat template up to
   * where the assistant's next reply begins (`prompt` is then ignored). Without it, `prompt` is
   * one user message.
   */
  readonly messages?: readonly ChatMessage[];
  readonly maxTokens: number;
  readonly sampling: SamplingOptions;
  /** Cancels this request alone: its sequence stops being decoded, the batch runs on. */
  readonly signal?: AbortSignal;
}

export const FINISH_REASON = {
  /** Generated maxTokens tokens. */
  length: 'length',
  /** The model produced an end-of-generation token. */
  stop: 'stop',
  /** Cancelled through the abort signal. */
  cancelled: 'cancelled',
} as const;
export type FinishReason = (typeof FINISH_REASON)[keyof typeof FINISH_REASON];

export interface GenerationResult {
  readonly id: string;
  readonly text: string;
  readonly promptTokens: number;
  readonly completionTokens: number;
  readonly finishReason: FinishReason;
  /** Seconds from the batch's start to this request's first generated token. */
  readonly firstTokenSeconds: number;
  /** Seconds from the batch's start until this request finished. */
  readonly totalSeconds: number;
}

export interface TokenEvent {
  readonly id: string;
  /** Text of the newly generated token(s). */
  readonly text: string;
  /** Tokens generated so far for this request. */
  readonly completionTokens: number;
}

export interface BatchTimings {
  /** Wall time of evaluating all prompts together. */
  readonly prefillSeconds: number;
  /** Wall time of all decode steps. */
  readonly decodeSeconds: number;
  readonly decodeSteps: number;
  /** Model evaluations (llama_decode calls): prefill chunks plus one per decode step. */
  readonly evaluations: number;
}

/** One decode step: one token for each of `sequences` sequences, in one evaluation. */
export interface DecodeStepObservation {
  readonly sequences: number;
  /** Sum over the step's sequences of the tokens in their KV cache after the step. */
  readonly contextTokens: number;
  /** From the start of this step to the start of the next (sampling and callbacks included). */
  readonly seconds: number;
}

/** How long a batch's phases took, as the online calibration observes them. */
export interface BatchObservation {
  /** Prompt tokens of each request, evaluated together in `prefillSeconds`. */
  readonly promptTokens: readonly number[];
  /** Start of the batch to the first decode step (prompts evaluated, first tokens sampled). */
  readonly prefillSeconds: number;
  /** Every decode step, in order. */
  readonly decodeSteps: readonly DecodeStepObservation[];
}

export interface BatchOutput {
  readonly results: readonly GenerationResult[];
  readonly timings: BatchTimings;
  readonly observation: BatchObservation;
}

export interface InferenceRuntime {
  capabilities(): RuntimeCapabilities;
  loadModel(spec: ModelSpec): Promise<LoadedModel>;
  unloadModel(name: string): Promise<void>;
  loadedModels(): readonly LoadedModel[];
  /** Number of tokens `text` tokenizes to with the model, as plain text. */
  countTokens(model: string, text: string): Promise<number>;
  /**
   * Number of input tokens a prompt becomes in `format` (what the context must hold); for `chat`
   * with `messages`, the rendered conversation.
   */
  countPromptTokens(
    model: string,
    prompt: string,
    format: PromptFormat,
    messages?: readonly ChatMessage[],
  ): Promise<number>;
  /**
   * Runs the requests as one batch: one context, one sequence per request, all prompts
   * evaluated together, then decode steps over all unfinished sequences together.
   * `onToken` is called as tokens are produced. Aborting the signal stops generation; the
   * results then say `cancelled` for unfinished requests. A request's own signal cancels that
   * request alone.
   */
  generateBatch(
    model: string,
    requests: readonly GenerationRequest[],
    options: { readonly signal?: AbortSignal; readonly onToken?: (event: TokenEvent) => void },
  ): Promise<BatchOutput>;
  dispose(): Promise<void>;
}
