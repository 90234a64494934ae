// What end-to-end tests (test/e2e/) use: the node cluster the e2e global setup started, with the
// Cluster API of cluster.ts (a client per identity, namespaces, manifests) and what real pods
// need: wait until pods are Ready (with a diagnosis when they are not), a model volume on the
// node's disk behind a PersistentVolumeClaim, the kubeconfig files for helm.
//
//   const cluster = connectNodeCluster();
//   const ns = await cluster.newNamespace('helm');
//   await createModelClaim(cluster, ns, 'edge-edgellm-models', [registryModelPath()]);
//   const pods = await waitForPods(cluster, ns, 'app.kubernetes.io/component=agent', { count: 1 });
//   await fetch(`http://${pods[0].status.podIP}:9464/metrics`);   // pod IPs are routed to the host
import { chmodSync, copyFileSync, mkdirSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import * as k8s from '@kubernetes/client-node';
import { clusterFor, type Cluster } from './cluster.js';
import { ControlPlaneError, Identity } from './controlplane.js';
import { NODE_STATE_ENV, type NodeClusterState } from './node-cluster.js';

export { Component, NODE_LOG_DIR, restartComponent } from './node-cluster.js';

export interface NodeCluster extends Cluster {
  readonly node: NodeClusterState;
  readonly nodeName: string;
  /** The kubeconfig file of an identity (admin by default), for helm --kubeconfig. */
  kubeconfigPath(identity?: string): string;
  /** Every image reference imported into the node's containerd. */
  readonly images: readonly string[];
}

/** Connects to the node cluster of this e2e run; throws if the run did not start one. */
export function connectNodeCluster(): NodeCluster {
  const statePath = process.env[NODE_STATE_ENV];
  if (statePath === undefined || statePath === '') {
    throw new ControlPlaneError(
      `${NODE_STATE_ENV} is not set: tests that need a node must live under test/e2e/ so the jest global setup starts the node cluster (make e2e)`,
    );
  }
  const node = JSON.parse(readFileSync(statePath, 'utf8')) as NodeClusterState;
  return {
    ...clusterFor(node.controlPlane),
    node,
    nodeName: node.nodeName,
    kubeconfigPath: (identity = Identity.admin) => {
      const path = node.controlPlane.kubeconfigs[identity];
      if (path === undefined) throw new ControlPlaneError(`no kubeconfig for identity ${identity}`);
      return path;
    },
    images: Object.values(node.images).flat(),
  };
}

export const PodWaitDefaults = {
  timeoutSeconds: 300,
  pollMilliseconds: 1000,
  eventLines: 30,
} as const;

export interface PodWaitOptions {
  /** How many pods must be Ready (default 1). */
  count?: number;
  timeoutSeconds?: number;
}

function isReady(pod: k8s.V1Pod): boolean {
  return (
    pod.metadata?.deletionTimestamp === undefined &&
    pod.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') === true
  );
}

/**
 * What is wrong with the pods of a namespace, for a failed wait: each pod's phase, conditions,
 * containers' states and last termination, and the namespace's latest events.
 */
export async function describePods(
  cluster: Cluster,
  namespace: string,
  labelSelector?: string,
): Promise<string> {
  const core = cluster.api(k8s.CoreV1Api);
  const pods = await core.listNamespacedPod({
    namespace,
    ...(labelSelector ? { labelSelector } : {}),
  });
  const lines = pods.items.map((p) => {
    const containers = [
      ...(p.status?.initContainerStatuses ?? []),
      ...(p.status?.containerStatuses ?? []),
    ]
      .map((c) => {
        const state = c.state?.waiting
          ? `waiting ${c.state.waiting.reason ?? ''} ${c.state.waiting.message ?? ''}`
          : c.state?.terminated
            ? `terminated ${c.state.terminated.reason ?? ''} exit ${String(c.state.terminated.exitCode)}`
            : 'running';
        const last = c.lastState?.terminated
          ? `; last: ${c.lastState.terminated.reason ?? ''} exit ${String(c.lastState.terminated.exitCode)}`
          : '';
        return `${c.name}: ${state.trim()}, ready=${String(c.ready)}, restarts=${String(c.restartCount)}${last}`;
      })
      .join('; ');
    const conditions = (p.status?.conditions ?? [])
      .map((c) => `${c.type}=${c.status}${c.message ? ` (${c.message})` : ''}`)
      .join(', ');
    return `  ${p.metadata?.name ?? '?'} ${p.status?.phase ?? '?'} [${conditions}] ${containers}`;
  });
  const events = (await core.listNamespacedEvent({ namespace })).items
    .sort((a, b) => (a.lastTimestamp?.getTime() ?? 0) - (b.lastTimestamp?.getTime() ?? 0))
    .slice(-PodWaitDefaults.eventLines)
    .map(
      (e) =>
        `  ${e.type ?? ''} ${e.reason ?? ''} ${e.involvedObject.kind ?? ''}/${e.involvedObject.name ?? ''}: ${e.message ?? ''}`,
    );
  return `pods:\n${lines.join('\n') || '  (none)'}\nevents:\n${events.join('\n') || '  (none)'}`;
}

/**
 * Resolves the pods matching the selector once `count` of them are Ready (their readiness probes
 * pass) and none is being deleted; throws after the timeout with describePods' diagnosis.
 */
export async function waitForPods(
  cluster: Cluster,
  namespace: string,
  labelSelector: string,
  options: PodWaitOptions = {},
): Promise<k8s.V1Pod[]> {
  const count = options.count ?? 1;
  const timeoutSeconds = options.timeoutSeconds ?? PodWaitDefaults.timeoutSeconds;
  const core = cluster.api(k8s.CoreV1Api);
  const deadline = performance.now() + timeoutSeconds * 1000;
  for (;;) {
    const pods = (await core.listNamespacedPod({ namespace, labelSelector })).items;
    const live = pods.filter((p) => p.metadata?.deletionTimestamp === undefined);
    if (live.length === count && live.every(isReady)) return live;
    if (performance.now() > deadline) {
      throw new Error(
        `${String(count)} Ready pod(s) ${labelSelector} in ${namespace} not there after ${String(timeoutSeconds)}s (${String(live.filter(isReady).length)} Ready of ${String(live.length)});\n${await describePods(cluster, namespace, labelSelector)}`,
      );
    }
    await sleep(PodWaitDefaults.pollMilliseconds);
  }
}

/**
 * A read-only volume of files on the node's disk for the pods of a namespace: copies the files
 * into a folder of the node (readable by any user), makes a PersistentVolume of it (hostPath,
 * created by the admin, so pods stay admissible under Pod Security `restricted`: they name only
 * the claim) and a PersistentVolumeClaim bound to it, and waits until the claim is Bound.
 * Returns the node folder.
 */
export async function createModelClaim(
  cluster: NodeCluster,
  namespace: string,
  claimName: string,
  files: readonly string[],
): Promise<string> {
  const volume = `${namespace}-${claimName}`;
  const dir = join(cluster.node.stateDir, 'volumes', volume);
  mkdirSync(dir, { recursive: true });
  chmodSync(dir, 0o755);
  for (const file of files) {
    const target = join(dir, basename(file));
    copyFileSync(file, target);
    chmodSync(target, 0o644);
  }
  const core = cluster.api(k8s.CoreV1Api);
  await core.createPersistentVolume({
    body: {
      metadata: { name: volume, labels: { 'edgellm.io/test-volume': 'true' } },
      spec: {
        capacity: { storage: '1Gi' },
        accessModes: ['ReadOnlyMany'],
        persistentVolumeReclaimPolicy: 'Retain',
        storageClassName: '',
        hostPath: { path: dir, type: 'Directory' },
        claimRef: { namespace, name: claimName },
      },
    },
  });
  await core.createNamespacedPersistentVolumeClaim({
    namespace,
    body: {
      metadata: { name: claimName },
      spec: {
        accessModes: ['ReadOnlyMany'],
        storageClassName: '',
        volumeName: volume,
        resources: { requests: { storage: '1Gi' } },
      },
    },
  });
  const deadline = performance.now() + 60_000;
  for (;;) {
    const claim = await core.readNamespacedPersistentVolumeClaim({ name: claimName, namespace });
    if (claim.status?.phase === 'Bound') return dir;
    if (performance.now() > deadline) {
      throw new Error(
        `PersistentVolumeClaim ${namespace}/${claimName} not Bound after 60s: ${claim.status?.phase ?? '?'}`,
      );
    }
    await sleep(500);
  }
}
