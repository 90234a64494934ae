// A simulated inference runtime: it generates no real text, it waits as long as the calibrated
// latency model (src/core/model/calibration.ts) says a batch takes. The agent runs it behind the
// same gRPC API as the llama.cpp runtime, so the operator benchmark can drive many agents (20
// nodes, thousands of requests) on a 2-core machine and still exercise the whole control path.
// It is selected explicitly (`edgellm agent --simulate`, bench/suites/operator.ts); nothing
// picks it silently.
import { setTimeout as sleep } from 'node:timers/promises';
import type { LatencyCoefficients } from '../core/model/calibration.js';
import { PROFILE_PHASE, type LatencyProfile, type ProfileSample } from '../core/model/profile.js';
import { checkBatch } from './batch-checks.js';
import { ModelAlreadyLoadedError, ModelNotFoundError } from './errors.js';
import {
  FINISH_REASON,
  type BatchOutput,
  type DecodeStepObservation,
  type GenerationRequest,
  type GenerationResult,
  type InferenceRuntime,
  type ChatMessage,
  type PromptFormat,
  type LoadedModel,
  type ModelSpec,
  type RuntimeCapabilities,
  type TokenEvent,
} from './types.js';

export const SIMULATED_DEFAULTS = {
  /** Characters per token of the token-count estimate (English text with a BPE tokenizer). */
  charsPerToken: 4,
  /** Tokens a chat template adds around one user message (ChatML: about 10). */
  chatTemplateTokens: 10,
  contextTokens: 4096,
  maxSequences: 16,
  /** A SmolLM2-135M-like architecture for models the options do not describe. */
  architecture: { layers: 30, hiddenSize: 576, parameters: 134_515_008 },
  /**
   * Latency of a small quantized model on a few CPU cores: prefill ~2,000 tokens/s, decode step
   * 20 ms plus 2 ms per sequence (batching pays because the fixed part is shared).
   */
  coefficients: {
    prefill: { fixedSeconds: 0.01, perTokenSeconds: 0.0005, perTokenSquaredSeconds: 0 },
    decodeStep: { fixedSeconds: 0.02, perSequenceSeconds: 0.002, perContextTokenSeconds: 0 },
  } satisfies LatencyCoefficients,
} as const;

/** Words the simulated model "generates", cycled deterministically. */
const WORDS = ['edge', 'inference', 'is', 'scheduled', 'in', 'batches', 'by', 'the', 'operator'];

export interface SimulatedModel {
  readonly layers: number;
  readonly hiddenSize: number;
  readonly parameters: number;
}

export interface SimulatedRuntimeOptions {
  readonly coefficients?: LatencyCoefficients;
  /** Architecture per model name (ModelSpec.name); others get SIMULATED_DEFAULTS.architecture. */
  readonly models?: Readonly<Record<string, SimulatedModel>>;
  readonly threads?: number;
}

export class SimulatedRuntime implements InferenceRuntime {
  private readonly loaded = new Map<string, LoadedModel>();
  private readonly coefficients: LatencyCoefficients;

  constructor(private readonly options: SimulatedRuntimeOptions = {}) {
    this.coefficients = options.coefficients ?? SIMULATED_DEFAULTS.coefficients;
  }

  capabilities(): RuntimeCapabilities {
    return {
      partialModelExecution: false,
      accelerator: 'simulated',
      threads: this.options.threads ?? 1,
    };
  }

  loadModel(spec: ModelSpec): Promise<LoadedModel> {
    if (this.loaded.has(spec.name)) return Promise.reject(new ModelAlreadyLoadedError(spec.name));
    const arch = this.options.models?.[spec.name] ?? SIMULATED_DEFAULTS.architecture;
    const model: LoadedModel = {
      name: spec.name,
      quantization: spec.quantization,
      path: spec.path,
      fileBytes: 0,
      contextTokens: spec.contextTokens ?? SIMULATED_DEFAULTS.contextTokens,
      maxSequences: spec.maxSequences ?? SIMULATED_DEFAULTS.maxSequences,
      layers: arch.layers,
      hiddenSize: arch.hiddenSize,
      parameters: arch.parameters,
      loadSeconds: 0,
    };
    this.loaded.set(spec.name, model);
    return Promise.resolve(model);
  }

  unloadModel(name: string): Promise<void> {
    this.loaded.delete(name);
    return Promise.resolve();
  }

  loadedModels(): readonly LoadedModel[] {
    return [...this.loaded.values()];
  }

  countTokens(model: string, text: string): Promise<number> {
    this.model(model);
    return Promise.resolve(simulatedTokenCount(text));
  }

  countPromptTokens(
    model: string,
    prompt: string,
    format: PromptFormat,
    messages?: readonly ChatMessage[],
  ): Promise<number> {
    this.model(model);
    return Promise.resolve(simulatedPromptTokens(prompt, format, messages));
  }

