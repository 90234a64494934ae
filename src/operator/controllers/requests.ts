// The request controller: scheduling rounds, dispatch to agents, results into status, recovery.
//
// A round runs when a request or node changes (debounced) and at the nodes' round interval. It
// snapshots the informer caches into decideRound (src/operator/scheduling/snapshot.ts: split
// plans, DFTSP per node, GAH across nodes) with the nodes that have a batch in flight left out,
// fails what no node can ever serve, expires what waited past its budget, and dispatches each
// chosen batch: status Scheduled (node, batch id, shares, split, predicted latency) is written
// BEFORE ExecuteBatch, so a restarted operator always knows which batch a request belongs to.
// Streamed results move requests to Running and then Succeeded or Failed.
//
// Nothing is lost: on taking leadership, requests already Scheduled/Running are recovered by
// asking their agent about the batch id (GetBatch): finished there -> its results are recorded;
// still queued or running -> followed until it finishes; unknown to the agent (or the node is
// gone) -> back to Pending for a new round. A batch is never sent twice under one id, and a
// request is only re-dispatched under a new id when its agent has no record of the old one.
// An agent lost mid-batch sends its unfinished requests back to Pending (attempts + 1); after
// maxAttempts they fail with AgentLost.
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { status as GrpcStatus, type ServiceError } from '@grpc/grpc-js';
import * as k8s from '@kubernetes/client-node';
import type { Logger } from 'pino';
import type { AgentClient } from '../../agent-client/client.js';
import type { EdgeNode } from '../../gen/crds/edgenode.js';
import type { InferenceRequest } from '../../gen/crds/inferencerequest.js';
import {
  BatchState,
  FinishReason,
  PromptFormat,
  type RequestResult,
} from '../../gen/edgellm/agent/v1/agent.js';
import {
  FINISHED_PHASES,
  InferenceRequestResource,
  PHASE,
  REQUEST_CONDITION,
  REQUEST_REASON,
  type Phase,
} from '../api/constants.js';
import type { AgentConnector } from '../agents/connector.js';
import type { Informer } from '../kube/informer.js';
import { objectKey, splitKey } from '../kube/informer.js';
import { EVENT_TYPE, setCondition, type EventRecorder, type StatusWriter } from '../kube/writes.js';
import type { OperatorMetrics } from '../metrics.js';
import { parseDurationSeconds } from '../scheduling/duration.js';
import { decideRound, type NodeBatch, type RoundFailure } from '../scheduling/snapshot.js';

export const REQUEST_DEFAULTS = {
  /** Rounds also run this often (a node's spec.scheduling.roundIntervalSeconds when smaller). */
  roundIntervalSeconds: 1,
  /** Events within this window start one round. */
  debounceMilliseconds: 50,
  /** Dispatches of one request (agent lost, batch unknown after restart) before it fails. */
  maxAttempts: 3,
  /** status.output holds at most this many characters (the CRD's maxLength of status.output); longer
   *  output goes to a ConfigMap/Secret. */
  maxStatusOutputChars: 16_384,
  /** Poll interval while following a batch recovered after a restart. */
  recoveryPollMilliseconds: 500,
} as const;

/** Key of the output in the ConfigMap/Secret that holds a long output. */
export const OUTPUT_KEY = 'output';

export interface RequestControllerOptions {
  readonly kubeConfig: k8s.KubeConfig;
  readonly nodes: Informer<EdgeNode>;
  readonly requests: Informer<InferenceRequest>;
  readonly agents: AgentConnector;
  readonly status: StatusWriter;
  readonly events: EventRecorder;
  readonly metrics: OperatorMetrics;
  readonly log: Logger;
  readonly maxAttempts?: number;
  /** Longest output kept inline in status.output (REQUEST_DEFAULTS.maxStatusOutputChars). */
  readonly maxStatusOutputChars?: number;
}

interface InFlight {
  readonly batchId: string;
  readonly keys: readonly string[];
}

function isServiceError(error: unknown): error is ServiceError {
  return typeof error === 'object' && error !== null && 'code' in error && 'details' in error;
}

function errorMessage(error: unknown): string {
  if (isServiceError(error)) return error.details || error.message;
  return error instanceof Error ? error.message : String(error);
}

