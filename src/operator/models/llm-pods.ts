// The LLM pods that realise a placement, as data: one pod per EdgeNode serving the variants
// placement put there, made from the operator's pod template (the chart renders it from the agent
// values: image, TLS, security context, resources). Each variant's GGUF file is fetched into the
// node-local model cache by an init container (`edgellm fetch-model`), and the agent container
// serves the cached files (`--model` flags). Pure: the controller creates and deletes what these
// functions describe.
import { createHash } from 'node:crypto';
import type * as k8s from '@kubernetes/client-node';
import { parseModelSource } from '../../model-fetch/source.js';
import { APP_NAME, COMPONENT, LABELS } from '../api/constants.js';

/** Labels and annotations on LLM pods. */
export const LLM_POD = {
  edgeNodeLabel: 'edgellm.io/edge-node',
  /** JSON list of PodVariant: what the pod serves. */
  variantsAnnotation: 'edgellm.io/variants',
  /** The template's volume that is the node-local model cache (hostPath or a local volume). */
  cacheVolume: 'model-cache',
  /** Where the cache is mounted in the fetch and agent containers. */
  cacheMountPath: '/var/cache/edgellm/models',
  /** The template's container that runs the agent. */
  agentContainer: 'agent',
  /** The command of the fetch init containers (the image's node and CLI). */
  fetchCommand: ['/usr/local/bin/node', '/app/dist/src/cli/main.js', 'fetch-model'],
  pvcMountRoot: '/var/run/edgellm/sources',
} as const;

/** One variant an LLM pod serves. */
export interface PodVariant {
  readonly model: string;
  readonly quantization: string;
  /** The model's name inside the agent (`<model>-<quantization>` in lower case). */
  readonly agentModel: string;
  readonly source: string;
  readonly sha256: string;
}

export interface LlmPodInput {
  readonly template: k8s.V1Pod;
  readonly namespace: string;
  readonly edgeNode: { readonly name: string; readonly uid: string };
  /** The Kubernetes node the pod is pinned to (EdgeNode spec.agent.nodeName). */
  readonly kubeNode: string;
  readonly variants: readonly PodVariant[];
  readonly maxCacheBytes: number;
  readonly insecureRegistries: readonly string[];
  /** Each variant's context in the agent, shared by maxSequences sequences. */
  readonly contextTokens: number;
  readonly maxSequences: number;
}

export function agentModelName(model: string, quantization: string): string {
  return `${model}-${quantization.toLowerCase().replace(/_/g, '-')}`;
}

/** The variants an LLM pod serves, from its annotation ([] when absent or unreadable). */
export function podVariantsOf(pod: k8s.V1Pod): PodVariant[] {
  const text = pod.metadata?.annotations?.[LLM_POD.variantsAnnotation];
  if (text === undefined) return [];
  try {
    const value = JSON.parse(text) as unknown;
    return Array.isArray(value) ? (value as PodVariant[]) : [];
  } catch {
    return [];
  }
}

export function isLlmPod(pod: k8s.V1Pod): boolean {
  return pod.metadata?.labels?.[LABELS.component] === COMPONENT.llm;
}

