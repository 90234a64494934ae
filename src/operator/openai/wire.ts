// The OpenAI API requests the endpoint accepts (a subset of /v1/chat/completions and
// /v1/completions), validated with zod, and edgellm's extensions: the latency budget and the
// accuracy bound, in a body field `edgellm` or the headers X-Edgellm-Latency-Budget and
// X-Edgellm-Max-Perplexity-Increase. Unknown fields are ignored, as many clients send extras;
// features edgellm does not implement (n > 1, tools, logprobs) are refused with a clear 400.
import { z } from 'zod';

const text = z.string().max(1_000_000);

/** Message content: a string, or OpenAI's array of text parts (at least one, as OpenAI's API). */
const content = z
  .union([
    text,
    z
      .array(z.object({ type: z.literal('text'), text }))
      .min(1)
      .max(256),
  ])
  .transform((c) => (typeof c === 'string' ? c : c.map((p) => p.text).join('')));

export const chatMessageSchema = z.object({
  // `developer` is OpenAI's newer name for system instructions.
  role: z.enum(['system', 'developer', 'user', 'assistant']),
  content,
});

const stop = z
  .union([z.string().min(1).max(64), z.array(z.string().min(1).max(64)).max(4)])
  .optional()
  .transform((s) => (s === undefined ? [] : typeof s === 'string' ? [s] : s));

const edgellmExtension = z
  .object({
    /** A Go-style duration, as InferenceRequest spec.latencyBudget: 500ms, 30s, 1m30s. */
    latency_budget: z.string().max(32).optional(),
    max_perplexity_increase: z.number().min(0).max(1e6).optional(),
  })
  .optional();

const common = {
  model: z.string().min(1).max(63),
  max_tokens: z.number().int().min(1).max(8192).optional().nullable(),
  temperature: z.number().min(0).max(2).optional().nullable(),
  top_p: z.number().gt(0).max(1).optional().nullable(),
  seed: z.number().int().min(0).max(4_294_967_295).optional().nullable(),
  stop,
  stream: z.boolean().optional().nullable(),
  stream_options: z.object({ include_usage: z.boolean().optional() }).optional().nullable(),
  n: z
    .number()
    .int()
    .min(1)
    .max(1, 'n > 1 is not supported: send one request per completion')
    .optional()
    .nullable(),
  logprobs: z.literal(false, 'logprobs are not supported').optional().nullable(),
  edgellm: edgellmExtension,
};

export const chatCompletionRequestSchema = z.object({
  ...common,
  messages: z
    .array(chatMessageSchema)
    .min(1)
    .max(256)
    .refine(
      (messages) => messages.some((m) => m.content.length > 0),
      'every message is empty: send some text',
    ),
  max_completion_tokens: z.number().int().min(1).max(8192).optional().nullable(),
  tools: z.undefined('tools are not supported').or(z.array(z.unknown()).max(0)).optional(),
});

export const completionRequestSchema = z.object({
  ...common,
  prompt: z
    .union([text, z.array(text).length(1, 'send one prompt per request')])
    .transform((p) => (typeof p === 'string' ? p : (p[0] ?? '')))
    .refine((p) => p.length > 0, 'the prompt is empty: send some text'),
});

export type ChatCompletionRequest = z.output<typeof chatCompletionRequestSchema>;
export type CompletionRequest = z.output<typeof completionRequestSchema>;
