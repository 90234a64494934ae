// The batched decode loop: evaluates the prompts of a batch's sequences together, then runs
// decode steps in lockstep, each ONE llama_decode call over every sequence still generating
// (one token each), then samples every sequence's next token. Sequences leave the loop when
// they reach their token limit or an end-of-generation token. It times the prefill and every
// step, which is what the agent's online calibration observes.
import { performance } from 'node:perf_hooks';
import type { Token } from 'node-llama-cpp';
import type { NativeContext, NativeSampler } from './native.js';
import type { DecodeStepObservation } from './types.js';

/** One sequence of a batch. */
export interface LoopSequence {
  /** The llama.cpp sequence id; its KV cache must be empty. */
  readonly sequenceId: number;
  /** Prompt tokens (at least one). */
  readonly prompt: readonly Token[];
  /** Tokens to generate (at least one). */
  readonly maxTokens: number;
  readonly sampler: NativeSampler;
  /** Cancels this sequence alone: it leaves the loop before the next decode, the rest run on. */
  readonly signal?: AbortSignal;
}

export interface LoopOptions {
  /** Most tokens one llama_decode call takes (the context's batch size); long prompts are split. */
  readonly batchTokens: number;
  /** Whether a token ends generation; `() => false` generates exactly maxTokens (calibration). */
  readonly isEndOfGeneration: (token: Token) => boolean;
  /** Checked before every decode: an abort ends the loop with `cancelled` (the running decode finishes). */
  readonly signal?: AbortSignal;
  /** Called with every generated token, in order per sequence. */
  readonly onToken?: (index: number, token: Token) => void;
  /** Milliseconds; default performance.now. */
  readonly now?: () => number;
}

export interface LoopSequenceResult {
  /** Generated tokens (an end-of-generation token is not included). */
  readonly tokens: readonly Token[];
  /** `length`: reached maxTokens; `stop`: end-of-generation token; `cancelled`: aborted first. */
  readonly finish: 'length' | 'stop' | 'cancelled';
  /** Seconds from the loop's start to its first token (null when it produced none). */
  readonly firstTokenSeconds: number | null;
  /** Seconds from the loop's start until it finished. */
  readonly totalSeconds: number;
}

export interface LoopResult {
  readonly sequences: readonly LoopSequenceResult[];
  /** Seconds from the start to the first decode step (prompt evaluation and first sampling). */
  readonly prefillSeconds: number;
  readonly steps: readonly DecodeStepObservation[];
  /** llama_decode calls made: prefill chunks plus one per step. */
  readonly decodeCalls: number;
}

interface Live {
  readonly index: number;
  readonly spec: LoopSequence;
  readonly tokens: Token[];
  finish: LoopSequenceResult['finish'] | undefined;
  first: number | null;
  end: number;
}

/** A piece of one sequence's prompt inside one prefill decode call. */
interface Piece {
  readonly live: Live;
  readonly from: number;
  readonly to: number;
}

/** Packs the prompts into decode calls of at most `batchTokens` tokens, in sequence order. */
function prefillChunks(live: readonly Live[], batchTokens: number): Piece[][] {
  const chunks: Piece[][] = [];
  let chunk: Piece[] = [];
  let room = batchTokens;
  for (const l of live) {
    let from = 0;
    while (from < l.spec.prompt.length) {
      if (room === 0) {
        chunks.push(chunk);
        chunk = [];
        room = batchTokens;
      }
      const to = Math.min(l.spec.prompt.length, from + room);
      chunk.push({ live: l, from, to });
      room -= to - from;
      from = to;
    }
  }
  if (chunk.length > 0) chunks.push(chunk);
  return chunks;
}

