// InferenceRuntime on node-llama-cpp: one LlamaContext per loaded model with `maxSequences`
// sequences; a batch takes one sequence per request and runs them through the runtime's decode
// loop (decode-loop.ts): all prompts in one llama_decode call, then one llama_decode call per
// decode step over every sequence still generating. Only the shipped prebuilt llama.cpp binaries
// are used: nothing is built or downloaded at run time.

import { stat } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { performance } from 'node:perf_hooks';
import { checkBatch } from './batch-checks.js';
import { runDecodeLoop } from './decode-loop.js';
import {
  attachedPools,
  usePersistentThreadPool,
  type ThreadPoolChoice,
} from './llama-thread-pool.js';
import {
  getLlama,
  LlamaLogLevel,
  type Llama,
  type LlamaContext,
  type LlamaContextSequence,
  type LlamaModel,
  resolveChatWrapper,
  type ChatHistoryItem,
  type Token,
} from 'node-llama-cpp';
import {
  BatchTooLargeError,
  InvalidRequestError,
  ModelAlreadyLoadedError,
  ModelLoadError,
  ModelNotFoundError,
  RuntimeUnavailableError,
} from './errors.js';
import {
  NATIVE_SAMPLER_DEFAULTS,
  nativeContextOf,
  nativeSamplerFactory,
  nativeSequenceId,
  type NativeContext,
  type NativeSampler,
  type NativeSamplerConfig,
} from './native.js';
import { TextStream } from './text-stream.js';
import {
  FINISH_REASON,
  type BatchOutput,
  type ChatMessage,
  type GenerationRequest,
  type GenerationResult,
  type InferenceRuntime,
  type LoadedModel,
  type ModelSpec,
  type PromptFormat,
  type RuntimeCapabilities,
  type SamplingOptions,
  type TokenEvent,
} from './types.js';

/** Defaults of the llama runtime; every one can be overridden by options or the ModelSpec. */
export const LLAMA_RUNTIME_DEFAULTS = {
  /** Sequences (requests per batch) a model's context holds. */
  maxSequences: 8,
  /** Context tokens per sequence when the ModelSpec gives no contextTokens. */
  sequenceContextTokens: 512,
  gpu: false,
  /**
   * llama.cpp's flash attention: `auto` (node-llama-cpp's default) lets llama.cpp enable it where
   * the backend supports it, as the CPU does. The runtime bench runs llama-batched-bench with
   * the same value.
   */
  flashAttention: 'auto',
} as const;

export type LlamaGpuOption = false | 'auto' | 'cuda' | 'vulkan' | 'metal';

export interface LlamaRuntimeOptions {
  /** CPU threads for evaluation; default: the machine's available parallelism. */
  readonly threads?: number;
  /** GPU backend; default `false` (CPU only). Only prebuilt binaries shipped with node-llama-cpp are used. */
  readonly gpu?: LlamaGpuOption;
  /** Called with llama.cpp's warnings and errors; default: dropped. */
  readonly log?: (level: string, message: string) => void;
}

interface ModelEntry {
  readonly info: LoadedModel;
  readonly model: LlamaModel;
  readonly context: LlamaContext;
  /** All of the context's sequences, created once and cleared before each batch. */
  readonly sequences: readonly LlamaContextSequence[];
  readonly sequenceContextTokens: number;
  /** The context's native batch and decode calls, which the decode loop drives. */
  readonly native: NativeContext;
  /** llama.cpp sequence id of each of `sequences`. */
  readonly sequenceIds: readonly number[];
  readonly newSampler: () => NativeSampler;
  /** Most tokens one llama_decode call takes. */
  readonly batchTokens: number;
  /** The model's chat template (resolved on first use of `chat` prompts). */
  chat?: ReturnType<typeof resolveChatWrapper>;
  /** Serializes batches on this model's context. */
  tail: Promise<void>;
}

function secondsSince(start: number): number {
  return (performance.now() - start) / 1000;
}

/** What the decode loop needs of a loaded model besides the native context. */
export interface NativeEntry {
  readonly batchTokens: number;
  readonly newSampler: () => NativeSampler;
  readonly isEndOfGeneration: (token: Token) => boolean;
}

