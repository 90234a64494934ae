// InferenceRequest objects as round candidates: every step of a member is a status write through
// the request status recorder.
import type { InferenceRequest } from '../../gen/crds/inferencerequest.js';
import {
  PromptFormat,
  type GenerationRequest,
  type RequestResult,
} from '../../gen/edgellm/agent/v1/agent.js';
import { objectKey } from '../kube/informer.js';
import type { BatchMemberHandle, Candidate } from './candidates.js';
import type { OutcomeDecision } from './failure-policy.js';
import type { FirstSeen } from './first-seen.js';
import type { RequestStatusRecorder } from './status-recorder.js';
import type { Assignment, Predicted } from './transitions.js';

/** The agent's GenerationRequest for an InferenceRequest. */
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
    messages: [],
    stop: [],
  };
}

/** One InferenceRequest in a batch. */
export class CrdMember implements BatchMemberHandle {
  readonly key: string;

  constructor(
    private request: InferenceRequest,
    private readonly prompt: string,
    private readonly recorder: RequestStatusRecorder,
    private readonly firstSeen: FirstSeen,
  ) {
    this.key = objectKey(request);
  }

  generationRequest(deadline: Date | undefined): GenerationRequest {
    return generationRequest(this.key, this.request, this.prompt, deadline);
  }

  deadlineMs(): number | undefined {
    return this.firstSeen.deadlineMs(this.request);
  }

  attempts(): number {
    return this.recorder.attemptsOf(this.request);
  }

  isFinished(): boolean {
    return this.recorder.isFinished(this.request);
  }

  async scheduled(input: {
    readonly assignment: Assignment;
    readonly predicted: Predicted;
  }): Promise<void> {
    this.request = await this.recorder.scheduled(this.request, input);
  }

  async running(batchStartedMs: number): Promise<void> {
    this.request = await this.recorder.running(this.request, batchStartedMs);
  }

  token(): void {
    // The chunks stream to the agent's caller only; an InferenceRequest records the result.
  }

  succeeded(node: string, result: RequestResult, batchStartedMs: number): Promise<void> {
    return this.recorder.succeeded(this.request, node, result, batchStartedMs);
  }

  apply(
    decision: OutcomeDecision,
    node: string,
    result?: RequestResult,
    batchStartedMs?: number,
  ): Promise<void> {
    return result === undefined || batchStartedMs === undefined
      ? this.recorder.apply(this.request, decision, node)
      : this.recorder.unfinishedResult(this.request, node, result, batchStartedMs, decision);
  }
}

/** A Pending InferenceRequest whose prompt is known, as a round candidate. */
export function crdCandidate(
  request: InferenceRequest,
  prompt: string,
  recorder: RequestStatusRecorder,
  firstSeen: FirstSeen,
): Candidate {
  return {
    view: request,
    firstSeenMs: firstSeen.startMs(request),
    member: () => new CrdMember(request, prompt, recorder, firstSeen),
    fail: (reason, message) => recorder.failedWaiting(request, reason, message),
  };
}
