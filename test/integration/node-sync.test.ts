// EdgeNodes made from labelled Nodes on the real API server, with the operator running under the
// chart's RBAC plus node-sync-rules.yaml: a matching Node gets an EdgeNode (capacity from the Node,
// bandwidth from its annotation, no spec.models), follows its changes, and goes when the label
// does; a user's EdgeNode of the same name is left alone. The Nodes are API objects without a
// kubelet (the real node is the e2e's).
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import * as k8s from '@kubernetes/client-node';
import { EdgeNodeResource, type EdgeNode } from '../../src/gen/crds/edgenode.js';
import { FROM_NODE_LABEL, NODE_ANNOTATION } from '../../src/operator/edgenodes/from-node.js';
import { OperatorEnv, unique } from '../support/operator-env.js';
import { waitFor } from '../support/wait.js';

let env: OperatorEnv;
let core: k8s.CoreV1Api;
const LABEL = 'edgellm.io/llm-node';
const made: string[] = [];
const merge = k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch);

async function createNode(name: string, labels: Record<string, string>): Promise<void> {
  made.push(name);
  await core.createNode({
    body: {
      metadata: { name, labels, annotations: { [NODE_ANNOTATION.uplinkBandwidthHz]: '10M' } },
    },
  });
  await core.patchNodeStatus(
    {
      name,
      body: {
        status: { capacity: { cpu: '4', memory: '8Gi' }, allocatable: { cpu: '4', memory: '8Gi' } },
      },
    },
    merge,
  );
}

function edgeNode(name: string): Promise<EdgeNode | undefined> {
  return (
    env.custom.getClusterCustomObject({
      group: EdgeNodeResource.group,
      version: EdgeNodeResource.version,
      plural: EdgeNodeResource.plural,
      name,
    }) as Promise<EdgeNode>
  ).catch(() => undefined);
}

beforeAll(async () => {
  env = await OperatorEnv.create('node-sync', [], ['node-sync-rules.yaml']);
  core = env.cluster.api(k8s.CoreV1Api);
  await env.startManager({
    edgeNodesFromNodes: { labelSelector: `${LABEL}=true`, agent: { insecure: true } },
  });
}, 60_000);

afterAll(async () => {
  for (const name of made) await core.deleteNode({ name }).catch(() => undefined);
  await env.teardown();
});

describe('EdgeNodes from labelled Nodes', () => {
  it('makes one per matching Node, follows its changes and deletes it with the label', async () => {
    const name = unique('jetson');
    await createNode(name, { [LABEL]: 'true' });
    const first = await waitFor(
      'the EdgeNode',
      () => edgeNode(name),
      (n) => n !== undefined,
      { timeoutMs: 20_000 },
    );
    expect(first?.metadata.labels?.[FROM_NODE_LABEL]).toBe('true');
    expect(first?.metadata.ownerReferences?.[0]).toMatchObject({ kind: 'Node', name });
    expect(first?.spec.models).toBeUndefined();
    expect(first?.spec.agent).toMatchObject({ nodeName: name, insecure: true });
    expect(first?.spec.resources).toMatchObject({
      memoryBytes: 8 * 2 ** 30,
      computeFlops: 2e11,
      uplinkBandwidthHz: 1e7,
    });

    await core.patchNode(
      { name, body: { metadata: { annotations: { [NODE_ANNOTATION.computeFlops]: '1.5e12' } } } },
      merge,
    );
    await waitFor(
      'the new compute',
      () => edgeNode(name),
      (n) => n?.spec.resources.computeFlops === 1.5e12,
      {
        timeoutMs: 20_000,
      },
    );

    await core.patchNode({ name, body: { metadata: { labels: { [LABEL]: null } } } }, merge);
    await waitFor(
      'the EdgeNode gone',
      () => edgeNode(name),
      (n) => n === undefined,
      { timeoutMs: 20_000 },
    );
  });

  it('leaves a user’s EdgeNode of the same name alone', async () => {
    const name = unique('user-node');
    await env.createNode(name, env.nodeSpec('127.0.0.1:1', 'tiny'));
    await createNode(name, { [LABEL]: 'true' });
    await new Promise((r) => setTimeout(r, 3000));
    const node = await edgeNode(name);
    expect(node?.metadata.labels?.[FROM_NODE_LABEL]).toBeUndefined();
    expect(node?.spec.agent.endpoint).toBe('127.0.0.1:1');
  });
});
