// Admission checks of an ExecuteBatch request, each with its precise gRPC status. Pure: the
// model's state, the token counts and the clock are passed in.
import { ChatRole, PromptFormat, type ExecuteBatchRequest } from '../gen/edgellm/agent/v1/agent.js';
import type {
  ChatMessage as RuntimeChatMessage,
  GenerationRequest as RuntimeRequest,
  PromptFormat as RuntimePromptFormat,
} from '../runtime/types.js';
import { AGENT_DEFAULTS } from './config.js';
import {
  deadlineExceeded,
  failedPrecondition,
  invalidArgument,
  notFound,
  outOfRange,
  resourceExhausted,
} from './errors.js';

/** What validation needs to know about the requested model. */
export interface ModelAdmission {
  readonly configured: boolean;
  readonly loaded: boolean;
  /** Most requests one batch may hold. */
  readonly maxSequences: number;
  /** Tokens each sequence may hold (prompt plus generated tokens). */
  readonly sequenceTokens: number;
}

/** The runtime's prompt format of each wire value (unset and UNSPECIFIED are TEXT). */
const PROMPT_FORMATS: ReadonlyMap<PromptFormat, RuntimePromptFormat> = new Map([
  [PromptFormat.PROMPT_FORMAT_UNSPECIFIED, 'text'],
  [PromptFormat.PROMPT_FORMAT_TEXT, 'text'],
  [PromptFormat.PROMPT_FORMAT_CHAT, 'chat'],
]);

/** The runtime's role of each wire value. */
const CHAT_ROLES: ReadonlyMap<ChatRole, RuntimeChatMessage['role']> = new Map([
  [ChatRole.CHAT_ROLE_SYSTEM, 'system'],
  [ChatRole.CHAT_ROLE_USER, 'user'],
  [ChatRole.CHAT_ROLE_ASSISTANT, 'assistant'],
]);

export const STOP_LIMITS = { count: 4, length: 64 } as const;

/** A validated request of a batch, in the runtime's terms plus its deadline and stop strings. */
export interface AdmittedRequest extends RuntimeRequest {
  readonly promptFormat: RuntimePromptFormat;
  /** Epoch milliseconds after which the result is useless, if the caller set one. */
  readonly deadlineMs?: number;
  /** Generation ends before the first of these appears (the agent applies them). */
  readonly stop: readonly string[];
}

/**
 * Checks everything that needs no tokenizer: ids, prompts, max tokens, sampling, the model,
 * batch size and deadlines. Throws an AgentError (INVALID_ARGUMENT, NOT_FOUND,
 * FAILED_PRECONDITION, RESOURCE_EXHAUSTED, DEADLINE_EXCEEDED) naming the offending field.
 */
