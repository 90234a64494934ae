// The latency budget and accuracy bound of a completion that states none: per model, else the
// endpoint's defaults (`--openai-defaults FILE`, YAML or JSON).
import { z } from 'zod';
import { DurationError, parseDurationSeconds } from '../scheduling/duration.js';

const duration = z.string().refine(
  (s) => {
    try {
      return parseDurationSeconds(s) > 0;
    } catch (error) {
      if (error instanceof DurationError) return false;
      throw error;
    }
  },
  { message: 'expected a duration such as 500ms, 30s or 1m30s' },
);

const bounds = z.strictObject({
  latencyBudget: duration.optional(),
  maxPerplexityIncrease: z.number().min(0).max(1e6).optional(),
});

export const openAiDefaultsSchema = z.strictObject({
  latencyBudget: duration.default('60s'),
  maxPerplexityIncrease: z.number().min(0).max(1e6).default(0),
  models: z.record(z.string(), bounds).default({}),
});

export type OpenAiDefaults = z.output<typeof openAiDefaultsSchema>;

export const OPENAI_DEFAULTS: OpenAiDefaults = openAiDefaultsSchema.parse({});

/** The bounds of a completion for `model`, given what its request stated. */
export function boundsFor(
  defaults: OpenAiDefaults,
  model: string,
  stated: { readonly latencyBudget?: string; readonly maxPerplexityIncrease?: number },
): { latencyBudget: string; maxPerplexityIncrease: number } {
  const perModel = defaults.models[model];
  return {
    latencyBudget: stated.latencyBudget ?? perModel?.latencyBudget ?? defaults.latencyBudget,
    maxPerplexityIncrease:
      stated.maxPerplexityIncrease ??
      perModel?.maxPerplexityIncrease ??
      defaults.maxPerplexityIncrease,
  };
}