/** Runs a batch to completion (or abort); the caller clears the sequences' KV cache after. */
export async function runDecodeLoop(
  native: NativeContext,
  sequences: readonly LoopSequence[],
  options: LoopOptions,
): Promise<LoopResult> {
  const now = options.now ?? (() => performance.now());
  const start = now();
  const seconds = (t: number): number => (t - start) / 1000;
  const live: Live[] = sequences.map((spec, index) => ({
    index,
    spec,
    tokens: [],
    finish: undefined,
    first: null,
    end: start,
  }));
  const aborted = (): boolean => options.signal?.aborted === true;
  let decodeCalls = 0;

  /** Takes a sampled token: records it, calls back, and settles the sequence when it is done. */
  const accept = (l: Live, token: Token | -1): void => {
    if (token === -1) throw new Error(`llama.cpp sampled no token for sequence ${l.index}`);
    const t = now();
    if (options.isEndOfGeneration(token)) {
      l.finish = 'stop';
      l.end = t;
      return;
    }
    l.tokens.push(token);
    l.first ??= t;
    options.onToken?.(l.index, token);
    if (l.tokens.length >= l.spec.maxTokens) {
      l.finish = 'length';
      l.end = now();
    }
  };
  const cancelRest = (): void => {
    const t = now();
    for (const l of live) {
      if (l.finish !== undefined) continue;
      l.finish = 'cancelled';
      l.end = t;
    }
  };
  /** Settles the sequences cancelled on their own since the last decode. */
  const dropCancelled = (): void => {
    for (const l of live) {
      if (l.finish !== undefined || l.spec.signal?.aborted !== true) continue;
      l.finish = 'cancelled';
      l.end = now();
    }
  };

  // Prefill: every prompt in as few decode calls as the batch size allows; a sequence's first
  // token is sampled right after the call that holds its last prompt token (the next call
  // overwrites the logits).
  dropCancelled();
  for (const chunk of prefillChunks(
    live.filter((l) => l.finish === undefined),
    options.batchTokens,
  )) {
    if (aborted()) break;
    native.initBatch(chunk.reduce((a, p) => a + p.to - p.from, 0));
    const sampled: { live: Live; index: number }[] = [];
    for (const p of chunk) {
      const last = p.to === p.live.spec.prompt.length;
      const indexes = native.addToBatch(
        p.live.spec.sequenceId,
        p.from,
        Uint32Array.from(p.live.spec.prompt.slice(p.from, p.to)),
        last ? Uint32Array.of(p.to - p.from - 1) : new Uint32Array(0),
      );
      if (last) sampled.push({ live: p.live, index: indexes[0] ?? 0 });
    }
    await native.decodeBatch();
    decodeCalls++;
    const tokens = await Promise.all(
      sampled.map((s) => native.sampleToken(s.index, s.live.spec.sampler)),
    );
    sampled.forEach((s, i) => {
      accept(s.live, tokens[i] ?? -1);
    });
  }
  let stepStart = now();
  const prefillSeconds = seconds(stepStart);

  // Decode steps: one llama_decode over every active sequence's last token.
  const steps: DecodeStepObservation[] = [];
  for (;;) {
    dropCancelled();
    const active = live.filter((l) => l.finish === undefined);
    if (active.length === 0) break;
    if (aborted()) break;
    native.initBatch(active.length);
    let contextTokens = 0;
    const indexes = active.map((l) => {
      const position = l.spec.prompt.length + l.tokens.length - 1;
      contextTokens += position + 1;
      return (
        native.addToBatch(
          l.spec.sequenceId,
          position,
          Uint32Array.of(l.tokens[l.tokens.length - 1] ?? 0),
          Uint32Array.of(0),
        )[0] ?? 0
      );
    });
    await native.decodeBatch();
    decodeCalls++;
    const tokens = await Promise.all(
      active.map((l, i) => native.sampleToken(indexes[i] ?? 0, l.spec.sampler)),
    );
    active.forEach((l, i) => {
      accept(l, tokens[i] ?? -1);
    });
    const next = now();
    steps.push({
      sequences: active.length,
      contextTokens,
      seconds: (next - stepStart) / 1000,
    });
    stepStart = next;
  }
  cancelRest();
  return {
    sequences: live.map((l) => ({
      tokens: l.tokens,
      finish: l.finish ?? 'cancelled',
      firstTokenSeconds: l.first === null ? null : seconds(l.first),
      totalSeconds: seconds(l.end),
    })),
    prefillSeconds,
    steps,
    decodeCalls,
  };
}
