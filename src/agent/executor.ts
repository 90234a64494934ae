// The batch executor: admits ExecuteBatch requests, runs the batches of each model one at a
// time (a FIFO queue per model), streams their events to every attached caller, and keeps
// finished batches in a bounded cache so a retried batch id replays instead of running twice.
// A request that cannot run (it does not fit one sequence's context) is rejected alone; one
// request can be cancelled without stopping its batch; a batch nobody follows any more for the
// orphan grace period is cancelled (its caller gave up on it and may have sent it elsewhere).
import { createHash } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import type { Logger } from 'pino';
import {
  BatchState,
  FinishReason,
  type BatchSummary,
  type ExecuteBatchRequest,
  type ExecuteBatchResponse,
  type RequestResult,
} from '../gen/edgellm/agent/v1/agent.js';
import {
  FINISH_REASON,
  type BatchObservation,
  type BatchOutput,
  type FinishReason as RuntimeFinishReason,
  type InferenceRuntime,
} from '../runtime/types.js';
import {
  AgentError,
  alreadyExists,
  codeName,
  failedPrecondition,
  invalidArgument,
  notFound,
  toStatus,
  unavailable,
} from './errors.js';
import type { AgentMetrics } from './metrics.js';
import type { ModelCatalog } from './models.js';
import { StopMatcher } from './stop-sequences.js';
import { contextRejections, validateBatch, type AdmittedRequest } from './validation.js';

/** Longest delay setTimeout honours. */
const MAX_TIMER_MS = 2 ** 31 - 1;

const ABORT_REASON = { cancel: 'cancel', deadline: 'deadline', shutdown: 'shutdown' } as const;
type AbortReason = (typeof ABORT_REASON)[keyof typeof ABORT_REASON];

const FINISHED_STATES: ReadonlySet<BatchState> = new Set([
  BatchState.BATCH_STATE_SUCCEEDED,
  BatchState.BATCH_STATE_CANCELLED,
  BatchState.BATCH_STATE_FAILED,
  BatchState.BATCH_STATE_DEADLINE_EXCEEDED,
]);

export function isFinished(state: BatchState): boolean {
  return FINISHED_STATES.has(state);
}

/** A finished result that never ran. */
function unrunResult(id: string, finishReason: FinishReason, error = ''): RequestResult {
  return {
    requestId: id,
    text: '',
    promptTokens: 0,
    completionTokens: 0,
    finishReason,
    firstTokenSeconds: 0,
    totalSeconds: 0,
    error,
  };
}

/** The summary of a batch that ended without running. */
function unrunSummary(record: {
  readonly queuedAt: number;
}): Omit<BatchSummary, 'batchId' | 'state'> {
  return {
    queueSeconds: (performance.now() - record.queuedAt) / 1000,
    prefillSeconds: 0,
    decodeSeconds: 0,
    decodeSteps: 0,
    promptTokens: 0,
    completionTokens: 0,
    error: '',
  };
}

export interface BatchListener {
  event(event: ExecuteBatchResponse): void;
  /** The batch finished; `failure` is set when it failed (the stream ends with that status). */
  end(failure: AgentError | undefined): void;
}

/** One batch the agent knows: its requests, state, event log and attached listeners. */
export class BatchRecord {
  state: BatchState = BatchState.BATCH_STATE_QUEUED;
  queuePosition = 0;
  readonly events: ExecuteBatchResponse[] = [];
  readonly results: RequestResult[] = [];
  summary: BatchSummary | undefined;
  failure: AgentError | undefined;
  abortReason: AbortReason | undefined;
  readonly abort = new AbortController();
  readonly queuedAt = performance.now();
  /** One controller per request that runs: CancelGeneration aborts one sequence. */
  readonly requestAborts = new Map<string, AbortController>();
  private readonly listeners = new Set<BatchListener>();
  /** Called when the last listener left a batch still queued or running. */
  onOrphaned: (() => void) | undefined;
  /** Called when a listener arrives (or a caller asks about the batch). */
  onFollowed: (() => void) | undefined;

