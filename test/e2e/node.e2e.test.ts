// The test node itself (test/harness/node-cluster.ts), as the e2e tests rely on it: a pod
// admitted under Pod Security `restricted` runs from an image built here as non-root with a
// read-only root filesystem, reaches the API server through the `kubernetes` Service
// (kube-proxy) with its projected ServiceAccount token, reads a model volume behind a PVC; its
// logs come back through the API server from the kubelet; its IP answers from the host.
import { beforeAll, describe, expect, it } from '@jest/globals';
import * as k8s from '@kubernetes/client-node';
import { readFileSync } from 'node:fs';
import {
  Component,
  connectNodeCluster,
  createModelClaim,
  restartComponent,
  waitForPods,
  type NodeCluster,
} from '../harness/node.js';

const TIMEOUT = 240_000;

let cluster: NodeCluster;
let ns: string;
let operatorImage: string;

/** A restricted-compliant pod running `node -e script` from the operator image. */
function nodePod(name: string, script: string, extra: Partial<k8s.V1PodSpec> = {}): k8s.V1Pod {
  return {
    metadata: { name, labels: { app: name } },
    spec: {
      restartPolicy: 'Never',
      securityContext: { runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } },
      containers: [
        {
          name: 'main',
          image: operatorImage,
          imagePullPolicy: 'Never',
          command: ['/usr/local/bin/node', '-e', script],
          securityContext: {
            allowPrivilegeEscalation: false,
            readOnlyRootFilesystem: true,
            capabilities: { drop: ['ALL'] },
          },
        },
      ],
      ...extra,
    },
  };
}

