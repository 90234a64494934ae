// What the agent's report on a batch known only by its id (GetBatch) means for its members. Ended:
// each result is recorded (a success, or the failure policy's decision for a generation that did
// not finish); a member without a result fails AgentError when the batch failed and goes back to
// Pending otherwise. No report (the agent does not know the batch, or cannot be reached): the
// recovery policy's decision (classifyRecoveryFailure). Used by leader-change recovery
// (recovery.ts) and by the repair of requests a refused status write left in flight (stranded.ts).
import type { AgentFailure } from '../../agent-client/error-meaning.js';
import type { InferenceRequest } from '../../gen/crds/inferencerequest.js';
import { BatchState, type GetBatchResponse } from '../../gen/edgellm/agent/v1/agent.js';
import { REQUEST_REASON } from '../api/constants.js';
import { objectKey } from '../kube/informer.js';
import { classifyRecoveryFailure, classifyResult } from './failure-policy.js';
import type { RequestStatusRecorder } from './status-recorder.js';

/** Whether the agent is done with the batch (it will report no more results). */
export function batchEnded(batch: Pick<GetBatchResponse, 'state'>): boolean {
  return (
    batch.state !== BatchState.BATCH_STATE_QUEUED && batch.state !== BatchState.BATCH_STATE_RUNNING
  );
}

export async function recordEndedBatch(input: {
  readonly recorder: RequestStatusRecorder;
  readonly node: string;
  readonly batchId: string;
  readonly batch: GetBatchResponse;
  readonly members: readonly InferenceRequest[];
  /** When the batch was dispatched, epoch ms (the measured queue and latency count from it). */
  readonly batchStartedMs: number;
}): Promise<void> {
  const { recorder, node, batchId, batch, members, batchStartedMs } = input;
  const results = new Map(batch.results.map((res) => [res.requestId, res]));
  for (const r of members) {
    const res = results.get(objectKey(r));
    if (res) {
      const decision = classifyResult({
        finishReason: res.finishReason,
        error: res.error,
        node,
        attempts: recorder.attemptsOf(r),
        maxAttempts: recorder.maxAttempts,
      });
      if (decision.kind === 'succeed') await recorder.succeeded(r, node, res, batchStartedMs);
      else await recorder.unfinishedResult(r, node, res, batchStartedMs, decision);
    } else if (batch.state === BatchState.BATCH_STATE_FAILED)
      await recorder.failed(
        r,
        REQUEST_REASON.agentError,
        `batch ${batchId} failed on ${node}: ${batch.summary?.error ?? ''}`,
        node,
      );
    else
      await recorder.requeue(
        r,
        `batch ${batchId} on ${node} ended without a result for this request`,
      );
  }
}

/** The agent cannot report on the batch: each member as classifyRecoveryFailure decides. */
export async function recordUnreportedBatch(input: {
  readonly recorder: RequestStatusRecorder;
  readonly node: string;
  readonly batchId: string;
  readonly failure: AgentFailure;
  readonly members: readonly InferenceRequest[];
}): Promise<void> {
  const { recorder, node, batchId, failure, members } = input;
  for (const r of members)
    await recorder.apply(
      r,
      classifyRecoveryFailure({
        failure,
        node,
        batchId,
        attempts: recorder.attemptsOf(r),
        maxAttempts: recorder.maxAttempts,
      }),
    );
}