  constructor(
    readonly batchId: string,
    readonly model: string,
    /** Every request of the batch, in order. */
    readonly requests: readonly AdmittedRequest[],
    readonly fingerprint: string,
    /** Requests rejected at admission, with why (they never run). */
    readonly rejected: ReadonlyMap<string, string> = new Map(),
  ) {
    for (const r of requests)
      if (!rejected.has(r.id)) this.requestAborts.set(r.id, new AbortController());
  }

  /** The requests that run (not rejected). */
  get runnable(): readonly AdmittedRequest[] {
    return this.requests.filter((r) => !this.rejected.has(r.id));
  }

  /** Replays the events so far, then follows the batch until it ends; returns an unsubscribe. */
  subscribe(listener: BatchListener): () => void {
    for (const event of this.events) listener.event(event);
    if (isFinished(this.state)) {
      listener.end(this.failure);
      return () => undefined;
    }
    this.listeners.add(listener);
    this.onFollowed?.();
    return () => {
      this.listeners.delete(listener);
      if (this.listeners.size === 0 && !isFinished(this.state)) this.onOrphaned?.();
    };
  }

  /** Listeners attached now. */
  get followers(): number {
    return this.listeners.size;
  }

  /** Records and emits the result of a request that never ran. */
  resultUnrun(requestId: string, finishReason: FinishReason, error = ''): void {
    const result = unrunResult(requestId, finishReason, error);
    this.results.push(result);
    this.emit({ event: { $case: 'result', value: result } });
  }

  /** Whether a result for `requestId` was already emitted. */
  hasResult(requestId: string): boolean {
    return this.results.some((r) => r.requestId === requestId);
  }

  emit(event: ExecuteBatchResponse): void {
    this.events.push(event);
    for (const l of this.listeners) l.event(event);
  }

  finish(state: BatchState, summary: BatchSummary, failure?: AgentError): void {
    this.state = state;
    this.summary = summary;
    this.failure = failure;
    this.emit({ event: { $case: 'summary', value: summary } });
    for (const l of this.listeners) l.end(failure);
    this.listeners.clear();
  }
}

export interface ExecutorOptions {
  readonly runtime: InferenceRuntime;
  readonly catalog: ModelCatalog;
  readonly metrics: AgentMetrics;
  readonly logger: Logger;
  /** Finished batches kept for replay and GetBatch. */
  readonly cacheSize: number;
  /** Epoch milliseconds (deadlines are wall-clock). */
  readonly nowMs?: () => number;
  /** A batch no caller follows for this long is cancelled (0 or unset: never). */
  readonly orphanGraceSeconds?: number;
  /**
   * Called with the phase timings of every batch the runtime ran (cancelled ones included:
   * their steps ran too), after its results went out; the online calibration observes them.
   */
  readonly onBatchObserved?: (model: string, observation: BatchObservation) => void;
}

export interface Submission {
  readonly record: BatchRecord;
  /** True when this call attached to a batch an earlier call submitted. */
  readonly attached: boolean;
}

export class BatchExecutor {
  private readonly records = new Map<string, BatchRecord>();
  /** Admissions in progress: concurrent submissions of one id wait for the first. */
  private readonly admitting = new Map<
    string,
    { fingerprint: string; done: Promise<Submission> }
  >();
  private readonly finishedOrder: string[] = [];
  private readonly tails = new Map<string, Promise<void>>();
  private readonly pending = new Map<string, number>();
  private readonly running = new Set<Promise<void>>();
  private draining = false;
  private readonly nowMs: () => number;

  constructor(private readonly options: ExecutorOptions) {
    this.nowMs = options.nowMs ?? Date.now;
  }

  /** Batches queued or running for `model` (all models when omitted). */
  queueLength(model?: string): number {
    if (model !== undefined) return this.pending.get(model) ?? 0;
    let total = 0;
    for (const n of this.pending.values()) total += n;
    return total;
  }

