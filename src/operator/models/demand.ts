// The demand placement plans for, from InferenceRequests: requests alike in model, size, deadline
// and accuracy bound form a class (sizes and budgets in powers of two, each class taking its
// members' largest sizes and tightest budget and bound, so a class is never easier than a member);
// pending requests count now, and creations within the window count as arrivals per second. A
// Model nobody asked for recently gets a small standing class, so a new Model is placed (one pod)
// before its first request rather than after. Pure.
import type { DemandClass } from '../../core/placement/types.js';
import { FINISHED_PHASES, PHASE, type Phase } from '../api/constants.js';
import { parseDurationSeconds } from '../scheduling/duration.js';
import { timestampMs, type InferenceRequestView } from '../scheduling/objects.js';
import { estimatePromptTokens } from '../scheduling/translate.js';

export const DEMAND_DEFAULTS = {
  /** Creations within this many seconds count as recent arrivals. */
  windowSeconds: 60,
  /** The standing class of a Model without recent requests. */
  standing: {
    arrivalsPerSecond: 0.01,
    promptTokens: 128,
    maxTokens: 128,
    latencyBudgetSeconds: 60,
    maxPerplexityIncrease: Number.POSITIVE_INFINITY,
  },
} as const;

const pow2 = (n: number): number => 2 ** Math.ceil(Math.log2(Math.max(1, n)));

interface Member {
  readonly model: string;
  readonly promptTokens: number;
  readonly maxTokens: number;
  readonly budget: number;
  readonly bound: number;
  readonly pending: boolean;
  readonly recent: boolean;
}

function memberOf(
  request: InferenceRequestView,
  nowMs: number,
  windowSeconds: number,
): Member | undefined {
  const phase = request.status?.phase as Phase | undefined;
  if (phase !== undefined && FINISHED_PHASES.includes(phase)) return undefined;
  let budget: number;
  try {
    budget = parseDurationSeconds(request.spec.latencyBudget);
  } catch {
    return undefined; // the request controller fails it with InvalidSpec
  }
  const created = timestampMs(request.metadata?.creationTimestamp) ?? nowMs;
  return {
    model: request.spec.model,
    promptTokens: estimatePromptTokens(request.spec, undefined),
    maxTokens: request.spec.maxTokens,
    budget,
    bound: request.spec.accuracy?.maxPerplexityIncrease ?? 0,
    pending: phase === undefined || phase === PHASE.pending,
    recent: nowMs - created <= windowSeconds * 1000,
  };
}

export function demandClasses(
  requests: readonly InferenceRequestView[],
  models: readonly string[],
  nowMs: number,
  windowSeconds: number = DEMAND_DEFAULTS.windowSeconds,
): DemandClass[] {
  const known = new Set(models);
  const classes = new Map<string, DemandClass>();
  for (const request of requests) {
    const m = memberOf(request, nowMs, windowSeconds);
    if (m === undefined || !known.has(m.model) || (!m.pending && !m.recent)) continue;
    const id = `${m.model}/p${pow2(m.promptTokens)}/o${pow2(m.maxTokens)}/b${pow2(m.budget * 1000)}ms/a${m.bound}`;
    const old = classes.get(id);
    classes.set(id, {
      id,
      model: m.model,
      promptTokens: Math.max(old?.promptTokens ?? 0, m.promptTokens),
      maxTokens: Math.max(old?.maxTokens ?? 0, m.maxTokens),
      latencyBudgetSeconds: Math.min(old?.latencyBudgetSeconds ?? Infinity, m.budget),
      maxPerplexityIncrease: Math.min(old?.maxPerplexityIncrease ?? Infinity, m.bound),
      pending: (old?.pending ?? 0) + (m.pending ? 1 : 0),
      arrivalsPerSecond: (old?.arrivalsPerSecond ?? 0) + (m.recent ? 1 / windowSeconds : 0),
    });
  }
  const asked = new Set([...classes.values()].map((c) => c.model));
  for (const model of models) {
    if (asked.has(model)) continue;
    const s = DEMAND_DEFAULTS.standing;
    classes.set(`${model}/standing`, {
      id: `${model}/standing`,
      model,
      promptTokens: s.promptTokens,
      maxTokens: s.maxTokens,
      latencyBudgetSeconds: s.latencyBudgetSeconds,
      maxPerplexityIncrease: s.maxPerplexityIncrease,
      pending: 0,
      arrivalsPerSecond: s.arrivalsPerSecond,
    });
  }
  return [...classes.values()].sort((a, b) => a.id.localeCompare(b.id));
}