export function validateBatch(
  request: ExecuteBatchRequest,
  model: ModelAdmission,
  nowMs: number,
): AdmittedRequest[] {
  if (request.batchId.trim() === '') throw invalidArgument('batch_id is required');
  if (request.model === '') throw invalidArgument('model is required');
  if (request.requests.length === 0)
    throw invalidArgument(`batch ${request.batchId} has no requests; send at least one`);
  const seen = new Set<string>();
  const admitted = request.requests.map((r, i): AdmittedRequest => {
    const where = `requests[${i}]`;
    if (r.id === '') throw invalidArgument(`${where}.id is required`);
    if (seen.has(r.id))
      throw invalidArgument(`${where}.id ${r.id} is a duplicate; request ids must be unique`);
    seen.add(r.id);
    const chat = r.promptFormat === PromptFormat.PROMPT_FORMAT_CHAT;
    if (r.messages.length > 0 && !chat)
      throw invalidArgument(
        `${where} (${r.id}): messages need prompt_format PROMPT_FORMAT_CHAT (a conversation is rendered with the chat template)`,
      );
    const messages = r.messages.map((m, j): RuntimeChatMessage => {
      const role = CHAT_ROLES.get(m.role);
      if (role === undefined)
        throw invalidArgument(
          `${where} (${r.id}): messages[${j}].role must be SYSTEM, USER or ASSISTANT`,
        );
      return { role, content: m.content };
    });
    const chars =
      messages.length > 0
        ? messages.reduce((sum, m) => sum + m.content.length, 0)
        : r.prompt.length;
    if (chars === 0)
      throw invalidArgument(
        `${where} (${r.id}): ${messages.length > 0 ? 'messages are empty' : 'prompt is empty'}`,
      );
    if (chars > AGENT_DEFAULTS.maxPromptChars)
      throw outOfRange(
        `${where} (${r.id}): prompt has ${chars} characters, over the limit of ${AGENT_DEFAULTS.maxPromptChars}`,
      );
    if (
      r.stop.length > STOP_LIMITS.count ||
      r.stop.some((s) => s.length < 1 || s.length > STOP_LIMITS.length)
    )
      throw invalidArgument(
        `${where} (${r.id}): stop takes at most ${STOP_LIMITS.count} strings of 1 to ${STOP_LIMITS.length} characters`,
      );
    if (!Number.isInteger(r.maxTokens) || r.maxTokens < 1)
      throw invalidArgument(
        `${where} (${r.id}): max_tokens must be at least 1, got ${r.maxTokens}`,
      );
    if (r.maxTokens > AGENT_DEFAULTS.maxTokensLimit)
      throw invalidArgument(
        `${where} (${r.id}): max_tokens ${r.maxTokens} is over the limit of ${AGENT_DEFAULTS.maxTokensLimit}`,
      );
    const s = r.sampling;
    const temperature = s?.temperature ?? 0;
    if (!Number.isFinite(temperature) || temperature < 0)
      throw invalidArgument(`${where} (${r.id}): sampling.temperature must be >= 0`);
    if (s?.topP !== undefined && !(s.topP > 0 && s.topP <= 1))
      throw invalidArgument(`${where} (${r.id}): sampling.top_p must be in (0, 1]`);
    const promptFormat = PROMPT_FORMATS.get(r.promptFormat ?? PromptFormat.PROMPT_FORMAT_TEXT);
    if (promptFormat === undefined)
      throw invalidArgument(
        `${where} (${r.id}): prompt_format ${String(r.promptFormat)} is unknown; use PROMPT_FORMAT_TEXT or PROMPT_FORMAT_CHAT`,
      );
    const deadlineMs = r.deadline?.getTime();
    return {
      id: r.id,
      prompt: r.prompt,
      promptFormat,
      maxTokens: r.maxTokens,
      sampling: {
        temperature,
        ...(s?.seed !== undefined ? { seed: s.seed } : {}),
        ...(s?.topK !== undefined && s.topK > 0 ? { topK: s.topK } : {}),
        ...(s?.topP !== undefined ? { topP: s.topP } : {}),
      },
      ...(deadlineMs !== undefined ? { deadlineMs } : {}),
      ...(messages.length > 0 ? { messages } : {}),
      stop: r.stop,
    };
  });
  if (!model.configured)
    throw notFound(`model ${request.model} is not configured on this agent; see GetInfo`);
  if (!model.loaded)
    throw failedPrecondition(`model ${request.model} is not loaded; call LoadModel first`);
  if (admitted.length > model.maxSequences)
    throw resourceExhausted(
      `batch ${request.batchId} has ${admitted.length} requests but model ${request.model} holds at most ${model.maxSequences} sequences; split the batch`,
    );
  for (const r of admitted)
    if (r.deadlineMs !== undefined && r.deadlineMs <= nowMs)
      throw deadlineExceeded(
        `request ${r.id}: deadline ${new Date(r.deadlineMs).toISOString()} has already passed`,
      );
  return admitted;
}

/**
 * Checks each request's prompt length in tokens against the per-sequence context. Returns, by
 * request id, why a request cannot run (its prompt, or its prompt plus max_tokens, does not fit);
 * such a request is rejected alone and the rest of the batch runs.
 */
export function contextRejections(
  requests: readonly AdmittedRequest[],
  promptTokens: readonly number[],
  model: ModelAdmission,
): Map<string, string> {
  const rejected = new Map<string, string>();
  requests.forEach((r, i) => {
    const tokens = promptTokens[i] ?? 0;
    if (tokens >= model.sequenceTokens)
      rejected.set(
        r.id,
        `request ${r.id}: prompt is ${tokens} tokens, over the ${model.sequenceTokens}-token context of one sequence; shorten it`,
      );
    else if (tokens + r.maxTokens > model.sequenceTokens)
      rejected.set(
        r.id,
        `request ${r.id}: prompt (${tokens} tokens) plus max_tokens (${r.maxTokens}) exceeds the ${model.sequenceTokens}-token context of one sequence; lower max_tokens to at most ${model.sequenceTokens - tokens}`,
      );
  });
  return rejected;
}