export function isPodReady(pod: k8s.V1Pod): boolean {
  return (
    pod.metadata?.deletionTimestamp === undefined &&
    pod.status?.phase === 'Running' &&
    (pod.status.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True')
  );
}

/** The LLM pods of one EdgeNode that are not being deleted, newest first. */
export function llmPodsOf(edgeNode: string, pods: readonly k8s.V1Pod[]): k8s.V1Pod[] {
  const created = (p: k8s.V1Pod): number => new Date(p.metadata?.creationTimestamp ?? 0).getTime();
  return pods
    .filter(
      (p) =>
        isLlmPod(p) &&
        p.metadata?.labels?.[LLM_POD.edgeNodeLabel] === edgeNode &&
        p.metadata.deletionTimestamp === undefined,
    )
    .sort(
      (a, b) =>
        created(b) - created(a) || (b.metadata?.name ?? '').localeCompare(a.metadata?.name ?? ''),
    );
}

/** The pod the EdgeNode's agent is reached at: its newest Ready LLM pod. */
export function servingPod(edgeNode: string, pods: readonly k8s.V1Pod[]): k8s.V1Pod | undefined {
  return llmPodsOf(edgeNode, pods).find(isPodReady);
}

/** A stable name for the pod of this EdgeNode, template and variant set. */
export function llmPodName(input: LlmPodInput): string {
  const hash = createHash('sha256')
    .update(JSON.stringify(input.template))
    .update(JSON.stringify(input.variants))
    .update(`${input.maxCacheBytes} ${input.contextTokens} ${input.maxSequences}`)
    .digest('hex')
    .slice(0, 10);
  return `edgellm-llm-${input.edgeNode.name}`.slice(0, 240) + `-${hash}`;
}

/** An `edgellm fetch-model` container for one source, and the PVC volume it mounts, if any. */
function fetchContainer(
  agent: k8s.V1Container,
  name: string,
  source: { readonly source: string; readonly sha256: string },
  index: number,
  mode: { readonly cacheBytes: number } | 'header-only',
  insecureRegistries: readonly string[],
): { container: k8s.V1Container; volume?: k8s.V1Volume } {
  const mounts: k8s.V1VolumeMount[] =
    mode === 'header-only'
      ? []
      : [{ name: LLM_POD.cacheVolume, mountPath: LLM_POD.cacheMountPath }];
  const args = [
    `--source=${source.source}`,
    `--sha256=${source.sha256}`,
    ...(mode === 'header-only'
      ? ['--header-only']
      : [`--cache-dir=${LLM_POD.cacheMountPath}`, `--max-cache-bytes=${mode.cacheBytes}`]),
    ...insecureRegistries.map((r) => `--insecure-registry=${r}`),
  ];
  let volume: k8s.V1Volume | undefined;
  const pvc = parseModelSource(source.source);
  if (pvc.kind === 'pvc') {
    const volumeName = `source-${index}`;
    const mountPath = `${LLM_POD.pvcMountRoot}/${index}`;
    volume = { name: volumeName, persistentVolumeClaim: { claimName: pvc.claim, readOnly: true } };
    mounts.push({ name: volumeName, mountPath, readOnly: true });
    args.push(`--pvc-mount=${mountPath}`);
  }
  const container: k8s.V1Container = {
    name,
    ...(agent.image === undefined ? {} : { image: agent.image }),
    ...(agent.imagePullPolicy === undefined ? {} : { imagePullPolicy: agent.imagePullPolicy }),
    command: [...LLM_POD.fetchCommand],
    args,
    env: [{ name: 'HOME', value: '/tmp' }],
    ...(agent.securityContext === undefined ? {} : { securityContext: agent.securityContext }),
    terminationMessagePolicy: 'File',
    volumeMounts: [...mounts, ...(agent.volumeMounts ?? []).filter((m) => m.name === 'tmp')],
  };
  return { container, ...(volume === undefined ? {} : { volume }) };
}

/** The template's agent container, or an error naming what the template lacks. */
function templateAgent(template: k8s.V1Pod): { spec: k8s.V1PodSpec; agent: k8s.V1Container } {
  const spec = template.spec;
  const agent = spec?.containers.find((c) => c.name === LLM_POD.agentContainer);
  if (spec === undefined || agent === undefined) {
    throw new Error(`the LLM pod template has no container named ${LLM_POD.agentContainer}`);
  }
  return { spec, agent };
}

/**
 * A pod that reads the GGUF header of a pvc:// source where the claim can be mounted (the operator
 * cannot mount it) and reports the shape in its termination message; the scheduler picks a node.
 */
export function buildShapeProbePod(input: {
  readonly template: k8s.V1Pod;
  readonly namespace: string;
  readonly source: string;
  readonly sha256: string;
}): k8s.V1Pod {
  const { spec, agent } = templateAgent(input.template);
  const probe = fetchContainer(agent, 'probe', input, 0, 'header-only', []);
  const hash = createHash('sha256')
    .update(`${input.sha256} ${input.source}`)
    .digest('hex')
    .slice(0, 10);
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name: `edgellm-shape-probe-${hash}`,
      namespace: input.namespace,
      labels: {
        ...input.template.metadata?.labels,
        [LABELS.name]: APP_NAME,
        [LABELS.component]: COMPONENT.shapeProbe,
      },
    },
    spec: {
      ...(spec.serviceAccountName === undefined
        ? {}
        : { serviceAccountName: spec.serviceAccountName }),
      automountServiceAccountToken: false,
      ...(spec.imagePullSecrets === undefined ? {} : { imagePullSecrets: spec.imagePullSecrets }),
      ...(spec.securityContext === undefined ? {} : { securityContext: spec.securityContext }),
      ...(spec.tolerations === undefined ? {} : { tolerations: spec.tolerations }),
      restartPolicy: 'Never',
      containers: [probe.container],
      volumes: [
        ...(spec.volumes ?? []).filter((v) => v.name === 'tmp'),
        ...(probe.volume === undefined ? [] : [probe.volume]),
      ],
    },
  };
}

