// One scheduling round: the Pending InferenceRequests of the informer cache (their promptFrom
// prompts read) and the waiting requests of the other candidate sources (the OpenAI endpoint)
// go to the pure decideRound together (split plans, the node's policy per idle Ready node, GAH
// across nodes); each chosen batch is dispatched first, then what fails now (no node can ever
// serve it, its budget passed, admission control shed it, its prompt cannot be read) is written,
// at most FAILURE_WRITES_PER_ROUND of them, oldest first (failure-cap.ts): the rest stay Pending
// for the next rounds (the writes' watch events start the next one at once). Nodes with a batch
// in flight or a lost agent sit it out.
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import type { Logger } from 'pino';
import type { EdgeNode } from '../../gen/crds/edgenode.js';
import type { InferenceRequest } from '../../gen/crds/inferencerequest.js';
import { eachLimited } from '../../util/concurrency.js';
import { PHASE, REQUEST_REASON } from '../api/constants.js';
import type { Clock } from '../kube/clock.js';
import { objectKey, type Informer } from '../kube/informer.js';
import type { OperatorMetrics } from '../metrics.js';
import { decideRound, type NodeBatch } from '../scheduling/decide-round.js';
import { capFailures, FAILURE_WRITES_PER_ROUND } from '../scheduling/failure-cap.js';
import type { Candidate, CandidateSource } from './candidates.js';
import { crdCandidate } from './crd-candidates.js';
import type { BatchDispatcher } from './dispatch.js';
import type { FirstSeen } from './first-seen.js';
import type { NodeOccupancy } from './node-occupancy.js';
import type { PromptStore } from './prompts.js';
import { phaseOf, requestKey } from './request-facts.js';
import type { RequestStatusRecorder } from './status-recorder.js';

/** Failure writes of one round in flight at once. */
const WRITE_CONCURRENCY = 32;

export interface SchedulingRoundOptions {
  readonly nodes: Informer<EdgeNode>;
  readonly requests: Informer<InferenceRequest>;
  readonly prompts: PromptStore;
  readonly recorder: RequestStatusRecorder;
  readonly dispatcher: BatchDispatcher;
  readonly occupancy: NodeOccupancy;
  readonly metrics: OperatorMetrics;
  readonly log: Logger;
  readonly clock: Clock;
  /** Called when a dispatched batch is done (its node is free for the next round). */
  readonly onBatchDone: () => void;
  readonly firstSeen: FirstSeen;
  /** Candidate sources besides the InferenceRequest informer (the OpenAI endpoint). */
  readonly sources: readonly CandidateSource[];
  /** Admission control: waiting requests allowed per node serving their model. */
  readonly maxPendingPerNode: number;
}

/** A batch id: the node, the time, and random bits (unique across operator restarts). */
export function newBatchId(node: string, nowMs: number): string {
  return `${node}-${nowMs.toString(36)}-${randomBytes(3).toString('hex')}`;
}

export class SchedulingRound {
  constructor(private readonly options: SchedulingRoundOptions) {}

