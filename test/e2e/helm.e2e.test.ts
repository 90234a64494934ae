// The README's "Install on a cluster with Helm", done on the real test node: the control plane,
// kube-controller-manager, kube-scheduler, a kubelet with containerd and runc, kube-proxy and CNI
// (test/harness/node.ts, started by the e2e project's global setup with the images of
// `make images` imported). Production-like values (the chart's defaults: two operator replicas
// with leader election, tls.mode=helm, the agent on the node labelled edgellm.io/edge-node, a
// model volume claim) in a namespace that enforces Pod Security `restricted`. Pods become Ready
// only because their probes pass; requests succeed through the real pods; /metrics is read over
// the pod IPs, the OpenAI API answers on both operator pods; `helm upgrade` and a killed agent pod lose no request; `helm uninstall` leaves the
// kept CRDs (and the operator's released Lease, which it creates itself).
import { execFile, execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  chmodSync,
  chownSync,
  copyFileSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import * as k8s from '@kubernetes/client-node';
import OpenAI from 'openai';
import { parse, stringify } from 'yaml';
import type { EdgeNode } from '../../src/gen/crds/edgenode.js';
import type { InferenceRequest } from '../../src/gen/crds/inferencerequest.js';
import type { Model } from '../../src/gen/crds/model.js';
import { fetchSecondsOf, podVariantsOf } from '../../src/operator/models/llm-pods.js';
import { REGISTRY_MODEL, registryModelPath } from '../../src/runtime/models/catalog.js';
import { connectNodeCluster, waitForPods, type NodeCluster } from '../harness/node.js';
import { chartAlerts, dashboardPanels, metricNames } from '../support/monitoring.js';
import { parsePrometheusText, sumOf } from '../support/prometheus.js';
import { TestPrometheus } from '../support/prometheus-server.js';
import { ModelServer } from '../support/model-server.js';
import { OciRegistry } from '../support/oci-registry.js';
import { waitFor } from '../support/wait.js';

const run = promisify(execFile);
const HELM = execFileSync('scripts/ensure-helm.sh', { encoding: 'utf8' }).trim();
const CHART = 'charts/edgellm';
// The README's names: release `edgellm` in namespace `edgellm`, requests in `default`.
const RELEASE = 'edgellm';
const NAMESPACE = 'edgellm';
const REQUESTS_NS = 'default';
const GROUP = 'edgellm.io';
const VERSION = 'v1alpha1';
const E2E = {
  helmTimeout: '10m',
  readyTimeoutMs: 10 * 60_000,
  requestTimeoutMs: 10 * 60_000,
  requestsPerPhase: 6,
  /** Per test: pods start, calibrate and roll on a shared 2-core machine. */
  testTimeoutMs: 20 * 60_000,
} as const;

let cluster: NodeCluster;
let nodeName: string;
let modelsDir: string;
let cacheDir: string;
/** An OCI registry on the host's address, holding the model as an artifact (oci:// sources). */
let registry: OciRegistry;
const OCI_REPOSITORY = 'models/smollm2';
let core: k8s.CoreV1Api;
let apps: k8s.AppsV1Api;
let custom: k8s.CustomObjectsApi;

async function helm(args: string[]): Promise<string> {
  const { stdout } = await run(HELM, [...args, '--kubeconfig', cluster.kubeconfigPath()], {
    maxBuffer: 16 * 2 ** 20,
  });
  return stdout;
}

function example(file: string): string {
  return readFileSync(join('deploy', 'examples', file), 'utf8');
}

async function releasePods(component: 'operator' | 'agent'): Promise<k8s.V1Pod[]> {
  const list = await core.listNamespacedPod({
    namespace: NAMESPACE,
    labelSelector: `app.kubernetes.io/instance=${RELEASE},app.kubernetes.io/component=${component}`,
  });
  return list.items.filter((p) => p.metadata?.deletionTimestamp === undefined);
}

/** The component's pods once exactly `count` exist and all are Ready (their probes pass). */
function readyPods(component: 'operator' | 'agent', count: number): Promise<k8s.V1Pod[]> {
  return waitForPods(
    cluster,
    NAMESPACE,
    `app.kubernetes.io/instance=${RELEASE},app.kubernetes.io/component=${component}`,
    { count, timeoutSeconds: E2E.readyTimeoutMs / 1000 },
  );
}

function request(name: string, maxTokens = 24, model = 'smollm2-135m'): InferenceRequest {
  return {
    apiVersion: `${GROUP}/${VERSION}`,
    kind: 'InferenceRequest',
    metadata: { name, namespace: REQUESTS_NS },
    spec: {
      model,
      prompt: `Name one reason to run language models close to their users. (${name})`,
      promptFormat: 'chat',
      maxTokens,
      latencyBudget: '15m',
      sampling: { temperature: 0, seed: 1 },
    },
  };
}

async function createRequests(
  prefix: string,
  maxTokens?: number,
  model?: string,
): Promise<string[]> {
  const names = Array.from({ length: E2E.requestsPerPhase }, (_, i) => `${prefix}-${i}`);
  for (const name of names) {
    await custom.createNamespacedCustomObject({
      group: GROUP,
      version: VERSION,
      namespace: REQUESTS_NS,
      plural: 'inferencerequests',
      body: request(name, maxTokens, model),
    });
  }
  return names;
}

async function requestsByName(names: readonly string[]): Promise<InferenceRequest[]> {
  const list = (await custom.listNamespacedCustomObject({
    group: GROUP,
    version: VERSION,
    namespace: REQUESTS_NS,
    plural: 'inferencerequests',
  })) as { items: InferenceRequest[] };
  return list.items.filter((r) => names.includes(r.metadata.name ?? ''));
}

const phaseOf = (r: InferenceRequest): string => r.status?.phase ?? 'Pending';

/** deploy/examples/model.yaml with another name, source and checksum. */
function llmModel(name: string, source: string, sha256: string): Model {
  return yamlOf(example('model.yaml'), (m: Model) => ({
    ...m,
    metadata: Object.assign({}, m.metadata, { name }),
    spec: { ...m.spec, variants: [{ quantization: 'Q4_1', source, sha256 }] },
  }));
}

function yamlOf<T>(text: string, edit: (value: T) => T): T {
  return edit(parse(text) as T);
}

function getModel(name: string): Promise<Model> {
  return custom.getClusterCustomObject({
    group: GROUP,
    version: VERSION,
    plural: 'models',
    name,
  }) as Promise<Model>;
}

/** The placement decisions the leading operator made so far and their total seconds. */
async function placementSeconds(): Promise<{ count: number; sum: number }> {
  for (const pod of await readyPods('operator', 2)) {
    const samples = parsePrometheusText(await scrape(pod.status?.podIP ?? '', 8080));
    if (sumOf(samples, 'edgellm_operator_leader') !== 1) continue;
    return {
      count: sumOf(samples, 'edgellm_placement_duration_seconds_count'),
      sum: sumOf(samples, 'edgellm_placement_duration_seconds_sum'),
    };
  }
  throw new Error('no operator pod leads');
}

/** Waits until every request is terminal and returns `name phase reason` for each. */
async function settle(names: readonly string[]): Promise<string[]> {
  const done = await waitFor(
    `requests ${names.join(', ')} to finish`,
    () => requestsByName(names),
    (items) =>
      items.length === names.length &&
      items.every((r) => phaseOf(r) === 'Succeeded' || phaseOf(r) === 'Failed'),
    { timeoutMs: E2E.requestTimeoutMs, intervalMs: 1000 },
  );
  return done
    .map((r) => {
      const completed = r.status?.conditions?.find((c) => c.type === 'Completed');
      return `${r.metadata.name ?? '?'} ${phaseOf(r)} ${completed?.reason ?? ''}`.trim();
    })
    .sort();
}

const succeeded = (names: readonly string[]): string[] =>
  names.map((n) => `${n} Succeeded Succeeded`).sort();

/**
 * What the kernel says about the processes of the edgellm containers on this machine (the node
 * shares the host's process table): user, effective capabilities, no_new_privs, seccomp mode
 * (2: filter) and whether their root mount is read-only.
 */
function containerProcesses(command: 'operator' | 'agent'): string[] {
  const found: string[] = [];
  for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    let cmdline: string;
    let status: string;
    let mounts: string;
    try {
      cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      if (!cmdline.includes(`/app/dist/src/cli/main.js\0${command}\0`)) continue;
      status = readFileSync(`/proc/${pid}/status`, 'utf8');
      mounts = readFileSync(`/proc/${pid}/mountinfo`, 'utf8');
    } catch {
      continue; // gone meanwhile
    }
    const field = (name: string): string =>
      new RegExp(`^${name}:\\s*(.*)$`, 'm').exec(status)?.[1]?.trim() ?? '?';
    const root = mounts.split('\n').find((line) => line.split(' ')[4] === '/');
    const rootMode = root?.split(' ')[5]?.split(',')[0] ?? '?';
    found.push(
      `uid=${field('Uid').split(/\s+/)[0] ?? '?'} caps=${field('CapEff')} nnp=${field('NoNewPrivs')} seccomp=${field('Seccomp')} root=${rootMode}`,
    );
  }
  return found;
}

