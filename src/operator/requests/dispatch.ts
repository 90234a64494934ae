// Dispatch of one chosen batch: every member is marked Scheduled first (for an InferenceRequest a
// status write BEFORE ExecuteBatch, so a restarted operator always knows which batch it belongs
// to), then ExecuteBatch runs on the node's agent; streamed tokens go to each member (the chunks
// for a caller that streams) and streamed results finish them. A member still generating
// DISPATCH_DEFAULTS.runningWriteDelayMs after its first token is marked running (an
// InferenceRequest's Running write) while Running writes stay under their rate; a shorter one,
// or one over the rate, goes from Scheduled to its outcome, so a request costs two status writes
// when the API server is busy. Outcome writes run alongside the stream (a few at a time,
// each after its member's Running write settled), so a slow API server does not hold the stream.
// What the stream does not deliver is decided by the failure policy. Members come from any
// candidate source (InferenceRequests, the OpenAI endpoint) through their handles.
import type { Logger } from 'pino';
import { AGENT_ERROR_MEANING, classifyAgentError } from '../../agent-client/error-meaning.js';
import type { EdgeNode } from '../../gen/crds/edgenode.js';
import type { ExecuteBatchResponse } from '../../gen/edgellm/agent/v1/agent.js';
import { eachLimited } from '../../util/concurrency.js';
import { REQUEST_REASON } from '../api/constants.js';
import type { AgentConnector } from '../agents/connector.js';
import { sleep, type Clock } from '../kube/clock.js';
import { EVENT_TYPE, type EventRecorder } from '../kube/writes.js';
import { RateLimiter } from '../../util/rate-limit.js';
import type { NodeBatch } from '../scheduling/decide-round.js';
import type { BatchMemberHandle } from './candidates.js';
import { benchesNode, classifyBatchFailure, classifyResult } from './failure-policy.js';
import type { NodeOccupancy } from './node-occupancy.js';
import { RequestGoneError } from './status-recorder.js';

/** Scheduled marks of one batch in flight at once. */
const WRITE_CONCURRENCY = 16;
/** Outcome writes of one batch in flight at once; the stream waits when this many are. */
const OUTCOME_WRITE_CONCURRENCY = 8;

export const DISPATCH_DEFAULTS = {
  /**
   * A member is marked running (an InferenceRequest's status Running) once it has streamed this
   * long without a result; shorter generations are never written Running.
   */
  runningWriteDelayMs: 1_000,
  /**
   * Running writes are the first to go when the API server is the limit: at most this many per
   * second (bursts of runningWriteBurst) across all batches; a member over the rate stays
   * Scheduled until its outcome. Scheduled and outcome writes are never skipped.
   */
  runningWritesPerSecond: 20,
  runningWriteBurst: 40,
  /** Reattaches to a batch after its stream broke, before its requests go back to the round. */
  reattachAttempts: 3,
  /**
   * How long after a stream breaks the operator keeps asking the agent for the batch (GetBatch)
   * before its requests go back to the round. Longer than the agent's orphanGraceSeconds
   * (default 20): an agent that nobody reached for that long has cancelled the batch itself, so a
   * request re-dispatched after it never runs on two nodes at once. An agent that answers that it
   * does not have the batch (restarted) ends the wait at once.
   */
  reattachWindowMs: 25_000,
  /** Waits between those questions: 0.5 s, doubled up to 2 s. */
  reattachBaseDelayMs: 500,
  reattachMaxDelayMs: 2_000,
  /** Deadline of the GetBatch / CancelGeneration calls around a reattach. */
  reattachCallSeconds: 5,
} as const;

export interface BatchDispatcherOptions {
  readonly agents: AgentConnector;
  readonly occupancy: NodeOccupancy;
  readonly log: Logger;
  readonly clock: Clock;
  /** One Normal Event per dispatched batch, on its EdgeNode. */
  readonly events: EventRecorder;
  /** Dispatches of one request before it fails AgentLost. */
  readonly maxAttempts: number;
  /** DISPATCH_DEFAULTS.runningWriteDelayMs unless set (0: at the first token). */
  readonly runningWriteDelayMs?: number;
}

