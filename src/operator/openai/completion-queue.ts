// The OpenAI endpoint's requests as a candidate source of the scheduling rounds: each completion
// waits here (in memory, no API write) until a round puts it in a batch, then its member handle
// turns the agent's stream into the HTTP answer. A completion whose caller goes away is taken out
// of the queue, or its sequence is stopped on the agent. The queue is bounded: past `maxPending`
// waiting completions, new ones are refused (HTTP 429).
import { randomBytes } from 'node:crypto';
import {
  ChatRole,
  PromptFormat,
  type GenerationRequest,
  type RequestResult,
} from '../../gen/edgellm/agent/v1/agent.js';
import { REQUEST_REASON } from '../api/constants.js';
import type { Clock } from '../kube/clock.js';
import type { BatchMemberHandle, Candidate, CandidateSource } from '../requests/candidates.js';
import type { OutcomeDecision } from '../requests/failure-policy.js';
import { RequestGoneError } from '../requests/status-recorder.js';
import type { Assignment, Predicted } from '../requests/transitions.js';
import type { InferenceRequestView } from '../scheduling/objects.js';
import { parseDurationSeconds } from '../scheduling/duration.js';
import { SCHEDULING_DEFAULTS } from '../scheduling/translate.js';
import { errorForReason, overloaded, type OpenAiError } from './errors.js';

/** The namespace part of the keys of the endpoint's requests: no Kubernetes namespace has it. */
export const OPENAI_NAMESPACE = '@openai';

export type ChatTurn = { readonly role: 'system' | 'user' | 'assistant'; readonly content: string };

/** What a completion asks for, validated. */
export interface CompletionSpec {
  readonly model: string;
  /** Chat: the conversation; completions: undefined (the prompt is plain text). */
  readonly messages?: readonly ChatTurn[];
  readonly prompt: string;
  readonly maxTokens: number;
  readonly temperature: number;
  readonly topP?: number;
  readonly seed?: number;
  readonly stop: readonly string[];
  /** Go-style duration, e.g. 30s. */
  readonly latencyBudget: string;
  readonly maxPerplexityIncrease: number;
}

/** Where a completion's outcome goes (the HTTP exchange). */
export interface CompletionSink {
  /** A chunk of generated text, as it streams. */
  token(text: string): void;
  /** The first token came (its time). */
  firstToken(atMs: number): void;
  /** Finished with the agent's result. */
  done(result: RequestResult, where: { readonly node: string; readonly batchId: string }): void;
  /** Ended without a result. */
  failed(error: OpenAiError): void;
}

type State = 'pending' | 'scheduled' | 'done';

const ROLES = {
  system: ChatRole.CHAT_ROLE_SYSTEM,
  user: ChatRole.CHAT_ROLE_USER,
  assistant: ChatRole.CHAT_ROLE_ASSISTANT,
} as const;

/** One completion of the endpoint. */
export class Completion {
  readonly key: string;
  state: State = 'pending';
  attempts = 0;
  /** Chunks already sent to the caller: once text streamed, a rerun would repeat it. */
  streamed = false;
  gone = false;
  batch: { readonly node: string; readonly batchId: string } | undefined;

  constructor(
    readonly id: string,
    readonly spec: CompletionSpec,
    readonly firstSeenMs: number,
    readonly sink: CompletionSink,
  ) {
    this.key = `${OPENAI_NAMESPACE}/${id}`;
  }

  /** Prompt tokens as a round estimates them (bytes / 4, plus a template share per turn). */
  get promptTokenEstimate(): number {
    const bytes = (s: string): number => Math.ceil(Buffer.byteLength(s, 'utf8') / 4);
    if (this.spec.messages === undefined) return Math.max(1, bytes(this.spec.prompt));
    return this.spec.messages.reduce(
      (sum, m) => sum + bytes(m.content) + SCHEDULING_DEFAULTS.chatTemplateTokens,
      0,
    );
  }

  view(): InferenceRequestView {
    return {
      metadata: { name: this.id, namespace: OPENAI_NAMESPACE, uid: this.id },
      spec: {
        model: this.spec.model,
        promptTokens: this.promptTokenEstimate,
        maxTokens: this.spec.maxTokens,
        latencyBudget: this.spec.latencyBudget,
        accuracy: { maxPerplexityIncrease: this.spec.maxPerplexityIncrease },
      },
    };
  }

  generationRequest(deadline: Date | undefined): GenerationRequest {
    const { spec } = this;
    return {
      id: this.key,
      prompt: spec.messages === undefined ? spec.prompt : '',
      promptFormat:
        spec.messages === undefined
          ? PromptFormat.PROMPT_FORMAT_TEXT
          : PromptFormat.PROMPT_FORMAT_CHAT,
      maxTokens: spec.maxTokens,
      sampling: {
        temperature: spec.temperature,
        ...(spec.seed === undefined ? {} : { seed: spec.seed }),
        ...(spec.topP === undefined ? {} : { topP: spec.topP }),
      },
      deadline,
      messages: (spec.messages ?? []).map((m) => ({ role: ROLES[m.role], content: m.content })),
      stop: [...spec.stop],
    };
  }
}

export interface CompletionQueueOptions {
  readonly clock: Clock;
  /** Completions waiting for a round at most; more are refused with 429. */
  readonly maxPending: number;
  /** Dispatches of one completion before it fails (agent lost). */
  readonly maxAttempts: number;
}

