// The most demand a placement can serve: a maximum flow from demand classes (each supplying its
// share of the work) through the nodes that host a variant able to serve it, to the nodes'
// compute capacity. Edmonds-Karp (shortest augmenting paths) over edge lists; each augmentation
// empties its bottleneck edge exactly (x - x = 0 in floating point), so it terminates.

/**
 * supply[c]: work class c brings; capacity[n]: work node n can do; serves[n]: the classes node n
 * can serve (edges of unbounded capacity). Returns the flow value.
 */
export function maxServedFlow(
  supply: readonly number[],
  capacity: readonly number[],
  serves: readonly (readonly number[])[],
): number {
  const classes = supply.length;
  // Vertices: 0 source, 1..C classes, C+1..C+N nodes, C+N+1 sink.
  const sink = classes + capacity.length + 1;
  const size = sink + 1;
  // Edges in pairs (forward at even index, its reverse at the next).
  const to: number[] = [];
  const residual: number[] = [];
  const adjacency: number[][] = Array.from({ length: size }, () => []);
  const edge = (u: number, v: number, cap: number): void => {
    adjacency[u]?.push(to.length);
    to.push(v);
    residual.push(cap);
    adjacency[v]?.push(to.length);
    to.push(u);
    residual.push(0);
  };
  supply.forEach((s, c) => {
    if (s > 0) edge(0, 1 + c, s);
  });
  serves.forEach((list, n) => {
    if ((capacity[n] ?? 0) <= 0) return;
    for (const c of list) if ((supply[c] ?? 0) > 0) edge(1 + c, 1 + classes + n, Infinity);
    edge(1 + classes + n, sink, capacity[n] ?? 0);
  });

  let flow = 0;
  const via = new Int32Array(size);
  const queue = new Int32Array(size);
  for (;;) {
    via.fill(-1);
    let head = 0;
    let tail = 0;
    queue[tail++] = 0;
    while (head < tail && via[sink] === -1) {
      const u = queue[head++] ?? 0;
      for (const e of adjacency[u] ?? []) {
        const v = to[e] ?? 0;
        if (v !== 0 && via[v] === -1 && (residual[e] ?? 0) > 0) {
          via[v] = e;
          queue[tail++] = v;
        }
      }
    }
    if (via[sink] === -1) return flow;
    let bottleneck = Infinity;
    for (let v = sink; v !== 0; v = to[(via[v] ?? 0) ^ 1] ?? 0) {
      bottleneck = Math.min(bottleneck, residual[via[v] ?? 0] ?? 0);
    }
    for (let v = sink; v !== 0; v = to[(via[v] ?? 0) ^ 1] ?? 0) {
      const e = via[v] ?? 0;
      residual[e] = (residual[e] ?? 0) - bottleneck;
      residual[e ^ 1] = (residual[e ^ 1] ?? 0) + bottleneck;
    }
    flow += bottleneck;
  }
}
