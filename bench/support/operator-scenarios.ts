// The simulator's online scenarios (src/sim/online-scenarios.ts, docs/scheduling-scenarios.md)
// redrawn for the operator bench's simulated agents: the same shapes (request classes drawn by
// weight, Poisson arrivals, bursts, one fast node and slow ones) at the simulated agent's scale
// (SimulatedRuntime: prefill 0.5 ms per token, a decode step 20 ms + 2 ms per sequence, 16
// sequences of 512 tokens), so prompt plus output stay within one sequence and the budgets are
// what such an agent can meet. Every number is an assumption of ours, listed per scenario.
import { drawArrivals } from '../../src/sim/online-experiment.js';
import type { RequestClass } from '../../src/sim/online-scenarios.js';
import type { Load } from './load.js';
import { SIM_MODEL } from './simulated-fleet.js';

export interface OperatorScenario {
  readonly name: string;
  /** The simulator's scenario it redraws. */
  readonly simulator: string;
  /** What it stresses, in a sentence (printed with the table). */
  readonly stresses: string;
  /** Per simulated agent, how many times slower than SimulatedRuntime's default it runs. */
  readonly timeFactors: readonly number[];
  /** Poisson arrivals at this mean rate for the run's duration. */
  readonly ratePerSecond: number;
  /** Extra arrivals: `size` requests at once every `everySeconds` (from `everySeconds`). */
  readonly bursts?: { readonly everySeconds: number; readonly size: number };
  readonly classes: readonly RequestClass[];
}

/** A request of the load with when to create it, in seconds from the run's start. */
export interface TimedLoad extends Load {
  readonly atSeconds: number;
}

/** Chat: outputs a lone request serves in 0.2-1.1 s, budgets a batch of 16 can meet. */
const CHAT: RequestClass = {
  name: 'chat',
  weight: 1,
  promptTokens: [16, 128],
  maxTokens: [8, 48],
  latencyBudgetSeconds: [2, 6],
};

const INTERACTIVE: RequestClass = {
  name: 'interactive',
  weight: 0.6,
  promptTokens: [16, 64],
  maxTokens: [8, 16],
  latencyBudgetSeconds: [1, 2.5],
};

/** Bulk: alone up to about 3 s; prompt plus output at most 448 of a sequence's 512 tokens. */
const BULK: RequestClass = {
  name: 'bulk',
  weight: 0.4,
  promptTokens: [128, 320],
  maxTokens: [48, 128],
  latencyBudgetSeconds: [6, 12],
};

const FOUR_EQUAL = [1, 1, 1, 1] as const;

export const OPERATOR_SCENARIOS: readonly OperatorScenario[] = [
  {
    name: 'mixed-deadlines',
    simulator: 'mixed-deadlines',
    stresses:
      'interactive (prompt 16-64, output 8-16 tokens, budget 1-2.5 s) and bulk (prompt 128-320, output 48-128, budget 6-12 s) at 14/s, more than 4 agents carry: a batch takes its tightest budget and its longest member',
    timeFactors: FOUR_EQUAL,
    ratePerSecond: 14,
    classes: [INTERACTIVE, BULK],
  },
  {
    name: 'heterogeneous-nodes',
    simulator: 'heterogeneous-nodes',
    stresses:
      'one agent twice as fast as the default and three at half its speed (computeFlops to match, so GAH visits the fast one first), the mixed classes at 10/s',
    timeFactors: [0.5, 2, 2, 2],
    ratePerSecond: 10,
    classes: [INTERACTIVE, BULK],
  },
  {
    name: 'bursts',
    simulator: 'bursts',
    stresses:
      'chat (prompt 16-128, output 8-48, budget 2-6 s) at 2/s plus 64 at once every 2 s, as many as 4 agents hold in one round (and about what they finish in 2 s): queues build and drain, budgets cluster',
    timeFactors: FOUR_EQUAL,
    ratePerSecond: 2,
    bursts: { everySeconds: 2, size: 64 },
    classes: [CHAT],
  },
  {
    name: 'chat-overload',
    simulator: 'chat-overload',
    stresses:
      'chat at 40/s, about twice what 4 agents carry in batches of 16: who is chosen when many cannot be',
    timeFactors: FOUR_EQUAL,
    ratePerSecond: 40,
    classes: [CHAT],
  },
];

const WORDS = 'edge nodes serve small models close to the users who ask them questions';

/** A prompt of `tokens` x 4 characters: the operator's and the agent's token estimate. */
function promptOf(tokens: number): string {
  return WORDS.repeat(Math.ceil((tokens * 4) / WORDS.length)).slice(0, tokens * 4);
}

/**
 * The scenario's requests over `durationSeconds` from `seed`, in creation order: the
 * simulator's own draw (drawArrivals: Poisson arrivals, bursts, classes by weight, values
 * uniformly), budgets to the hundredth of a second.
 */
export function scenarioLoad(
  scenario: OperatorScenario,
  durationSeconds: number,
  seed: number,
): TimedLoad[] {
  const arrivals = drawArrivals(
    { ...scenario, durationSeconds, variant: { name: SIM_MODEL.name } },
    seed,
  );
  return arrivals.map((a, i) => ({
    name: `s${seed}-${String(i).padStart(5, '0')}`,
    atSeconds: a.arrivalSeconds,
    prompt: promptOf(a.demand.promptTokens),
    maxTokens: a.demand.maxTokens,
    budgetSeconds: Math.round(a.demand.latencyBudgetSeconds * 100) / 100,
  }));
}