  get(batchId: string): BatchRecord | undefined {
    return this.records.get(batchId);
  }

  /** Whether a queued or running batch uses `model`. */
  inUse(model: string): boolean {
    return this.queueLength(model) > 0;
  }

  /**
   * Admits a batch (or attaches to the one with the same id). Throws an AgentError with the
   * precise status when the request is invalid or cannot run.
   */
  async submit(request: ExecuteBatchRequest): Promise<Submission> {
    if (request.batchId.trim() === '') throw invalidArgument('batch_id is required');
    const fingerprint = fingerprintOf(request);
    const existing = this.records.get(request.batchId);
    if (existing) {
      if (existing.fingerprint !== fingerprint) throw reused(request.batchId);
      return { record: existing, attached: true };
    }
    const inFlight = this.admitting.get(request.batchId);
    if (inFlight) {
      if (inFlight.fingerprint !== fingerprint) throw reused(request.batchId);
      const { record } = await inFlight.done;
      return { record, attached: true };
    }
    if (this.draining) throw unavailable('agent is shutting down; retry on another node');
    const done = this.admit(request, fingerprint);
    this.admitting.set(request.batchId, { fingerprint, done });
    try {
      return await done;
    } finally {
      this.admitting.delete(request.batchId);
    }
  }

  private async admit(request: ExecuteBatchRequest, fingerprint: string): Promise<Submission> {
    const { catalog, runtime } = this.options;
    const model = catalog.admission(request.model);
    const requests = validateBatch(request, model, this.nowMs());
    const promptTokens = await Promise.all(
      requests.map((r) =>
        runtime.countPromptTokens(request.model, r.prompt, r.promptFormat, r.messages),
      ),
    );
    const rejected = contextRejections(requests, promptTokens, model);
    if (this.draining) throw unavailable('agent is shutting down; retry on another node');
    const record = new BatchRecord(request.batchId, request.model, requests, fingerprint, rejected);
    this.records.set(record.batchId, record);
    this.watchOrphan(record);
    for (const [id, why] of rejected) {
      record.resultUnrun(id, FinishReason.FINISH_REASON_REJECTED, why);
      this.options.metrics.rejectedRequests.inc({ model: record.model });
      this.options.logger.info({ batchId: record.batchId, requestId: id, why }, 'request rejected');
    }
    this.enqueue(record);
    return { record, attached: false };
  }

  /** Cancels a batch when its last follower leaves and none returns within the grace period. */
  private watchOrphan(record: BatchRecord): void {
    const graceMs = (this.options.orphanGraceSeconds ?? 0) * 1000;
    if (!(graceMs > 0)) return;
    let timer: NodeJS.Timeout | undefined;
    const clear = (): void => {
      if (timer !== undefined) clearTimeout(timer);
      timer = undefined;
    };
    record.onFollowed = clear;
    record.onOrphaned = () => {
      clear();
      timer = setTimeout(() => {
        timer = undefined;
        if (isFinished(record.state)) return;
        this.options.logger.warn(
          { batchId: record.batchId, graceSeconds: graceMs / 1000 },
          'no caller followed the batch for the orphan grace period; cancelling it',
        );
        this.options.metrics.orphanedBatches.inc({ model: record.model });
        this.abort(record, ABORT_REASON.cancel);
      }, graceMs);
      timer.unref();
    };
  }

  /** A caller asked about the batch (GetBatch): it counts as followed for another grace period. */
  touch(batchId: string): void {
    const record = this.records.get(batchId);
    if (record === undefined || isFinished(record.state)) return;
    if (record.followers === 0) record.onOrphaned?.();
  }

