// The CRDs in crds/ on a real kube-apiserver (the harness installs them at start): what users
// rely on when they `kubectl apply` an EdgeNode or InferenceRequest — defaults, rejection of bad
// objects with a message that says what to fix, immutability, the status subresource and the
// columns `kubectl get` prints.
import { beforeAll, describe, expect, it } from '@jest/globals';
import * as k8s from '@kubernetes/client-node';
import { EdgeNodeResource, InferenceRequestResource } from '../../src/operator/api/constants.js';
import type { EdgeNode, EdgeNodeSpec } from '../../src/gen/crds/edgenode.js';
import type {
  InferenceRequest,
  InferenceRequestSpec,
} from '../../src/gen/crds/inferencerequest.js';
import { connectControlPlane, serverMessage, type Cluster } from '../harness/cluster.js';
import { REGISTRY_MODEL } from '../../src/runtime/models/catalog.js';
import { serverTable } from '../support/server-table.js';

let cluster: Cluster;
let custom: k8s.CustomObjectsApi;
let ns: string;
let serial = 0;

beforeAll(async () => {
  cluster = connectControlPlane();
  custom = cluster.api(k8s.CustomObjectsApi);
  ns = await cluster.newNamespace('crds');
});

function uniqueName(prefix: string): string {
  serial += 1;
  return `${prefix}-${serial}`;
}

const validNodeSpec: EdgeNodeSpec = {
  agent: { endpoint: '10.0.0.7:50051', tlsSecretRef: { name: 'agent-tls', namespace: 'edgellm' } },
  resources: {
    memoryBytes: 8 * 1024 ** 3,
    computeFlops: 2e12,
    uplinkBandwidthHz: 20e6,
    downlinkBandwidthHz: 20e6,
  },
  models: [
    {
      name: 'smollm2-135m',
      quantization: 'Q4_1',
      ...REGISTRY_MODEL.shape,
      perplexity: 17.3,
    },
  ],
};

const validRequestSpec: InferenceRequestSpec = {
  model: 'smollm2-135m',
  prompt: 'Name three uses of edge inference.',
  maxTokens: 64,
  latencyBudget: '30s',
};

function edgeNode(spec: unknown, name = uniqueName('node')): EdgeNode {
  return {
    apiVersion: EdgeNodeResource.apiVersion,
    kind: EdgeNodeResource.kind,
    metadata: { name },
    spec: spec as EdgeNodeSpec,
  };
}

function inferenceRequest(spec: unknown, name = uniqueName('req')): InferenceRequest {
  return {
    apiVersion: InferenceRequestResource.apiVersion,
    kind: InferenceRequestResource.kind,
    metadata: { name, namespace: ns },
    spec: spec as InferenceRequestSpec,
  };
}

async function createNode(node: EdgeNode): Promise<EdgeNode> {
  return (await custom.createClusterCustomObject({
    group: EdgeNodeResource.group,
    version: EdgeNodeResource.version,
    plural: EdgeNodeResource.plural,
    body: node,
  })) as EdgeNode;
}

async function createRequest(request: InferenceRequest): Promise<InferenceRequest> {
  return (await custom.createNamespacedCustomObject({
    group: InferenceRequestResource.group,
    version: InferenceRequestResource.version,
    plural: InferenceRequestResource.plural,
    namespace: ns,
    body: request,
  })) as InferenceRequest;
}

/** The API server's message for a rejected promise (fails the test when it resolves). */
async function rejectionMessage(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (error) {
    return serverMessage(error);
  }
  throw new Error('expected the API server to reject the object, but it was accepted');
}

/** Deep-merges `patch` into a copy of `base` (objects merge, everything else replaces). */
function merged(base: unknown, patch: unknown): unknown {
  if (typeof base !== 'object' || base === null || Array.isArray(base)) return patch;
  if (typeof patch !== 'object' || patch === null || Array.isArray(patch)) return patch;
  const out: Record<string, unknown> = { ...(base as Record<string, unknown>) };
  for (const [key, value] of Object.entries(patch)) {
    out[key] = value === undefined ? undefined : merged(out[key], value);
    if (value === undefined) Reflect.deleteProperty(out, key);
  }
  return out;
}