/** A batch the round chose, with the handles of its members by key. */
export interface ChosenBatch {
  readonly node: EdgeNode;
  readonly batch: NodeBatch;
  readonly batchId: string;
  readonly members: ReadonlyMap<string, BatchMemberHandle>;
}

export class BatchDispatcher {
  /** The rate of Running writes across all batches (DISPATCH_DEFAULTS.runningWritesPerSecond). */
  private readonly runningWriteRate: RateLimiter;

  constructor(private readonly options: BatchDispatcherOptions) {
    this.runningWriteRate = new RateLimiter(() => options.clock.now());
  }

  async dispatch(chosen: ChosenBatch): Promise<void> {
    const { log, clock } = this.options;
    const { batch, batchId } = chosen;
    const scheduled = await this.schedule(chosen);
    // Members whose budget ran out while they were marked fail here, so that the agent does not
    // refuse the whole batch for them.
    const live: BatchMemberHandle[] = [];
    for (const m of scheduled) {
      const deadline = m.deadlineMs();
      if (deadline !== undefined && deadline <= clock.now())
        await m.apply(
          {
            kind: 'fail',
            reason: REQUEST_REASON.deadlineExceeded,
            message: `the latency budget ran out before batch ${batchId} started on ${batch.node}`,
          },
          batch.node,
        );
      else live.push(m);
    }
    if (live.length === 0) return;
    log.info(
      {
        batchId,
        node: batch.node,
        requests: live.map((m) => m.key),
        policy: batch.solver.policy,
        optimal: batch.solver.optimal,
      },
      'dispatching batch',
    );
    this.options.events.record(
      chosen.node,
      EVENT_TYPE.normal,
      'BatchDispatched',
      `batch ${batchId}: ${String(live.length)} requests (${batch.solver.policy}${batch.solver.optimal ? ', proven optimal' : ''}); predicted ${batch.predicted.totalSeconds.toFixed(2)} s`,
    );
    await this.execute(chosen, live);
  }

  /** Marks members Scheduled; those that changed meanwhile, vanished or gave up are left out. */
  private async schedule(chosen: ChosenBatch): Promise<BatchMemberHandle[]> {
    const { batch, batchId } = chosen;
    const members = batch.members.flatMap((m) => {
      const handle = chosen.members.get(m.key);
      return handle ? [{ member: m, handle }] : [];
    });
    const scheduled: BatchMemberHandle[] = [];
    await eachLimited(members, WRITE_CONCURRENCY, async ({ member, handle }) => {
      try {
        await handle.scheduled({
          assignment: {
            node: batch.node,
            batchId,
            model: batch.model,
            quantization: batch.quantization,
            agentModel: batch.agentModel,
            batchSize: members.length,
            uplinkHz: member.uplinkHz,
            downlinkHz: member.downlinkHz,
            computeShare: member.computeShare,
            ...(member.split ? { split: member.split } : {}),
          },
          predicted: {
            latencySeconds: member.predicted.totalSeconds,
            uplinkSeconds: member.predicted.uplinkSeconds,
            computeSeconds: member.predicted.computeSeconds,
            downlinkSeconds: member.predicted.downlinkSeconds,
          },
        });
        scheduled.push(handle);
      } catch (error) {
        // Changed meanwhile (409), deleted or gone: the next round sees the new state.
        this.options.log.debug(
          { err: error, request: member.key, batchId },
          'not scheduling a request that changed',
        );
      }
    });
    return scheduled;
  }

