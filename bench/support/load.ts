// The seeded request mix of the operator benchmarks: the same prompts, token counts and latency
// budgets for every policy and every path that is compared.
import { createRng } from '../../src/core/random.js';

export interface Load {
  readonly name: string;
  readonly prompt: string;
  readonly maxTokens: number;
  readonly budgetSeconds: number;
}

/** `count` requests from `seed`: prompt 20-400 chars, 8-48 tokens, budget 5-30 s. */
export function makeLoad(count: number, seed: number): Load[] {
  const random = createRng(seed);
  const words = 'edge nodes serve small models close to the users who ask them questions'.split(
    ' ',
  );
  return Array.from({ length: count }, (_, i) => {
    const chars = 20 + Math.floor(random() * 380);
    let prompt = '';
    while (prompt.length < chars) prompt += `${words[Math.floor(random() * words.length)] ?? ''} `;
    return {
      name: `r${String(i).padStart(5, '0')}`,
      prompt: prompt.trim(),
      maxTokens: 8 + Math.floor(random() * 41),
      budgetSeconds: 5 + Math.floor(random() * 26),
    };
  });
}
