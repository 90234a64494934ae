// LLM pods as data (src/operator/models/llm-pods.ts): one pod per EdgeNode and variant set, pinned
// to the node, one fetch init container per variant with the source and checksum, the agent
// serving the cached files; the newest Ready pod serves; fetch failures read from termination
// messages.
import { describe, expect, it } from '@jest/globals';
import type * as k8s from '@kubernetes/client-node';
import {
  agentModelName,
  buildLlmPod,
  buildShapeProbePod,
  fetchFailuresOf,
  fetchSecondsOf,
  LLM_POD,
  llmPodName,
  podVariantsOf,
  servingPod,
  type LlmPodInput,
  type PodVariant,
} from '../../../../src/operator/models/llm-pods.js';

const SHA = 'b'.repeat(64);
const template: k8s.V1Pod = {
  metadata: { labels: { team: 'edge' } },
  spec: {
    containers: [
      {
        name: 'agent',
        image: 'registry.local/edgellm-agent:1',
        args: ['--config=/etc/edgellm/agent/agent.yaml'],
        volumeMounts: [{ name: 'tmp', mountPath: '/tmp' }],
        securityContext: { runAsNonRoot: true, readOnlyRootFilesystem: true },
      },
    ],
    volumes: [
      { name: 'tmp', emptyDir: {} },
      {
        name: 'model-cache',
        hostPath: { path: '/var/cache/edgellm/models', type: 'DirectoryOrCreate' },
      },
    ],
  },
};
const variant = (quantization: string, source = 'http://10.0.0.1:8000/m.gguf'): PodVariant => ({
  model: 'smollm2',
  quantization,
  agentModel: agentModelName('smollm2', quantization),
  source,
  sha256: SHA,
});
const input = (variants: PodVariant[]): LlmPodInput => ({
  template,
  namespace: 'edgellm',
  edgeNode: { name: 'edge-a', uid: 'uid-1' },
  kubeNode: 'node-1',
  variants,
  maxCacheBytes: 1e9,
  insecureRegistries: ['10.0.0.1:5000'],
  contextTokens: 4096,
  maxSequences: 8,
});

describe('buildLlmPod', () => {
  it('pins the pod to the node, fetches each variant in an init container and serves the cached files', () => {
    const pod = buildLlmPod(
      input([variant('Q4_1'), variant('Q8_0', 'pvc://edgellm/store/q8.gguf')]),
    );
    expect(pod.spec?.nodeName).toBeUndefined(); // the scheduler binds it, counting resources
    expect(
      pod.spec?.affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution,
    ).toEqual({
      nodeSelectorTerms: [
        { matchFields: [{ key: 'metadata.name', operator: 'In', values: ['node-1'] }] },
      ],
    });
    expect(pod.metadata?.labels).toMatchObject({
      team: 'edge',
      'app.kubernetes.io/component': 'llm',
      [LLM_POD.edgeNodeLabel]: 'edge-a',
    });
    expect(pod.metadata?.ownerReferences).toEqual([
      expect.objectContaining({ kind: 'EdgeNode', name: 'edge-a', uid: 'uid-1', controller: true }),
    ]);
    const [q4, q8] = pod.spec?.initContainers ?? [];
    expect(q4?.command).toEqual([...LLM_POD.fetchCommand]);
    expect(q4?.args).toEqual([
      '--source=http://10.0.0.1:8000/m.gguf',
      `--sha256=${SHA}`,
      `--cache-dir=${LLM_POD.cacheMountPath}`,
      '--max-cache-bytes=1000000000',
      '--insecure-registry=10.0.0.1:5000',
    ]);
    expect(q4?.image).toBe('registry.local/edgellm-agent:1');
    expect(q4?.securityContext).toEqual(template.spec?.containers[0]?.securityContext);
    // A PVC source mounts its claim read-only in its fetch container only.
    expect(q8?.args).toContain(`--pvc-mount=${LLM_POD.pvcMountRoot}/1`);
    expect(pod.spec?.volumes).toContainEqual({
      name: 'source-1',
      persistentVolumeClaim: { claimName: 'store', readOnly: true },
    });
    const agent = pod.spec?.containers[0];
    expect(agent?.args).toEqual([
      '--config=/etc/edgellm/agent/agent.yaml',
      `--model=name=smollm2-q4-1,quantization=Q4_1,path=${LLM_POD.cacheMountPath}/${SHA}.gguf,contextTokens=4096,maxSequences=8`,
      `--model=name=smollm2-q8-0,quantization=Q8_0,path=${LLM_POD.cacheMountPath}/${SHA}.gguf,contextTokens=4096,maxSequences=8`,
    ]);
    expect(agent?.volumeMounts).toContainEqual({
      name: 'model-cache',
      mountPath: LLM_POD.cacheMountPath,
      readOnly: true,
    });
    expect(podVariantsOf(pod).map((v) => v.quantization)).toEqual(['Q4_1', 'Q8_0']);
  });

  it('names the pod by its variant set: the same set keeps its name, another gets a new one', () => {
    expect(llmPodName(input([variant('Q4_1')]))).toBe(llmPodName(input([variant('Q4_1')])));
    expect(llmPodName(input([variant('Q4_1')]))).not.toBe(llmPodName(input([variant('Q8_0')])));
    expect(llmPodName(input([variant('Q4_1')]))).toMatch(/^edgellm-llm-edge-a-[0-9a-f]{10}$/);
  });

  it('refuses a template without the agent container or the cache volume', () => {
    expect(() =>
      buildLlmPod({ ...input([variant('Q4_1')]), template: { spec: { containers: [] } } }),
    ).toThrow(/no container named agent/);
    expect(() =>
      buildLlmPod({
        ...input([variant('Q4_1')]),
        template: { spec: { containers: template.spec?.containers ?? [] } },
      }),
    ).toThrow(/no volume named model-cache/);
  });
});