  /**
   * ExecuteBatch and its stream. A stream that breaks while the agent may still be there (the
   * agent was "lost": connection reset, proxy restarted, keepalive timeout) is reattached: the
   * agent still has the batch (GetBatch), so ExecuteBatch with the same id and requests attaches
   * and replays what was missed. Only what the agent does not have goes back to the round.
   */
  private async execute(
    chosen: ChosenBatch,
    scheduled: readonly BatchMemberHandle[],
  ): Promise<void> {
    const { agents, occupancy, log, clock } = this.options;
    const { batch, batchId } = chosen;
    const node = batch.node;
    const started = clock.now();
    const byId = new Map(scheduled.map((m) => [m.key, m]));
    const running = new Set<string>();
    const finished = new Set<string>();
    // Token events handled per member, and seen in the current stream: a reattached stream
    // replays the batch's events from the start, and a member must not get a chunk twice.
    const handled = new Map<string, number>();
    let replayed = new Map<string, number>();
    // Built once: a reattach must send exactly what was sent (the agent checks it).
    const request = {
      batchId,
      model: batch.agentModel,
      requests: scheduled.map((m) => {
        const deadline = m.deadlineMs();
        return m.generationRequest(deadline === undefined ? undefined : new Date(deadline));
      }),
    };
    // Writes for members, off the stream: a member's Running write (once started) and then its
    // outcome, in that order, so an outcome is never overwritten by a late Running.
    const runningWrites = new Map<string, Promise<void>>();
    const writes = new Set<Promise<void>>();
    const track = (write: Promise<void>): Promise<void> => {
      writes.add(write);
      void write.finally(() => writes.delete(write));
      return write;
    };
    const writeFailed =
      (key: string) =>
      (error: unknown): Promise<void> =>
        this.ownWriteFailed(chosen.node, batchId, key, error, finished);
    const settled = async (key: string): Promise<void> => {
      await runningWrites.get(key);
    };
    const outcome = async (key: string, write: () => Promise<void>): Promise<void> => {
      void track(settled(key).then(write).catch(writeFailed(key)));
      while (writes.size >= OUTCOME_WRITE_CONCURRENCY) await Promise.race(writes);
    };
    const markRunningLater = (key: string, m: BatchMemberHandle): void => {
      const delay = this.options.runningWriteDelayMs ?? DISPATCH_DEFAULTS.runningWriteDelayMs;
      void sleep(clock, delay).then(() => {
        if (finished.has(key)) return;
        const { runningWritesPerSecond, runningWriteBurst } = DISPATCH_DEFAULTS;
        if (!this.runningWriteRate.take('running', runningWritesPerSecond, runningWriteBurst))
          return;
        runningWrites.set(key, track(m.running(started).catch(writeFailed(key))));
      });
    };
    const onEvent = async (event: ExecuteBatchResponse): Promise<void> => {
      const e = event.event;
      if (e?.$case === 'token') {
        const id = e.value.requestId;
        const m = byId.get(id);
        if (!m || finished.has(id)) return;
        const seen = (replayed.get(id) ?? 0) + 1;
        replayed.set(id, seen);
        if (seen <= (handled.get(id) ?? 0)) return;
        handled.set(id, seen);
        try {
          m.token(e.value.text, e.value.completionTokens);
        } catch (error) {
          await this.ownWriteFailed(chosen.node, batchId, id, error, finished);
          return;
        }
        if (!running.has(id)) {
          running.add(id);
          markRunningLater(id, m);
        }
      } else if (e?.$case === 'result' && !finished.has(e.value.requestId)) {
        const result = e.value;
        const m = byId.get(result.requestId);
        if (!m) return;
        finished.add(result.requestId);
        const decision = classifyResult({
          finishReason: result.finishReason,
          error: result.error,
          node,
          attempts: m.attempts(),
          maxAttempts: this.options.maxAttempts,
        });
        await outcome(result.requestId, () =>
          decision.kind === 'succeed'
            ? m.succeeded(node, result, started)
            : m.apply(decision, node, result, started),
        );
      }
    };
    for (let attach = 0; ; attach++) {
      try {
        // A fresh client per attach: the EdgeNode controller closes a node's cached client when
        // a heartbeat fails, which a network blip also causes.
        const client = await agents.client(chosen.node);
        replayed = new Map();
        for await (const event of client.executeBatch(request)) await onEvent(event);
        break;
      } catch (error) {
        const failure = classifyAgentError(error);
        log.warn(
          { batchId, node, code: failure.code, meaning: failure.meaning, err: failure.message },
          'batch stream failed',
        );
        if (
          benchesNode(failure) &&
          attach < DISPATCH_DEFAULTS.reattachAttempts &&
          (await this.stillOnAgent(chosen.node, batchId))
        ) {
          log.info({ batchId, node, attempt: attach + 1 }, 'reattaching to the batch');
          continue;
        }
        if (benchesNode(failure)) {
          agents.forget(node);
          occupancy.markLost(node, clock.now());
        }
        for (const [key, m] of byId) {
          if (finished.has(key)) continue;
          finished.add(key);
          await outcome(key, () =>
            m.apply(
              classifyBatchFailure({
                failure,
                node,
                batchId,
                deadlineMs: m.deadlineMs(),
                nowMs: clock.now(),
                attempts: m.attempts(),
                maxAttempts: this.options.maxAttempts,
              }),
              node,
            ),
          );
        }
        await Promise.all(writes);
        return;
      }
    }
    await Promise.all(writes);
    // Requests without a result (should not happen on a clean stream) go back to the round.
    for (const [key, m] of byId) {
      if (finished.has(key) || m.isFinished()) continue;
      finished.add(key);
      await settled(key);
      await m.apply(
        { kind: 'requeue', why: 'the agent ended the batch without a result for this request' },
        node,
      );
    }
  }

