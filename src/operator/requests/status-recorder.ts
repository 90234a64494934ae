// The one place where a request's outcome is written: it applies the pure transitions
// (transitions.ts) and outcome decisions (failure-policy.ts) to the API server as status merge
// patches, and records the Events, metrics and log lines that go with each.
//
// Every write is conditioned on a resourceVersion. Scheduled and the failure of a waiting
// request: on the version the round read. Running, the outcome and a requeue are writes only the
// request's dispatch may make (its uid, batch id and dispatch count, request-facts.ts
// DispatchIdentity): on the freshest version in that dispatch; a conflict re-reads the request
// and writes again only while the API server's copy is still Scheduled or Running in that
// dispatch (a label edit also changes the version). So a dispatcher of an earlier leadership
// term, a recovery that read a stale cache, or a retried write whose first try landed never
// overwrites what a newer dispatch or an outcome already recorded: the write is dropped
// (DispatchSupersededError, counted in edgellm_request_status_writes_superseded_total).
import type { Logger } from 'pino';
import type { InferenceRequest } from '../../gen/crds/inferencerequest.js';
import type { RequestResult } from '../../gen/edgellm/agent/v1/agent.js';
import { PHASE, REQUEST_REASON } from '../api/constants.js';
import { isConflict, isNotFound } from '../kube/api-errors.js';
import type { Clock } from '../kube/clock.js';
import type { Informer } from '../kube/informer.js';
import { objectKey } from '../kube/informer.js';
import { retryTransient } from '../kube/retry.js';
import { EVENT_TYPE, type EventRecorder, type StatusWriter } from '../kube/writes.js';
import type { OperatorMetrics } from '../metrics.js';
import { retryOrGiveUp, type OutcomeDecision } from './failure-policy.js';
import type { FirstSeen } from './first-seen.js';
import { OutputNotStoredError, type OutputSpill, type StoredOutput } from './output-spill.js';
import {
  budgetSeconds,
  dispatchOf,
  inDispatch,
  isFinished,
  type DispatchIdentity,
} from './request-facts.js';
import {
  failedPatch,
  requeuedPatch,
  runningPatch,
  scheduledPatch,
  succeededPatch,
  type Assignment,
  type Measured,
  type Predicted,
  type RequestStatusPatch,
  type TransitionContext,
} from './transitions.js';

/**
 * The request is no longer this dispatch's: deleted (this class), or moved on to another
 * dispatch (DispatchSupersededError). There is no status left to write for it here, and its
 * sequence in this batch should stop.
 */
export class RequestGoneError extends Error {
  override name = 'RequestGoneError';
  constructor(
    readonly key: string,
    message = `InferenceRequest ${key} was deleted`,
  ) {
    super(message);
  }
}

/**
 * The API server's copy of the request is no longer Scheduled or Running in the dispatch a write
 * belongs to: a newer leader requeued, re-dispatched or ended it, an outcome was recorded
 * already, or it was deleted and created again under its name.
 */
export class DispatchSupersededError extends RequestGoneError {
  override name = 'DispatchSupersededError';
  constructor(key: string, dispatch: DispatchIdentity, current: InferenceRequest) {
    super(
      key,
      `InferenceRequest ${key} left batch ${dispatch.batchId} (dispatch ${String(dispatch.attempts)}): it is ${current.status?.phase ?? 'Pending'}${current.status?.assignment?.batchId ? ` in batch ${current.status.assignment.batchId}` : ''}, dispatch ${String(current.status?.attempts ?? 0)}`,
    );
  }
}

/** Reads a request from the API server (an API error, 404 when it is gone). */
export type RequestReader = (namespace: string, name: string) => Promise<InferenceRequest>;

/** Tries of a write in a dispatch that meets a conflict (each after a fresh read). */
const DISPATCH_WRITE_ATTEMPTS = 5;

export interface RequestStatusRecorderOptions {
  readonly status: StatusWriter;
  readonly events: EventRecorder;
  readonly metrics: OperatorMetrics;
  readonly log: Logger;
  /** The informer cache: a status write of this controller may be newer than a caller's copy. */
  readonly requests: Informer<InferenceRequest>;
  /** The API server's copy, read after a conditioned write met a conflict. */
  readonly read: RequestReader;
  readonly spill: OutputSpill;
  readonly maxAttempts: number;
  /** When this operator first saw each request. */
  readonly firstSeen: FirstSeen;
  readonly clock: Clock;
}