/**
 * A request's sampling as the native sampler takes it, with node-llama-cpp's defaults for what
 * the request leaves unset (its LlamaContextSequence.evaluate does the same): temperature 0 is
 * greedy; without a seed, the current second.
 */
function samplerConfig(sampling: SamplingOptions): NativeSamplerConfig {
  return {
    temperature: sampling.temperature,
    minP: NATIVE_SAMPLER_DEFAULTS.minP,
    topK: sampling.topK ?? NATIVE_SAMPLER_DEFAULTS.topK,
    topP: sampling.topP ?? NATIVE_SAMPLER_DEFAULTS.topP,
    seed: Math.max(0, Math.floor(sampling.seed ?? Date.now() / 1000)),
  };
}

export class LlamaRuntime implements InferenceRuntime {
  private readonly models = new Map<string, ModelEntry>();
  /** Names being loaded, so two concurrent loads of one name cannot both succeed. */
  private readonly loading = new Set<string>();
  private disposed = false;

  private constructor(
    private readonly llama: Llama,
    private readonly threads: number,
    private readonly threadPool: ThreadPoolChoice,
  ) {}

  static async create(options: LlamaRuntimeOptions = {}): Promise<LlamaRuntime> {
    const threads = options.threads ?? availableParallelism();
    if (!Number.isInteger(threads) || threads < 1) {
      throw new RuntimeUnavailableError(`threads must be a positive integer, got ${threads}`);
    }
    const log = options.log;
    const gpu = options.gpu ?? LLAMA_RUNTIME_DEFAULTS.gpu;
    // Before getLlama loads node-llama-cpp's addon (llama-thread-pool.ts); CPU only.
    const threadPool: ThreadPoolChoice =
      gpu === false
        ? usePersistentThreadPool()
        : {
            mode: 'per-call',
            detail: 'a GPU build (the pool module serves the prebuilt CPU build only)',
          };
    let llama: Llama;
    try {
      llama = await getLlama({
        gpu,
        // Never compile llama.cpp or fetch its sources: use the prebuilt binary or fail.
        build: 'never',
        skipDownload: true,
        usePrebuiltBinaries: true,
        progressLogs: false,
        maxThreads: threads,
        logLevel: LlamaLogLevel.warn,
        logger: (level: LlamaLogLevel, message: string) => log?.(level, message.trimEnd()),
      });
    } catch (error) {
      throw new RuntimeUnavailableError(
        `node-llama-cpp found no usable prebuilt llama.cpp binary (${error instanceof Error ? error.message : String(error)}); ` +
          'reinstall node-llama-cpp (npm install) or choose gpu: false',
        { cause: error },
      );
    }
    return new LlamaRuntime(llama, threads, threadPool);
  }

  capabilities(): RuntimeCapabilities {
    const gpu = this.llama.gpu;
    return {
      partialModelExecution: false,
      accelerator: gpu === false ? 'cpu' : gpu,
      threads: this.threads,
      ...this.threadPoolNow(),
    };
  }

  /**
   * The pool as it is: persistent only while the module has attached a pool to at least as
   * many contexts as this runtime holds (one per loaded model), so a wrapper that was bypassed
   * shows as per-call.
   */
  private threadPoolNow(): Pick<RuntimeCapabilities, 'threadPool' | 'threadPoolDetail'> {
    const { mode, detail } = this.threadPool;
    const attached = mode === 'persistent' ? attachedPools() : 0;
    if (mode === 'per-call' || attached >= this.models.size) {
      return { threadPool: mode, threadPoolDetail: detail };
    }
    return {
      threadPool: 'per-call',
      threadPoolDetail: `${detail} is loaded, but ${String(attached)} of ${String(this.models.size)} contexts have a pool`,
    };
  }

  loadedModels(): readonly LoadedModel[] {
    return [...this.models.values()].map((m) => m.info);
  }

  async loadModel(spec: ModelSpec): Promise<LoadedModel> {
    this.assertUsable();
    if (this.models.has(spec.name) || this.loading.has(spec.name)) {
      throw new ModelAlreadyLoadedError(spec.name);
    }
    this.loading.add(spec.name);
    try {
      return await this.load(spec);
    } finally {
      this.loading.delete(spec.name);
    }
  }