  /** Runs one round; dispatches continue after it returns. */
  async run(all: readonly InferenceRequest[]): Promise<void> {
    const { nodes, recorder, occupancy, log, clock, firstSeen } = this.options;
    // A request in a batch in flight (its Scheduled write may not be answered yet) or that
    // this operator just scheduled or ended is not Pending, whatever the informer has shown.
    const inFlight = occupancy.inFlightKeys();
    const pending = all
      .filter((r) => phaseOf(r) === PHASE.pending && !r.metadata.deletionTimestamp)
      .filter((r) => !inFlight.has(objectKey(r)))
      .map((r) => recorder.fresher(r))
      .filter((r) => phaseOf(r) === PHASE.pending);
    const prompts = await this.options.prompts.resolve(pending);
    // A Pending InferenceRequest takes part once its prompt is known; other sources' requests
    // (the OpenAI endpoint) take part as they are.
    const candidates: Candidate[] = [
      ...pending.flatMap((r) => {
        const prompt = r.spec.prompt ?? prompts.text.get(objectKey(r));
        return prompt === undefined ? [] : [crdCandidate(r, prompt, recorder, firstSeen)];
      }),
      ...this.options.sources.flatMap((s) => s.pending()),
    ];
    const byKey = new Map(candidates.map((c) => [requestKey(c.view), c]));
    const decision =
      candidates.length === 0
        ? undefined
        : decideRound({
            nodes: nodes.list(),
            requests: candidates.map((c) => c.view),
            busyNodes: occupancy.busyNodes(),
            nowMs: clock.now(),
            promptBytes: prompts.bytes,
            firstSeenMs: new Map(candidates.map((c) => [requestKey(c.view), c.firstSeenMs])),
            clock: () => performance.now() / 1000,
            admission: {
              maxPendingPerNode: this.options.maxPendingPerNode,
              nodeTimes: occupancy.predictedTimes(clock.now()),
            },
          });
    for (const note of decision?.notes ?? []) log.debug({ note }, 'round note');
    for (const batch of decision?.batches ?? []) this.dispatch(batch, byKey);
    // Who ends each failure: the candidate, or (no candidate without its prompt) the request.
    const failing = new Map<string, Pick<Candidate, 'firstSeenMs' | 'fail'>>(byKey);
    for (const { request } of prompts.unreadable)
      failing.set(objectKey(request), {
        firstSeenMs: firstSeen.startMs(request),
        fail: (reason, message) => recorder.failedWaiting(request, reason, message),
      });
    const failures = [
      ...prompts.unreadable.map(({ request, message }) => ({
        key: objectKey(request),
        reason: REQUEST_REASON.invalidPrompt,
        message,
      })),
      ...(decision === undefined
        ? []
        : [
            ...decision.failed,
            ...decision.expired,
            ...decision.shed,
            ...decision.invalid.map((i) => ({ ...i, reason: REQUEST_REASON.invalidSpec })),
          ]),
    ];
    const { now, later } = capFailures(
      failures,
      (key) => failing.get(key)?.firstSeenMs ?? 0,
      FAILURE_WRITES_PER_ROUND,
    );
    if (later > 0) log.debug({ written: now.length, later }, 'failures left for the next rounds');
    const shed = new Set(decision?.shed.map((s) => s.key));
    await eachLimited(now, WRITE_CONCURRENCY, async (f) => {
      const ended = (await failing.get(f.key)?.fail(f.reason, f.message)) ?? false;
      if (ended && shed.has(f.key))
        this.options.metrics.requestsShedTotal.inc({ reason: f.reason });
    });
  }

  /** Starts a batch's dispatch in the background; its node is busy until it ends. */
  private dispatch(batch: NodeBatch, byKey: ReadonlyMap<string, Candidate>): void {
    const { nodes, occupancy, log, clock } = this.options;
    this.recordSolver(batch);
    const node = nodes.get(batch.node);
    if (!node) return;
    const nowMs = clock.now();
    const batchId = newBatchId(batch.node, nowMs);
    const members = new Map(
      batch.members.flatMap((m) => {
        const c = byKey.get(m.key);
        if (c === undefined) return [];
        this.options.metrics.requestLatencySeconds.observe(
          { node: batch.node, kind: 'queued' },
          Math.max(0, nowMs - c.firstSeenMs) / 1000,
        );
        return [[m.key, c.member()] as const];
      }),
    );
    occupancy.begin(batch.node, {
      batchId,
      keys: [...members.keys()],
      sinceMs: nowMs,
      predictedSeconds: batch.predicted.totalSeconds,
    });
    void this.options.dispatcher
      .dispatch({ node, batch, batchId, members })
      .catch((error: unknown) => {
        log.error({ err: error, batchId, node: batch.node }, 'dispatch failed');
      })
      .finally(() => {
        occupancy.end(batch.node);
        this.options.onBatchDone();
      });
  }

  private recordSolver(batch: NodeBatch): void {
    const { metrics } = this.options;
    const { node, solver } = batch;
    metrics.solveDurationSeconds.observe({ node, policy: solver.policy }, solver.solveSeconds ?? 0);
    metrics.treeNodesEvaluatedTotal.inc({ node }, solver.nodesEvaluated);
    metrics.treeNodesPrunedTotal.inc({ node, rule: 'infeasible' }, solver.prunedInfeasible);
    metrics.treeNodesPrunedTotal.inc({ node, rule: 'bound' }, solver.prunedByBound);
    metrics.batchSize.observe({ node }, batch.members.length);
  }
}
