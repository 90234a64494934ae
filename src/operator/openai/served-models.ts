// The models the endpoint offers: those some EdgeNode serves now (a variant its agent reports
// loaded, or, before the agent has reported, one its spec names), sorted.
import type { EdgeNode } from '../../gen/crds/edgenode.js';

export function servedModels(nodes: readonly EdgeNode[]): string[] {
  const names = new Set<string>();
  for (const node of nodes) {
    const loaded = node.status?.models;
    for (const m of node.spec.models ?? []) {
      const agentModel = m.agentModel ?? m.name;
      if (
        loaded === undefined ||
        loaded.some((s) => s.agentModel === agentModel && s.loaded === true)
      )
        names.add(m.name);
    }
  }
  return [...names].sort();
}