/** A copy of `pod` with `meta` merged into its metadata and `status` set. */
function withStatus(
  pod: k8s.V1Pod,
  meta: Partial<k8s.V1ObjectMeta>,
  status: k8s.V1PodStatus | undefined = pod.status,
): k8s.V1Pod {
  return Object.assign({}, pod, { metadata: Object.assign({}, pod.metadata, meta), status });
}
const ready: k8s.V1PodStatus = {
  phase: 'Running',
  podIP: '10.1.0.5',
  conditions: [{ type: 'Ready', status: 'True' }],
};

describe('buildShapeProbePod', () => {
  it('mounts the claim in a pod of its own that reports the header once and is never restarted', () => {
    const pod = buildShapeProbePod({
      template,
      namespace: 'edgellm',
      source: 'pvc://edgellm/store/q8.gguf',
      sha256: SHA,
    });
    expect(pod.metadata?.labels?.['app.kubernetes.io/component']).toBe('shape-probe');
    expect(pod.spec?.restartPolicy).toBe('Never');
    expect(pod.spec?.affinity).toBeUndefined(); // any node that can mount the claim
    const [probe] = pod.spec?.containers ?? [];
    expect(probe?.args).toEqual([
      '--source=pvc://edgellm/store/q8.gguf',
      `--sha256=${SHA}`,
      '--header-only',
      `--pvc-mount=${LLM_POD.pvcMountRoot}/0`,
    ]);
    expect(pod.spec?.volumes).toEqual([
      { name: 'tmp', emptyDir: {} },
      { name: 'source-0', persistentVolumeClaim: { claimName: 'store', readOnly: true } },
    ]);
  });
});

describe('servingPod', () => {
  it('is the newest Ready pod of the EdgeNode; a newer pod that is not Ready does not serve yet', () => {
    const old = withStatus(
      buildLlmPod(input([variant('Q4_1')])),
      { creationTimestamp: new Date('2026-01-01T00:00:00Z') },
      ready,
    );
    const starting = withStatus(
      buildLlmPod(input([variant('Q8_0')])),
      { creationTimestamp: new Date('2026-01-01T00:01:00Z') },
      {
        phase: 'Pending',
      },
    );
    expect(servingPod('edge-a', [old, starting])?.metadata?.name).toBe(old.metadata?.name);
    const newer = withStatus(starting, {}, ready);
    expect(servingPod('edge-a', [old, newer])?.metadata?.name).toBe(newer.metadata?.name);
    expect(servingPod('edge-b', [old, newer])).toBeUndefined();
    const deleting = withStatus(newer, { deletionTimestamp: new Date() });
    expect(servingPod('edge-a', [old, deleting])?.metadata?.name).toBe(old.metadata?.name);
  });
});

describe('fetch reports', () => {
  const pod = buildLlmPod(
    input([variant('Q4_1'), variant('Q8_0', 'http://10.0.0.1:8000/q8.gguf')]),
  );
  it('reads a failed fetch from its termination message, and fetch times from successful ones', () => {
    const status: k8s.V1PodStatus = {
      phase: 'Pending',
      initContainerStatuses: [
        {
          name: 'fetch-0',
          ready: false,
          restartCount: 0,
          image: 'x',
          imageID: 'x',
          state: {
            terminated: { exitCode: 0, message: '{"ok":true,"seconds":1.5,"downloaded":true}' },
          },
        },
        {
          name: 'fetch-1',
          ready: false,
          restartCount: 2,
          image: 'x',
          imageID: 'x',
          state: { waiting: { reason: 'CrashLoopBackOff' } },
          lastState: {
            terminated: {
              exitCode: 1,
              message: '{"ok":false,"reason":"ChecksumMismatch","message":"q8.gguf has sha256 c…"}',
            },
          },
        },
      ],
    };
    const failing = withStatus(pod, {}, status);
    expect(fetchFailuresOf(failing)).toEqual([
      {
        source: 'http://10.0.0.1:8000/q8.gguf',
        reason: 'ChecksumMismatch',
        message: 'q8.gguf has sha256 c…',
      },
    ]);
    expect(fetchSecondsOf(failing)).toEqual([{ sha256: SHA, seconds: 1.5, downloaded: true }]);
  });
});
