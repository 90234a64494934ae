// Models on the real API server with the operator running as its chart identity: the operator
// reads each variant's shape from the GGUF header at its source (a loopback HTTP server), places
// the Model on an EdgeNode that lists no models, creates the LLM pod that serves it there (pinned
// to the EdgeNode's Kubernetes node, the file fetched by an init container with its checksum), and
// says in the Model's status what it knows; an unreachable source is a ShapeKnown=False condition
// naming the URL, and a node that names no Kubernetes node and no models is refused by the CRD.
// No kubelet runs here: the pods stay Pending (test/e2e/llm-pods.e2e.test.ts runs them).
import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import * as k8s from '@kubernetes/client-node';
import { readGgufHeader } from '../../src/gguf/header-reader.js';
import { modelShapeOf } from '../../src/gguf/model-shape.js';
import { ModelResource, type Model } from '../../src/gen/crds/model.js';
import type { EdgeNodeSpec } from '../../src/gen/crds/edgenode.js';
import { LLM_POD, podVariantsOf } from '../../src/operator/models/llm-pods.js';
import { buildTinyModel } from '../../src/runtime/gguf/tiny-model.js';
import { serverMessage } from '../harness/cluster.js';
import { ModelServer } from '../support/model-server.js';
import { OperatorEnv, unique } from '../support/operator-env.js';
import { waitFor } from '../support/wait.js';

const file = buildTinyModel({ type: 'F32', seed: 11 });
const sha = createHash('sha256').update(file).digest('hex');
const server = new ModelServer();
let env: OperatorEnv;
let core: k8s.CoreV1Api;
const models: string[] = [];

const template: k8s.V1Pod = {
  spec: {
    containers: [
      {
        name: 'agent',
        image: 'edgellm-agent:test',
        args: ['--config=/etc/edgellm/agent/agent.yaml'],
      },
    ],
    volumes: [
      {
        name: 'model-cache',
        hostPath: { path: '/var/cache/edgellm/models', type: 'DirectoryOrCreate' },
      },
    ],
  },
};

const placedNode = (kubeNode: string): EdgeNodeSpec => ({
  agent: { nodeName: kubeNode, insecure: true },
  resources: {
    memoryBytes: 4 * 1024 ** 3,
    computeFlops: 5e10,
    uplinkBandwidthHz: 20e6,
    downlinkBandwidthHz: 20e6,
  },
});

async function createModel(name: string, source: string, digest = sha): Promise<void> {
  models.push(name);
  const body: Model = {
    apiVersion: ModelResource.apiVersion,
    kind: ModelResource.kind,
    metadata: { name },
    spec: { variants: [{ quantization: 'F32', source, sha256: digest }] },
  };
  await env.custom.createClusterCustomObject({
    group: ModelResource.group,
    version: ModelResource.version,
    plural: ModelResource.plural,
    body,
  });
}

function getModel(name: string): Promise<Model> {
  return env.custom.getClusterCustomObject({
    group: ModelResource.group,
    version: ModelResource.version,
    plural: ModelResource.plural,
    name,
  }) as Promise<Model>;
}

const condition = (m: Model, type: string) => m.status?.conditions?.find((c) => c.type === type);

beforeAll(async () => {
  server.serve('/tiny.gguf', file);
  await server.start();
  env = await OperatorEnv.create('models');
  core = env.cluster.api(k8s.CoreV1Api);
  await env.startManager({
    llmPods: { template, namespace: env.ns, placementIntervalSeconds: 1, maxCacheBytes: 1e9 },
  });
}, 60_000);

afterAll(async () => {
  for (const name of models)
    await env.custom
      .deleteClusterCustomObject({
        group: ModelResource.group,
        version: ModelResource.version,
        plural: ModelResource.plural,
        name,
      })
      .catch(() => undefined);
  await env.teardown();
  await server.stop();
});

