// The online experiment (`edgellm simulate --online`): a discrete-event simulation of the
// operator's rounds on one scenario of online-scenarios.ts. Requests arrive (Poisson plus bursts);
// whenever a request arrives or a node finishes, the free nodes take batches from the waiting
// requests (GAH, assignAcrossNodes, one single-node policy on every node), each request's latency
// budget being what is left of it since its arrival. A batch occupies its node for its predicted
// time (the cost model is the simulated truth, so a chosen request always meets its deadline); a
// request misses when no node can serve it within what is left of its budget, or when the run
// ends with it still waiting. Pure: seeded random source, no clock.
import type { RequestDemand } from '../core/model/types.js';
import { createRng, uniform, uniformInt, type Random } from '../core/random.js';
import {
  assignAcrossNodes,
  whyUnservable,
  type ClusterNode,
  type ClusterRequest,
} from '../core/scheduler/gah.js';
import { POLICY, type Policy } from '../core/scheduler/types.js';
import { SIMULATED_POLICIES } from './scheduling-experiment.js';
import type { OnlineScenario, RequestClass } from './online-scenarios.js';

export interface Arrival {
  readonly id: string;
  readonly arrivalSeconds: number;
  readonly className: string;
  readonly demand: RequestDemand;
}

/** Why a request missed its deadline. */
export const MISS = {
  /** Its remaining budget became too short for any node, even alone, while it waited. */
  expired: 'expired',
  /** Unservable on arrival (too long for its budget, or too large for memory, on every node). */
  infeasibleOnArrival: 'infeasibleOnArrival',
} as const;
export type Miss = (typeof MISS)[keyof typeof MISS];

export interface ClassOutcome {
  readonly arrived: number;
  readonly met: number;
}

/** A policy as the simulation runs it: the single-node policy and GAH's urgency horizon. */
export interface OnlinePolicy {
  /** The label in tables: the policy, with `-h<factor>` when it has a horizon. */
  readonly label: string;
  readonly policy: Policy;
  readonly urgencyHorizon?: number;
}

/** Every simulated policy as the paper defines it, and DFTSP with horizons 1 and 2. */
export const ONLINE_POLICIES: readonly OnlinePolicy[] = [
  ...SIMULATED_POLICIES.map((policy) => ({ label: policy, policy })),
  { label: 'dftsp-h1', policy: POLICY.dftsp, urgencyHorizon: 1 },
  { label: 'dftsp-h2', policy: POLICY.dftsp, urgencyHorizon: 2 },
];

export interface OnlineRun {
  readonly scenario: string;
  /** OnlinePolicy.label. */
  readonly policy: string;
  readonly seed: number;
  readonly arrived: number;
  readonly met: number;
  /** met / arrived. */
  readonly slaAttainment: number;
  /** Requests that met their deadline per second, from the first arrival to the last batch end. */
  readonly throughputPerSecond: number;
  readonly outputTokensPerSecond: number;
  readonly batches: number;
  readonly meanBatchSize: number;
  readonly misses: Readonly<Record<Miss, number>>;
  readonly byClass: Readonly<Record<string, ClassOutcome>>;
  /** Requests met by the quartile of their latency budget within the run (tightest first). */
  readonly metByBudgetQuartile: readonly number[];
  readonly arrivedByBudgetQuartile: readonly number[];
}

function drawClass(rng: Random, classes: readonly RequestClass[]): RequestClass {
  const total = classes.reduce((s, c) => s + c.weight, 0);
  let x = rng() * total;
  for (const c of classes) {
    x -= c.weight;
    if (x < 0) return c;
  }
  return classes[classes.length - 1] as RequestClass;
}

/** What drawArrivals reads of a scenario (the operator bench draws its loads with it too). */
export type ArrivalProcess = Pick<
  OnlineScenario,
  'ratePerSecond' | 'durationSeconds' | 'bursts' | 'classes'
> & { readonly variant: { readonly name: string } };

/** The arrivals of one seed: Poisson at the scenario's rate, plus its bursts, in time order. */
export function drawArrivals(scenario: ArrivalProcess, seed: number): Arrival[] {
  const rng = createRng(seed);
  const times: number[] = [];
  for (let t = -Math.log(1 - rng()) / scenario.ratePerSecond; t < scenario.durationSeconds;) {
    times.push(t);
    t += -Math.log(1 - rng()) / scenario.ratePerSecond;
  }
  const bursts = scenario.bursts;
  if (bursts) {
    for (let t = bursts.everySeconds; t < scenario.durationSeconds; t += bursts.everySeconds)
      for (let k = 0; k < bursts.size; k++) times.push(t);
  }
  times.sort((a, b) => a - b);
  return times.map((arrivalSeconds, i) => {
    const c = drawClass(rng, scenario.classes);
    return {
      id: `r${i}`,
      arrivalSeconds,
      className: c.name,
      demand: {
        id: `r${i}`,
        model: scenario.variant.name,
        promptTokens: uniformInt(rng, c.promptTokens[0], c.promptTokens[1]),
        maxTokens: uniformInt(rng, c.maxTokens[0], c.maxTokens[1]),
        latencyBudgetSeconds: uniform(rng, c.latencyBudgetSeconds[0], c.latencyBudgetSeconds[1]),
        maxPerplexityIncrease: 0,
        uplinkSpectralEfficiency: uniform(rng, 1, 6),
        downlinkSpectralEfficiency: uniform(rng, 1, 6),
      },
    };
  });
}