  /**
   * Cancels one request of a queued or running batch; the others run on. Returns true when the
   * request had not finished (it now finishes CANCELLED), false when its result already stands.
   */
  cancelGeneration(batchId: string, requestId: string): boolean {
    const record = this.records.get(batchId);
    if (!record) throw notFound(`batch ${batchId} is not known to this agent`);
    if (!record.requests.some((r) => r.id === requestId))
      throw notFound(`batch ${batchId} has no request ${requestId}`);
    if (isFinished(record.state) || record.hasResult(requestId)) return false;
    const controller = record.requestAborts.get(requestId);
    if (!controller || controller.signal.aborted) return false;
    controller.abort(ABORT_REASON.cancel);
    this.options.metrics.cancelledRequests.inc({ model: record.model });
    this.options.logger.info({ batchId, requestId }, 'request cancelled');
    // Every runnable request cancelled before the batch started: nothing left to run.
    if (
      record.state === BatchState.BATCH_STATE_QUEUED &&
      [...record.requestAborts.values()].every((c) => c.signal.aborted)
    )
      this.abort(record, ABORT_REASON.cancel);
    return true;
  }

  private enqueue(record: BatchRecord): void {
    const model = record.model;
    record.queuePosition = this.pending.get(model) ?? 0;
    this.setPending(model, record.queuePosition + 1);
    const previous = this.tails.get(model) ?? Promise.resolve();
    const run = previous.then(() => this.run(record));
    const tail = run.finally(() => {
      this.setPending(model, (this.pending.get(model) ?? 1) - 1);
      this.running.delete(tail);
      if (this.tails.get(model) === tail) this.tails.delete(model);
    });
    this.running.add(tail);
    this.tails.set(model, tail);
  }

  private setPending(model: string, n: number): void {
    if (n <= 0) this.pending.delete(model);
    else this.pending.set(model, n);
    this.options.metrics.queueLength.set({ model }, Math.max(0, n));
  }

  /** Stops a queued or running batch. Returns its state after the request. */
  cancel(batchId: string): BatchState {
    const record = this.records.get(batchId);
    if (!record) throw notFound(`batch ${batchId} is not known to this agent`);
    if (!isFinished(record.state)) this.abort(record, ABORT_REASON.cancel);
    return record.state;
  }

  private abort(record: BatchRecord, reason: AbortReason): void {
    if (record.abortReason !== undefined) return;
    record.abortReason = reason;
    record.abort.abort(reason);
    // A queued batch ends right away; a running one ends when the runtime returns.
    if (record.state === BatchState.BATCH_STATE_QUEUED) this.finishUnrun(record);
  }

  private finishUnrun(record: BatchRecord): void {
    if (isFinished(record.state)) return;
    const reason =
      record.abortReason === ABORT_REASON.deadline
        ? FinishReason.FINISH_REASON_DEADLINE_EXCEEDED
        : FinishReason.FINISH_REASON_CANCELLED;
    for (const r of record.requests) if (!record.hasResult(r.id)) record.resultUnrun(r.id, reason);
    this.complete(record, stateFor(record.abortReason), unrunSummary(record));
  }