/** The pod that serves `input.variants` on the EdgeNode's Kubernetes node. */
export function buildLlmPod(input: LlmPodInput): k8s.V1Pod {
  const { spec, agent } = templateAgent(input.template);
  if (!(spec.volumes ?? []).some((v) => v.name === LLM_POD.cacheVolume)) {
    throw new Error(
      `the LLM pod template has no volume named ${LLM_POD.cacheVolume} (the node-local model cache)`,
    );
  }
  const fetches = input.variants.map((v, i) =>
    fetchContainer(
      agent,
      `fetch-${i}`,
      v,
      i,
      { cacheBytes: input.maxCacheBytes },
      input.insecureRegistries,
    ),
  );
  const modelFlags = input.variants.map(
    (v) =>
      `--model=name=${v.agentModel},quantization=${v.quantization},path=${LLM_POD.cacheMountPath}/${v.sha256}.gguf` +
      `,contextTokens=${input.contextTokens},maxSequences=${input.maxSequences}`,
  );
  const meta = input.template.metadata ?? {};
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name: llmPodName(input),
      namespace: input.namespace,
      labels: {
        ...meta.labels,
        [LABELS.name]: APP_NAME,
        [LABELS.component]: COMPONENT.llm,
        [LLM_POD.edgeNodeLabel]: input.edgeNode.name,
      },
      annotations: {
        ...meta.annotations,
        [LLM_POD.variantsAnnotation]: JSON.stringify(input.variants),
      },
      ownerReferences: [
        {
          apiVersion: 'edgellm.io/v1alpha1',
          kind: 'EdgeNode',
          name: input.edgeNode.name,
          uid: input.edgeNode.uid,
          controller: true,
          blockOwnerDeletion: false,
        },
      ],
    },
    spec: {
      // The template is plain data parsed from YAML; the client's V1 types merely name classes.
      // eslint-disable-next-line @typescript-eslint/no-misused-spread
      ...spec,
      // Pinned through the scheduler (as the DaemonSet controller pins its pods), not spec.nodeName:
      // the scheduler counts the node's resources and taints, and a pod that does not fit waits
      // Pending with a reason instead of being rejected by the kubelet.
      affinity: {
        // eslint-disable-next-line @typescript-eslint/no-misused-spread
        ...spec.affinity,
        nodeAffinity: {
          requiredDuringSchedulingIgnoredDuringExecution: {
            nodeSelectorTerms: [
              { matchFields: [{ key: 'metadata.name', operator: 'In', values: [input.kubeNode] }] },
            ],
          },
        },
      },
      restartPolicy: 'Always',
      initContainers: [...(spec.initContainers ?? []), ...fetches.map((f) => f.container)],
      containers: spec.containers.map((c) =>
        c === agent
          ? {
              // eslint-disable-next-line @typescript-eslint/no-misused-spread
              ...c,
              args: [...(c.args ?? []), ...modelFlags],
              volumeMounts: [
                ...(c.volumeMounts ?? []),
                { name: LLM_POD.cacheVolume, mountPath: LLM_POD.cacheMountPath, readOnly: true },
              ],
            }
          : c,
      ),
      volumes: [...(spec.volumes ?? []), ...fetches.flatMap((f) => (f.volume ? [f.volume] : []))],
    },
  };
}