describe('EdgeNode', () => {
  it('accepts a valid node and fills in the documented defaults', async () => {
    const created = await createNode(edgeNode(validNodeSpec));
    expect(created.spec.scheduling).toEqual({
      policy: 'sweep',
      maxBatchSize: 16,
      roundIntervalSeconds: 1,
      solverBudgetMilliseconds: 50,
      compute: 'auto',
      padding: 'static',
      communication: 'linear',
    });
    expect(created.spec.resources.utilization).toBe(0.5);
    expect(created.spec.agent.insecure).toBe(false);
    expect(created.spec.agent.port).toBe(50051);
    expect(created.spec.models?.[0]).toMatchObject({ kvBits: 16, computeFactor: 1 });
  });

  const model = validNodeSpec.models?.[0];
  const badNodes: [string, unknown, string][] = [
    [
      'both endpoint and nodeName',
      { agent: { nodeName: 'worker-1' } },
      'set exactly one of spec.agent.endpoint (host:port) and spec.agent.nodeName',
    ],
    [
      'no TLS secret without insecure',
      { agent: { tlsSecretRef: undefined } },
      'spec.agent.tlsSecretRef is required',
    ],
    ['an endpoint without a port', { agent: { endpoint: 'agent.local' } }, 'spec.agent.endpoint'],
    ['too little memory', { resources: { memoryBytes: 1024 } }, 'spec.resources.memoryBytes'],
    ['zero compute', { resources: { computeFlops: 0 } }, 'spec.resources.computeFlops'],
    ['no models', { models: [] }, 'spec.models'],
    ['an unknown policy', { scheduling: { policy: 'magic' } }, 'Unsupported value: "magic"'],
    [
      'roofline without memory bandwidth',
      { scheduling: { compute: 'roofline' } },
      'spec.scheduling.compute roofline needs spec.resources.memoryBandwidthBytesPerSecond',
    ],
    [
      'two variants with one agent model',
      { models: [model, { ...model, quantization: 'Q8_0' }] },
      'each model variant needs its own agentModel',
    ],
    [
      'a KV width above the hidden size',
      { models: [{ ...model, kvWidth: 4096 }] },
      'kvWidth (n_kv_heads * head_dim) cannot exceed hiddenSize',
    ],
    ['a batch size of 0', { scheduling: { maxBatchSize: 0 } }, 'spec.scheduling.maxBatchSize'],
    [
      'a negative urgency horizon',
      { scheduling: { urgencyHorizon: -1 } },
      'spec.scheduling.urgencyHorizon',
    ],
  ];
  it.each(badNodes)('rejects %s with a message naming the fix', async (_what, patch, message) => {
    const node = edgeNode(merged(validNodeSpec, patch));
    expect(await rejectionMessage(createNode(node))).toContain(message);
  });

  it('accepts an urgency horizon and policy random, and keeps them as given', async () => {
    const created = await createNode(
      edgeNode(merged(validNodeSpec, { scheduling: { policy: 'random', urgencyHorizon: 1.5 } })),
    );
    expect(created.spec.scheduling).toMatchObject({ policy: 'random', urgencyHorizon: 1.5 });
  });

  it('accepts an urgency horizon of 0 (off: the paper objective)', async () => {
    const created = await createNode(
      edgeNode(merged(validNodeSpec, { scheduling: { urgencyHorizon: 0 } })),
    );
    expect(created.spec.scheduling).toMatchObject({ urgencyHorizon: 0 });
  });

  it('accepts two quantizations of one model with their own agent models', async () => {
    const spec = {
      ...validNodeSpec,
      models: [
        { ...model, agentModel: 'smollm2-q4' },
        { ...model, quantization: 'Q8_0', agentModel: 'smollm2-q8', weightBits: 8.5 },
      ],
    };
    const created = await createNode(edgeNode(spec));
    expect((created.spec.models ?? []).map((m) => m.agentModel)).toEqual([
      'smollm2-q4',
      'smollm2-q8',
    ]);
  });
});

