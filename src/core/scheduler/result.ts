// Turning a chosen set of requests into the full decision: allocation and predicted times.
import { stateOf, type CostModel, type PreparedRequest } from '../model/batch.js';
import type { Candidates } from './candidates.js';
import type { BandwidthShare, Policy, ScheduleResult } from './types.js';

export interface SearchStats {
  readonly nodesEvaluated: number;
  readonly prunedInfeasible: number;
  readonly prunedByBound: number;
  readonly optimal: boolean;
}

export function buildResult(
  policy: Policy,
  cost: CostModel,
  chosen: readonly PreparedRequest[],
  candidates: Pick<Candidates, 'rejected'>,
  stats: SearchStats,
): ScheduleResult {
  const members = [...chosen].sort((a, b) => a.index - b.index);
  const state = stateOf(members);
  const c = cost.evaluate(state, members);
  const shares = members.length > 0 ? cost.shares(members) : { uplinkHz: [], downlinkHz: [] };
  const bandwidthShares: Record<string, BandwidthShare> = {};
  members.forEach((r, i) => {
    bandwidthShares[r.demand.id] = {
      uplinkHz: shares.uplinkHz[i] ?? 0,
      downlinkHz: shares.downlinkHz[i] ?? 0,
    };
  });
  return {
    policy,
    batch: members.map((r) => r.demand.id),
    requests: members.length,
    tokens: state.sumOutputTokens,
    predicted: {
      uplinkSeconds: c.uplinkSeconds,
      computeSeconds: c.computeSeconds,
      downlinkSeconds: c.downlinkSeconds,
      totalSeconds: c.totalSeconds,
    },
    memoryBytes: c.memoryBytes,
    bandwidthShares,
    ...stats,
    rejected: candidates.rejected,
  };
}