  private async load(spec: ModelSpec): Promise<LoadedModel> {
    let fileBytes: number;
    try {
      const info = await stat(spec.path);
      if (!info.isFile()) throw new Error('not a file');
      fileBytes = info.size;
    } catch {
      throw new ModelNotFoundError(
        spec.name,
        `no GGUF file at ${spec.path}; check the path (make models fetches the project's models)`,
      );
    }
    const maxSequences = spec.maxSequences ?? LLAMA_RUNTIME_DEFAULTS.maxSequences;
    if (!Number.isInteger(maxSequences) || maxSequences < 1) {
      throw new InvalidRequestError(
        spec.name,
        `maxSequences must be a positive integer, got ${maxSequences}`,
      );
    }
    const sequenceContextTokens =
      spec.contextTokens !== undefined
        ? Math.floor(spec.contextTokens / maxSequences)
        : LLAMA_RUNTIME_DEFAULTS.sequenceContextTokens;
    if (sequenceContextTokens < 2) {
      throw new InvalidRequestError(
        spec.name,
        `contextTokens ${spec.contextTokens} leaves under 2 tokens for each of ${maxSequences} sequences`,
      );
    }
    const started = performance.now();
    let model: LlamaModel;
    let context: LlamaContext;
    try {
      model = await this.llama.loadModel({ modelPath: spec.path });
    } catch (error) {
      throw new ModelLoadError(spec.name, spec.path, error);
    }
    try {
      context = await model.createContext({
        contextSize: sequenceContextTokens,
        sequences: maxSequences,
        threads: this.threads,
        // The whole batch's prompts fit one llama_decode call when they fit the context.
        batchSize: Math.min(sequenceContextTokens * maxSequences, 2048),
        flashAttention: LLAMA_RUNTIME_DEFAULTS.flashAttention,
      });
    } catch (error) {
      await model.dispose();
      throw new ModelLoadError(spec.name, spec.path, error);
    }
    const meta = model.fileInfo.architectureMetadata;
    const parameters = (model.fileInfo.tensorInfo ?? []).reduce(
      (sum, t) => sum + t.dimensions.reduce<number>((a, d) => a * Number(d), 1),
      0,
    );
    const info: LoadedModel = {
      name: spec.name,
      quantization: spec.quantization,
      path: spec.path,
      fileBytes,
      contextTokens: context.contextSize * maxSequences,
      maxSequences,
      layers: meta.block_count ?? 0,
      hiddenSize: meta.embedding_length ?? 0,
      parameters,
      loadSeconds: secondsSince(started),
    };
    let native: NativeContext;
    let newSampler: () => NativeSampler;
    try {
      native = nativeContextOf(context);
      newSampler = nativeSamplerFactory(this.llama, model);
    } catch (error) {
      await context.dispose();
      await model.dispose();
      throw error;
    }
    const sequences = Array.from({ length: maxSequences }, () => context.getSequence());
    this.models.set(spec.name, {
      info,
      model,
      context,
      sequences,
      sequenceContextTokens: context.contextSize,
      native,
      sequenceIds: sequences.map(nativeSequenceId),
      newSampler,
      batchTokens: context.batchSize,
      tail: Promise.resolve(),
    });
    return info;
  }

  async unloadModel(name: string): Promise<void> {
    const entry = this.entry(name);
    this.models.delete(name);
    await entry.tail.catch(() => undefined);
    await entry.context.dispose();
    await entry.model.dispose();
  }

  countTokens(model: string, text: string): Promise<number> {
    return Promise.resolve(this.entry(model).model.tokenize(text).length);
  }

  countPromptTokens(
    model: string,
    prompt: string,
    format: PromptFormat,
    messages?: readonly ChatMessage[],
  ): Promise<number> {
    return Promise.resolve(this.promptTokens(model, prompt, format, messages).length);
  }

