// Admission control for the requests a round left waiting, as a pure function: the waiting
// requests in arrival order, the nodes that serve them (their batch cap, when their batch in
// flight ends and how long a batch takes, as the cost model predicted for their last batch) and
// the per-node queue bound in, the requests to shed now out. Two reasons:
// - QueueFull: more requests of its model already wait than its nodes may queue
//   (maxPendingPerNode per eligible Ready node, and at least maxPendingPerNode: a model with no
//   Ready node now, its agents down or not there yet, counts as one), so the pending queue and
//   the operator's memory stay bounded however fast requests arrive, whether or not a node serves;
// - Overloaded: the queue ahead of it cannot drain before its latency budget runs out (waves of
//   full batches across its nodes, each as long as the fastest node's last predicted batch: an
//   optimistic estimate, so what is shed would not have made it), so it fails now with that
//   estimate instead of waiting to expire as DeadlineExceeded.
// A request whose nodes have no predicted batch yet (nothing ran there since the operator started),
// or that no Ready node serves now, is never shed as Overloaded: without a prediction there is no
// estimate to act on.
import { REQUEST_REASON } from '../api/constants.js';

export interface AdmissionNode {
  readonly name: string;
  /** Models it serves (any quantization). */
  readonly models: ReadonlySet<string>;
  /** Largest batch it runs. */
  readonly batchCap: number;
  /** Seconds until its batch in flight is predicted to end (0 when idle). */
  readonly freeInSeconds: number;
  /** Predicted seconds of its last batch; undefined before its first. */
  readonly batchSeconds: number | undefined;
}

export interface AdmissionRequest {
  readonly key: string;
  readonly model: string;
  /** Latency budget left now, seconds. */
  readonly remainingBudgetSeconds: number;
  /** Nodes its selector allows; undefined: all. */
  readonly allowedNodes?: readonly string[] | undefined;
}

export interface AdmissionInput {
  /** Waiting requests, oldest first (the order rounds serve them in). */
  readonly waiting: readonly AdmissionRequest[];
  readonly nodes: readonly AdmissionNode[];
  /**
   * Waiting requests allowed per Ready node serving a model (a model with none counts one);
   * Infinity: unbounded.
   */
  readonly maxPendingPerNode: number;
}

export type ShedReason = typeof REQUEST_REASON.queueFull | typeof REQUEST_REASON.overloaded;

export interface Shed {
  readonly key: string;
  readonly reason: ShedReason;
  readonly message: string;
}

/** Which waiting requests to fail now, and why. Pure. */
export function decideAdmission(input: AdmissionInput): Shed[] {
  const shed: Shed[] = [];
  /** Requests kept so far per model: the queue ahead of the next one. */
  const ahead = new Map<string, number>();
  for (const r of input.waiting) {
    const nodes = input.nodes.filter(
      (n) =>
        n.models.has(r.model) && (r.allowedNodes === undefined || r.allowedNodes.includes(n.name)),
    );
    const queued = ahead.get(r.model) ?? 0;
    if (queued >= queueBound(input.maxPendingPerNode, nodes.length)) {
      shed.push({
        key: r.key,
        reason: REQUEST_REASON.queueFull,
        message: queueFullMessage(queued, r.model, nodes.length, input.maxPendingPerNode),
      });
      continue;
    }
    const start = estimatedStartSeconds(queued, nodes);
    if (start !== undefined && start >= r.remainingBudgetSeconds) {
      shed.push({
        key: r.key,
        reason: REQUEST_REASON.overloaded,
        message: `${queued} requests for model "${r.model}" wait ahead of it on ${nodes.length} node(s); by the predicted batch times it would start in ${start.toFixed(1)}s at the earliest, after the ${r.remainingBudgetSeconds.toFixed(1)}s left of its latency budget; retry later or with a longer spec.latencyBudget`,
      });
      continue;
    }
    ahead.set(r.model, queued + 1);
  }
  return shed;
}

/**
 * Requests of one model that may wait: maxPendingPerNode per Ready node serving it, and as many
 * as one node's when none does (the queue stays bounded while its agents are down).
 */
export function queueBound(maxPendingPerNode: number, readyNodes: number): number {
  return maxPendingPerNode * Math.max(1, readyNodes);
}

function queueFullMessage(
  queued: number,
  model: string,
  readyNodes: number,
  maxPendingPerNode: number,
): string {
  const where =
    readyNodes === 0
      ? `while no Ready node serves it, at most ${maxPendingPerNode} (as for one node`
      : `for its ${readyNodes} node(s), at most ${maxPendingPerNode} per node (`;
  return `${queued} requests for model "${model}" already wait ${where}, --max-pending-per-node); retry later`;
}

/**
 * The earliest a request with `queued` requests ahead starts: the ones ahead leave in waves of
 * full batches across the nodes (the sum of their caps per wave, each wave as long as the fastest
 * node's predicted batch), after the earliest batch in flight ends. Undefined when there is no
 * node or a node has no predicted batch time.
 */
export function estimatedStartSeconds(
  queued: number,
  nodes: readonly AdmissionNode[],
): number | undefined {
  if (nodes.length === 0) return undefined;
  let perWave = 0;
  let waveSeconds = Infinity;
  let firstFree = Infinity;
  for (const n of nodes) {
    if (n.batchSeconds === undefined) return undefined;
    perWave += Math.max(1, n.batchCap);
    waveSeconds = Math.min(waveSeconds, n.batchSeconds);
    firstFree = Math.min(firstFree, Math.max(0, n.freeInSeconds));
  }
  return firstFree + Math.floor(queued / perWave) * waveSeconds;
}