/** A resourceVersion as a number, for "which copy is newer" (0 when there is none). */
const versionOf = (r: InferenceRequest | undefined): number =>
  Number(r?.metadata.resourceVersion ?? 0);

export class RequestStatusRecorder {
  /**
   * What this recorder wrote, by request key, until the informer shows that version or a newer
   * one: under load the watch lags the writes by seconds, and a round deciding on the older copy
   * would pick a request again that is already in a batch (its Scheduled write then fails 409 and
   * the batch goes out short).
   */
  private readonly written = new Map<string, InferenceRequest>();

  constructor(private readonly options: RequestStatusRecorderOptions) {}

  get maxAttempts(): number {
    return this.options.maxAttempts;
  }

  /** The newest of `r`, the informer's copy and what this recorder last wrote for it. */
  fresher(r: InferenceRequest): InferenceRequest {
    const key = objectKey(r);
    const cached = this.options.requests.get(key);
    const written = this.written.get(key);
    if (written !== undefined && versionOf(cached) >= versionOf(written)) this.written.delete(key);
    let newest = r;
    for (const copy of [cached, this.written.get(key)])
      if (copy !== undefined && versionOf(copy) > versionOf(newest)) newest = copy;
    return newest;
  }

  /** The request was deleted: nothing it wrote for it matters any more. */
  forget(key: string): void {
    this.written.delete(key);
  }

  /**
   * Status Scheduled, written only over the version the round read (a request changed meanwhile
   * is left for the next round: the write throws 409). Returns the updated object.
   */
  async scheduled(
    r: InferenceRequest,
    input: { readonly assignment: Assignment; readonly predicted: Predicted },
  ): Promise<InferenceRequest> {
    const attempts = (r.status?.attempts ?? 0) + 1;
    const updated = await this.write(
      r,
      scheduledPatch(this.context(r), { ...input, attempts }),
      r.metadata.resourceVersion,
    );
    // No Event per request: the Scheduled condition says where it runs, and the dispatcher
    // records one Event per batch on the EdgeNode (one write per request is the budget here).
    this.options.metrics.requestLatencySeconds.observe(
      { node: input.assignment.node, kind: 'predicted' },
      input.predicted.latencySeconds ?? 0,
    );
    return updated;
  }

  /**
   * Still generating a while after its first token (the dispatcher waits
   * DISPATCH_DEFAULTS.runningWriteDelayMs, so a short generation goes from Scheduled to its
   * outcome in one write); returns the updated object (the given one if the write failed).
   * Throws RequestGoneError when the request was deleted or left this dispatch.
   */
  async running(r: InferenceRequest, batchStartedMs: number): Promise<InferenceRequest> {
    return this.writeInDispatch(r, (current) =>
      runningPatch(this.context(current), batchStartedMs),
    ).catch((error: unknown) => {
      if (error instanceof RequestGoneError) throw error;
      this.options.log.warn({ err: error, request: objectKey(r) }, 'could not record Running');
      return r;
    });
  }

  /**
   * Succeeded with the agent's result; `batchStartedMs`: when the batch was dispatched. An output
   * too long for status that cannot be stored fails the request OutputNotStored: it ran once, and
   * running it again would only meet the same refusal (and count twice). A request deleted or
   * gone on to another dispatch is left as it is; another API error is thrown.
   */
  async succeeded(
    r: InferenceRequest,
    node: string,
    result: RequestResult,
    batchStartedMs: number,
  ): Promise<void> {
    const { metrics, spill } = this.options;
    const dispatch = dispatchOf(r);
    const fresh = this.fresher(r);
    if (!inDispatch(fresh, dispatch)) {
      this.dropped(this.superseded(r, dispatch, fresh));
      return;
    }
    const measured = this.measured(fresh, result, batchStartedMs);
    let output: StoredOutput;
    try {
      output = await spill.store(fresh, result.text);
    } catch (error) {
      if (!(error instanceof OutputNotStoredError)) throw error;
      await this.failed(
        r,
        REQUEST_REASON.outputNotStored,
        `it ran on ${node}, but ${error.message}`,
        node,
        measured,
      );
      return;
    }
    try {
      await this.writeInDispatch(r, (current) =>
        succeededPatch(this.context(current), {
          node,
          startedMs: batchStartedMs,
          measured,
          usage: { promptTokens: result.promptTokens, completionTokens: result.completionTokens },
          output,
        }),
      );
    } catch (error) {
      if (!(error instanceof RequestGoneError)) throw error;
      this.dropped(error);
      return;
    }
    metrics.requestsCompletedTotal.inc({
      node,
      phase: PHASE.succeeded,
      reason: REQUEST_REASON.succeeded,
    });
    // `measured` spans what `predicted` models (the batch run); end_to_end adds the wait.
    metrics.requestLatencySeconds.observe({ node, kind: 'measured' }, result.totalSeconds);
    metrics.requestLatencySeconds.observe(
      { node, kind: 'end_to_end' },
      measured.latencySeconds ?? 0,
    );
    const budget = budgetSeconds(fresh);
    if (budget !== undefined)
      metrics.requestSlaTotal.inc({
        node,
        result: (measured.latencySeconds ?? 0) <= budget ? 'met' : 'missed',
      });
    if ((measured.tokensPerSecond ?? 0) > 0)
      metrics.nodeTokensPerSecond.set({ node }, measured.tokensPerSecond ?? 0);
  }