export function clusterNodes(scenario: OnlineScenario, policy: Policy): ClusterNode[] {
  return scenario.nodes.map((n) => ({
    name: n.name,
    resources: n.resources,
    variants: [scenario.variant],
    options: scenario.options,
    policy,
    ...(n.maxBatchSize === undefined ? {} : { maxBatchSize: n.maxBatchSize }),
    budget: { maxNodes: scenario.maxNodes },
  }));
}

/** The request as a round at `now` sees it: the budget left since its arrival. */
function atRound(a: Arrival, now: number): ClusterRequest {
  return {
    ...a.demand,
    model: a.demand.model ?? '',
    latencyBudgetSeconds: a.demand.latencyBudgetSeconds - (now - a.arrivalSeconds),
  };
}

function budgetQuartiles(arrivals: readonly Arrival[]): (a: Arrival) => number {
  const sorted = arrivals.map((a) => a.demand.latencyBudgetSeconds).sort((x, y) => x - y);
  const cut = [1, 2, 3].map((q) => sorted[Math.floor((q * sorted.length) / 4)] ?? Infinity);
  return (a) => cut.filter((c) => a.demand.latencyBudgetSeconds >= c).length;
}

export function runOnline(scenario: OnlineScenario, online: OnlinePolicy, seed: number): OnlineRun {
  const { policy } = online;
  const arrivals = drawArrivals(scenario, seed);
  const nodes = clusterNodes(scenario, policy);
  const freeAt = new Map(nodes.map((n) => [n.name, 0]));
  const byId = new Map(arrivals.map((a) => [a.id, a]));
  const waiting = new Map<string, Arrival>();
  const misses: Record<Miss, number> = { expired: 0, infeasibleOnArrival: 0 };
  const byClass: Record<string, { arrived: number; met: number }> = {};
  const quartileOf = budgetQuartiles(arrivals);
  const metByQuartile = [0, 0, 0, 0];
  const arrivedByQuartile = [0, 0, 0, 0];
  for (const a of arrivals) {
    const c = (byClass[a.className] ??= { arrived: 0, met: 0 });
    c.arrived++;
    arrivedByQuartile[quartileOf(a)] = (arrivedByQuartile[quartileOf(a)] ?? 0) + 1;
  }
  let met = 0;
  let tokens = 0;
  let batches = 0;
  let lastEnd = 0;
  let next = 0;
  let now = 0;
  let round = 0;
  for (;;) {
    while (next < arrivals.length && (arrivals[next] as Arrival).arrivalSeconds <= now) {
      const a = arrivals[next++] as Arrival;
      if (whyUnservable(atRound(a, now), nodes) !== null) misses.infeasibleOnArrival++;
      else waiting.set(a.id, a);
    }
    for (const a of [...waiting.values()]) {
      if (whyUnservable(atRound(a, now), nodes) !== null) {
        waiting.delete(a.id);
        misses.expired++;
      }
    }
    const free = nodes.filter((n) => (freeAt.get(n.name) ?? 0) <= now);
    if (free.length > 0 && waiting.size > 0) {
      const decision = assignAcrossNodes(
        free,
        [...waiting.values()].map((a) => atRound(a, now)),
        {
          policy,
          rng: createRng((seed * 7919) ^ round),
          ...(online.urgencyHorizon === undefined ? {} : { urgencyHorizon: online.urgencyHorizon }),
        },
      );
      round++;
      for (const assignment of decision.assignments) {
        const end = now + assignment.result.predicted.totalSeconds;
        freeAt.set(assignment.node, end);
        lastEnd = Math.max(lastEnd, end);
        batches++;
        for (const id of assignment.result.batch) {
          const a = byId.get(id) as Arrival;
          waiting.delete(id);
          met++;
          tokens += a.demand.maxTokens;
          (byClass[a.className] as { met: number }).met++;
          metByQuartile[quartileOf(a)] = (metByQuartile[quartileOf(a)] ?? 0) + 1;
        }
      }
    }
    const busyUntil = [...freeAt.values()].filter((t) => t > now);
    const nextEvent = Math.min(
      next < arrivals.length ? (arrivals[next] as Arrival).arrivalSeconds : Infinity,
      ...busyUntil,
    );
    if (!Number.isFinite(nextEvent)) break;
    now = nextEvent;
  }
  // Nothing arrives and every node is free: whatever still waits is unservable by now.
  misses.expired += waiting.size;
  const span = Math.max(lastEnd, scenario.durationSeconds);
  return {
    scenario: scenario.name,
    policy: online.label,
    seed,
    arrived: arrivals.length,
    met,
    slaAttainment: arrivals.length === 0 ? 1 : met / arrivals.length,
    throughputPerSecond: met / span,
    outputTokensPerSecond: tokens / span,
    batches,
    meanBatchSize: batches === 0 ? 0 : met / batches,
    misses,
    byClass,
    metByBudgetQuartile: metByQuartile,
    arrivedByBudgetQuartile: arrivedByQuartile,
  };
}
