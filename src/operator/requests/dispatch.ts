// Dispatch of one chosen batch: status Scheduled for every member (written BEFORE ExecuteBatch,
// so a restarted operator always knows which batch a request belongs to), then ExecuteBatch on
// the node's agent; streamed tokens move members to Running and streamed results finish them.
// What the stream does not deliver is decided by the failure policy.
import type { Logger } from 'pino';
import { classifyAgentError } from '../../agent-client/error-meaning.js';
import type { EdgeNode } from '../../gen/crds/edgenode.js';
import type { InferenceRequest } from '../../gen/crds/inferencerequest.js';
import { PromptFormat, type GenerationRequest } from '../../gen/edgellm/agent/v1/agent.js';
import { eachLimited } from '../../util/concurrency.js';
import { REQUEST_REASON } from '../api/constants.js';
import type { AgentConnector } from '../agents/connector.js';
import type { Clock } from '../kube/clock.js';
import type { BatchMember, NodeBatch } from '../scheduling/decide-round.js';
import { benchesNode, classifyBatchFailure, classifyResult } from './failure-policy.js';
import type { NodeOccupancy } from './node-occupancy.js';
import { deadlineMs } from './request-facts.js';
import type { RequestStatusRecorder } from './status-recorder.js';

/** Status writes of one batch in flight at once. */
const WRITE_CONCURRENCY = 8;

export interface BatchDispatcherOptions {
  readonly agents: AgentConnector;
  readonly recorder: RequestStatusRecorder;
  readonly occupancy: NodeOccupancy;
  readonly log: Logger;
  readonly clock: Clock;
}

/** A batch the round chose, with the objects and prompts of its members. */
export interface ChosenBatch {
  readonly node: EdgeNode;
  readonly batch: NodeBatch;
  readonly batchId: string;
  /** The requests the round read, by key. */
  readonly requests: ReadonlyMap<string, InferenceRequest>;
  /** promptFrom prompts, by key. */
  readonly prompts: ReadonlyMap<string, string>;
}

interface Scheduled {
  readonly member: BatchMember;
  readonly request: InferenceRequest;
}

/** The agent's GenerationRequest for one member. */
export function generationRequest(
  key: string,
  request: InferenceRequest,
  prompt: string,
  deadline: Date | undefined,
): GenerationRequest {
  const s = request.spec.sampling;
  return {
    id: key,
    prompt,
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
}

export class BatchDispatcher {
  constructor(private readonly options: BatchDispatcherOptions) {}

  async dispatch(chosen: ChosenBatch): Promise<void> {
    const { recorder, log, clock } = this.options;
    const { batch, batchId } = chosen;
    const scheduled = await this.schedule(chosen);
    // Members whose budget ran out while their status was written fail here, so that the agent
    // does not refuse the whole batch for them.
    const live: Scheduled[] = [];
    for (const s of scheduled) {
      const deadline = deadlineMs(s.request, clock.now());
      if (deadline !== undefined && deadline <= clock.now())
        await recorder.failed(
          s.request,
          REQUEST_REASON.deadlineExceeded,
          `the latency budget ran out before batch ${batchId} started on ${batch.node}`,
          batch.node,
        );
      else live.push(s);
    }
    if (live.length === 0) return;
    log.info(
      {
        batchId,
        node: batch.node,
        requests: live.map((s) => s.member.key),
        policy: batch.solver.policy,
        optimal: batch.solver.optimal,
      },
      'dispatching batch',
    );
    await this.execute(chosen, live);
  }

  /** Writes status Scheduled; members that changed meanwhile (409) or vanished are left out. */
  private async schedule(chosen: ChosenBatch): Promise<Scheduled[]> {
    const { batch, batchId } = chosen;
    const members = batch.members.flatMap((m) => {
      const r = chosen.requests.get(m.key);
      return r ? [{ member: m, request: r }] : [];
    });
    const scheduled: Scheduled[] = [];
    await eachLimited(members, WRITE_CONCURRENCY, async ({ member, request }) => {
      try {
        const updated = await this.options.recorder.scheduled(request, {
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
        scheduled.push({ member, request: updated });
      } catch (error) {
        // Changed meanwhile (409) or deleted: the next round sees the new state.
        this.options.log.debug(
          { err: error, request: member.key, batchId },
          'not scheduling a request that changed',
        );
      }
    });
    return scheduled;
  }

  /** ExecuteBatch and its stream. */
  private async execute(chosen: ChosenBatch, scheduled: readonly Scheduled[]): Promise<void> {
    const { recorder, agents, occupancy, log, clock } = this.options;
    const { batch, batchId } = chosen;
    const node = batch.node;
    const started = clock.now();
    const byId = new Map(scheduled.map((s) => [s.member.key, s.request]));
    const running = new Set<string>();
    const finished = new Set<string>();
    try {
      const client = await agents.client(chosen.node);
      const stream = client.executeBatch({
        batchId,
        model: batch.agentModel,
        requests: scheduled.map(({ member, request }) => {
          const deadline = deadlineMs(request, clock.now());
          return generationRequest(
            member.key,
            request,
            request.spec.prompt ?? chosen.prompts.get(member.key) ?? '',
            deadline === undefined ? undefined : new Date(deadline),
          );
        }),
      });
      for await (const event of stream) {
        const e = event.event;
        if (e?.$case === 'token' && !running.has(e.value.requestId)) {
          running.add(e.value.requestId);
          const r = byId.get(e.value.requestId);
          if (r) byId.set(e.value.requestId, await recorder.running(r, started));
        } else if (e?.$case === 'result') {
          const r = byId.get(e.value.requestId);
          if (!r) continue;
          finished.add(e.value.requestId);
          const decision = classifyResult({
            finishReason: e.value.finishReason,
            node,
            attempts: recorder.attemptsOf(r),
            maxAttempts: recorder.maxAttempts,
          });
          if (decision.kind === 'succeed') await recorder.succeeded(r, node, e.value, started);
          else await recorder.unfinishedResult(r, node, e.value, started, decision);
        }
      }
    } catch (error) {
      const failure = classifyAgentError(error);
      log.warn(
        { batchId, node, code: failure.code, meaning: failure.meaning, err: failure.message },
        'batch stream failed',
      );
      if (benchesNode(failure)) {
        agents.forget(node);
        occupancy.markLost(node, clock.now());
      }
      for (const [key, r] of byId) {
        if (finished.has(key)) continue;
        await recorder.apply(
          r,
          classifyBatchFailure({
            failure,
            node,
            batchId,
            deadlineMs: deadlineMs(r, clock.now()),
            nowMs: clock.now(),
            attempts: recorder.attemptsOf(r),
            maxAttempts: recorder.maxAttempts,
          }),
          node,
        );
      }
      return;
    }
    // Requests without a result (should not happen on a clean stream) go back to Pending.
    for (const [key, r] of byId) {
      if (finished.has(key)) continue;
      if (!recorder.isFinished(r))
        await recorder.requeue(r, 'the agent ended the batch without a result for this request');
    }
  }
}