export class CompletionQueue implements CandidateSource {
  private readonly waiting = new Map<string, Completion>();
  private readonly active = new Map<string, Completion>();
  private readonly listeners = new Set<() => void>();
  private canceller: ((key: string) => void) | undefined;

  constructor(private readonly options: CompletionQueueOptions) {}

  /** Completions waiting for a round now. */
  get pendingCount(): number {
    return this.waiting.size;
  }

  /** Accepts a completion (throws 429 when the queue is full); a round picks it up. */
  submit(spec: CompletionSpec, sink: CompletionSink, idPrefix: string): Completion {
    if (this.waiting.size >= this.options.maxPending)
      throw overloaded(
        `${this.waiting.size} completions are waiting for a batch already (the limit is ${this.options.maxPending}); retry shortly`,
      );
    const id = `${idPrefix}-${randomBytes(12).toString('hex')}`;
    const completion = new Completion(id, spec, this.options.clock.now(), sink);
    this.waiting.set(completion.key, completion);
    this.active.set(completion.key, completion);
    for (const l of this.listeners) l();
    return completion;
  }

  /** The caller went away: out of the queue, or its sequence stopped on the agent. */
  cancel(completion: Completion): void {
    if (completion.state === 'done') return;
    completion.gone = true;
    if (this.waiting.delete(completion.key)) {
      this.finish(completion);
      return;
    }
    this.canceller?.(completion.key);
  }

  /** Who stops a running completion's sequence (the leading term's request controller). */
  setCanceller(canceller: ((key: string) => void) | undefined): void {
    this.canceller = canceller;
  }

  /** Ends every completion not yet done with `error` (this replica stopped leading). */
  failAll(error: OpenAiError): void {
    for (const c of [...this.active.values()]) {
      this.finish(c);
      c.sink.failed(error);
    }
    this.waiting.clear();
  }

  pending(): readonly Candidate[] {
    return [...this.waiting.values()].map((c) => ({
      view: c.view(),
      firstSeenMs: c.firstSeenMs,
      member: () => {
        this.waiting.delete(c.key);
        return new CompletionMember(c, this, this.options.clock);
      },
      fail: (reason, message) => {
        this.waiting.delete(c.key);
        this.finish(c);
        c.sink.failed(errorForReason(reason, message));
        return Promise.resolve(true);
      },
    }));
  }

  onArrival(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => {
      this.listeners.delete(listener);
    };
  }

  get maxAttempts(): number {
    return this.options.maxAttempts;
  }

  /** Back in the queue for another round. */
  requeue(completion: Completion): void {
    completion.state = 'pending';
    completion.batch = undefined;
    this.waiting.set(completion.key, completion);
    for (const l of this.listeners) l();
  }

  finish(completion: Completion): void {
    completion.state = 'done';
    this.active.delete(completion.key);
  }
}

/** A completion in a batch: the agent's stream, answered over HTTP. */
class CompletionMember implements BatchMemberHandle {
  readonly key: string;

  constructor(
    private readonly c: Completion,
    private readonly queue: CompletionQueue,
    private readonly clock: Clock,
  ) {
    this.key = c.key;
  }

  generationRequest(deadline: Date | undefined): GenerationRequest {
    return this.c.generationRequest(deadline);
  }

  deadlineMs(): number | undefined {
    const budget = parseBudgetSeconds(this.c.spec.latencyBudget);
    return budget === undefined ? undefined : this.c.firstSeenMs + budget * 1000;
  }

  attempts(): number {
    return this.c.attempts;
  }

  isFinished(): boolean {
    return this.c.state === 'done';
  }

  scheduled(input: {
    readonly assignment: Assignment;
    readonly predicted: Predicted;
  }): Promise<void> {
    if (this.c.gone) {
      this.queue.finish(this.c);
      return Promise.reject(new RequestGoneError(this.key));
    }
    this.c.state = 'scheduled';
    this.c.attempts += 1;
    this.c.batch = { node: input.assignment.node, batchId: input.assignment.batchId };
    return Promise.resolve();
  }

  running(): Promise<void> {
    // Nothing to record: the caller has had its first token since token().
    return Promise.resolve();
  }

  token(text: string): void {
    if (this.c.gone) throw new RequestGoneError(this.key);
    if (!this.c.streamed) this.c.sink.firstToken(this.clock.now());
    this.c.streamed = true;
    this.c.sink.token(text);
  }

  succeeded(node: string, result: RequestResult): Promise<void> {
    if (this.c.state === 'done') return Promise.resolve();
    this.queue.finish(this.c);
    if (!this.c.gone) this.c.sink.done(result, { node, batchId: this.c.batch?.batchId ?? '' });
    return Promise.resolve();
  }

  apply(decision: OutcomeDecision, node: string): Promise<void> {
    if (this.c.state === 'done' || this.c.gone) {
      this.queue.finish(this.c);
      return Promise.resolve();
    }
    if (decision.kind === 'requeue' && !this.c.streamed) {
      this.queue.requeue(this.c);
      return Promise.resolve();
    }
    this.queue.finish(this.c);
    this.c.sink.failed(
      decision.kind === 'fail'
        ? errorForReason(decision.reason, decision.message)
        : // Text already streamed to the caller cannot be taken back for a rerun.
          errorForReason(
            REQUEST_REASON.agentLost,
            `${decision.why}; the answer had begun streaming from ${node}, so it is not run again: retry the request`,
          ),
    );
    return Promise.resolve();
  }
}

function parseBudgetSeconds(text: string): number | undefined {
  try {
    return parseDurationSeconds(text);
  } catch {
    return undefined;
  }
}