  /** The model input a prompt becomes in `format`, as text with its special tokens. */
  promptText(model: string, prompt: string, format: PromptFormat): string {
    return this.entry(model).model.detokenize(this.promptTokens(model, prompt, format), true);
  }

  /** Context tokens each sequence of this model's batches gets. */
  sequenceContextTokens(model: string): number {
    return this.entry(model).sequenceContextTokens;
  }

  /**
   * The prompt's tokens as the batch evaluates them: `text` with BOS when the model wants one;
   * `chat` as one user message in the model's chat template (node-llama-cpp's resolveChatWrapper:
   * the GGUF's tokenizer.chat_template or the wrapper for the model family), up to where the
   * assistant's reply begins. Generation stops at the model's end-of-generation tokens, which
   * include the templates' end-of-turn tokens.
   */
  promptTokens(
    model: string,
    prompt: string,
    format: PromptFormat = 'text',
    messages?: readonly ChatMessage[],
  ): Token[] {
    const entry = this.entry(model);
    const m = entry.model;
    if (format === 'chat') {
      entry.chat ??= resolveChatWrapper(m);
      const turns = messages ?? [{ role: 'user', content: prompt }];
      const { contextText } = entry.chat.generateContextState({
        chatHistory: [
          ...turns.map((t): ChatHistoryItem =>
            t.role === 'system'
              ? { type: 'system', text: t.content }
              : t.role === 'user'
                ? { type: 'user', text: t.content }
                : { type: 'model', response: [t.content] },
          ),
          { type: 'model', response: [] },
        ],
      });
      return contextText.tokenize(m.tokenizer);
    }
    const tokens = m.tokenize(prompt);
    const bos = m.tokens.bos;
    return m.tokens.shouldPrependBosToken && bos !== null ? [bos, ...tokens] : tokens;
  }

  /**
   * Runs `fn` with `count` fresh sequences of the model's context, one batch at a time per
   * model. For calibration, which drives sequences directly.
   */
  async withSequences<T>(
    model: string,
    count: number,
    fn: (sequences: readonly LlamaContextSequence[], model: LlamaModel) => Promise<T>,
  ): Promise<T> {
    const entry = this.entry(model);
    if (count > entry.info.maxSequences) {
      throw new BatchTooLargeError(model, count, entry.info.maxSequences);
    }
    const previous = entry.tail;
    let release = (): void => undefined;
    entry.tail = new Promise<void>((resolve) => {
      release = resolve;
    });
    await previous;
    try {
      const sequences = entry.sequences.slice(0, count);
      await Promise.all(sequences.map((s) => s.clearHistory()));
      this.clearNative(entry, count);
      return await fn(sequences, entry.model);
    } finally {
      release();
    }
  }

  /**
   * Runs `fn` with the native context and the llama.cpp ids of `count` empty sequences, one
   * batch at a time per model; their KV cache is cleared before and after.
   */
  async withNativeSequences<T>(
    model: string,
    count: number,
    fn: (native: NativeContext, sequenceIds: readonly number[], entry: NativeEntry) => Promise<T>,
  ): Promise<T> {
    return this.withSequences(model, count, async () => {
      const entry = this.entry(model);
      try {
        return await fn(entry.native, entry.sequenceIds.slice(0, count), {
          batchTokens: entry.batchTokens,
          newSampler: entry.newSampler,
          isEndOfGeneration: (token) => entry.model.isEogToken(token),
        });
      } finally {
        this.clearNative(entry, count);
      }
    });
  }

  private clearNative(entry: ModelEntry, count: number): void {
    for (const id of entry.sequenceIds.slice(0, count))
      entry.native.removeTokenCellsFromSequence(id, 0, -1);
  }