describe('the model controller', () => {
  it('reads the shape, places the Model on a node without models and creates its LLM pod', async () => {
    const node = unique('edge-placed');
    await env.createNode(node, placedNode(`${node}-k8s`));
    const name = unique('tiny');
    await createModel(name, server.url('/tiny.gguf'));
    const placed = await waitFor(
      'Model placed',
      () => getModel(name),
      (m) => condition(m, 'Placed')?.status === 'True',
      {
        timeoutMs: 30_000,
      },
    );
    const expected = modelShapeOf(readGgufHeader(file));
    expect(placed.status?.variants?.[0]?.shape).toEqual(expected);
    expect(condition(placed, 'ShapeKnown')).toMatchObject({ status: 'True', reason: 'HeaderRead' });
    expect(condition(placed, 'Placed')?.message).toContain(`F32 on ${node}`);
    // The header was read with a Range request, not a download of the file.
    expect(
      server.gets.some((g) => g.path === '/tiny.gguf' && g.headers.range?.startsWith('bytes=0-')),
    ).toBe(true);
    // No kubelet: the pod exists but is not Ready, so the Model is not Ready yet.
    expect(condition(placed, 'Ready')).toMatchObject({ status: 'False', reason: 'PodsStarting' });

    const pods = await waitFor(
      'LLM pod',
      async () =>
        (
          await core.listNamespacedPod({
            namespace: env.ns,
            labelSelector: `${LLM_POD.edgeNodeLabel}=${node}`,
          })
        ).items,
      (items) => items.length === 1,
      { timeoutMs: 30_000 },
    );
    const pod = pods[0] as k8s.V1Pod;
    expect(
      pod.spec?.affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution
        ?.nodeSelectorTerms[0]?.matchFields?.[0]?.values,
    ).toEqual([`${node}-k8s`]);
    expect(pod.metadata?.ownerReferences?.[0]).toMatchObject({ kind: 'EdgeNode', name: node });
    expect(podVariantsOf(pod)).toEqual([
      expect.objectContaining({
        model: name,
        quantization: 'F32',
        sha256: sha,
        source: server.url('/tiny.gguf'),
      }),
    ]);
    expect(pod.spec?.initContainers?.[0]?.args).toEqual(
      expect.arrayContaining([`--source=${server.url('/tiny.gguf')}`, `--sha256=${sha}`]),
    );
  });

  it('says which source it cannot reach, and places nothing for it', async () => {
    const name = unique('unreachable');
    await createModel(name, 'http://127.0.0.1:1/missing.gguf');
    const model = await waitFor(
      'ShapeKnown=False',
      () => getModel(name),
      (m) => condition(m, 'ShapeKnown')?.status === 'False',
      {
        timeoutMs: 30_000,
      },
    );
    expect(condition(model, 'ShapeKnown')).toMatchObject({ reason: 'SourceUnreachable' });
    expect(condition(model, 'ShapeKnown')?.message).toContain('http://127.0.0.1:1/missing.gguf');
    expect(model.status?.variants?.[0]?.message).toMatch(/^SourceUnreachable: /);
    expect(condition(model, 'Placed')?.status).toBe('False');
    // kubectl describe model shows why.
    const events = await waitFor(
      'the Warning event',
      async () =>
        (
          await core.listEventForAllNamespaces({
            fieldSelector: `involvedObject.kind=Model,involvedObject.name=${name}`,
          })
        ).items,
      (items) => items.some((e) => e.reason === 'SourceUnreachable' && e.type === 'Warning'),
      { timeoutMs: 20_000 },
    );
    expect(events.find((e) => e.reason === 'SourceUnreachable')?.message).toContain('ShapeKnown: ');
  });

  it('reads a pvc:// source through a probe pod that mounts the claim, and names a claim it cannot mount', async () => {
    const name = unique('from-claim');
    const source = `pvc://${env.ns}/model-store/smollm2/q4.gguf`;
    await createModel(name, source);
    // No kubelet here: the probe pod is made and waits (the e2e runs one).
    const probe = await waitFor(
      'the shape probe pod',
      async () =>
        (
          await core.listNamespacedPod({
            namespace: env.ns,
            labelSelector: 'app.kubernetes.io/component=shape-probe',
          })
        ).items,
      (items) => items.some((p) => p.spec?.containers[0]?.args?.includes(`--source=${source}`)),
      { timeoutMs: 30_000 },
    );
    const pod = probe.find((p) => p.spec?.containers[0]?.args?.includes(`--source=${source}`));
    expect(pod?.spec?.containers[0]?.args).toContain('--header-only');
    expect(pod?.spec?.volumes).toContainEqual({
      name: 'source-0',
      persistentVolumeClaim: { claimName: 'model-store', readOnly: true },
    });
    await waitFor(
      'ShapeKnown=Unknown while the probe runs',
      () => getModel(name),
      (m) => condition(m, 'ShapeKnown')?.reason === 'ReadingHeader',
      { timeoutMs: 30_000 },
    );

    const elsewhere = unique('other-ns-claim');
    await createModel(elsewhere, 'pvc://other-namespace/model-store/q4.gguf');
    const model = await waitFor(
      'ShapeKnown=False',
      () => getModel(elsewhere),
      (m) => condition(m, 'ShapeKnown')?.status === 'False',
      { timeoutMs: 30_000 },
    );
    expect(condition(model, 'ShapeKnown')).toMatchObject({ reason: 'SourceNotMounted' });
    expect(condition(model, 'ShapeKnown')?.message).toContain(
      `the claim must be in namespace ${env.ns}`,
    );
  });

  it('refuses an EdgeNode with neither spec.models nor spec.agent.nodeName', async () => {
    const error = await env
      .createNode(unique('edge-nowhere'), {
        ...placedNode('x'),
        agent: { endpoint: '10.0.0.1:50051', insecure: true },
      })
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    expect(serverMessage(error)).toContain(
      'an EdgeNode without spec.models runs the LLM pods the operator places on spec.agent.nodeName',
    );
  });
});