  /** A streamed result that did not finish its generation: fail it or send it back. */
  async unfinishedResult(
    r: InferenceRequest,
    node: string,
    result: RequestResult,
    batchStartedMs: number,
    decision: OutcomeDecision,
  ): Promise<void> {
    await this.apply(r, decision, node, this.measured(this.fresher(r), result, batchStartedMs));
  }

  /**
   * Failed with `reason`, a write of `r`'s dispatch; one that fails is logged (the stranded
   * repair or the next leader sees the request).
   */
  async failed(
    r: InferenceRequest,
    reason: string,
    message: string,
    node = '',
    measured?: Measured,
  ): Promise<void> {
    await this.recordFailure(r, { reason, message, node, measured }, (patchOf) =>
      this.writeInDispatch(r, patchOf),
    );
  }

  /**
   * A waiting request a round fails (it can never run, its budget passed, admission shed it):
   * written only over the version the round read, so a request that changed meanwhile (scheduled,
   * or failed by an earlier round whose write the informer has not shown yet) is not ended twice;
   * the next round decides it again. Returns whether it was written.
   */
  async failedWaiting(r: InferenceRequest, reason: string, message: string): Promise<boolean> {
    return this.recordFailure(r, { reason, message, node: '' }, (patchOf) =>
      this.write(r, patchOf(r), r.metadata.resourceVersion),
    );
  }

  private async recordFailure(
    r: InferenceRequest,
    failure: {
      readonly reason: string;
      readonly message: string;
      readonly node: string;
      readonly measured?: Measured | undefined;
    },
    write: (patchOf: (current: InferenceRequest) => RequestStatusPatch) => Promise<unknown>,
  ): Promise<boolean> {
    const { metrics, events, log } = this.options;
    const { reason, message, node, measured } = failure;
    try {
      await write((current) =>
        failedPatch(this.context(current), {
          reason,
          message,
          ...(measured === undefined ? {} : { measured }),
        }),
      );
    } catch (error) {
      if (error instanceof RequestGoneError) this.dropped(error);
      else if (isConflict(error))
        log.debug({ request: objectKey(r) }, 'request changed since the round read it');
      else log.warn({ err: error, request: objectKey(r) }, 'could not record failure');
      return false;
    }
    metrics.requestsCompletedTotal.inc({ node, phase: PHASE.failed, reason });
    if (reason === REQUEST_REASON.deadlineExceeded || reason === REQUEST_REASON.deadlineInfeasible)
      metrics.requestSlaTotal.inc({ node, result: 'missed' });
    events.record(r, EVENT_TYPE.warning, reason, message);
    log.info({ request: objectKey(r), reason, message }, 'request failed');
    return true;
  }

  /** Back to Pending for another round, or Failed AgentLost after maxAttempts. */
  async requeue(r: InferenceRequest, why: string): Promise<void> {
    await this.apply(r, retryOrGiveUp(why, this.attemptsOf(r), this.options.maxAttempts));
  }

  /** Carries out an outcome decision: a write of `r`'s dispatch. */
  async apply(
    r: InferenceRequest,
    decision: OutcomeDecision,
    node = '',
    measured?: Measured,
  ): Promise<void> {
    if (decision.kind === 'fail') {
      await this.failed(r, decision.reason, decision.message, node, measured);
      return;
    }
    try {
      await this.writeInDispatch(r, (current) =>
        requeuedPatch(this.context(current), {
          why: decision.why,
          attempts: current.status?.attempts ?? 0,
          maxAttempts: this.options.maxAttempts,
        }),
      );
    } catch (error) {
      if (error instanceof RequestGoneError) this.dropped(error);
      else this.options.log.warn({ err: error, request: objectKey(r) }, 'could not requeue');
      return;
    }
    this.options.events.record(r, EVENT_TYPE.warning, REQUEST_REASON.agentLost, decision.why);
  }