  private async run(record: BatchRecord): Promise<void> {
    if (isFinished(record.state)) return; // cancelled while queued
    const { runtime, metrics } = this.options;
    const log = this.options.logger.child({ batchId: record.batchId, model: record.model });
    const runnable = record.runnable.filter(
      (r) => record.requestAborts.get(r.id)?.signal.aborted !== true,
    );
    // Requests cancelled while queued finish now, unrun.
    for (const r of record.runnable)
      if (!runnable.includes(r)) record.resultUnrun(r.id, FinishReason.FINISH_REASON_CANCELLED);
    if (runnable.length === 0) {
      this.complete(record, BatchState.BATCH_STATE_SUCCEEDED, unrunSummary(record));
      return;
    }
    const latest = Math.max(...runnable.map((r) => r.deadlineMs ?? Infinity));
    if (latest <= this.nowMs()) {
      this.abort(record, ABORT_REASON.deadline);
      return;
    }
    if (this.draining) {
      this.abort(record, ABORT_REASON.shutdown);
      return;
    }
    record.state = BatchState.BATCH_STATE_RUNNING;
    const queueSeconds = (performance.now() - record.queuedAt) / 1000;
    const untilDeadlineMs = latest - this.nowMs();
    // setTimeout fires at once for delays over 2^31-1 ms (~24.8 days): no timer for those.
    const timer =
      untilDeadlineMs <= MAX_TIMER_MS
        ? setTimeout(() => {
            this.abort(record, ABORT_REASON.deadline);
          }, untilDeadlineMs)
        : undefined;
    log.info({ requests: runnable.length, queueSeconds }, 'batch started');
    metrics.batchSize.observe({ model: record.model }, runnable.length);
    let output: BatchOutput;
    const stops = new Map(
      runnable.filter((r) => r.stop.length > 0).map((r) => [r.id, new StopMatcher(r.stop)]),
    );
    try {
      const requests = runnable.map((r) => {
        const signal = record.requestAborts.get(r.id)?.signal;
        return signal === undefined ? r : { ...r, signal };
      });
      output = await runtime.generateBatch(record.model, requests, {
        signal: record.abort.signal,
        onToken: (t) => {
          const matcher = stops.get(t.id);
          const text = matcher === undefined ? t.text : matcher.push(t.text);
          // A stop string completed: this request's sequence stops, the batch runs on.
          if (matcher?.stopped === true) record.requestAborts.get(t.id)?.abort(ABORT_REASON.cancel);
          if (text === '') return;
          record.emit({
            event: {
              $case: 'token',
              value: { requestId: t.id, text, completionTokens: t.completionTokens },
            },
          });
        },
      });
    } catch (err) {
      const status = toStatus(err);
      const failure = new AgentError(status.code, status.message);
      log.error({ err, code: codeName(status.code) }, 'batch failed');
      this.complete(
        record,
        BatchState.BATCH_STATE_FAILED,
        {
          queueSeconds,
          prefillSeconds: 0,
          decodeSeconds: 0,
          decodeSteps: 0,
          promptTokens: 0,
          completionTokens: 0,
          error: status.message,
        },
        failure,
      );
      return;
    } finally {
      clearTimeout(timer);
    }
    let promptTokens = 0;
    let completionTokens = 0;
    for (const r of output.results) {
      const matcher = stops.get(r.id);
      if (matcher !== undefined && !matcher.stopped) {
        // No stop string appeared: what was held back in case one would is the end of the text.
        const rest = matcher.flush();
        if (rest !== '')
          record.emit({
            event: {
              $case: 'token',
              value: { requestId: r.id, text: rest, completionTokens: r.completionTokens },
            },
          });
      }
      const result: RequestResult = {
        requestId: r.id,
        text: matcher?.stopped === true ? matcher.finalText : r.text,
        promptTokens: r.promptTokens,
        completionTokens: r.completionTokens,
        finishReason:
          matcher?.stopped === true
            ? FinishReason.FINISH_REASON_STOP
            : finishReasonOf(r.finishReason, record.abortReason),
        firstTokenSeconds: r.firstTokenSeconds,
        totalSeconds: r.totalSeconds,
        error: '',
      };
      promptTokens += r.promptTokens;
      completionTokens += r.completionTokens;
      record.results.push(result);
      record.emit({ event: { $case: 'result', value: result } });
      log.info(
        {
          requestId: r.id,
          promptTokens: r.promptTokens,
          completionTokens: r.completionTokens,
          finishReason: r.finishReason,
          totalSeconds: r.totalSeconds,
        },
        'request finished',
      );
    }
    metrics.tokensGenerated.inc({ model: record.model }, completionTokens);
    metrics.promptTokens.inc({ model: record.model }, promptTokens);
    metrics.prefillSeconds.observe({ model: record.model }, output.timings.prefillSeconds);
    metrics.decodeSeconds.observe({ model: record.model }, output.timings.decodeSeconds);
    try {
      this.options.onBatchObserved?.(record.model, output.observation);
    } catch (err) {
      log.warn({ err }, 'observing the batch for calibration failed');
    }
    this.complete(record, stateFor(record.abortReason), {
      queueSeconds,
      prefillSeconds: output.timings.prefillSeconds,
      decodeSeconds: output.timings.decodeSeconds,
      decodeSteps: output.timings.decodeSteps,
      promptTokens,
      completionTokens,
      error: '',
    });
    log.info(
      { state: BatchState[record.state], completionTokens, ...output.timings },
      'batch finished',
    );
  }