async function scrape(ip: string, port: number): Promise<string> {
  const res = await fetch(`http://${ip}:${port}/metrics`);
  expect(res.status).toBe(200);
  return res.text();
}

beforeAll(async () => {
  cluster = connectNodeCluster();
  nodeName = cluster.nodeName;
  core = cluster.api(k8s.CoreV1Api);
  apps = cluster.api(k8s.AppsV1Api);
  custom = cluster.api(k8s.CustomObjectsApi);
  // The folder the model PersistentVolume points at (the README's /var/lib/edgellm/models).
  modelsDir = mkdtempSync(join(tmpdir(), 'edgellm-e2e-models-'));
  chmodSync(modelsDir, 0o755);
  copyFileSync(registryModelPath(), join(modelsDir, 'SmolLM2-135M-Instruct.Q4_1.gguf'));
  // The LLM pods' node model cache (deploy/examples/model-cache-volume.yaml): the image's user
  // writes it, and a hostPath volume gets no fsGroup.
  cacheDir = mkdtempSync(join(tmpdir(), 'edgellm-e2e-cache-'));
  chownSync(cacheDir, 1000, 1000);
  registry = await OciRegistry.start(cluster.node.hostIp);
  await registry.pushModel(OCI_REPOSITORY, 'q4_1', readFileSync(registryModelPath()));
});