  /** Whether the informer's copy of `r` is Succeeded or Failed already. */
  isFinished(r: InferenceRequest): boolean {
    const current = this.options.requests.get(objectKey(r));
    return current !== undefined && isFinished(current);
  }

  /** The attempts a decision about `r` must count (its freshest status). */
  attemptsOf(r: InferenceRequest): number {
    return this.fresher(r).status?.attempts ?? 0;
  }

  private measured(r: InferenceRequest, result: RequestResult, batchStartedMs: number): Measured {
    const seen = this.options.firstSeen.startMs(r);
    const execution = result.totalSeconds;
    return {
      latencySeconds: (this.options.clock.now() - seen) / 1000,
      queueSeconds: Math.max(0, (batchStartedMs - seen) / 1000),
      firstTokenSeconds: result.firstTokenSeconds,
      executionSeconds: execution,
      tokensPerSecond: execution > 0 ? result.completionTokens / execution : 0,
    };
  }

  private context(r: InferenceRequest): TransitionContext {
    return {
      status: r.status,
      generation: r.metadata.generation,
      now: new Date(this.options.clock.now()),
    };
  }

  /** A write for a request deleted or gone on to another dispatch was not made. */
  private dropped(error: RequestGoneError): void {
    if (error instanceof DispatchSupersededError)
      this.options.log.info(
        { request: error.key, why: error.message },
        'not writing over a newer dispatch',
      );
    else this.options.log.info({ request: error.key }, 'request deleted');
  }

  /** A write of `dispatch` that will not be made, counted. */
  private superseded(
    r: InferenceRequest,
    dispatch: DispatchIdentity,
    current: InferenceRequest,
  ): DispatchSupersededError {
    this.options.metrics.requestStatusWritesSupersededTotal.inc();
    return new DispatchSupersededError(objectKey(r), dispatch, current);
  }

  /**
   * A write only `r`'s dispatch may make (DispatchIdentity), built from the copy it is written
   * over: conditioned on the freshest version in that dispatch; a conflict reads the request
   * again and writes again while the API server's copy is still in that dispatch. Throws
   * DispatchSupersededError when it is not, RequestGoneError when the request was deleted.
   */
  private async writeInDispatch(
    r: InferenceRequest,
    patchOf: (current: InferenceRequest) => RequestStatusPatch,
  ): Promise<InferenceRequest> {
    const dispatch = dispatchOf(r);
    let current = this.fresher(r);
    for (let attempt = 1; ; attempt++) {
      if (!inDispatch(current, dispatch)) throw this.superseded(r, dispatch, current);
      try {
        return await this.write(current, patchOf(current), current.metadata.resourceVersion);
      } catch (error) {
        if (!isConflict(error) || attempt >= DISPATCH_WRITE_ATTEMPTS) throw error;
      }
      current = await this.read(current);
    }
  }

  /** The API server's copy of `r`; RequestGoneError when it was deleted. */
  private read(r: InferenceRequest): Promise<InferenceRequest> {
    return this.call(r, () =>
      this.options.read(r.metadata.namespace ?? 'default', r.metadata.name ?? ''),
    );
  }

  /**
   * One status merge patch; transient API errors (no answer, 429, 5xx) are retried with backoff,
   * a deleted request throws RequestGoneError, a conflict (409, when `resourceVersion` is given)
   * is thrown as is.
   */
  private async write(
    r: InferenceRequest,
    patch: RequestStatusPatch,
    resourceVersion?: string,
  ): Promise<InferenceRequest> {
    const updated = await this.call(r, () =>
      this.options.status.patchRequest(
        r.metadata.name ?? '',
        r.metadata.namespace ?? 'default',
        patch,
        resourceVersion,
      ),
    );
    this.options.metrics.requestStatusWritesTotal.inc({ phase: patch.phase ?? 'unchanged' });
    this.written.set(objectKey(updated), updated);
    return updated;
  }

  /** An API call about `r`, transient errors retried; a 404 throws RequestGoneError. */
  private async call<T>(r: InferenceRequest, api: () => Promise<T>): Promise<T> {
    try {
      return await retryTransient(api, this.options.clock);
    } catch (error) {
      if (isNotFound(error)) throw new RequestGoneError(objectKey(r));
      throw error;
    }
  }
}