  async generateBatch(
    model: string,
    requests: readonly GenerationRequest[],
    options: { readonly signal?: AbortSignal; readonly onToken?: (event: TokenEvent) => void },
  ): Promise<BatchOutput> {
    const entry = this.entry(model);
    const prompts = checkBatch(
      model,
      requests,
      { maxSequences: entry.info.maxSequences, sequenceContextTokens: entry.sequenceContextTokens },
      (r) => this.promptTokens(model, r.prompt, r.promptFormat, r.messages),
    );

    return this.withNativeSequences(model, requests.length, async (native, ids, handles) => {
      // One controller for the batch: the caller's signal, or a failing onToken callback.
      const internal = new AbortController();
      const onAbort = (): void => {
        internal.abort();
      };
      options.signal?.addEventListener('abort', onAbort, { once: true });
      if (options.signal?.aborted === true) internal.abort();
      let callbackError: unknown;
      const llamaModel = entry.model;
      const generated = requests.map((): Token[] => []);
      const streams = generated.map(
        (tokens) => new TextStream(() => llamaModel.detokenize(tokens)),
      );
      const emit = (index: number, delta: string): void => {
        const request = requests[index];
        if (delta === '' || !options.onToken || !request) return;
        try {
          options.onToken({
            id: request.id,
            text: delta,
            completionTokens: generated[index]?.length ?? 0,
          });
        } catch (error) {
          callbackError ??= error;
          internal.abort();
        }
      };
      const samplers = requests.map((r) => {
        const sampler = handles.newSampler();
        sampler.applyConfig(samplerConfig(r.sampling));
        return sampler;
      });
      try {
        const loop = await runDecodeLoop(
          native,
          requests.map((r, i) => ({
            sequenceId: ids[i] ?? 0,
            prompt: prompts[i] ?? [],
            maxTokens: r.maxTokens,
            sampler: samplers[i] as NativeSampler,
            ...(r.signal ? { signal: r.signal } : {}),
          })),
          {
            batchTokens: handles.batchTokens,
            isEndOfGeneration: handles.isEndOfGeneration,
            signal: internal.signal,
            onToken: (index, token) => {
              generated[index]?.push(token);
              emit(index, streams[index]?.next() ?? '');
            },
          },
        );
        streams.forEach((stream, i) => {
          emit(i, stream.flush());
        });
        if (callbackError !== undefined) {
          throw callbackError instanceof Error
            ? callbackError
            : new Error('onToken callback failed', { cause: callbackError });
        }
        const results = requests.map((request, i): GenerationResult => {
          const outcome = loop.sequences[i];
          const tokens = generated[i] ?? [];
          const total = outcome?.totalSeconds ?? 0;
          return {
            id: request.id,
            text: llamaModel.detokenize(tokens),
            promptTokens: prompts[i]?.length ?? 0,
            completionTokens: tokens.length,
            finishReason: FINISH_REASON[outcome?.finish ?? 'cancelled'],
            firstTokenSeconds: outcome?.firstTokenSeconds ?? total,
            totalSeconds: total,
          };
        });
        const decodeSeconds = loop.steps.reduce((a, step) => a + step.seconds, 0);
        return {
          results,
          timings: {
            prefillSeconds: loop.prefillSeconds,
            decodeSeconds,
            decodeSteps: loop.steps.length,
            evaluations: loop.decodeCalls,
          },
          observation: {
            promptTokens: prompts.map((p) => p.length),
            prefillSeconds: loop.prefillSeconds,
            decodeSteps: loop.steps,
          },
        };
      } finally {
        for (const sampler of samplers) sampler.dispose();
        options.signal?.removeEventListener('abort', onAbort);
      }
    });
  }

  async dispose(): Promise<void> {
    if (this.disposed) return;
    for (const name of [...this.models.keys()]) await this.unloadModel(name);
    this.disposed = true;
    await this.llama.dispose();
  }

  private assertUsable(): void {
    if (this.disposed) throw new RuntimeUnavailableError('the runtime was disposed');
  }

  private entry(name: string): ModelEntry {
    this.assertUsable();
    const entry = this.models.get(name);
    if (!entry) {
      const loaded = [...this.models.keys()];
      throw new ModelNotFoundError(
        name,
        `not loaded (loaded: ${loaded.length > 0 ? loaded.join(', ') : 'none'}); load it first`,
      );
    }
    return entry;
  }
}

/** Creates the node-llama-cpp runtime (CPU unless `gpu` says otherwise). */
export function createLlamaRuntime(options: LlamaRuntimeOptions = {}): Promise<LlamaRuntime> {
  return LlamaRuntime.create(options);
}
