// An EdgeNode made from a labelled Kubernetes Node, so a user writes less: the agent is found on the
// Node (spec.agent.nodeName), memory and compute come from the Node's allocatable resources, radio
// bandwidth and any override from annotations, and spec.models is left out, so the operator places
// Model variants on it (docs/models.md). Pure.
import type * as k8s from '@kubernetes/client-node';
import type { EdgeNodeSpec } from '../../gen/crds/edgenode.js';

/** Annotations on a Node that set what its allocatable resources cannot say. */
export const NODE_ANNOTATION = {
  /** FLOP/s of the node's accelerator or CPUs (default: allocatable CPUs x flopsPerCpu). */
  computeFlops: 'edgellm.io/compute-flops',
  /** Bytes for models (default: allocatable memory). */
  memoryBytes: 'edgellm.io/memory-bytes',
  uplinkBandwidthHz: 'edgellm.io/uplink-bandwidth-hz',
  downlinkBandwidthHz: 'edgellm.io/downlink-bandwidth-hz',
} as const;

/** The label on EdgeNodes made from Nodes: the operator updates and deletes only these. */
export const FROM_NODE_LABEL = 'edgellm.io/from-node';

export const FROM_NODE_DEFAULTS = {
  /** FLOP/s per allocatable CPU when the Node has no compute annotation (a modest CPU core). */
  flopsPerCpu: 5e10,
  /** Radio bandwidth when the Node has no bandwidth annotation (the simulator's 20 MHz). */
  bandwidthHz: 20e6,
} as const;

/** How the made EdgeNodes reach their agents: the operator's client TLS Secret, or plain text. */
export type FromNodeAgent =
  | { readonly tlsSecretRef: { readonly name: string; readonly namespace: string } }
  | { readonly insecure: true };

const SUFFIX: Readonly<Record<string, number>> = {
  '': 1,
  k: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  P: 1e15,
  Ki: 2 ** 10,
  Mi: 2 ** 20,
  Gi: 2 ** 30,
  Ti: 2 ** 40,
  Pi: 2 ** 50,
  m: 1e-3,
};

/** A Kubernetes quantity (`8Gi`, `1500m`, `2`, `1e9`) as a number, or undefined. */
export function parseQuantity(text: string | undefined): number | undefined {
  const m = /^([0-9]+(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?)(Ki|Mi|Gi|Ti|Pi|k|M|G|T|P|m)?$/.exec(
    text ?? '',
  );
  if (!m) return undefined;
  const value = Number(m[1]) * (SUFFIX[m[2] ?? ''] ?? Number.NaN);
  return Number.isFinite(value) && value > 0 ? value : undefined;
}

/** The EdgeNode spec of `node`, or what to fix on the Node. */
export function edgeNodeSpecFromNode(
  node: k8s.V1Node,
  agent: FromNodeAgent,
): { readonly spec: EdgeNodeSpec } | { readonly problem: string } {
  const name = node.metadata?.name ?? '';
  const annotations = node.metadata?.annotations ?? {};
  const number = (key: string, fallback: number | undefined): number | string => {
    const text = annotations[key];
    if (text === undefined)
      return fallback ?? `Node ${name} has no ${key} annotation and no value to derive it from`;
    const value = parseQuantity(text);
    return value ?? `Node ${name} annotation ${key}=${text} is not a positive number`;
  };
  const cpus = parseQuantity(node.status?.allocatable?.['cpu']);
  const memory = number(
    NODE_ANNOTATION.memoryBytes,
    parseQuantity(node.status?.allocatable?.['memory']),
  );
  const compute = number(
    NODE_ANNOTATION.computeFlops,
    cpus === undefined ? undefined : cpus * FROM_NODE_DEFAULTS.flopsPerCpu,
  );
  const uplink = number(NODE_ANNOTATION.uplinkBandwidthHz, FROM_NODE_DEFAULTS.bandwidthHz);
  const downlink = number(NODE_ANNOTATION.downlinkBandwidthHz, FROM_NODE_DEFAULTS.bandwidthHz);
  for (const v of [memory, compute, uplink, downlink])
    if (typeof v === 'string') return { problem: v };
  return {
    spec: {
      agent: { nodeName: name, ...agent },
      resources: {
        memoryBytes: Math.floor(memory as number),
        computeFlops: compute as number,
        uplinkBandwidthHz: uplink as number,
        downlinkBandwidthHz: downlink as number,
      },
    },
  };
}