/** Codes that mean the agent (or the way to it) went away rather than rejected the batch. */
const LOST_CODES: ReadonlySet<number> = new Set([
  GrpcStatus.UNAVAILABLE,
  GrpcStatus.CANCELLED,
  GrpcStatus.ABORTED,
  GrpcStatus.INTERNAL,
  GrpcStatus.UNKNOWN,
]);

/** API calls (status writes, prompt reads) of one round or batch in flight at once. */
const WRITE_CONCURRENCY = 8;

/** Runs `fn` over `items`, at most `limit` at a time. */
async function eachLimited<T>(
  items: readonly T[],
  limit: number,
  fn: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    for (let i = next++; i < items.length; i = next++) await fn(items[i] as T);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

function phaseOf(request: InferenceRequest): Phase {
  return request.status?.phase ?? PHASE.pending;
}

export class RequestController {
  private readonly core: k8s.CoreV1Api;
  private readonly custom: k8s.CustomObjectsApi;
  private readonly inflight = new Map<string, InFlight>();
  /**
   * Prompts read through spec.promptFrom, by request uid. spec.promptFrom is immutable, so a
   * prompt is read once, when its request is first considered, not in every round it waits.
   */
  private readonly promptCache = new Map<string, string>();
  /** Nodes whose agent was lost mid-batch, and when: skipped until a later heartbeat. */
  private readonly lost = new Map<string, number>();
  /** When this operator first saw each request (finer than creationTimestamp's seconds). */
  private readonly firstSeen = new Map<string, number>();
  private readonly maxAttempts: number;
  private readonly maxStatusOutputChars: number;
  private roundTimer: NodeJS.Timeout | undefined;
  private roundRunning = false;
  private roundAgain = false;
  private signal: AbortSignal | undefined;

  constructor(private readonly options: RequestControllerOptions) {
    this.core = options.kubeConfig.makeApiClient(k8s.CoreV1Api);
    this.custom = options.kubeConfig.makeApiClient(k8s.CustomObjectsApi);
    this.maxAttempts = options.maxAttempts ?? REQUEST_DEFAULTS.maxAttempts;
    this.maxStatusOutputChars =
      options.maxStatusOutputChars ?? REQUEST_DEFAULTS.maxStatusOutputChars;
  }

  /** Recovers in-flight batches, then runs rounds until `signal` aborts. */
  async run(signal: AbortSignal): Promise<void> {
    const { options } = this;
    // Registered for this run only: a replica that loses and regains the lead builds a new
    // controller, and this one must stop hearing events.
    const offRequests = options.requests.on({
      add: (r) => {
        this.firstSeen.set(objectKey(r), Date.now());
        this.trigger();
      },
      update: () => {
        this.trigger();
      },
      delete: (r) => {
        this.firstSeen.delete(objectKey(r));
      },
    });
    const offNodes = options.nodes.on({
      add: () => {
        this.trigger();
      },
      update: () => {
        this.trigger();
      },
    });
    try {
      this.signal = signal;
      await this.recover();
      this.trigger();
      while (!signal.aborted) {
        await sleep(this.intervalMs(), undefined, { signal }).catch(() => undefined);
        this.trigger();
        await this.collectFinished().catch((error: unknown) => {
          this.options.log.warn({ err: error }, 'TTL cleanup failed');
        });
      }
    } finally {
      offRequests();
      offNodes();
      if (this.roundTimer) clearTimeout(this.roundTimer);
    }
  }

  /** Batches this replica has in flight, by node (for tests and /debug). */
  get inFlight(): ReadonlyMap<string, InFlight> {
    return this.inflight;
  }

  private intervalMs(): number {
    const intervals = this.options.nodes
      .list()
      .map((n) => n.spec.scheduling?.roundIntervalSeconds ?? REQUEST_DEFAULTS.roundIntervalSeconds);
    return Math.min(REQUEST_DEFAULTS.roundIntervalSeconds, ...intervals) * 1000;
  }

  /** Starts a round soon (events within the debounce window share one). */
  trigger(): void {
    if (!this.signal || this.signal.aborted || this.roundTimer) return;
    this.roundTimer = setTimeout(() => {
      this.roundTimer = undefined;
      void this.round();
    }, REQUEST_DEFAULTS.debounceMilliseconds);
  }

  private async round(): Promise<void> {
    if (this.roundRunning) {
      this.roundAgain = true;
      return;
    }
    this.roundRunning = true;
    try {
      await this.roundOnce();
    } catch (error) {
      this.options.log.error({ err: error }, 'scheduling round failed');
    } finally {
      this.roundRunning = false;
      if (this.roundAgain) {
        this.roundAgain = false;
        this.trigger();
      }
    }
  }

  private async roundOnce(): Promise<void> {
    const { nodes, requests, metrics, log } = this.options;
    const all = requests.list();
    this.updatePhaseGauge(all);
    const pending = all.filter(
      (r) => phaseOf(r) === PHASE.pending && !r.metadata.deletionTimestamp,
    );
    const waiting = new Set(pending.map((r) => r.metadata.uid ?? objectKey(r)));
    for (const uid of this.promptCache.keys()) if (!waiting.has(uid)) this.promptCache.delete(uid);
    if (pending.length === 0) return;
    const prompts = new Map<string, string>();
    const promptBytes = new Map<string, number>();
    await eachLimited(
      pending.filter((r) => r.spec.prompt === undefined),
      WRITE_CONCURRENCY,
      async (r) => {
        const key = objectKey(r);
        const uid = r.metadata.uid ?? key;
        let text = this.promptCache.get(uid);
        if (text === undefined) {
          try {
            text = await this.readPrompt(r);
          } catch (error) {
            await this.fail(r, REQUEST_REASON.invalidPrompt, errorMessage(error));
            return;
          }
          this.promptCache.set(uid, text);
        }
        prompts.set(key, text);
        promptBytes.set(key, Buffer.byteLength(text, 'utf8'));
      },
    );
    const decision = decideRound({
      nodes: nodes.list(),
      requests: all.filter(
        (r) =>
          !(r.spec.prompt === undefined && !prompts.has(objectKey(r))) ||
          phaseOf(r) !== PHASE.pending,
      ),
      busyNodes: new Set([...this.inflight.keys(), ...this.suspectNodes()]),
      nowMs: Date.now(),
      promptBytes,
      clock: () => performance.now() / 1000,
    });
    for (const note of decision.notes) log.debug({ note }, 'round note');
    const byKey = new Map(all.map((r) => [objectKey(r), r]));
    const failOne = async (f: RoundFailure): Promise<void> => {
      const r = byKey.get(f.key);
      if (r) await this.fail(r, f.reason, f.message);
    };
    await eachLimited([...decision.failed, ...decision.expired], WRITE_CONCURRENCY, failOne);
    await eachLimited(decision.invalid, WRITE_CONCURRENCY, async (inv) => {
      const r = byKey.get(inv.key);
      if (r) await this.fail(r, REQUEST_REASON.invalidSpec, inv.message);
    });
    for (const batch of decision.batches) {
      metrics.solveDurationSeconds.observe(
        { node: batch.node, policy: batch.solver.policy },
        batch.solver.solveSeconds ?? 0,
      );
      metrics.treeNodesEvaluatedTotal.inc({ node: batch.node }, batch.solver.nodesEvaluated);
      metrics.treeNodesPrunedTotal.inc(
        { node: batch.node, rule: 'infeasible' },
        batch.solver.prunedInfeasible,
      );
      metrics.treeNodesPrunedTotal.inc(
        { node: batch.node, rule: 'bound' },
        batch.solver.prunedByBound,
      );
      metrics.batchSize.observe({ node: batch.node }, batch.members.length);
      const node = nodes.get(batch.node);
      if (!node) continue;
      const batchId = `${batch.node}-${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`;
      this.inflight.set(batch.node, { batchId, keys: batch.members.map((m) => m.key) });
      void this.dispatch(node, batch, batchId, byKey, prompts).finally(() => {
        this.inflight.delete(batch.node);
        this.trigger();
      });
    }
  }

  /** Nodes whose agent was lost after their last heartbeat: not scheduled until it answers again. */
  private suspectNodes(): string[] {
    const out: string[] = [];
    for (const [node, at] of this.lost) {
      const heartbeat = this.options.nodes.get(node)?.status?.lastHeartbeatTime;
      if (heartbeat !== undefined && new Date(heartbeat).getTime() > at) this.lost.delete(node);
      else out.push(node);
    }
    return out;
  }

  private updatePhaseGauge(all: readonly InferenceRequest[]): void {
    const counts = new Map<string, number>();
    for (const r of all) {
      const k = `${r.metadata.namespace ?? ''}\u0000${phaseOf(r)}`;
      counts.set(k, (counts.get(k) ?? 0) + 1);
    }
    this.options.metrics.requests.reset();
    for (const [k, n] of counts) {
      const [namespace = '', phase = ''] = k.split('\u0000');
      this.options.metrics.requests.set({ namespace, phase }, n);
    }
  }

  private async readPrompt(r: InferenceRequest): Promise<string> {
    const from = r.spec.promptFrom;
    const namespace = r.metadata.namespace ?? 'default';
    if (from?.configMapKeyRef) {
      const { name, key } = from.configMapKeyRef;
      const cm = await this.core
        .readNamespacedConfigMap({ name, namespace })
        .catch((e: unknown) => {
          throw new Error(
            `cannot read ConfigMap ${namespace}/${name} (spec.promptFrom.configMapKeyRef): ${errorMessage(e)}`,
          );
        });
      const text = cm.data?.[key];
      if (text === undefined)
        throw new Error(
          `ConfigMap ${namespace}/${name} has no key ${key} (spec.promptFrom.configMapKeyRef.key)`,
        );
      return text;
    }
    if (from?.secretKeyRef) {
      const { name, key } = from.secretKeyRef;
      const secret = await this.core
        .readNamespacedSecret({ name, namespace })
        .catch((e: unknown) => {
          throw new Error(
            `cannot read Secret ${namespace}/${name} (spec.promptFrom.secretKeyRef): ${errorMessage(e)}`,
          );
        });
      const data = secret.data?.[key];
      if (data === undefined)
        throw new Error(
          `Secret ${namespace}/${name} has no key ${key} (spec.promptFrom.secretKeyRef.key)`,
        );
      return Buffer.from(data, 'base64').toString('utf8');
    }
    throw new Error('spec.prompt or spec.promptFrom is required');
  }

  private budgetDeadline(r: InferenceRequest): Date | undefined {
    try {
      const created = new Date(r.metadata.creationTimestamp ?? Date.now()).getTime();
      return new Date(created + parseDurationSeconds(r.spec.latencyBudget) * 1000);
    } catch {
      return undefined;
    }
  }

  private async dispatch(
    node: EdgeNode,
    batch: NodeBatch,
    batchId: string,
    byKey: ReadonlyMap<string, InferenceRequest>,
    prompts: ReadonlyMap<string, string>,
  ): Promise<void> {
    const { log, events, metrics } = this.options;
    const now = new Date();
    const members = batch.members.flatMap((m) => {
      const r = byKey.get(m.key);
      return r ? [{ member: m, request: r }] : [];
    });
    // 1. Status Scheduled first: the batch id is on record before the agent hears of it.
    const scheduled: typeof members = [];
    await eachLimited(members, WRITE_CONCURRENCY, async ({ member, request }) => {
      const attempts = (request.status?.attempts ?? 0) + 1;
      try {
        const updated = await this.patch(
          request,
          {
            phase: PHASE.scheduled,
            reason: 'Scheduled',
            message: `batch ${batchId} of ${members.length} on ${batch.node}`,
            attempts,
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
            scheduledTime: now.toISOString(),
            conditions: setCondition(
              request.status?.conditions,
              {
                type: REQUEST_CONDITION.scheduled,
                status: 'True',
                reason: 'Scheduled',
                message: `node ${batch.node}, batch ${batchId}`,
              },
              now,
            ),
          },
          request.metadata.resourceVersion,
        );
        scheduled.push({ member, request: updated });
        metrics.requestLatencySeconds.observe(
          { node: batch.node, kind: 'predicted' },
          member.predicted.totalSeconds,
        );
        events.record(
          request,
          EVENT_TYPE.normal,
          'Scheduled',
          `batch ${batchId} (${members.length} requests) on ${batch.node}; predicted ${member.predicted.totalSeconds.toFixed(2)} s`,
        );
      } catch (error) {
        // Changed meanwhile (409) or deleted: the next round sees the new state.
        log.debug({ err: error, request: member.key }, 'not scheduling a request that changed');
      }
    });
    // Members whose budget ran out while their status was written fail here, so that the agent
    // does not refuse the whole batch for them.
    for (const s of [...scheduled]) {
      const deadline = this.budgetDeadline(s.request)?.getTime();
      if (deadline !== undefined && deadline <= Date.now()) {
        scheduled.splice(scheduled.indexOf(s), 1);
        await this.fail(
          s.request,
          REQUEST_REASON.deadlineExceeded,
          `the latency budget ran out before batch ${batchId} started on ${batch.node}`,
          batch.node,
        );
      }
    }
    if (scheduled.length === 0) return;
    log.info(
      {
        batchId,
        node: batch.node,
        requests: scheduled.map((s) => s.member.key),
        policy: batch.solver.policy,
        optimal: batch.solver.optimal,
      },
      'dispatching batch',
    );
    // 2. ExecuteBatch.
    const started = Date.now();
    let streamFailed = false;
    const byId = new Map(scheduled.map((s) => [s.member.key, s.request]));
    const running = new Set<string>();
    const finished = new Set<string>();
    try {
      const client = await this.options.agents.client(node);
      const stream = client.executeBatch({
        batchId,
        model: batch.agentModel,
        requests: scheduled.map(({ member, request }) => {
          const deadline = this.budgetDeadline(request);
          const s = request.spec.sampling;
          return {
            id: member.key,
            prompt: request.spec.prompt ?? prompts.get(member.key) ?? '',
            promptFormat:
              request.spec.promptFormat === 'chat'
                ? PromptFormat.PROMPT_FORMAT_CHAT
                : PromptFormat.PROMPT_FORMAT_TEXT,
            maxTokens: request.spec.maxTokens,
            sampling: {
              temperature: s?.temperature ?? 0,
              ...(s?.seed === undefined ? {} : { seed: s.seed }),
              ...(s?.topK === undefined ? {} : { topK: s.topK }),
              ...(s?.topP === undefined ? {} : { topP: s.topP }),
            },
            deadline,
          };
        }),
      });
      for await (const event of stream) {
        const e = event.event;
        if (e?.$case === 'token' && !running.has(e.value.requestId)) {
          running.add(e.value.requestId);
          const r = byId.get(e.value.requestId);
          if (r)
            await this.markRunning(r, started).then(
              (updated) => byId.set(e.value.requestId, updated),
              () => undefined,
            );
        } else if (e?.$case === 'result') {
          const r = byId.get(e.value.requestId);
          if (r) {
            finished.add(e.value.requestId);
            await this.finish(r, batch.node, e.value, started);
          }
        }
      }
    } catch (error) {
      streamFailed = true;
      await this.batchFailed(
        batch.node,
        batchId,
        [...byId.entries()].filter(([key]) => !finished.has(key)).map(([, r]) => r),
        error,
      );
    }
    // Requests without a result (should not happen on a clean stream) go back to Pending.
    if (streamFailed) return;
    const leftovers = [...byId.entries()].filter(([key]) => !finished.has(key)).map(([, r]) => r);
    for (const r of leftovers) {
      if (!this.finishedNow(r))
        await this.requeue(r, 'the agent ended the batch without a result for this request');
    }
  }

  private finishedNow(r: InferenceRequest): boolean {
    const current = this.options.requests.get(objectKey(r));
    return current !== undefined && FINISHED_PHASES.includes(phaseOf(current));
  }

  private async batchFailed(
    node: string,
    batchId: string,
    unfinished: readonly InferenceRequest[],
    error: unknown,
  ): Promise<void> {
    const message = errorMessage(error);
    const code = isServiceError(error) ? error.code : undefined;
    this.options.log.warn({ batchId, node, code, err: message }, 'batch stream failed');
    if (code === undefined || LOST_CODES.has(code)) {
      this.options.agents.forget(node);
      this.lost.set(node, Date.now());
      for (const r of unfinished)
        await this.requeue(r, `agent on ${node} lost during batch ${batchId}: ${message}`);
      return;
    }
    if (code === GrpcStatus.DEADLINE_EXCEEDED) {
      // The agent refuses a batch when any member's deadline has passed: that member fails,
      // the others still have budget and go back to Pending.
      const now = Date.now();
      for (const r of unfinished) {
        const deadline = this.budgetDeadline(r)?.getTime() ?? 0;
        if (deadline > now)
          await this.requeue(r, `batch ${batchId} on ${node} was refused: ${message}`);
        else
          await this.fail(r, REQUEST_REASON.deadlineExceeded, `agent on ${node}: ${message}`, node);
      }
      return;
    }
    for (const r of unfinished)
      await this.fail(r, REQUEST_REASON.agentError, `agent on ${node}: ${message}`, node);
  }

  /** Back to Pending for another node, or Failed AgentLost after maxAttempts. */
  /** The newer of `r` and the informer's copy (status writes of this controller included). */
  private fresher(r: InferenceRequest): InferenceRequest {
    const cached = this.options.requests.get(objectKey(r));
    return cached &&
      Number(cached.metadata.resourceVersion ?? 0) > Number(r.metadata.resourceVersion ?? 0)
      ? cached
      : r;
  }

  private async requeue(r: InferenceRequest, why: string): Promise<void> {
    const current = this.fresher(r);
    const attempts = current.status?.attempts ?? 0;
    if (attempts >= this.maxAttempts) {
      await this.fail(
        current,
        REQUEST_REASON.agentLost,
        `${why}; gave up after ${attempts} attempts`,
      );
      return;
    }
    const now = new Date();
    await this.patch(current, {
      phase: PHASE.pending,
      reason: REQUEST_REASON.agentLost,
      message: `${why}; rescheduling (attempt ${attempts + 1} of ${this.maxAttempts})`,
      assignment: null,
      predicted: null,
      scheduledTime: null,
      startTime: null,
      conditions: setCondition(
        current.status?.conditions,
        {
          type: REQUEST_CONDITION.scheduled,
          status: 'False',
          reason: REQUEST_REASON.agentLost,
          message: why.slice(0, 1000),
        },
        now,
      ),
    }).catch((error: unknown) => {
      this.options.log.warn({ err: error, request: objectKey(r) }, 'could not requeue');
    });
    this.options.events.record(current, EVENT_TYPE.warning, REQUEST_REASON.agentLost, why);
  }

  private async markRunning(r: InferenceRequest, startedMs: number): Promise<InferenceRequest> {
    return this.patch(r, {
      phase: PHASE.running,
      reason: 'Running',
      startTime: new Date(startedMs).toISOString(),
    });
  }

  private seenMs(r: InferenceRequest): number {
    return (
      this.firstSeen.get(objectKey(r)) ??
      new Date(r.metadata.creationTimestamp ?? Date.now()).getTime()
    );
  }

  /** Records one request's result: Succeeded with output, or Failed with the reason. */
  private async finish(
    r: InferenceRequest,
    node: string,
    result: RequestResult,
    batchStartedMs: number,
  ): Promise<void> {
    r = this.fresher(r);
    const { metrics } = this.options;
    const now = Date.now();
    const latencySeconds = (now - this.seenMs(r)) / 1000;
    const execution = result.totalSeconds;
    const measured = {
      latencySeconds,
      queueSeconds: Math.max(0, (batchStartedMs - this.seenMs(r)) / 1000),
      firstTokenSeconds: result.firstTokenSeconds,
      executionSeconds: execution,
      tokensPerSecond: execution > 0 ? result.completionTokens / execution : 0,
    };
    if (result.finishReason === FinishReason.FINISH_REASON_DEADLINE_EXCEEDED) {
      await this.fail(
        r,
        REQUEST_REASON.deadlineExceeded,
        `the latency budget ran out while generating on ${node}`,
        node,
        measured,
      );
      return;
    }
    if (result.finishReason === FinishReason.FINISH_REASON_CANCELLED) {
      await this.requeue(r, `the batch on ${node} was cancelled`);
      return;
    }
    const output = await this.storeOutput(r, result.text);
    const conditions = setCondition(
      r.status?.conditions,
      {
        type: REQUEST_CONDITION.completed,
        status: 'True',
        reason: REQUEST_REASON.succeeded,
        message: `${result.completionTokens} tokens on ${node}`,
      },
      new Date(now),
    );
    await this.patch(r, {
      phase: PHASE.succeeded,
      reason: REQUEST_REASON.succeeded,
      message: `${result.completionTokens} tokens in ${execution.toFixed(2)} s on ${node}`,
      measured,
      usage: { promptTokens: result.promptTokens, completionTokens: result.completionTokens },
      ...output,
      completionTime: new Date(now).toISOString(),
      conditions,
    });
    const budget = this.budgetSeconds(r);
    metrics.requestsCompletedTotal.inc({
      node,
      phase: PHASE.succeeded,
      reason: REQUEST_REASON.succeeded,
    });
    // `measured` spans what `predicted` models (the batch run); end_to_end adds the wait.
    metrics.requestLatencySeconds.observe({ node, kind: 'measured' }, execution);
    metrics.requestLatencySeconds.observe({ node, kind: 'end_to_end' }, latencySeconds);
    if (budget !== undefined)
      metrics.requestSlaTotal.inc({ node, result: latencySeconds <= budget ? 'met' : 'missed' });
    if (measured.tokensPerSecond > 0)
      metrics.nodeTokensPerSecond.set({ node }, measured.tokensPerSecond);
  }

  private budgetSeconds(r: InferenceRequest): number | undefined {
    try {
      return parseDurationSeconds(r.spec.latencyBudget);
    } catch {
      return undefined;
    }
  }

  /** Output within the status limit goes inline; longer output into an owned ConfigMap/Secret. */
  private async storeOutput(r: InferenceRequest, text: string): Promise<Record<string, unknown>> {
    if (text.length <= this.maxStatusOutputChars) return { output: text };
    const namespace = r.metadata.namespace ?? 'default';
    const name = `${r.metadata.name ?? 'request'}-output`.slice(0, 253);
    const metadata: k8s.V1ObjectMeta = {
      name,
      namespace,
      ownerReferences: [
        {
          apiVersion: InferenceRequestResource.apiVersion,
          kind: InferenceRequestResource.kind,
          name: r.metadata.name ?? '',
          uid: r.metadata.uid ?? '',
          controller: true,
          blockOwnerDeletion: true,
        },
      ],
    };
    const secret = r.spec.promptFrom?.secretKeyRef !== undefined;
    const create = secret
      ? () =>
          this.core.createNamespacedSecret({
            namespace,
            body: { metadata, stringData: { [OUTPUT_KEY]: text } },
          })
      : () =>
          this.core.createNamespacedConfigMap({
            namespace,
            body: { metadata, data: { [OUTPUT_KEY]: text } },
          });
    const replace = secret
      ? () =>
          this.core.replaceNamespacedSecret({
            name,
            namespace,
            body: { metadata, stringData: { [OUTPUT_KEY]: text } },
          })
      : () =>
          this.core.replaceNamespacedConfigMap({
            name,
            namespace,
            body: { metadata, data: { [OUTPUT_KEY]: text } },
          });
    try {
      await create();
    } catch (error) {
      if (!(error instanceof k8s.ApiException && error.code === 409)) throw error;
      await replace();
    }
    return {
      output: `${text.slice(0, Math.min(1024, this.maxStatusOutputChars))}… (${text.length} characters; full output in ${secret ? 'Secret' : 'ConfigMap'} ${name}, key ${OUTPUT_KEY})`,
      outputRef: { kind: secret ? 'Secret' : 'ConfigMap', name, key: OUTPUT_KEY },
    };
  }

  private async fail(
    r: InferenceRequest,
    reason: string,
    message: string,
    node = '',
    measured?: Record<string, number>,
  ): Promise<void> {
    r = this.fresher(r);
    const now = new Date();
    const conditions = setCondition(
      r.status?.conditions,
      {
        type: REQUEST_CONDITION.completed,
        status: 'True',
        reason,
        message: message.slice(0, 1000),
      },
      now,
    );
    try {
      await this.patch(r, {
        phase: PHASE.failed,
        reason,
        message: message.slice(0, 4096),
        completionTime: now.toISOString(),
        conditions,
        ...(measured ? { measured } : {}),
      });
    } catch (error) {
      this.options.log.warn({ err: error, request: objectKey(r) }, 'could not record failure');
      return;
    }
    this.options.metrics.requestsCompletedTotal.inc({ node, phase: PHASE.failed, reason });
    if (reason === REQUEST_REASON.deadlineExceeded || reason === REQUEST_REASON.deadlineInfeasible)
      this.options.metrics.requestSlaTotal.inc({ node, result: 'missed' });
    this.options.events.record(r, EVENT_TYPE.warning, reason, message);
    this.options.log.info({ request: objectKey(r), reason, message }, 'request failed');
  }

  /** Merge-patches the request's status; returns the updated object. */
  private async patch(
    r: InferenceRequest,
    status: Record<string, unknown>,
    resourceVersion?: string,
  ): Promise<InferenceRequest> {
    return this.options.status.patch<InferenceRequest>(
      InferenceRequestResource,
      r.metadata.name ?? '',
      r.metadata.namespace ?? 'default',
      {
        ...status,
        ...(r.metadata.generation === undefined
          ? {}
          : { observedGeneration: r.metadata.generation }),
      },
      resourceVersion,
    );
  }

  /** Requests Scheduled/Running from an earlier leader: follow their batches on the agents. */
  private async recover(): Promise<void> {
    const groups = new Map<string, InferenceRequest[]>();
    for (const r of this.options.requests.list()) {
      const phase = phaseOf(r);
      if (phase !== PHASE.scheduled && phase !== PHASE.running) continue;
      const batchId = r.status?.assignment?.batchId;
      const node = r.status?.assignment?.node;
      if (!batchId || !node) {
        await this.requeue(r, 'recovered without a batch id');
        continue;
      }
      const k = `${node}\u0000${batchId}`;
      groups.set(k, [...(groups.get(k) ?? []), r]);
    }
    for (const [k, members] of groups) {
      const [node = '', batchId = ''] = k.split('\u0000');
      this.inflight.set(node, { batchId, keys: members.map(objectKey) });
      this.options.log.info({ node, batchId, requests: members.length }, 'recovering batch');
      void this.follow(node, batchId, members).finally(() => {
        this.inflight.delete(node);
        this.trigger();
      });
    }
  }

  private async follow(
    node: string,
    batchId: string,
    members: readonly InferenceRequest[],
  ): Promise<void> {
    const edgeNode = this.options.nodes.get(node);
    if (!edgeNode) {
      for (const r of members) await this.requeue(r, `node ${node} no longer exists`);
      return;
    }
    let client: AgentClient;
    try {
      client = await this.options.agents.client(edgeNode);
    } catch (error) {
      for (const r of members)
        await this.requeue(
          r,
          `agent on ${node} unreachable during recovery: ${errorMessage(error)}`,
        );
      return;
    }
    const started = Date.now();
    for (;;) {
      if (this.signal?.aborted) return;
      let batch;
      try {
        batch = await client.getBatch({ batchId });
      } catch (error) {
        const reason =
          isServiceError(error) && error.code === GrpcStatus.NOT_FOUND
            ? `agent on ${node} has no record of batch ${batchId} (it restarted or never received it)`
            : `agent on ${node} unreachable during recovery: ${errorMessage(error)}`;
        for (const r of members) await this.requeue(r, reason);
        return;
      }
      const done =
        batch.state !== BatchState.BATCH_STATE_QUEUED &&
        batch.state !== BatchState.BATCH_STATE_RUNNING;
      if (done) {
        const results = new Map(batch.results.map((res) => [res.requestId, res]));
        for (const r of members) {
          const res = results.get(objectKey(r));
          if (res)
            await this.finish(r, node, res, started - (batch.summary?.queueSeconds ?? 0) * 1000);
          else if (batch.state === BatchState.BATCH_STATE_FAILED)
            await this.fail(
              r,
              REQUEST_REASON.agentError,
              `batch ${batchId} failed on ${node}: ${batch.summary?.error ?? ''}`,
              node,
            );
          else
            await this.requeue(
              r,
              `batch ${batchId} on ${node} ended without a result for this request`,
            );
        }
        return;
      }
      await sleep(REQUEST_DEFAULTS.recoveryPollMilliseconds);
    }
  }

  /** Deletes finished requests whose ttlSecondsAfterFinished has passed. */
  private async collectFinished(): Promise<void> {
    const now = Date.now();
    for (const r of this.options.requests.list()) {
      const ttl = r.spec.ttlSecondsAfterFinished;
      const done = r.status?.completionTime;
      if (ttl === undefined || !done || !FINISHED_PHASES.includes(phaseOf(r))) continue;
      if (new Date(done).getTime() + ttl * 1000 > now) continue;
      const { namespace, name } = splitKey(objectKey(r));
      await this.custom
        .deleteNamespacedCustomObject({
          group: InferenceRequestResource.group,
          version: InferenceRequestResource.version,
          plural: InferenceRequestResource.plural,
          namespace: namespace ?? 'default',
          name,
        })
        .catch((error: unknown) => {
          if (!(error instanceof k8s.ApiException && error.code === 404)) throw error;
        });
      this.options.log.info(
        { request: objectKey(r), ttl },
        'deleted finished request (ttlSecondsAfterFinished)',
      );
    }
  }
}