  /**
   * After a broken stream: whether the agent still has the batch. Asks until it answers, or says
   * it does not have it, or the reattach window (longer than the agent's orphan grace) passed.
   */
  private async stillOnAgent(node: EdgeNode, batchId: string): Promise<boolean> {
    const { clock, agents, log } = this.options;
    const brokeAt = clock.now();
    for (let i = 0; ; i++) {
      await sleep(
        clock,
        Math.min(
          DISPATCH_DEFAULTS.reattachBaseDelayMs * 2 ** i,
          DISPATCH_DEFAULTS.reattachMaxDelayMs,
        ),
      );
      try {
        const client = await agents.client(node);
        await client.getBatch({ batchId }, DISPATCH_DEFAULTS.reattachCallSeconds);
        return true;
      } catch (error) {
        const failure = classifyAgentError(error);
        if (failure.meaning === AGENT_ERROR_MEANING.notFound) return false;
        if (clock.now() - brokeAt >= DISPATCH_DEFAULTS.reattachWindowMs) {
          log.warn(
            { batchId, node: node.metadata.name, err: failure.message },
            'the agent stayed unreachable past its orphan grace; the batch goes back to the round',
          );
          return false;
        }
      }
    }
  }

  /**
   * A write for a member failed. A member that is gone (its InferenceRequest deleted or gone on
   * to a newer dispatch, its HTTP caller disconnected) has its sequence stopped on the agent
   * (CancelGeneration) so its neighbours keep the batch to themselves; any other failure (the API
   * server unreachable after retries) is logged and leaves the member as it is.
   */
  private async ownWriteFailed(
    node: EdgeNode,
    batchId: string,
    requestId: string,
    error: unknown,
    finished: Set<string>,
  ): Promise<void> {
    const { log } = this.options;
    if (!(error instanceof RequestGoneError)) {
      log.warn({ err: error, batchId, request: requestId }, 'could not record a result');
      return;
    }
    const alreadyDone = finished.has(requestId);
    finished.add(requestId);
    if (!alreadyDone) await this.cancelMember(node, batchId, requestId);
  }

  /** Stops one member's sequence on the agent; the rest of the batch runs on. */
  async cancelMember(node: EdgeNode, batchId: string, requestId: string): Promise<void> {
    const { log, agents } = this.options;
    try {
      const client = await agents.client(node);
      const { cancelled } = await client.cancelGeneration(
        { batchId, requestId },
        DISPATCH_DEFAULTS.reattachCallSeconds,
      );
      log.info(
        { batchId, request: requestId, cancelled },
        'request gone from this batch; its sequence was stopped',
      );
    } catch (error) {
      log.warn(
        { batchId, request: requestId, err: classifyAgentError(error).message },
        'request gone from this batch; could not stop its sequence',
      );
    }
  }
}
