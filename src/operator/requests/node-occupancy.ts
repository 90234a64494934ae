// Which nodes a round must leave out: those with a batch in flight (one batch per node at a
// time), and those whose agent was lost mid-batch, until their next heartbeat shows the agent
// answering again.
import type { EdgeNode } from '../../gen/crds/edgenode.js';
import type { Informer } from '../kube/informer.js';

export interface InFlightBatch {
  readonly batchId: string;
  /** Request keys (namespace/name) of its members. */
  readonly keys: readonly string[];
  /** When it was dispatched (or recovered), epoch ms. */
  readonly sinceMs: number;
  /** Its predicted latency (the cost model's), seconds; unknown for a recovered batch. */
  readonly predictedSeconds?: number;
}

export class NodeOccupancy {
  private readonly inflight = new Map<string, InFlightBatch>();
  /** Nodes whose agent was lost mid-batch, and when. */
  private readonly lost = new Map<string, number>();
  /** The predicted seconds of each node's last dispatched batch. */
  private readonly lastPredicted = new Map<string, number>();

  constructor(private readonly nodes: Informer<EdgeNode>) {}

  /** Batches in flight, by node. */
  get batches(): ReadonlyMap<string, InFlightBatch> {
    return this.inflight;
  }

  /** Keys of the requests in batches in flight. */
  inFlightKeys(): Set<string> {
    return new Set([...this.inflight.values()].flatMap((b) => b.keys));
  }

  begin(node: string, batch: InFlightBatch): void {
    this.inflight.set(node, batch);
    if (batch.predictedSeconds !== undefined) this.lastPredicted.set(node, batch.predictedSeconds);
  }

  /**
   * Per node that has run a batch: seconds until its batch in flight is predicted to end (0 when
   * idle or overdue) and its last batch's predicted seconds, for admission control.
   */
  predictedTimes(
    nowMs: number,
  ): Map<string, { freeInSeconds: number; batchSeconds: number | undefined }> {
    const out = new Map<string, { freeInSeconds: number; batchSeconds: number | undefined }>();
    for (const [node, seconds] of this.lastPredicted) {
      const batch = this.inflight.get(node);
      const endsMs =
        batch?.predictedSeconds === undefined
          ? nowMs
          : batch.sinceMs + batch.predictedSeconds * 1000;
      out.set(node, { freeInSeconds: Math.max(0, endsMs - nowMs) / 1000, batchSeconds: seconds });
    }
    return out;
  }

  end(node: string): void {
    this.inflight.delete(node);
  }

  /** The node's agent went away at `atMs`: it sits out until a later heartbeat. */
  markLost(node: string, atMs: number): void {
    this.lost.set(node, atMs);
  }

  /** Nodes a round must not use now. */
  busyNodes(): Set<string> {
    const out = new Set(this.inflight.keys());
    for (const [node, at] of this.lost) {
      const heartbeat = this.nodes.get(node)?.status?.lastHeartbeatTime;
      if (heartbeat !== undefined && new Date(heartbeat).getTime() > at) this.lost.delete(node);
      else out.add(node);
    }
    return out;
  }
}
