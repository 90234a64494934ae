// Dispatch of one chosen batch: status Scheduled for every member (written BEFORE ExecuteBatch,
// so a restarted operator always knows which batch a request belongs to), then ExecuteBatch on
// the node's agent; streamed tokens move members to Running and streamed results finish them.
// What the stream does not deliver is decided by the failure policy.
import type { Logger } from 'pino';
import type { AgentClient } from '../../agent-client/client.js';
import { classifyAgentError } from '../../agent-client/error-meaning.js';
import type { EdgeNode } from '../../gen/crds/edgenode.js';
import type { InferenceRequest } from '../../gen/crds/inferencerequest.js';
import {
  PromptFormat,
  type ExecuteBatchResponse,
  type GenerationRequest,
} from '../../gen/edgellm/agent/v1/agent.js';
import { eachLimited } from '../../util/concurrency.js';
import { REQUEST_REASON } from '../api/constants.js';
import type { AgentConnector } from '../agents/connector.js';
import { sleep, type Clock } from '../kube/clock.js';
import type { BatchMember, NodeBatch } from '../scheduling/decide-round.js';
import { benchesNode, classifyBatchFailure, classifyResult } from './failure-policy.js';
import type { NodeOccupancy } from './node-occupancy.js';
import type { FirstSeen } from './first-seen.js';
import { RequestGoneError, type RequestStatusRecorder } from './status-recorder.js';

/** Status writes of one batch in flight at once. */
const WRITE_CONCURRENCY = 8;

export const DISPATCH_DEFAULTS = {
  /** Reattaches to a batch after its stream broke, before its requests go back to the round. */
  reattachAttempts: 3,
  /** First wait before a reattach (doubled each time: 0.5, 1, 2 s; within the agent's orphan grace). */
  reattachBaseDelayMs: 500,
  /** Deadline of the GetBatch / CancelGeneration calls around a reattach. */
  reattachCallSeconds: 5,
} as const;