  private complete(
    record: BatchRecord,
    state: BatchState,
    summary: Omit<BatchSummary, 'batchId' | 'state'>,
    failure?: AgentError,
  ): void {
    record.finish(state, { batchId: record.batchId, state, ...summary }, failure);
    this.options.metrics.batches.inc({ model: record.model, state: stateLabel(state) });
    this.finishedOrder.push(record.batchId);
    while (this.finishedOrder.length > this.options.cacheSize) {
      const evicted = this.finishedOrder.shift();
      if (evicted !== undefined) this.records.delete(evicted);
    }
  }

  /** Throws FAILED_PRECONDITION when a queued or running batch uses `model`. */
  assertIdle(model: string): void {
    if (this.inUse(model))
      throw failedPrecondition(
        `model ${model} has ${this.queueLength(model)} queued or running batches; cancel or wait for them`,
      );
  }

  /**
   * Graceful shutdown: admits nothing new, cancels queued batches, lets the running ones
   * finish for up to `graceSeconds`, then aborts them and waits for the runtime to return.
   */
  async drain(graceSeconds: number): Promise<void> {
    this.draining = true;
    for (const record of this.records.values())
      if (record.state === BatchState.BATCH_STATE_QUEUED) this.abort(record, ABORT_REASON.shutdown);
    const all = (): Promise<unknown> => Promise.allSettled([...this.running]);
    let timer: NodeJS.Timeout | undefined;
    const timedOut = await Promise.race([
      all().then(() => false),
      new Promise<boolean>((resolve) => {
        timer = setTimeout(() => {
          resolve(true);
        }, graceSeconds * 1000);
      }),
    ]);
    clearTimeout(timer);
    if (timedOut) {
      for (const record of this.records.values())
        if (!isFinished(record.state)) this.abort(record, ABORT_REASON.shutdown);
      await all();
    }
  }
}

function reused(batchId: string): AgentError {
  return alreadyExists(
    `batch ${batchId} was already submitted with different requests; use a new batch id`,
  );
}

function fingerprintOf(request: ExecuteBatchRequest): string {
  const canonical = JSON.stringify([
    request.model,
    request.requests.map((r) => [
      r.id,
      r.prompt,
      r.promptFormat ?? 0,
      r.maxTokens,
      r.sampling?.temperature ?? 0,
      r.sampling?.seed ?? null,
      r.sampling?.topK ?? null,
      r.sampling?.topP ?? null,
      r.deadline?.getTime() ?? null,
    ]),
  ]);
  return createHash('sha256').update(canonical).digest('hex');
}

function stateFor(reason: AbortReason | undefined): BatchState {
  if (reason === undefined) return BatchState.BATCH_STATE_SUCCEEDED;
  return reason === ABORT_REASON.deadline
    ? BatchState.BATCH_STATE_DEADLINE_EXCEEDED
    : BatchState.BATCH_STATE_CANCELLED;
}

function stateLabel(state: BatchState): string {
  return BatchState[state].replace('BATCH_STATE_', '').toLowerCase();
}

function finishReasonOf(reason: RuntimeFinishReason, abort: AbortReason | undefined): FinishReason {
  switch (reason) {
    case FINISH_REASON.length:
      return FinishReason.FINISH_REASON_LENGTH;
    case FINISH_REASON.stop:
      return FinishReason.FINISH_REASON_STOP;
    case FINISH_REASON.cancelled:
      return abort === ABORT_REASON.deadline
        ? FinishReason.FINISH_REASON_DEADLINE_EXCEEDED
        : FinishReason.FINISH_REASON_CANCELLED;
  }
}