async function runToCompletion(pod: k8s.V1Pod): Promise<{ phase: string; log: string }> {
  const core = cluster.api(k8s.CoreV1Api);
  await core.createNamespacedPod({ namespace: ns, body: pod });
  const name = pod.metadata?.name ?? '';
  const deadline = Date.now() + 120_000;
  for (;;) {
    const current = await core.readNamespacedPod({ name, namespace: ns });
    const phase = current.status?.phase ?? '';
    if (phase === 'Succeeded' || phase === 'Failed') {
      const log = await core.readNamespacedPodLog({ name, namespace: ns });
      return { phase, log };
    }
    if (Date.now() > deadline) throw new Error(`pod ${name} still ${phase} after 120s`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

beforeAll(async () => {
  cluster = connectNodeCluster();
  operatorImage = cluster.images.find((i) => i.includes('/edgellm/operator:')) ?? '';
  expect(operatorImage).not.toBe('');
  ns = await cluster.newNamespace('node');
  await cluster.api(k8s.CoreV1Api).patchNamespace(
    {
      name: ns,
      body: [
        {
          op: 'add',
          path: '/metadata/labels/pod-security.kubernetes.io~1enforce',
          value: 'restricted',
        },
      ],
    },
    k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.JsonPatch),
  );
}, TIMEOUT);

describe('the e2e node', () => {
  it('registers Ready with the edge-node label and the Kubernetes version of the Go modules', async () => {
    const node = await cluster.api(k8s.CoreV1Api).readNode({ name: cluster.nodeName });
    expect(node.metadata?.labels?.['edgellm.io/edge-node']).toBe('true');
    expect(node.status?.nodeInfo?.kubeletVersion).toMatch(/^v1\.\d+\.\d+$/);
    expect(node.status?.conditions?.find((c) => c.type === 'Ready')?.status).toBe('True');
  });

  it(
    'runs a restricted pod that reaches the API server through the kubernetes Service',
    async () => {
      const script = `
        const fs = require('fs'), https = require('https');
        const dir = '/var/run/secrets/kubernetes.io/serviceaccount';
        let readOnly = false;
        try { fs.writeFileSync('/probe', 'x'); } catch (e) { readOnly = e.code === 'EROFS'; }
        https.get({ host: process.env.KUBERNETES_SERVICE_HOST, port: process.env.KUBERNETES_SERVICE_PORT,
          path: '/version', ca: fs.readFileSync(dir + '/ca.crt'),
          headers: { authorization: 'Bearer ' + fs.readFileSync(dir + '/token', 'utf8') } }, (res) => {
            let body = ''; res.on('data', (d) => (body += d));
            res.on('end', () => console.log(JSON.stringify({ uid: process.getuid(), readOnly,
              service: process.env.KUBERNETES_SERVICE_HOST, status: res.statusCode, body: JSON.parse(body) })));
        }).on('error', (e) => { console.log(JSON.stringify({ error: e.message })); process.exit(1); });`;
      const { phase, log } = await runToCompletion(
        nodePod('api', script, {
          securityContext: {
            runAsNonRoot: true,
            runAsUser: 1000,
            seccompProfile: { type: 'RuntimeDefault' },
          },
        }),
      );
      expect(phase).toBe('Succeeded');
      const result = JSON.parse(log.trim()) as {
        uid: number;
        readOnly: boolean;
        service: string;
        status: number;
        body: { major: string };
      };
      expect(result).toMatchObject({ uid: 1000, readOnly: true, service: '10.0.0.1', status: 200 });
      expect(result.body.major).toBe('1');
    },
    TIMEOUT,
  );

  it(
    'mounts a model volume behind a PVC, and a pod IP answers from the host',
    async () => {
      const model = `${cluster.node.stateDir}/node-cluster.json`;
      await createModelClaim(cluster, ns, 'models', [model]);
      const expected = readFileSync(model, 'utf8').length;
      const script = `
        const fs = require('fs'), http = require('http');
        const size = fs.readFileSync('/models/node-cluster.json', 'utf8').length;
        http.createServer((q, s) => s.end(String(size))).listen(8080);`;
      const core = cluster.api(k8s.CoreV1Api);
      const pod = nodePod('volume', script, {
        restartPolicy: 'Always',
        securityContext: {
          runAsNonRoot: true,
          runAsUser: 1000,
          seccompProfile: { type: 'RuntimeDefault' },
        },
        volumes: [
          { name: 'models', persistentVolumeClaim: { claimName: 'models', readOnly: true } },
        ],
      });
      const container = pod.spec?.containers[0];
      if (container) {
        container.volumeMounts = [{ name: 'models', mountPath: '/models', readOnly: true }];
        container.readinessProbe = { httpGet: { path: '/', port: 8080 }, periodSeconds: 1 };
      }
      await core.createNamespacedPod({ namespace: ns, body: pod });
      const [ready] = await waitForPods(cluster, ns, 'app=volume', { timeoutSeconds: 120 });
      const ip = ready?.status?.podIP ?? '';
      const response = await fetch(`http://${ip}:8080/`);
      expect(Number(await response.text())).toBe(expected);
    },
    TIMEOUT,
  );

  it(
    'restarts the kubelet (killed) while a pod runs: the container survives, the node is Ready again',
    async () => {
      const core = cluster.api(k8s.CoreV1Api);
      const [before] = await waitForPods(cluster, ns, 'app=volume');
      const containerId = before?.status?.containerStatuses?.[0]?.containerID;
      const ip = before?.status?.podIP ?? '';
      const restarted = Date.now();
      await restartComponent(cluster.node, Component.kubelet, { kill: true });
      // The pod's process never stopped: it answers while the kubelet is away and after.
      expect((await fetch(`http://${ip}:8080/`)).status).toBe(200);
      // The new kubelet renews the node's Lease (every 10 s) and the node is Ready.
      const coordination = cluster.api(k8s.CoordinationV1Api);
      const deadline = Date.now() + 120_000;
      for (;;) {
        const lease = await coordination.readNamespacedLease({
          name: cluster.nodeName,
          namespace: 'kube-node-lease',
        });
        const node = await core.readNode({ name: cluster.nodeName });
        const ready = node.status?.conditions?.find((c) => c.type === 'Ready')?.status;
        const renewed = new Date(lease.spec?.renewTime ?? 0).getTime();
        if (renewed > restarted && ready === 'True') break;
        if (Date.now() > deadline) {
          throw new Error(
            `no Lease renewal and Ready node after the kubelet restart: ${String(ready)}`,
          );
        }
        await new Promise((r) => setTimeout(r, 500));
      }
      const [after] = await waitForPods(cluster, ns, 'app=volume');
      expect(after?.status?.containerStatuses?.[0]?.containerID).toBe(containerId);
      expect(after?.status?.containerStatuses?.[0]?.restartCount).toBe(0);
    },
    TIMEOUT,
  );
});