export interface BatchDispatcherOptions {
  readonly agents: AgentConnector;
  readonly recorder: RequestStatusRecorder;
  readonly occupancy: NodeOccupancy;
  readonly log: Logger;
  readonly clock: Clock;
  readonly firstSeen: FirstSeen;
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
    const { recorder, log, clock, firstSeen } = this.options;
    const { batch, batchId } = chosen;
    const scheduled = await this.schedule(chosen);
    // Members whose budget ran out while their status was written fail here, so that the agent
    // does not refuse the whole batch for them.
    const live: Scheduled[] = [];
    for (const s of scheduled) {
      const deadline = firstSeen.deadlineMs(s.request);
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

  /**
   * ExecuteBatch and its stream. A stream that breaks while the agent may still be there (the
   * agent was "lost": connection reset, proxy restarted, keepalive timeout) is reattached: the
   * agent still has the batch (GetBatch), so ExecuteBatch with the same id and requests attaches
   * and replays what was missed. Only what the agent does not have goes back to the round.
   */
  private async execute(chosen: ChosenBatch, scheduled: readonly Scheduled[]): Promise<void> {
    const { recorder, agents, occupancy, log, clock, firstSeen } = this.options;
    const { batch, batchId } = chosen;
    const node = batch.node;
    const started = clock.now();
    const byId = new Map(scheduled.map((s) => [s.member.key, s.request]));
    const running = new Set<string>();
    const finished = new Set<string>();
    // Built once: a reattach must send exactly what was sent (the agent checks it).
    const request = {
      batchId,
      model: batch.agentModel,
      requests: scheduled.map(({ member, request: r }) => {
        const deadline = firstSeen.deadlineMs(r);
        return generationRequest(
          member.key,
          r,
          r.spec.prompt ?? chosen.prompts.get(member.key) ?? '',
          deadline === undefined ? undefined : new Date(deadline),
        );
      }),
    };
    let client: AgentClient | undefined;
    const onEvent = async (event: ExecuteBatchResponse): Promise<void> => {
      const e = event.event;
      if (e?.$case === 'token' && !running.has(e.value.requestId)) {
        running.add(e.value.requestId);
        const r = byId.get(e.value.requestId);
        if (r && !finished.has(e.value.requestId))
          byId.set(e.value.requestId, await recorder.running(r, started));
      } else if (e?.$case === 'result' && !finished.has(e.value.requestId)) {
        const r = byId.get(e.value.requestId);
        if (!r) return;
        finished.add(e.value.requestId);
        const decision = classifyResult({
          finishReason: e.value.finishReason,
          error: e.value.error,
          node,
          attempts: recorder.attemptsOf(r),
          maxAttempts: recorder.maxAttempts,
        });
        if (decision.kind === 'succeed') await recorder.succeeded(r, node, e.value, started);
        else await recorder.unfinishedResult(r, node, e.value, started, decision);
      }
    };
    for (let attach = 0; ; attach++) {
      try {
        // A fresh client per attach: the EdgeNode controller closes a node's cached client when
        // a heartbeat fails, which a network blip also causes.
        client = await agents.client(chosen.node);
        for await (const event of client.executeBatch(request)) {
          try {
            await onEvent(event);
          } catch (error) {
            // Our own status write failed, not the agent: the batch goes on for the others.
            await this.ownWriteFailed(client, batchId, event, error, finished);
          }
        }
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
          (await this.stillOnAgent(chosen.node, batchId, attach))
        ) {
          log.info({ batchId, node, attempt: attach + 1 }, 'reattaching to the batch');
          continue;
        }
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
              deadlineMs: firstSeen.deadlineMs(r),
              nowMs: clock.now(),
              attempts: recorder.attemptsOf(r),
              maxAttempts: recorder.maxAttempts,
            }),
            node,
          );
        }
        return;
      }
    }
    // Requests without a result (should not happen on a clean stream) go back to Pending.
    for (const [key, r] of byId) {
      if (finished.has(key)) continue;
      if (!recorder.isFinished(r))
        await recorder.requeue(r, 'the agent ended the batch without a result for this request');
    }
  }

  /** After a broken stream: waits a little, then asks whether the agent still has the batch. */
  private async stillOnAgent(node: EdgeNode, batchId: string, attach: number): Promise<boolean> {
    const { clock, agents } = this.options;
    await sleep(clock, DISPATCH_DEFAULTS.reattachBaseDelayMs * 2 ** attach);
    try {
      const client = await agents.client(node);
      await client.getBatch({ batchId }, DISPATCH_DEFAULTS.reattachCallSeconds);
      return true;
    } catch {
      return false;
    }
  }

  /**
   * A status write for one member failed. A deleted request stops its sequence on the agent
   * (CancelGeneration) so its neighbours keep the batch to themselves; any other write failure
   * (the API server unreachable after retries) is logged and leaves the member's status as is.
   */
  private async ownWriteFailed(
    client: AgentClient,
    batchId: string,
    event: ExecuteBatchResponse,
    error: unknown,
    finished: Set<string>,
  ): Promise<void> {
    const { log } = this.options;
    const e = event.event;
    const requestId = e?.$case === 'token' || e?.$case === 'result' ? e.value.requestId : '';
    if (!(error instanceof RequestGoneError)) {
      log.warn({ err: error, batchId, request: requestId }, 'could not record a result');
      return;
    }
    const alreadyDone = finished.has(requestId);
    finished.add(requestId);
    if (alreadyDone) return;
    await client
      .cancelGeneration({ batchId, requestId }, DISPATCH_DEFAULTS.reattachCallSeconds)
      .then(
        ({ cancelled }) => {
          log.info(
            { batchId, request: requestId, cancelled },
            'request deleted while running; its sequence was stopped',
          );
        },
        (cancelError: unknown) => {
          log.warn(
            { batchId, request: requestId, err: classifyAgentError(cancelError).message },
            'request deleted while running; could not stop its sequence',
          );
        },
      );
  }
}