describe('InferenceRequest', () => {
  it('accepts a valid request and fills in the documented defaults', async () => {
    const created = await createRequest(inferenceRequest(validRequestSpec));
    expect(created.spec.split).toBe('server-only');
    expect(created.spec.accuracy).toEqual({ maxPerplexityIncrease: 0 });
    expect(created.spec.promptFormat).toBe('text');
  });

  const badRequests: [string, unknown, string][] = [
    [
      'both prompt and promptFrom',
      { promptFrom: { configMapKeyRef: { name: 'p', key: 'k' } } },
      'set exactly one of spec.prompt and spec.promptFrom',
    ],
    [
      'no prompt at all',
      { prompt: undefined },
      'set exactly one of spec.prompt and spec.promptFrom',
    ],
    [
      'a prompt over 16 KiB',
      { prompt: 'x'.repeat(16_385) },
      'spec.prompt: Too long: may not be more than 16384',
    ],
    [
      'promptFrom naming both a ConfigMap and a Secret',
      {
        prompt: undefined,
        promptFrom: {
          configMapKeyRef: { name: 'p', key: 'k' },
          secretKeyRef: { name: 's', key: 'k' },
        },
      },
      'set exactly one of spec.promptFrom.configMapKeyRef and spec.promptFrom.secretKeyRef',
    ],
    [
      'an unknown prompt format',
      { promptFormat: 'instruct' },
      'spec.promptFormat: Unsupported value: "instruct": supported values: "text", "chat"',
    ],
    ['maxTokens 0', { maxTokens: 0 }, 'spec.maxTokens'],
    ['maxTokens above 8192', { maxTokens: 9000 }, 'spec.maxTokens'],
    ['a latency budget that is not a duration', { latencyBudget: 'fast' }, 'spec.latencyBudget'],
    [
      'a latency budget over 24h',
      { latencyBudget: '25h' },
      'spec.latencyBudget must be more than 0s and at most 24h',
    ],
    [
      'a zero latency budget',
      { latencyBudget: '0s' },
      'spec.latencyBudget must be more than 0s and at most 24h',
    ],
    [
      'split auto without the client profile',
      { split: 'auto', client: { uplinkSpectralEfficiency: 5 } },
      'split: auto plans layers on the client, so it needs spec.client.computeFlops',
    ],
    ['a temperature above 2', { sampling: { temperature: 3 } }, 'spec.sampling.temperature'],
    [
      'a negative accuracy bound',
      { accuracy: { maxPerplexityIncrease: -1 } },
      'maxPerplexityIncrease',
    ],
    [
      'a node selector with 17 labels',
      { nodeSelector: Object.fromEntries(Array.from({ length: 17 }, (_, i) => [`k${i}`, 'v'])) },
      'spec.nodeSelector',
    ],
    ['no model', { model: undefined }, 'spec.model: Required value'],
  ];
  it.each(badRequests)(
    'rejects %s with a message naming the fix',
    async (_what, patch, message) => {
      const request = inferenceRequest(merged(validRequestSpec, patch));
      expect(await rejectionMessage(createRequest(request))).toContain(message);
    },
  );

  it('accepts split auto with the client profile, and promptFrom alone', async () => {
    await createRequest(
      inferenceRequest({
        ...validRequestSpec,
        split: 'auto',
        client: { computeFlops: 5e10, uplinkBytesPerSecond: 1e6, downlinkBytesPerSecond: 4e6 },
      }),
    );
    const withoutPrompt: Partial<InferenceRequestSpec> = { ...validRequestSpec };
    delete withoutPrompt.prompt;
    await createRequest(
      inferenceRequest({
        ...(withoutPrompt as InferenceRequestSpec),
        promptFrom: { secretKeyRef: { name: 'p', key: 'k' } },
      }),
    );
  });

  it('keeps the spec immutable except ttlSecondsAfterFinished', async () => {
    const name = uniqueName('immutable');
    await createRequest(inferenceRequest(validRequestSpec, name));
    const target = {
      group: InferenceRequestResource.group,
      version: InferenceRequestResource.version,
      plural: InferenceRequestResource.plural,
      namespace: ns,
      name,
    };
    const patch = async (spec: Record<string, unknown>): Promise<InferenceRequest> =>
      (await custom.patchNamespacedCustomObject(
        { ...target, body: { spec } },
        k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch),
      )) as InferenceRequest;

    expect(await rejectionMessage(patch({ model: 'other-model' }))).toContain(
      'spec.model is immutable',
    );
    expect(await rejectionMessage(patch({ maxTokens: 10 }))).toContain(
      'spec.maxTokens is immutable',
    );
    expect(await rejectionMessage(patch({ promptFormat: 'chat' }))).toContain(
      'spec.promptFormat is immutable',
    );
    expect(await rejectionMessage(patch({ sampling: { temperature: 1 } }))).toContain(
      'spec fields cannot be added or removed after creation',
    );
    const updated = await patch({ ttlSecondsAfterFinished: 60 });
    expect(updated.spec.ttlSecondsAfterFinished).toBe(60);
  });

  it('writes status only through the status subresource', async () => {
    const name = uniqueName('status');
    await createRequest(inferenceRequest(validRequestSpec, name));
    const target = {
      group: InferenceRequestResource.group,
      version: InferenceRequestResource.version,
      plural: InferenceRequestResource.plural,
      namespace: ns,
      name,
    };
    const mergePatch = k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch);
    // Through the main resource the status is ignored...
    const ignored = (await custom.patchNamespacedCustomObject(
      { ...target, body: { status: { phase: 'Running' } } },
      mergePatch,
    )) as InferenceRequest;
    expect(ignored.status?.phase).toBeUndefined();
    // ...through /status it is written (and validated: an unknown phase is refused).
    const written = (await custom.patchNamespacedCustomObjectStatus(
      { ...target, body: { status: { phase: 'Pending', reason: 'Waiting' } } },
      mergePatch,
    )) as InferenceRequest;
    expect(written.status).toMatchObject({ phase: 'Pending', reason: 'Waiting' });
    expect(
      await rejectionMessage(
        custom.patchNamespacedCustomObjectStatus(
          { ...target, body: { status: { phase: 'Done' } } },
          mergePatch,
        ),
      ),
    ).toContain('status.phase: Unsupported value: "Done"');
  });

  it('gives kubectl get its columns (server-side Table) and answers to the short name', async () => {
    const name = uniqueName('table');
    await createRequest(inferenceRequest(validRequestSpec, name));
    const table = await serverTable(
      cluster.kubeConfig(),
      `/apis/edgellm.io/v1alpha1/namespaces/${ns}/inferencerequests/${name}`,
    );
    expect(table.columnDefinitions.map((c) => c.name)).toEqual([
      'Name',
      'Model',
      'Phase',
      'Node',
      'Latency',
      'Run',
      'Predicted Run',
      'Reason',
      'Batch',
      'Age',
    ]);
    expect(table.rows[0]?.cells.slice(0, 2)).toEqual([name, 'smollm2-135m']);

    const resources = await cluster
      .api(k8s.CustomObjectsApi)
      .getAPIResources({ group: 'edgellm.io', version: 'v1alpha1' });
    const shortNames = Object.fromEntries(
      resources.resources.map((r) => [r.name, r.shortNames ?? []]),
    );
    expect(shortNames).toMatchObject({ edgenodes: ['en'], inferencerequests: ['ir'] });
  });
});
