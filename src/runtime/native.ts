// node-llama-cpp's native layer, reached through the fields its public objects hold: the
// context's llama_batch / llama_decode / sampling calls and its sampler class. The runtime's
// decode loop (decode-loop.ts) drives them so that every decode step of a batch is ONE
// llama_decode call over all its sequences. node-llama-cpp's public sequence API cannot promise
// that: LlamaContext.dispatchPendingBatch decodes whatever sequences have queued as soon as the
// previous batch's sampling is done, and each sequence queues its next token in its own
// continuation, so some sequences always miss a step (measured: 63 decode calls of one token for
// 2 sequences of 32 tokens; 38 calls of mostly 7 for 8). Neither `batching.dispatchSchedule`
// (asked only when the queue was idle) nor `itemPrioritizationStrategy` (cannot hold an item
// back: a process amount of 0 becomes 1) can wait for a whole step.
//
// These fields are not part of node-llama-cpp's typed API; package.json pins node-llama-cpp
// exactly, and nativeContextOf checks every member at model load so a changed package fails
// there, with a message, instead of mid-batch.
import type { Llama, LlamaContext, LlamaContextSequence, LlamaModel, Token } from 'node-llama-cpp';
import { RuntimeUnavailableError } from './errors.js';

/** The sampler options the native sampler takes (node-llama-cpp's own names and defaults). */
export interface NativeSamplerConfig {
  readonly temperature: number;
  readonly minP: number;
  readonly topK: number;
  readonly topP: number;
  readonly seed: number;
}

/** One sampler chain (llama_sampler): its state (the random generator) lives across steps. */
export interface NativeSampler {
  applyConfig(config: NativeSamplerConfig): void;
  dispose(): void;
}

/** Index of a token's logits within the batch last decoded. */
export type BatchLogitIndex = number;

/** The native context: one llama_batch at a time, decoded by one llama_decode call. */
export interface NativeContext {
  /** Starts a new llama_batch for up to `size` tokens (size <= the context's batch size). */
  initBatch(size: number): void;
  /**
   * Appends `tokens` of sequence `sequenceId` at positions from `firstPosition`; the tokens at
   * `logitIndexes` (indexes into `tokens`) get logits. Returns their batch logit indexes.
   */
  addToBatch(
    sequenceId: number,
    firstPosition: number,
    tokens: Uint32Array,
    logitIndexes: Uint32Array,
  ): Uint32Array;
  /** llama_decode of the batch (on a libuv pool thread), then llama_synchronize. */
  decodeBatch(): Promise<void>;
  /** Samples from the logits at `index` with `sampler` (on a libuv pool thread); -1 when none. */
  sampleToken(index: BatchLogitIndex, sampler: NativeSampler): Promise<Token | -1>;
  /** Removes the sequence's KV-cache cells in [start, end) (end -1: to the end). */
  removeTokenCellsFromSequence(sequenceId: number, start: number, end: number): boolean;
}

const CONTEXT_METHODS = [
  'initBatch',
  'addToBatch',
  'decodeBatch',
  'sampleToken',
  'removeTokenCellsFromSequence',
] as const;

/** node-llama-cpp defaults of the options our requests leave unset (LlamaContextSequence). */
export const NATIVE_SAMPLER_DEFAULTS = { minP: 0, topK: 40, topP: 0.95 } as const;

function unsupported(what: string): RuntimeUnavailableError {
  return new RuntimeUnavailableError(
    `node-llama-cpp no longer exposes ${what}, which the batched decode loop drives; ` +
      'install the version package.json pins (npm install)',
  );
}

function field(owner: object, name: string): unknown {
  return (owner as Record<string, unknown>)[name];
}

/** The native handles of a loaded model's context; throws RuntimeUnavailableError when absent. */
export function nativeContextOf(context: LlamaContext): NativeContext {
  const native = field(context, '_ctx');
  if (typeof native !== 'object' || native === null) throw unsupported('LlamaContext._ctx');
  for (const method of CONTEXT_METHODS) {
    if (typeof field(native, method) !== 'function')
      throw unsupported(`the native context's ${method}()`);
  }
  return native as NativeContext;
}

/** The llama.cpp sequence id (seq_id) behind a context sequence. */
export function nativeSequenceId(sequence: LlamaContextSequence): number {
  const id = field(sequence, '_sequenceId');
  if (typeof id !== 'number') throw unsupported('LlamaContextSequence._sequenceId');
  return id;
}

type SamplerClass = new (model: unknown) => NativeSampler;

/** A factory of native samplers for `model`; checked at model load. */
export function nativeSamplerFactory(llama: Llama, model: LlamaModel): () => NativeSampler {
  const bindings = field(llama, '_bindings');
  const Sampler =
    typeof bindings === 'object' && bindings !== null ? field(bindings, 'AddonSampler') : undefined;
  const nativeModel = field(model, '_model');
  if (typeof Sampler !== 'function') throw unsupported('the native AddonSampler class');
  if (typeof nativeModel !== 'object' || nativeModel === null)
    throw unsupported('LlamaModel._model');
  const SamplerClass = Sampler as SamplerClass;
  return () => new SamplerClass(nativeModel);
}
