// What a scheduling round needs from a request, whatever its source: an InferenceRequest object
// (written to the API server at every step) or a request of the OpenAI endpoint (held in memory,
// answered over HTTP, no API write at all). The round decides over candidates' views; the
// dispatch drives each chosen member through its handle.
import type { GenerationRequest, RequestResult } from '../../gen/edgellm/agent/v1/agent.js';
import type { InferenceRequestView } from '../scheduling/objects.js';
import type { OutcomeDecision } from './failure-policy.js';
import type { Assignment, Predicted } from './transitions.js';

/** A Pending request a round may schedule. */
export interface Candidate {
  /** What decideRound reads: metadata (key), spec (model, tokens, budget, accuracy, client). */
  readonly view: InferenceRequestView;
  /** When its latency budget started (epoch ms). */
  readonly firstSeenMs: number;
  /** Its handle once a round puts it in a batch. */
  member(): BatchMemberHandle;
  /**
   * The round decided it fails now (it can never run, its budget passed, admission shed it): it
   * ends with this reason. Resolves whether it ended here (false: it changed since the round read
   * it, or the write failed; the next round decides it again).
   */
  fail(reason: string, message: string): Promise<boolean>;
}

/** One member of a dispatched batch, from status Scheduled to its outcome. */
export interface BatchMemberHandle {
  readonly key: string;
  /** What the agent runs for it (`deadline`: when its budget runs out). */
  generationRequest(deadline: Date | undefined): GenerationRequest;
  /** When its latency budget runs out (epoch ms), if it has one. */
  deadlineMs(): number | undefined;
  /** Dispatches so far (this one included once scheduled). */
  attempts(): number;
  /** Whether it already ended (Succeeded or Failed). */
  isFinished(): boolean;
  /**
   * It is in a batch about to be sent; throws when it can no longer run there (it changed, was
   * deleted, or its caller went away), and the batch goes without it.
   */
  scheduled(input: {
    readonly assignment: Assignment;
    readonly predicted: Predicted;
  }): Promise<void>;
  /**
   * Still generating DISPATCH_DEFAULTS.runningWriteDelayMs after its first token
   * (`batchStartedMs`: when the batch was dispatched); a short generation never gets this call.
   */
  running(batchStartedMs: number): Promise<void>;
  /** A streamed chunk of its output (the first one is its first token). */
  token(text: string, completionTokens: number): void;
  /** It finished with the agent's result. */
  succeeded(node: string, result: RequestResult, batchStartedMs: number): Promise<void>;
  /** It did not finish: fail it, or send it back to the round. */
  apply(
    decision: OutcomeDecision,
    node: string,
    result?: RequestResult,
    batchStartedMs?: number,
  ): Promise<void>;
}

/** A source of candidates besides the InferenceRequest informer (the OpenAI endpoint). */
export interface CandidateSource {
  /** Its requests waiting for a round now. */
  pending(): readonly Candidate[];
  /** Subscribes to "a new request arrived" (the controller starts a round); returns an off. */
  onArrival(listener: () => void): () => void;
}
