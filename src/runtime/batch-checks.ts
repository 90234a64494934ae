// The checks every runtime makes before it runs a batch, so the agent answers bad batches with
// the same typed errors (and gRPC status codes) whichever runtime executes them.
import {
  BatchTooLargeError,
  EmptyBatchError,
  InvalidRequestError,
  PromptTooLongError,
} from './errors.js';
import type { GenerationRequest } from './types.js';

export interface BatchLimits {
  readonly maxSequences: number;
  /** Context tokens of one sequence (prompt plus generated tokens must fit). */
  readonly sequenceContextTokens: number;
}

/**
 * Validates a batch and tokenizes its prompts: throws EmptyBatchError, BatchTooLargeError,
 * InvalidRequestError (duplicate id, maxTokens, temperature, a prompt of no tokens) or
 * PromptTooLongError.
 */
export function checkBatch<Tokens extends { readonly length: number }>(
  model: string,
  requests: readonly GenerationRequest[],
  limits: BatchLimits,
  tokenize: (request: GenerationRequest) => Tokens,
): Tokens[] {
  if (requests.length === 0) throw new EmptyBatchError(model);
  if (requests.length > limits.maxSequences) {
    throw new BatchTooLargeError(model, requests.length, limits.maxSequences);
  }
  const seen = new Set<string>();
  return requests.map((r) => {
    if (seen.has(r.id)) throw new InvalidRequestError(r.id, 'duplicate request id in the batch');
    seen.add(r.id);
    if (!Number.isInteger(r.maxTokens) || r.maxTokens < 1) {
      throw new InvalidRequestError(
        r.id,
        `maxTokens must be a positive integer, got ${r.maxTokens}`,
      );
    }
    if (r.sampling.temperature < 0) {
      throw new InvalidRequestError(
        r.id,
        `temperature must be >= 0, got ${r.sampling.temperature}`,
      );
    }
    const tokens = tokenize(r);
    if (tokens.length === 0) {
      throw new InvalidRequestError(
        r.id,
        'the prompt is no tokens for this model (empty text, and the model adds no BOS); send some text',
      );
    }
    if (tokens.length + r.maxTokens > limits.sequenceContextTokens) {
      throw new PromptTooLongError(r.id, tokens.length, r.maxTokens, limits.sequenceContextTokens);
    }
    return tokens;
  });
}
