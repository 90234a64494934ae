// The OpenAI API's response objects for chat completions and completions, whole and streamed,
// with an `edgellm` field saying where the request ran (clients ignore fields they do not know).
import { FinishReason, type RequestResult } from '../../gen/edgellm/agent/v1/agent.js';

export type Kind = 'chat' | 'completion';

/** OpenAI's finish_reason of an agent result. */
export function finishReasonOf(result: RequestResult): 'stop' | 'length' {
  return result.finishReason === FinishReason.FINISH_REASON_LENGTH ? 'length' : 'stop';
}

export interface ResponseContext {
  readonly id: string;
  readonly kind: Kind;
  readonly model: string;
  /** Seconds since the epoch. */
  readonly created: number;
}

export function usageOf(result: RequestResult): {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
} {
  return {
    prompt_tokens: result.promptTokens,
    completion_tokens: result.completionTokens,
    total_tokens: result.promptTokens + result.completionTokens,
  };
}

/** The whole answer (stream: false). */
export function completionResponse(
  ctx: ResponseContext,
  result: RequestResult,
  where: { readonly node: string; readonly batchId: string },
): Record<string, unknown> {
  const choice =
    ctx.kind === 'chat'
      ? {
          index: 0,
          message: { role: 'assistant', content: result.text, refusal: null },
          logprobs: null,
          finish_reason: finishReasonOf(result),
        }
      : { index: 0, text: result.text, logprobs: null, finish_reason: finishReasonOf(result) };
  return {
    id: ctx.id,
    object: ctx.kind === 'chat' ? 'chat.completion' : 'text_completion',
    created: ctx.created,
    model: ctx.model,
    choices: [choice],
    usage: usageOf(result),
    system_fingerprint: null,
    edgellm: { node: where.node, batch_id: where.batchId },
  };
}

/** One streamed chunk: a delta of text, the first one with the role, the last with the reason. */
export function chunk(
  ctx: ResponseContext,
  delta: { readonly text?: string; readonly first?: boolean },
  finishReason: 'stop' | 'length' | null,
): Record<string, unknown> {
  const choice =
    ctx.kind === 'chat'
      ? {
          index: 0,
          delta: {
            ...(delta.first === true ? { role: 'assistant' } : {}),
            ...(delta.text === undefined ? {} : { content: delta.text }),
          },
          logprobs: null,
          finish_reason: finishReason,
        }
      : { index: 0, text: delta.text ?? '', logprobs: null, finish_reason: finishReason };
  return {
    id: ctx.id,
    object: ctx.kind === 'chat' ? 'chat.completion.chunk' : 'text_completion',
    created: ctx.created,
    model: ctx.model,
    choices: [choice],
    system_fingerprint: null,
  };
}

/** The final streamed chunk with the usage and no choices (OpenAI's stream_options.include_usage). */
export function usageChunk(
  ctx: ResponseContext,
  result: RequestResult,
  where: { readonly node: string; readonly batchId: string },
): Record<string, unknown> {
  return {
    id: ctx.id,
    object: ctx.kind === 'chat' ? 'chat.completion.chunk' : 'text_completion',
    created: ctx.created,
    model: ctx.model,
    choices: [],
    usage: usageOf(result),
    system_fingerprint: null,
    edgellm: { node: where.node, batch_id: where.batchId },
  };
}