  async generateBatch(
    model: string,
    requests: readonly GenerationRequest[],
    options: { readonly signal?: AbortSignal; readonly onToken?: (event: TokenEvent) => void },
  ): Promise<BatchOutput> {
    const info = this.model(model);
    const prompts = checkBatch(
      model,
      requests,
      {
        maxSequences: info.maxSequences,
        sequenceContextTokens: Math.floor(info.contextTokens / info.maxSequences),
      },
      (r) => ({ length: simulatedPromptTokens(r.prompt, r.promptFormat ?? 'text', r.messages) }),
    ).map((t) => t.length);
    const started = performance.now();
    const elapsed = (): number => (performance.now() - started) / 1000;
    const { prefill, decodeStep } = this.coefficients;
    const prefillSeconds =
      prefill.fixedSeconds +
      prompts.reduce(
        (a, s) => a + prefill.perTokenSeconds * s + prefill.perTokenSquaredSeconds * s * s,
        0,
      );
    const signal = options.signal;
    const aborted = (): boolean => signal?.aborted === true;
    await wait(prefillSeconds, signal);
    const prefillDone = elapsed();

    const sequences = requests.map((request, i) => ({
      request,
      promptTokens: prompts[i] ?? 0,
      text: '',
      generated: 0,
      firstToken: undefined as number | undefined,
      finished: undefined as number | undefined,
    }));
    /** Every active sequence's next token, as the step that just ended produced it. */
    const produce = (active: typeof sequences): void => {
      const now = elapsed();
      for (const q of active) {
        const word = WORDS[q.generated % WORDS.length] ?? '';
        const text = q.generated === 0 ? word : ` ${word}`;
        q.text += text;
        q.generated++;
        q.firstToken ??= now;
        if (q.generated === q.request.maxTokens) q.finished = now;
        options.onToken?.({ id: q.request.id, text, completionTokens: q.generated });
      }
    };
    /** Requests still generating: below maxTokens and not cancelled on their own. */
    const unfinished = (): typeof sequences =>
      sequences.filter(
        (q) => q.generated < q.request.maxTokens && q.request.signal?.aborted !== true,
      );
    // As llama.cpp does, the prompt evaluation yields every sequence's first token.
    if (!aborted()) produce(unfinished());
    const steps: DecodeStepObservation[] = [];
    let stepStart = elapsed();
    while (!aborted()) {
      const active = unfinished();
      if (active.length === 0) break;
      // Tokens each sequence attends to in this step: its prompt, what it generated, the new one.
      const context = active.reduce((a, q) => a + q.promptTokens + q.generated, 0);
      await wait(
        decodeStep.fixedSeconds +
          decodeStep.perSequenceSeconds * active.length +
          decodeStep.perContextTokenSeconds * context,
        signal,
      );
      if (aborted()) break;
      produce(active);
      const now = elapsed();
      steps.push({ sequences: active.length, contextTokens: context, seconds: now - stepStart });
      stepStart = now;
    }
    const end = elapsed();
    const results: GenerationResult[] = sequences.map((q) => ({
      id: q.request.id,
      text: q.text,
      promptTokens: q.promptTokens,
      completionTokens: q.generated,
      finishReason: q.finished === undefined ? FINISH_REASON.cancelled : FINISH_REASON.length,
      firstTokenSeconds: q.firstToken ?? end,
      totalSeconds: q.finished ?? end,
    }));
    return {
      results,
      timings: {
        prefillSeconds: prefillDone,
        decodeSeconds: end - prefillDone,
        decodeSteps: steps.length,
        evaluations: 1 + steps.length,
      },
      observation: { promptTokens: prompts, prefillSeconds: prefillDone, decodeSteps: steps },
    };
  }

  dispose(): Promise<void> {
    this.loaded.clear();
    return Promise.resolve();
  }

  private model(name: string): LoadedModel {
    const model = this.loaded.get(name);
    if (!model) throw new ModelNotFoundError(name, 'not loaded; load it first');
    return model;
  }

  /**
   * The model's latency profile: no measurement is needed, the samples are the simulated latency
   * itself on the grid the `full` calibration plan measures, so the operator's calibrated cost
   * model fits back exactly the coefficients this runtime waits for.
   */
  profile(name: string): LatencyProfile {
    const model = this.model(name);
    const { prefill, decodeStep } = this.coefficients;
    const samples: ProfileSample[] = [];
    for (const batchSize of [1, 2, 4, 8, 16].filter((b) => b <= model.maxSequences)) {
      for (const tokens of [16, 64, 128, 256]) {
        samples.push({
          phase: PROFILE_PHASE.prefill,
          batchSize,
          contextTokens: tokens,
          seconds:
            prefill.fixedSeconds +
            batchSize *
              (prefill.perTokenSeconds * tokens + prefill.perTokenSquaredSeconds * tokens ** 2),
        });
        samples.push({
          phase: PROFILE_PHASE.decode,
          batchSize,
          contextTokens: tokens,
          seconds:
            decodeStep.fixedSeconds +
            batchSize *
              (decodeStep.perSequenceSeconds + decodeStep.perContextTokenSeconds * tokens),
        });
      }
    }
    return {
      model: name,
      quantization: model.quantization,
      threads: this.capabilities().threads,
      samples,
    };
  }
}

/** Token count estimate of the simulated tokenizer: one token per 4 characters, at least one. */
export function simulatedTokenCount(text: string): number {
  return Math.max(1, Math.ceil(text.length / SIMULATED_DEFAULTS.charsPerToken));
}

function simulatedPromptTokens(
  prompt: string,
  format: PromptFormat,
  messages?: readonly ChatMessage[],
): number {
  if (format !== 'chat') return simulatedTokenCount(prompt);
  const turns = messages ?? [{ role: 'user', content: prompt }];
  return turns.reduce(
    (sum, t) => sum + simulatedTokenCount(t.content) + SIMULATED_DEFAULTS.chatTemplateTokens,
    0,
  );
}

async function wait(seconds: number, signal: AbortSignal | undefined): Promise<void> {
  if (signal?.aborted) return;
  try {
    await sleep(seconds * 1000, undefined, signal ? { signal } : undefined);
  } catch (error) {
    if (!(signal?.aborted ?? false)) throw error;
  }
}
