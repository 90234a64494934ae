// Low-level measurements on a loaded model for calibration: timed batched prefill, timed
// batched decode steps at a given context length (both through the decode loop generation
// uses), and the token log-probabilities of a text (node-llama-cpp stays inside src/runtime).

import type { ControlledEvaluateInputItem, LlamaContextSequence, Token } from 'node-llama-cpp';
import { runDecodeLoop, type LoopResult } from './decode-loop.js';
import { BatchTooLargeError, PromptTooLongError } from './errors.js';
import type { LlamaRuntime } from './llama.js';
import { NATIVE_SAMPLER_DEFAULTS, type NativeSampler } from './native.js';
import type { DecodeStepObservation } from './types.js';

/** `count` token lists of `length` tokens each, cut from `source` at different offsets. */
function tokenWindows(source: readonly Token[], count: number, length: number): Token[][] {
  if (source.length === 0) throw new Error('the calibration text tokenized to no tokens');
  return Array.from({ length: count }, (_, s) =>
    Array.from({ length }, (_, i) => source[(s * 7 + i) % source.length] as Token),
  );
}

function checkFits(runtime: LlamaRuntime, model: string, batchSize: number, tokens: number): void {
  const info = runtime.loadedModels().find((m) => m.name === model);
  if (info && batchSize > info.maxSequences)
    throw new BatchTooLargeError(model, batchSize, info.maxSequences);
  const perSequence = runtime.sequenceContextTokens(model);
  if (tokens > perSequence) throw new PromptTooLongError(`calibration`, tokens, 0, perSequence);
}

/** Runs `prompts` through the decode loop, greedy, exactly `maxTokens` tokens each. */
function runGreedy(
  runtime: LlamaRuntime,
  model: string,
  prompts: readonly (readonly Token[])[],
  maxTokens: number,
): Promise<LoopResult> {
  return runtime.withNativeSequences(model, prompts.length, async (native, ids, handles) => {
    const samplers = prompts.map(() => {
      const sampler = handles.newSampler();
      sampler.applyConfig({ ...GREEDY, seed: 0 });
      return sampler;
    });
    try {
      return await runDecodeLoop(
        native,
        prompts.map((prompt, i) => ({
          sequenceId: ids[i] ?? 0,
          prompt,
          maxTokens,
          sampler: samplers[i] as NativeSampler,
        })),
        { batchTokens: handles.batchTokens, isEndOfGeneration: () => false },
      );
    } finally {
      for (const sampler of samplers) sampler.dispose();
    }
  });
}

const GREEDY = { temperature: 0, ...NATIVE_SAMPLER_DEFAULTS } as const;

/**
 * Seconds to evaluate `batchSize` prompts of `promptTokens` tokens together and sample each
 * one's first token: the prefill phase of a batch, as generation runs it.
 */
export async function measurePrefillSeconds(
  runtime: LlamaRuntime,
  model: string,
  source: readonly Token[],
  batchSize: number,
  promptTokens: number,
): Promise<number> {
  checkFits(runtime, model, batchSize, promptTokens + 1);
  const loop = await runGreedy(runtime, model, tokenWindows(source, batchSize, promptTokens), 1);
  return loop.prefillSeconds;
}

/**
 * `steps` decode steps of `batchSize` sequences whose prompts hold `contextTokens - 1` tokens,
 * so the first step attends to `contextTokens` tokens per sequence and each later one to one
 * more: per step, one token per sequence in one evaluation, then every sequence samples its
 * next token (greedy), as generation does.
 */
export async function measureDecodeSteps(
  runtime: LlamaRuntime,
  model: string,
  source: readonly Token[],
  batchSize: number,
  contextTokens: number,
  steps: number,
): Promise<readonly DecodeStepObservation[]> {
  if (contextTokens < 2) throw new Error(`contextTokens must be at least 2, got ${contextTokens}`);
  checkFits(runtime, model, batchSize, contextTokens + steps);
  const prompts = tokenWindows(source, batchSize, contextTokens - 1);
  const loop = await runGreedy(runtime, model, prompts, steps + 1);
  return loop.steps;
}

export interface TextLogProbabilities {
  /** Natural-log probability of each predicted token (every token after the first). */
  readonly logProbabilities: readonly number[];
  /** Tokens of the text that were evaluated (the window fits one sequence's context). */
  readonly evaluatedTokens: number;
  readonly textTokens: number;
}

/**
 * Log-probabilities the model assigns to each next token of `text` (BOS prepended when the
 * model wants one), over the first window that fits one sequence's context. Computed from the
 * raw logits: log p(t) = logit(t) - max - log(sum exp(logit - max)), with max the greedy token's logit.
 */
export async function textLogProbabilities(
  runtime: LlamaRuntime,
  model: string,
  text: string,
  maxTokens = Number.POSITIVE_INFINITY,
): Promise<TextLogProbabilities> {
  const all = runtime.promptTokens(model, text);
  const window = all.slice(
    0,
    Math.min(all.length, maxTokens, runtime.sequenceContextTokens(model)),
  );
  if (window.length < 2) throw new Error('the text needs at least 2 tokens to measure perplexity');
  return runtime.withSequences(model, 1, async ([sequence]) => {
    const input: ControlledEvaluateInputItem[] = window.map((token, i) => {
      const next = window[i + 1];
      if (next === undefined) return token;
      return [
        token,
        {
          // Greedy sampling selects the argmax, so including the selected token's logit gives
          // the maximum logit. (node-llama-cpp 3.22.1's `includeMax` filter option does not add
          // the maximum, so it cannot be used for this.)
          generateNext: {
            token: true,
            options: { temperature: 0 },
            logits: { filter: { tokens: [next], includeSelected: true } },
            totalLogitWeight: true,
          },
        },
      ];
    });
    const outputs = await (sequence as LlamaContextSequence).controlledEvaluate(input);
    const logProbabilities: number[] = [];
    for (let i = 0; i + 1 < window.length; i++) {
      const next = window[i + 1] as Token;
      const out = outputs[i]?.next;
      const logits = out?.logits;
      const total = out?.totalLogitWeight;
      const logit = logits?.get(next);
      if (!logits || total === undefined || logit === undefined) {
        throw new Error(`no logits for token ${i + 1} of the calibration text`);
      }
      const max = Math.max(...logits.values());
      logProbabilities.push(logit - max - Math.log(total));
    }
    return { logProbabilities, evaluatedTokens: window.length, textTokens: all.length };
  });
}