afterAll(() => {
  registry.stop();
  rmSync(modelsDir, { recursive: true, force: true });
  rmSync(cacheDir, { recursive: true, force: true });
});

describe('helm install on a real node', () => {
  it(
    'installs into a Pod Security restricted namespace; the pods become Ready through their probes',
    async () => {
      // kubectl label node <node> edgellm.io/edge-node=true
      await core.patchNode(
        { name: nodeName, body: { metadata: { labels: { 'edgellm.io/edge-node': 'true' } } } },
        k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch),
      );
      // kubectl create namespace edgellm; kubectl label namespace edgellm pod-security...=restricted
      await cluster.applyManifests(
        stringify({
          apiVersion: 'v1',
          kind: 'Namespace',
          metadata: {
            name: NAMESPACE,
            labels: { 'pod-security.kubernetes.io/enforce': 'restricted' },
          },
        }),
      );
      // kubectl apply -n edgellm -f deploy/examples/model-volume.yaml (here the folder is a temp dir)
      await cluster.applyManifests(
        example('model-volume.yaml').replace('/var/lib/edgellm/models', modelsDir),
        { namespace: NAMESPACE },
      );
      // kubectl apply -n edgellm -f deploy/examples/model-cache-volume.yaml (the LLM pods' cache)
      await cluster.applyManifests(
        example('model-cache-volume.yaml').replaceAll('/var/cache/edgellm/models', cacheDir),
        { namespace: NAMESPACE },
      );
      const started = performance.now();
      await helm([
        'install',
        RELEASE,
        CHART,
        '--namespace',
        NAMESPACE,
        // The test node has 2 CPUs for the agent (1), two operators and, during a roll, two LLM pods.
        '--set',
        'llm.resources.requests.cpu=250m',
        // The test registry speaks plain HTTP on the host's address (localhost always may).
        '--set',
        `llm.insecureRegistries={${registry.address}}`,
        '--wait',
        '--timeout',
        E2E.helmTimeout,
      ]);
      console.log(
        `e2e: helm install --wait took ${((performance.now() - started) / 1000).toFixed(1)}s`,
      );
      const operators = await readyPods('operator', 2);
      const agents = await readyPods('agent', 1);
      for (const pod of [...operators, ...agents]) {
        const name = pod.metadata?.name ?? '?';
        expect([name, pod.spec?.nodeName]).toEqual([name, nodeName]);
        for (const status of pod.status?.containerStatuses ?? []) {
          expect([name, status.ready, status.restartCount]).toEqual([name, true, 0]);
        }
        const security = pod.spec?.containers[0]?.securityContext;
        expect([name, security?.readOnlyRootFilesystem, security?.capabilities?.drop]).toEqual([
          name,
          true,
          ['ALL'],
        ]);
        expect([name, pod.spec?.securityContext?.runAsNonRoot]).toEqual([name, true]);
      }
      // As the kernel sees them: uid 1000, no capabilities, no_new_privs, seccomp, read-only root.
      const hardened = 'uid=1000 caps=0000000000000000 nnp=1 seccomp=2 root=ro';
      const seen = { operator: containerProcesses('operator'), agent: containerProcesses('agent') };
      expect([seen.operator.length >= 2, seen.agent.length >= 1]).toEqual([true, true]);
      expect(new Set([...seen.operator, ...seen.agent])).toEqual(new Set([hardened]));
      const daemonSet = await apps.readNamespacedDaemonSet({
        name: `${RELEASE}-agent`,
        namespace: NAMESPACE,
      });
      expect(daemonSet.status?.numberReady).toBe(1);
    },
    E2E.testTimeoutMs,
  );

  it(
    'serves the example requests through the real pods',
    async () => {
      // kubectl apply -f deploy/examples/edgenodes.yaml -f deploy/examples/inferencerequests.yaml
      await cluster.applyManifests(example('edgenodes.yaml').replaceAll('edge-a', nodeName));
      await waitFor(
        `EdgeNode ${nodeName} Ready`,
        () =>
          custom.getClusterCustomObject({
            group: GROUP,
            version: VERSION,
            plural: 'edgenodes',
            name: nodeName,
          }) as Promise<EdgeNode>,
        (node) =>
          node.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') === true,
        { timeoutMs: E2E.readyTimeoutMs, intervalMs: 1000 },
      );
      await cluster.applyManifests(example('inferencerequests.yaml'), { namespace: REQUESTS_NS });
      const names = ['summarize', 'haiku-factory-2'];
      expect(await settle(names)).toEqual(succeeded(names));
      for (const r of await requestsByName(names)) {
        expect(r.status?.output?.trim().length).toBeGreaterThan(0);
        expect(r.status?.assignment?.node).toBe(nodeName);
      }
    },
    E2E.testTimeoutMs,
  );

  it(
    'runs a Model from a URL in pods the operator makes: no file copied, requests succeed, a roll and a bad checksum lose nothing',
    async () => {
      // The model file on an HTTP server of the host, at the address the node's pods reach.
      const server = new ModelServer();
      server.serve('/smollm2.gguf', readFileSync(registryModelPath()));
      await server.start(cluster.node.hostIp);
      const edgeNode = `${nodeName}-llm`;
      const applied = Date.now();
      try {
        // kubectl apply -f deploy/examples/model.yaml (with this server's URL) and an EdgeNode
        // that lists no models: the operator decides what runs on it.
        await cluster.applyManifests(
          stringify(
            llmModel('smollm2-placed', server.url('/smollm2.gguf'), REGISTRY_MODEL.fileSha256),
          ),
        );
        await cluster.applyManifests(
          stringify(
            yamlOf(example('edgenode-placed.yaml'), (node: EdgeNode) => ({
              ...node,
              metadata: Object.assign({}, node.metadata, { name: edgeNode }),
              spec: { ...node.spec, agent: { ...node.spec.agent, nodeName } },
            })),
          ),
        );
        const [pod] = await waitForPods(cluster, NAMESPACE, `app.kubernetes.io/component=llm`, {
          count: 1,
          timeoutSeconds: E2E.readyTimeoutMs / 1000,
        });
        const fetched = fetchSecondsOf(pod ?? {});
        const first = await createRequests('placed', 16, 'smollm2-placed');
        expect(await settle(first)).toEqual(succeeded(first));
        // The first request's completionTime (whole seconds) after the Model was applied.
        const firstSucceeded = Math.min(
          ...(await requestsByName(first)).map((r) => Date.parse(r.status?.completionTime ?? '')),
        );
        for (const r of await requestsByName(first))
          expect(r.status?.assignment?.node).toBe(edgeNode);
        const model = await getModel('smollm2-placed');
        expect(model.status?.conditions?.find((c) => c.type === 'Ready')?.status).toBe('True');
        expect(model.status?.variants?.[0]).toMatchObject({
          edgeNodes: [edgeNode],
          shape: { architecture: 'llama', layers: 30, hiddenSize: 576 },
        });
        // The file was fetched once, verified, by the pod (the operator read only its header).
        expect(
          server.gets.filter((g) => g.path === '/smollm2.gguf' && g.headers.range === undefined),
        ).toHaveLength(1);
        const placement = await placementSeconds();
        console.log(
          `e2e: Model apply -> first Succeeded ${((firstSucceeded - applied) / 1000).toFixed(1)}s; ` +
            `fetch ${fetched.map((f) => `${f.seconds}s (${f.downloaded ? 'downloaded' : 'cached'})`).join(', ')}; ` +
            `placement decisions ${placement.count}, mean ${((placement.sum / placement.count) * 1000).toFixed(2)} ms`,
        );

        // A second Model, an OCI artifact, on the node: a new pod with both starts next to the
        // serving one, which keeps serving until the new one is Ready; requests sent meanwhile all
        // succeed. The cache is emptied first so the new pod really pulls from the registry (the
        // running agent keeps its open file).
        for (const file of readdirSync(cacheDir)) rmSync(join(cacheDir, file), { force: true });
        await cluster.applyManifests(
          stringify(
            llmModel(
              'smollm2-oci',
              `oci://${registry.address}/${OCI_REPOSITORY}:q4_1`,
              REGISTRY_MODEL.fileSha256,
            ),
          ),
        );
        const during = await createRequests('rolling', 16, 'smollm2-placed');
        const [both] = await waitFor(
          'the LLM pod serving both Models',
          () =>
            waitForPods(cluster, NAMESPACE, 'app.kubernetes.io/component=llm', {
              count: 1,
              timeoutSeconds: E2E.readyTimeoutMs / 1000,
            }),
          (pods) => pods.length === 1 && podVariantsOf(pods[0] ?? {}).length === 2,
          { timeoutMs: E2E.readyTimeoutMs, intervalMs: 2000 },
        );
        // fetch-0 pulled the OCI layer (models sort by name), fetch-1 found the same file cached.
        expect(podVariantsOf(both ?? {}).map((v) => v.model)).toEqual([
          'smollm2-oci',
          'smollm2-placed',
        ]);
        expect(fetchSecondsOf(both ?? {}).map((f) => f.downloaded)).toEqual([true, false]);
        expect(await settle(during)).toEqual(succeeded(during));
        const second = await createRequests('oci', 16, 'smollm2-oci');
        expect(await settle(second)).toEqual(succeeded(second));

        // A bad checksum: the new pod's fetch refuses the file, the Model says why, and the
        // serving pod goes on serving.
        await cluster.applyManifests(
          stringify(llmModel('smollm2-badsum', server.url('/smollm2.gguf'), 'f'.repeat(64))),
        );
        const bad = await waitFor(
          'Model smollm2-badsum to report the checksum',
          () => getModel('smollm2-badsum'),
          (m) =>
            m.status?.conditions?.some(
              (c) => c.type === 'Ready' && c.reason === 'ChecksumMismatch',
            ) === true,
          { timeoutMs: E2E.readyTimeoutMs, intervalMs: 2000 },
        );
        expect(bad.status?.conditions?.find((c) => c.type === 'Ready')?.message).toContain(
          `not the ${'f'.repeat(64)} the Model declares`,
        );
        const meanwhile = await createRequests('badsum', 16, 'smollm2-placed');
        expect(await settle(meanwhile)).toEqual(succeeded(meanwhile));

        // A file in a claim (the chart's model volume): the operator cannot mount it, so a probe
        // pod reads its header; the LLM pod's fetch copies it from the claim into the cache.
        await custom.deleteClusterCustomObject({
          group: GROUP,
          version: VERSION,
          plural: 'models',
          name: 'smollm2-badsum',
        });
        await cluster.applyManifests(
          stringify(
            llmModel(
              'smollm2-pvc',
              `pvc://${NAMESPACE}/${RELEASE}-models/SmolLM2-135M-Instruct.Q4_1.gguf`,
              REGISTRY_MODEL.fileSha256,
            ),
          ),
        );
        const fromClaim = await waitFor(
          'Model smollm2-pvc Ready',
          () => getModel('smollm2-pvc'),
          (m) =>
            m.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') === true,
          { timeoutMs: E2E.readyTimeoutMs, intervalMs: 2000 },
        );
        expect(fromClaim.status?.variants?.[0]?.shape?.layers).toBe(30);
        const claimed = await createRequests('pvc', 16, 'smollm2-pvc');
        expect(await settle(claimed)).toEqual(succeeded(claimed));
      } finally {
        for (const name of ['smollm2-placed', 'smollm2-oci', 'smollm2-badsum', 'smollm2-pvc'])
          await custom
            .deleteClusterCustomObject({ group: GROUP, version: VERSION, plural: 'models', name })
            .catch(() => undefined);
        // Deleting the EdgeNode deletes its LLM pods (their owner), so uninstall finds none.
        await custom
          .deleteClusterCustomObject({
            group: GROUP,
            version: VERSION,
            plural: 'edgenodes',
            name: edgeNode,
          })
          .catch(() => undefined);
        await waitFor(
          'the LLM pods to be gone',
          async () =>
            (
              await core.listNamespacedPod({
                namespace: NAMESPACE,
                labelSelector: 'app.kubernetes.io/component=llm',
              })
            ).items.length,
          (n) => n === 0,
          { timeoutMs: 3 * 60_000, intervalMs: 1000 },
        );
        await server.stop();
      }
    },
    E2E.testTimeoutMs,
  );

  it(
    'serves /metrics on the pod IPs: one operator leads, the agent counts its tokens',
    async () => {
      const leaders: number[] = [];
      for (const pod of await readyPods('operator', 2)) {
        const samples = parsePrometheusText(await scrape(pod.status?.podIP ?? '', 8080));
        leaders.push(sumOf(samples, 'edgellm_operator_leader'));
      }
      expect(leaders.sort()).toEqual([0, 1]);
      const [agent] = await readyPods('agent', 1);
      const samples = parsePrometheusText(await scrape(agent?.status?.podIP ?? '', 9464));
      expect(sumOf(samples, 'edgellm_agent_tokens_generated_total')).toBeGreaterThan(0);
    },
    E2E.testTimeoutMs,
  );

  it(
    'answers the OpenAI API on both operator pods (the follower forwards to the leader), streamed and not',
    async () => {
      for (const pod of await readyPods('operator', 2)) {
        const client = new OpenAI({
          baseURL: `http://${pod.status?.podIP ?? ''}:8000/v1`,
          apiKey: 'unused',
          maxRetries: 0,
        });
        const models = (await client.models.list()).data.map((m) => m.id);
        expect(models.length).toBeGreaterThan(0);
        const model = models[0] ?? '';
        const answer = await client.chat.completions.create({
          model,
          messages: [{ role: 'user', content: 'Name one colour.' }],
          max_completion_tokens: 8,
        });
        expect(answer.choices[0]?.message.content?.length).toBeGreaterThan(0);
        expect(answer.usage?.completion_tokens).toBeGreaterThan(0);
        let streamed = '';
        let usage = 0;
        for await (const chunk of await client.chat.completions.create({
          model,
          messages: [{ role: 'user', content: 'Name one fruit.' }],
          max_completion_tokens: 8,
          stream: true,
          stream_options: { include_usage: true },
        })) {
          streamed += chunk.choices[0]?.delta.content ?? '';
          usage = chunk.usage?.completion_tokens ?? usage;
        }
        expect(streamed.length).toBeGreaterThan(0);
        expect(usage).toBeGreaterThan(0);
      }
    },
    E2E.testTimeoutMs,
  );

  it(
    'a real Prometheus scrapes the pods: every dashboard query and every alert’s metrics return series',
    async () => {
      const operators = await readyPods('operator', 2);
      const [agent] = await readyPods('agent', 1);
      // One refused completion, so the panel of refusals has a series too.
      const refused = await fetch(
        `http://${operators[0]?.status?.podIP ?? ''}:8000/v1/completions`,
        {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: '{',
        },
      );
      expect(refused.status).toBe(400);
      const prometheus = await TestPrometheus.start([
        { job: 'edgellm-operator', targets: operators.map((p) => `${p.status?.podIP ?? ''}:8080`) },
        { job: 'edgellm-agent', targets: [`${agent?.status?.podIP ?? ''}:9464`] },
      ]);
      try {
        // Two scrapes at least, so that rate() has two samples.
        await new Promise((r) => setTimeout(r, 5000));
        const empty: string[] = [];
        for (const panel of dashboardPanels())
          for (const target of panel.targets)
            if ((await prometheus.query(target.expr)).length === 0)
              empty.push(`${panel.title}: ${target.expr}`);
        for (const alert of chartAlerts())
          for (const name of metricNames(alert.expr))
            if ((await prometheus.query(`group(${name})`)).length === 0)
              empty.push(`${alert.alert}: ${name}`);
        expect(empty).toEqual([]);
      } finally {
        prometheus.stop();
      }
    },
    E2E.testTimeoutMs,
  );

  it(
    'helm upgrade with changed values rolls every pod and loses no request',
    async () => {
      const before = new Set(
        [...(await releasePods('operator')), ...(await releasePods('agent'))].map(
          (p) => p.metadata?.uid,
        ),
      );
      const names = await createRequests(`upgrade-${randomBytes(2).toString('hex')}`);
      await helm([
        'upgrade',
        RELEASE,
        CHART,
        '--namespace',
        NAMESPACE,
        '--reset-then-reuse-values',
        '--set',
        'operator.logLevel=debug',
        '--set',
        'agent.config.logLevel=debug',
        '--wait',
        '--timeout',
        E2E.helmTimeout,
      ]);
      const after = [...(await readyPods('operator', 2)), ...(await readyPods('agent', 1))];
      for (const pod of after) expect(before.has(pod.metadata?.uid)).toBe(false);
      expect(await settle(names)).toEqual(succeeded(names));
    },
    E2E.testTimeoutMs,
  );

  it(
    'an agent pod killed mid-batch loses no request',
    async () => {
      const names = await createRequests(`kill-${randomBytes(2).toString('hex')}`, 48);
      await waitFor(
        'a request in a batch on the agent',
        () => requestsByName(names),
        // Scheduled is written before ExecuteBatch; Running only after a second of generating.
        (items) => items.some((r) => ['Scheduled', 'Running'].includes(phaseOf(r))),
        { timeoutMs: E2E.requestTimeoutMs, intervalMs: 250 },
      );
      const [agent] = await releasePods('agent');
      await core.deleteNamespacedPod({
        name: agent?.metadata?.name ?? '',
        namespace: NAMESPACE,
        gracePeriodSeconds: 0,
      });
      expect(await settle(names)).toEqual(succeeded(names));
      const [replacement] = await readyPods('agent', 1);
      expect(replacement?.metadata?.uid).not.toBe(agent?.metadata?.uid);
    },
    E2E.testTimeoutMs,
  );

  it(
    'helm uninstall leaves only the kept CRDs (and the Lease the operator made)',
    async () => {
      await helm(['uninstall', RELEASE, '--namespace', NAMESPACE, '--wait', '--timeout', '5m']);
      await waitFor(
        'the release pods to be gone',
        async () => (await core.listNamespacedPod({ namespace: NAMESPACE })).items.length,
        (n) => n === 0,
        { timeoutMs: E2E.readyTimeoutMs, intervalMs: 1000 },
      );
      const selector = `app.kubernetes.io/instance=${RELEASE}`;
      const left: string[] = [];
      const collect = (kind: string, items: { metadata?: k8s.V1ObjectMeta }[]): void => {
        for (const item of items) left.push(`${kind}/${item.metadata?.name ?? '?'}`);
      };
      const rbac = cluster.api(k8s.RbacAuthorizationV1Api);
      const networking = cluster.api(k8s.NetworkingV1Api);
      const ns = { namespace: NAMESPACE };
      collect('Deployment', (await apps.listNamespacedDeployment(ns)).items);
      collect('DaemonSet', (await apps.listNamespacedDaemonSet(ns)).items);
      collect('Service', (await core.listNamespacedService(ns)).items);
      collect('Secret', (await core.listNamespacedSecret(ns)).items);
      collect(
        'ConfigMap',
        (await core.listNamespacedConfigMap(ns)).items.filter(
          (c) => c.metadata?.name !== 'kube-root-ca.crt',
        ),
      );
      collect(
        'ServiceAccount',
        (await core.listNamespacedServiceAccount(ns)).items.filter(
          (s) => s.metadata?.name !== 'default',
        ),
      );
      collect('Role', (await rbac.listNamespacedRole(ns)).items);
      collect('RoleBinding', (await rbac.listNamespacedRoleBinding(ns)).items);
      collect('NetworkPolicy', (await networking.listNamespacedNetworkPolicy(ns)).items);
      collect('ClusterRole', (await rbac.listClusterRole({ labelSelector: selector })).items);
      collect(
        'ClusterRoleBinding',
        (await rbac.listClusterRoleBinding({ labelSelector: selector })).items,
      );
      expect(left).toEqual([]);
      const crds = await cluster
        .api(k8s.ApiextensionsV1Api)
        .listCustomResourceDefinition({ labelSelector: selector });
      expect(crds.items.map((c) => c.metadata?.name).sort()).toEqual([
        'edgenodes.edgellm.io',
        'inferencerequests.edgellm.io',
        'models.edgellm.io',
      ]);
      // The operator's leader-election Lease is its own, not the chart's: it stays (helm deletes the
      // RBAC while the leader stops, so its release may be denied; the Lease then just expires).
      const leases = await cluster.api(k8s.CoordinationV1Api).listNamespacedLease(ns);
      expect(leases.items.map((l) => l.metadata?.name)).toEqual(['edgellm-operator']);
    },
    E2E.testTimeoutMs,
  );
});
