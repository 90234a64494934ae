// Whether a request fits one sequence of the variant's runtime context: its prompt plus its
// output tokens at most the variant's sequenceTokens (no limit when the variant states none).
import type { ModelVariant, RequestDemand } from './types.js';

export function fitsSequence(
  variant: Pick<ModelVariant, 'sequenceTokens'>,
  demand: Pick<RequestDemand, 'promptTokens' | 'maxTokens'>,
): boolean {
  return (
    variant.sequenceTokens === undefined ||
    demand.promptTokens + demand.maxTokens <= variant.sequenceTokens
  );
}
