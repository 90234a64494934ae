// The one place where a request's outcome is written: it applies the pure transitions
// (transitions.ts) and outcome decisions (failure-policy.ts) to the API server as status merge
// patches, and records the Events, metrics and log lines that go with each.
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
import { budgetSeconds, isFinished } from './request-facts.js';
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

/** The request was deleted: there is no status left to write (its sequence should stop). */
export class RequestGoneError extends Error {
  override name = 'RequestGoneError';
  constructor(readonly key: string) {
    super(`InferenceRequest ${key} was deleted`);
  }
}

export interface RequestStatusRecorderOptions {
  readonly status: StatusWriter;
  readonly events: EventRecorder;
  readonly metrics: OperatorMetrics;
  readonly log: Logger;
  /** The informer cache: a status write of this controller may be newer than a caller's copy. */
  readonly requests: Informer<InferenceRequest>;
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
   * Throws RequestGoneError when the request was deleted.
   */
  async running(r: InferenceRequest, batchStartedMs: number): Promise<InferenceRequest> {
    return this.write(r, runningPatch(this.context(r), batchStartedMs)).catch((error: unknown) => {
      if (error instanceof RequestGoneError) throw error;
      this.options.log.warn({ err: error, request: objectKey(r) }, 'could not record Running');
      return r;
    });
  }

  /**
   * Succeeded with the agent's result; `batchStartedMs`: when the batch was dispatched. An output
   * too long for status that cannot be stored fails the request OutputNotStored: it ran once, and
   * running it again would only meet the same refusal (and count twice).
   */
  async succeeded(
    r: InferenceRequest,
    node: string,
    result: RequestResult,
    batchStartedMs: number,
  ): Promise<void> {
    r = this.fresher(r);
    const { metrics, spill } = this.options;
    const measured = this.measured(r, result, batchStartedMs);
    let output: StoredOutput;
    try {
      output = await spill.store(r, result.text);
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
    await this.write(
      r,
      succeededPatch(this.context(r), {
        node,
        startedMs: batchStartedMs,
        measured,
        usage: { promptTokens: result.promptTokens, completionTokens: result.completionTokens },
        output,
      }),
    );
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
    const budget = budgetSeconds(r);
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

  /** Failed with `reason`; a write that fails is logged (the next round sees the request). */
  async failed(
    r: InferenceRequest,
    reason: string,
    message: string,
    node = '',
    measured?: Measured,
  ): Promise<void> {
    await this.recordFailure(this.fresher(r), { reason, message, node, measured });
  }

  /**
   * A waiting request a round fails (it can never run, its budget passed, admission shed it):
   * written only over the version the round read, so a request that changed meanwhile (scheduled,
   * or failed by an earlier round whose write the informer has not shown yet) is not ended twice;
   * the next round decides it again. Returns whether it was written.
   */
  async failedWaiting(r: InferenceRequest, reason: string, message: string): Promise<boolean> {
    return this.recordFailure(r, { reason, message, node: '' }, r.metadata.resourceVersion);
  }

  private async recordFailure(
    r: InferenceRequest,
    failure: {
      readonly reason: string;
      readonly message: string;
      readonly node: string;
      readonly measured?: Measured | undefined;
    },
    resourceVersion?: string,
  ): Promise<boolean> {
    const { metrics, events, log } = this.options;
    const { reason, message, node, measured } = failure;
    try {
      await this.write(
        r,
        failedPatch(this.context(r), {
          reason,
          message,
          ...(measured === undefined ? {} : { measured }),
        }),
        resourceVersion,
      );
    } catch (error) {
      if (error instanceof RequestGoneError) log.info({ request: objectKey(r) }, 'request deleted');
      else if (resourceVersion !== undefined && isConflict(error))
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
    const current = this.fresher(r);
    await this.apply(
      current,
      retryOrGiveUp(why, current.status?.attempts ?? 0, this.options.maxAttempts),
    );
  }

  /** Carries out an outcome decision. */
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
    const current = this.fresher(r);
    await this.write(
      current,
      requeuedPatch(this.context(current), {
        why: decision.why,
        attempts: current.status?.attempts ?? 0,
        maxAttempts: this.options.maxAttempts,
      }),
    ).catch((error: unknown) => {
      if (!(error instanceof RequestGoneError))
        this.options.log.warn({ err: error, request: objectKey(r) }, 'could not requeue');
    });
    this.options.events.record(current, EVENT_TYPE.warning, REQUEST_REASON.agentLost, decision.why);
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
    try {
      const updated = await retryTransient(
        () =>
          this.options.status.patchRequest(
            r.metadata.name ?? '',
            r.metadata.namespace ?? 'default',
            patch,
            resourceVersion,
          ),
        this.options.clock,
      );
      this.options.metrics.requestStatusWritesTotal.inc({ phase: patch.phase ?? 'unchanged' });
      this.written.set(objectKey(updated), updated);
      return updated;
    } catch (error) {
      if (isNotFound(error)) throw new RequestGoneError(objectKey(r));
      throw error;
    }
  }
}
