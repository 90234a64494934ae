// Low-level measurements on a loaded model for calibration: timed batched prefill, timed
// batched decode steps at a given context length, and the token log-probabilities of a text.
// They drive the model's context sequences directly (node-llama-cpp stays inside src/runtime).

import { performance } from 'node:perf_hooks';
import type { ControlledEvaluateInputItem, LlamaContextSequence, Token } from 'node-llama-cpp';
import { BatchTooLargeError, PromptTooLongError } from './errors.js';
import type { LlamaRuntime } from './llama.js';

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

/** Seconds to evaluate `batchSize` prompts of `promptTokens` tokens together (no sampling). */
export async function measurePrefillSeconds(
  runtime: LlamaRuntime,
  model: string,
  source: readonly Token[],
  batchSize: number,
  promptTokens: number,
): Promise<number> {
  checkFits(runtime, model, batchSize, promptTokens);
  const prompts = tokenWindows(source, batchSize, promptTokens);
  return runtime.withSequences(model, batchSize, async (sequences) => {
    const start = performance.now();
    await Promise.all(
      sequences.map((s, i) => s.evaluateWithoutGeneratingNewTokens(prompts[i] ?? [])),
    );
    return (performance.now() - start) / 1000;
  });
}

/**
 * Seconds of each of `steps` decode steps for `batchSize` sequences whose context already
 * holds `contextTokens` tokens: per step, every sequence evaluates one token, computes logits
 * and samples the next token (greedy), all in one batch, as generation does.
 */
export async function measureDecodeStepSeconds(
  runtime: LlamaRuntime,
  model: string,
  source: readonly Token[],
  batchSize: number,
  contextTokens: number,
  steps: number,
): Promise<number[]> {
  checkFits(runtime, model, batchSize, contextTokens + steps + 1);
  const prompts = tokenWindows(source, batchSize, contextTokens);
  return runtime.withSequences(model, batchSize, async (sequences) => {
    await Promise.all(
      sequences.map((s, i) =>
        s.evaluateWithoutGeneratingNewTokens((prompts[i] ?? []).slice(0, -1)),
      ),
    );
    let next: Token[] = prompts.map((p) => p[p.length - 1] as Token);
    const times: number[] = [];
    for (let step = 0; step < steps; step++) {
      const start = performance.now();
      const outputs = await Promise.all(
        sequences.map((s: LlamaContextSequence, i) =>
          s.controlledEvaluate([
            [next[i] as Token, { generateNext: { token: true, options: { temperature: 0 } } }],
          ]),
        ),
      );
      times.push((performance.now() - start) / 1000);
      next = outputs.map((o, i) => o[0]?.next.token ?? (next[i] as Token));
    }
    return times;
  });
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