/** A fetch init container's report (its termination message), when it failed. */
export interface FetchFailure {
  readonly source: string;
  readonly reason: string;
  readonly message: string;
}

/** Fetch failures the pod's init containers reported (now or in their last run). */
export function fetchFailuresOf(pod: k8s.V1Pod): FetchFailure[] {
  const variants = podVariantsOf(pod);
  const failures: FetchFailure[] = [];
  for (const status of pod.status?.initContainerStatuses ?? []) {
    const index = /^fetch-([0-9]+)$/.exec(status.name)?.[1];
    if (index === undefined) continue;
    const terminated = status.state?.terminated ?? status.lastState?.terminated;
    if (terminated === undefined) continue;
    const source = variants[Number(index)]?.source ?? status.name;
    try {
      const report = JSON.parse(terminated.message ?? '') as {
        ok?: boolean;
        reason?: string;
        message?: string;
      };
      if (report.ok === true || (report.ok === undefined && terminated.exitCode === 0)) continue;
      failures.push({
        source,
        reason: report.reason ?? 'FetchFailed',
        message: report.message ?? `exit code ${terminated.exitCode}`,
      });
    } catch {
      if (terminated.exitCode === 0) continue;
      failures.push({
        source,
        reason: 'FetchFailed',
        message: `the fetch exited with code ${terminated.exitCode}${terminated.reason ? ` (${terminated.reason})` : ''}`,
      });
    }
  }
  return failures;
}

/** Why a pod does not run, when Kubernetes says: unschedulable, or rejected/failed on the node. */
export function podProblemOf(pod: k8s.V1Pod): { reason: string; message: string } | undefined {
  const name = pod.metadata?.name ?? '';
  if (pod.status?.phase === 'Failed') {
    return {
      reason: pod.status.reason ?? 'PodFailed',
      message: `pod ${name} failed: ${pod.status.message ?? 'no message'}`,
    };
  }
  const scheduled = pod.status?.conditions?.find((c) => c.type === 'PodScheduled');
  if (scheduled?.status === 'False') {
    return {
      reason: scheduled.reason ?? 'Unschedulable',
      message: `pod ${name} cannot be scheduled on its node: ${scheduled.message ?? 'no message'}`,
    };
  }
  return undefined;
}

/** Seconds each successful fetch took, from the termination messages. */
export function fetchSecondsOf(
  pod: k8s.V1Pod,
): { sha256: string; seconds: number; downloaded: boolean }[] {
  const out: { sha256: string; seconds: number; downloaded: boolean }[] = [];
  const variants = podVariantsOf(pod);
  for (const status of pod.status?.initContainerStatuses ?? []) {
    const index = /^fetch-([0-9]+)$/.exec(status.name)?.[1];
    const terminated = status.state?.terminated;
    if (index === undefined || terminated?.exitCode !== 0) continue;
    try {
      const report = JSON.parse(terminated.message ?? '') as {
        seconds?: number;
        downloaded?: boolean;
      };
      const sha256 = variants[Number(index)]?.sha256;
      if (sha256 !== undefined && typeof report.seconds === 'number') {
        out.push({ sha256, seconds: report.seconds, downloaded: report.downloaded === true });
      }
    } catch {
      // Not a report: nothing to measure.
    }
  }
  return out;
}
