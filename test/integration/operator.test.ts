// The operator end to end on the real control plane, with real agents (separate processes
// running generated tiny GGUF models through llama.cpp). The operator runs as the identity the
// chart's RBAC (charts/edgellm/files/rbac/) is bound to, so every write it makes here is one the
// chart grants.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as k8s from '@kubernetes/client-node';
import type { EdgeNode, EdgeNodeSpec } from '../../src/gen/crds/edgenode.js';
import type {
  InferenceRequest,
  InferenceRequestSpec,
} from '../../src/gen/crds/inferencerequest.js';
import type { Manager, ManagerOptions } from '../../src/operator/manager.js';
import { Identity } from '../harness/cluster.js';
import {
  startAgentProcess,
  writeAgentConfig,
  type AgentProcess,
} from '../support/agent-process.js';
import { createTestPki } from '../support/certs.js';
import { finished, OperatorEnv, ready, unique } from '../support/operator-env.js';
import { parsePrometheusText } from '../support/prometheus.js';
import { waitFor } from '../support/wait.js';

let env: OperatorEnv;

const startAgent = (
  name: string,
  models: Record<string, string>,
  maxSequences?: number,
): Promise<AgentProcess> =>
  env.startAgent(name, models, maxSequences === undefined ? {} : { maxSequences });
const nodeSpec = (endpoint: string, model: string): EdgeNodeSpec => env.nodeSpec(endpoint, model);
const createNode = (name: string, spec: EdgeNodeSpec): Promise<void> => env.createNode(name, spec);
const getNode = (name: string): Promise<EdgeNode> => env.getNode(name);
const createRequest = (name: string, spec: InferenceRequestSpec): Promise<void> =>
  env.createRequest(name, spec);
const getRequest = (name: string): Promise<InferenceRequest> => env.getRequest(name);

function until<T>(
  what: string,
  get: () => Promise<T>,
  ok: (value: T) => boolean,
  timeoutMs = 90_000,
): Promise<T> {
  return waitFor(what, get, ok, { timeoutMs });
}

const startManager = (
  leaseDurationSeconds = 4,
  extra: Partial<ManagerOptions> = {},
): Promise<Manager> => env.startManager({ leaseDurationSeconds, ...extra });
const stopManager = (manager: Manager): Promise<void> => env.stopManager(manager);

/** The leader's status writes so far, by phase written. */
async function statusWrites(leader: Manager): Promise<Map<string, number>> {
  const text = await (await fetch(`http://${leader.address ?? ''}/metrics`)).text();
  return new Map(
    parsePrometheusText(text)
      .filter((s) => s.name === 'edgellm_request_status_writes_total')
      .map((s) => [s.labels['phase'] ?? '', s.value]),
  );
}

beforeAll(async () => {
  env = await OperatorEnv.create('operator');
}, 120_000);

afterAll(async () => {
  await env.teardown();
});

describe('operator', () => {
  let model: string;
  let nodeA: string;
  let nodeB: string;
  let manager: Manager;

  beforeAll(async () => {
    model = unique('tiny');
    const path = join(env.dir, 'tiny.gguf');
    const [a, b] = await Promise.all([
      startAgent('a', { [model]: path }),
      startAgent('b', { [model]: path }),
    ]);
    nodeA = unique('edge-a');
    nodeB = unique('edge-b');
    await createNode(nodeA, nodeSpec(a.address, model));
    await createNode(nodeB, nodeSpec(b.address, model));
    manager = await startManager();
  }, 120_000);

  it('marks nodes Ready and mirrors the agent and its calibrated profile into status', async () => {
    const node = await until('node Ready', () => getNode(nodeA), ready);
    expect(node.status?.conditions?.find((c) => c.type === 'AgentConnected')?.status).toBe('True');
    expect(node.status?.conditions?.find((c) => c.type === 'Degraded')?.status).toBe('False');
    expect(node.status?.models).toEqual([
      expect.objectContaining({ name: model, agentModel: model, loaded: true, maxSequences: 8 }),
    ]);
    const profile = node.status?.profiles?.[0];
    expect(profile?.agentModel).toBe(model);
    expect(profile?.calibration.decodeStep.fixedSeconds).toBeGreaterThanOrEqual(0);
    expect(node.status?.lastHeartbeatTime).toBeDefined();
    expect(manager.isLeader).toBe(true);
  });

  it('runs a request on a real agent to Succeeded with output, usage and Completed=True', async () => {
    await until(
      'nodes Ready',
      () => Promise.all([getNode(nodeA), getNode(nodeB)]),
      (ns_) => ns_.every(ready),
    );
    const name = unique('hello');
    await createRequest(name, {
      model,
      prompt: 'Hello, edge',
      maxTokens: 8,
      latencyBudget: '60s',
    });
    const r = await until('request finished', () => getRequest(name), finished);
    expect(r.status?.phase).toBe('Succeeded');
    expect(r.status?.output?.length).toBeGreaterThan(0);
    expect(r.status?.usage?.completionTokens).toBeGreaterThan(0);
    expect(r.status?.usage?.completionTokens).toBeLessThanOrEqual(8);
    expect([nodeA, nodeB]).toContain(r.status?.assignment?.node);
    expect(r.status?.assignment?.batchId).toMatch(/^edge-/);
    expect(r.status?.predicted?.latencySeconds).toBeGreaterThan(0);
    expect(r.status?.measured?.latencySeconds).toBeGreaterThan(0);
    expect(r.status?.attempts).toBe(1);
    // What `kubectl wait --for=condition=Completed` waits for.
    expect(r.status?.conditions).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ type: 'Completed', status: 'True', reason: 'Succeeded' }),
        expect.objectContaining({ type: 'Scheduled', status: 'True' }),
      ]),
    );
  });

  it('batches requests that arrive together, each batch consistent in status, two status writes each', async () => {
    const writesBefore = await statusWrites(manager);
    const names = Array.from({ length: 6 }, (_, i) => unique(`batch${i}`));
    await Promise.all(
      names.map((name, i) =>
        createRequest(name, {
          model,
          prompt: `Request number ${i} asks a short question`,
          maxTokens: 6,
          latencyBudget: '90s',
        }),
      ),
    );
    const done = await Promise.all(
      names.map((n) => until(`${n} finished`, () => getRequest(n), finished)),
    );
    expect(done.map((r) => r.status?.phase)).toEqual(names.map(() => 'Succeeded'));
    const batches = new Map<string, InferenceRequest[]>();
    for (const r of done) {
      const id = r.status?.assignment?.batchId ?? '';
      batches.set(id, [...(batches.get(id) ?? []), r]);
    }
    for (const members of batches.values()) {
      const node = members[0]?.status?.assignment?.node;
      for (const r of members) {
        expect(r.status?.assignment?.node).toBe(node);
        expect(r.status?.assignment?.batchSize).toBeGreaterThanOrEqual(members.length);
      }
    }
    // Six requests within one debounce window do not go one by one.
    expect(Math.max(...[...batches.values()].map((m) => m.length))).toBeGreaterThan(1);
    // Short generations (6 tokens) go from Scheduled to Succeeded: no Running write.
    const writes = await statusWrites(manager);
    const delta = (phase: string): number =>
      (writes.get(phase) ?? 0) - (writesBefore.get(phase) ?? 0);
    expect(delta('Scheduled')).toBe(names.length);
    expect(delta('Succeeded')).toBe(names.length);
    expect(delta('Running')).toBe(0);
  });

  it('fails what no node can serve (NoEligibleNode) or meet in time (DeadlineInfeasible)', async () => {
    const unknown = unique('unknown');
    const infeasible = unique('infeasible');
    await createRequest(unknown, {
      model: 'no-such-model',
      prompt: 'x',
      maxTokens: 4,
      latencyBudget: '30s',
    });
    // 400 tokens fit one sequence (8192 would now fail ContextExceeded first); 1 ms fits nowhere.
    await createRequest(infeasible, { model, prompt: 'x', maxTokens: 400, latencyBudget: '1ms' });
    const u = await until('unknown model failed', () => getRequest(unknown), finished);
    expect(u.status).toMatchObject({ phase: 'Failed', reason: 'NoEligibleNode' });
    expect(u.status?.conditions).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ type: 'Completed', status: 'True', reason: 'NoEligibleNode' }),
      ]),
    );
    const f = await until('infeasible failed', () => getRequest(infeasible), finished);
    expect(f.status?.phase).toBe('Failed');
    // A budget no node could ever meet says so even when it has passed by the first round.
    expect(f.status?.reason).toBe('DeadlineInfeasible');
    expect(f.status?.message).toBeTruthy();
  });

  it('sends spec.promptFormat to the agent: a chat prompt arrives in the model’s template', async () => {
    const [text, chat] = [unique('fmt-text'), unique('fmt-chat')];
    const spec = { model, prompt: 'Hello, edge', maxTokens: 2, latencyBudget: '60s' };
    await createRequest(text, spec);
    await createRequest(chat, { ...spec, promptFormat: 'chat' });
    const [t, c] = await Promise.all(
      [text, chat].map((n) => until(`${n} finished`, () => getRequest(n), finished)),
    );
    expect([t?.status?.phase, c?.status?.phase]).toEqual(['Succeeded', 'Succeeded']);
    // The template wraps the same prompt in more tokens (the agent counts what the model reads).
    expect(c?.status?.usage?.promptTokens).toBeGreaterThan(
      t?.status?.usage?.promptTokens ?? Infinity,
    );
  });

  it('fails a request whose promptFrom key is missing with InvalidPrompt', async () => {
    const name = unique('noprompt');
    await createRequest(name, {
      model,
      promptFrom: { configMapKeyRef: { name: 'does-not-exist', key: 'prompt' } },
      maxTokens: 4,
      latencyBudget: '30s',
    });
    const r = await until('failed', () => getRequest(name), finished);
    expect(r.status).toMatchObject({ phase: 'Failed', reason: 'InvalidPrompt' });
    expect(r.status?.message).toContain('does-not-exist');
  });

  it('reads the prompt from a ConfigMap', async () => {
    const core = env.cluster.api(k8s.CoreV1Api);
    const cm = unique('prompt');
    await core.createNamespacedConfigMap({
      namespace: env.ns,
      body: { metadata: { name: cm }, data: { prompt: 'Tell me about edge nodes' } },
    });
    const name = unique('fromcm');
    await createRequest(name, {
      model,
      promptFrom: { configMapKeyRef: { name: cm, key: 'prompt' } },
      maxTokens: 4,
      latencyBudget: '60s',
    });
    const r = await until('finished', () => getRequest(name), finished);
    expect(r.status?.phase).toBe('Succeeded');
    expect(r.status?.usage?.promptTokens).toBeGreaterThan(1);
  });

  it('with a second replica only the leader acts; the standby takes over when it stops', async () => {
    const standby = await startManager();
    await new Promise((r) => setTimeout(r, 2000));
    expect([manager.isLeader, standby.isLeader]).toEqual([true, false]);
    await stopManager(manager);
    await until(
      'standby leads',
      () => Promise.resolve(standby.isLeader),
      (v) => v,
      30_000,
    );
    const name = unique('after-failover');
    await createRequest(name, {
      model,
      prompt: 'Still there?',
      maxTokens: 4,
      latencyBudget: '60s',
    });
    const r = await until('finished', () => getRequest(name), finished);
    expect(r.status?.phase).toBe('Succeeded');
    manager = standby;
  });

  it('an operator restarted mid-batch loses nothing and runs nothing twice', async () => {
    const name = unique('restart');
    await createRequest(name, {
      model,
      prompt: 'A long answer please',
      maxTokens: 400,
      latencyBudget: '120s',
    });
    const scheduled = await until(
      'scheduled',
      () => getRequest(name),
      (r) => r.status?.phase === 'Scheduled' || r.status?.phase === 'Running',
    );
    const batchId = scheduled.status?.assignment?.batchId;
    await stopManager(manager);
    manager = await startManager();
    const r = await until('finished', () => getRequest(name), finished);
    expect(r.status?.phase).toBe('Succeeded');
    expect(r.status?.assignment?.batchId).toBe(batchId);
    expect(r.status?.attempts).toBe(1);
  });

  it('an agent killed mid-batch loses nothing: its requests run on another node', async () => {
    const lonely = unique('lonely');
    const path = join(env.dir, 'tiny.gguf');
    // Two sequences of 2048 tokens: room for a generation long enough to be cut.
    const c = await startAgent('c', { [lonely]: path }, 2);
    const d = await startAgent('d', { [lonely]: path }, 2);
    const nodeC = unique('edge-c');
    const nodeD = unique('edge-d');
    await createNode(nodeC, nodeSpec(c.address, lonely));
    await until('C Ready', () => getNode(nodeC), ready);
    const name = unique('survivor');
    await createRequest(name, {
      model: lonely,
      prompt: 'Keep going for a while',
      maxTokens: 1900,
      latencyBudget: '300s',
    });
    await until(
      'running on C',
      () => getRequest(name),
      (r) => r.status?.assignment?.node === nodeC,
    );
    await createNode(nodeD, nodeSpec(d.address, lonely));
    c.proc.kill('SIGKILL');
    await c.exited;
    const r = await until('finished', () => getRequest(name), finished, 240_000);
    expect(r.status?.phase).toBe('Succeeded');
    expect(r.status?.assignment?.node).toBe(nodeD);
    expect(r.status?.attempts).toBe(2);
    const cNode = await until(
      'C not Ready',
      () => getNode(nodeC),
      (n) => !ready(n),
    );
    expect(cNode.status?.conditions?.find((x) => x.type === 'AgentConnected')?.status).toBe(
      'False',
    );
  }, 300_000);

  it('deletes a finished request after ttlSecondsAfterFinished', async () => {
    const name = unique('ttl');
    await createRequest(name, {
      model,
      prompt: 'Short lived',
      maxTokens: 2,
      latencyBudget: '60s',
      ttlSecondsAfterFinished: 1,
    });
    await until(
      'deleted',
      () =>
        getRequest(name).then(
          () => false,
          (e: unknown) => (e as { code?: number }).code === 404,
        ),
      (gone) => gone,
    );
  });

  it('reaches an agent over mTLS with the Secret named by spec.agent.tlsSecretRef', async () => {
    const pki = createTestPki();
    const files = {
      'ca.pem': pki.ca.cert,
      'server.pem': pki.server.cert,
      'server.key': pki.server.key,
    };
    for (const [file, data] of Object.entries(files)) await writeFile(join(env.dir, file), data);
    const secure = unique('secure');
    const config = await writeAgentConfig(env.dir, 'mtls.yaml', {
      [secure]: join(env.dir, 'tiny.gguf'),
    });
    // Same config, with mTLS instead of plain text.
    const text = readFileSync(config, 'utf8').replace(
      'tls: {insecure: true}',
      `tls: {caFile: ${join(env.dir, 'ca.pem')}, certFile: ${join(env.dir, 'server.pem')}, keyFile: ${join(env.dir, 'server.key')}}`,
    );
    await writeFile(config, text);
    const agent = await startAgentProcess(['--config', config]);
    env.agents.push(agent);
    const secretName = unique('operator-tls');
    await env.cluster.api(k8s.CoreV1Api).createNamespacedSecret({
      namespace: env.ns,
      body: {
        metadata: { name: secretName },
        stringData: {
          'ca.crt': pki.ca.cert.toString(),
          'tls.crt': pki.client.cert.toString(),
          'tls.key': pki.client.key.toString(),
        },
      },
    });
    const name = unique('edge-mtls');
    const spec = nodeSpec(agent.address, secure);
    await createNode(name, {
      ...spec,
      agent: { endpoint: agent.address, tlsSecretRef: { name: secretName, namespace: env.ns } },
    });
    const node = await until('mTLS node Ready', () => getNode(name), ready);
    expect(node.status?.models?.[0]).toMatchObject({ agentModel: secure, loaded: true });
    const request = unique('over-mtls');
    await createRequest(request, {
      model: secure,
      prompt: 'Securely',
      maxTokens: 3,
      latencyBudget: '60s',
    });
    const r = await until('finished', () => getRequest(request), finished);
    expect(r.status).toMatchObject({ phase: 'Succeeded', assignment: { node: name } });
  });

  it('RBAC: the operator identity is denied what the chart does not grant', async () => {
    const apps = env.cluster.api(k8s.AppsV1Api, Identity.operator);
    await expect(apps.listNamespacedDeployment({ namespace: env.ns })).rejects.toMatchObject({
      code: 403,
    });
  });

  it('serves /metrics with controller and domain metrics, and /healthz /readyz', async () => {
    const base = `http://${manager.address ?? ''}`;
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    expect((await fetch(`${base}/readyz`)).status).toBe(200);
    const text = await (await fetch(`${base}/metrics`)).text();
    for (const metric of [
      'edgellm_operator_reconcile_total',
      'edgellm_operator_workqueue_depth',
      'edgellm_operator_leader',
      'edgellm_node_ready',
      'edgellm_requests{',
    ])
      expect(text).toContain(metric);
    // Measured latency spans what the prediction models (the batch run); end_to_end adds the
    // wait before the batch ran (at least the Scheduled status writes), so its sum is larger.
    const sums = new Map<string, number>();
    for (const m of text.matchAll(
      /^edgellm_request_latency_seconds_sum\{node="([^"]+)",kind="(\w+)"\} (\S+)$/gm,
    ))
      sums.set(`${m[1]}/${m[2]}`, Number(m[3]));
    const nodes = [...sums.keys()]
      .filter((k) => k.endsWith('/measured'))
      .map((k) => k.split('/')[0]);
    expect(nodes.length).toBeGreaterThan(0);
    for (const node of nodes) {
      expect(sums.get(`${node}/predicted`)).toBeGreaterThan(0);
      expect(sums.get(`${node}/measured`)).toBeLessThan(sums.get(`${node}/end_to_end`) ?? 0);
      // The wait before dispatch (queued) is part of end_to_end, not of the batch's run.
      expect(sums.get(`${node}/queued`)).toBeGreaterThanOrEqual(0);
      expect(sums.get(`${node}/queued`)).toBeLessThan(sums.get(`${node}/end_to_end`) ?? 0);
    }
  });

  it('puts output over the status limit in a ConfigMap the request owns (a Secret for a secret prompt)', async () => {
    await stopManager(manager);
    const limit = 12;
    manager = await startManager(4, { maxStatusOutputChars: limit });
    const core = env.cluster.api(k8s.CoreV1Api);
    const secretPrompt = unique('secret-prompt');
    await core.createNamespacedSecret({
      namespace: env.ns,
      body: { metadata: { name: secretPrompt }, stringData: { prompt: 'A private question' } },
    });
    const plain = unique('long');
    const secret = unique('long-secret');
    const spec = { model, maxTokens: 24, latencyBudget: '90s' };
    await createRequest(plain, { ...spec, prompt: 'Write a lot' });
    await createRequest(secret, {
      ...spec,
      promptFrom: { secretKeyRef: { name: secretPrompt, key: 'prompt' } },
    });
    for (const [name, kind] of [
      [plain, 'ConfigMap'],
      [secret, 'Secret'],
    ] as const) {
      const r = await until(`${name} finished`, () => getRequest(name), finished);
      expect(r.status?.phase).toBe('Succeeded');
      // A name the API server generated, so no user can pre-empt it.
      const outputName = r.status?.outputRef?.name ?? '';
      expect(r.status?.outputRef).toEqual({ kind, name: outputName, key: 'output' });
      expect(outputName).toMatch(new RegExp(`^${name}-output-[a-z0-9]{5}$`));
      const object =
        kind === 'ConfigMap'
          ? await core.readNamespacedConfigMap({ namespace: env.ns, name: outputName })
          : await core.readNamespacedSecret({ namespace: env.ns, name: outputName });
      const full =
        kind === 'ConfigMap'
          ? (object as k8s.V1ConfigMap).data?.['output']
          : Buffer.from((object as k8s.V1Secret).data?.['output'] ?? '', 'base64').toString();
      expect(full?.length).toBeGreaterThan(limit);
      // status.output previews the start and says where the rest is.
      expect(r.status?.output?.startsWith(full?.slice(0, limit) ?? '?')).toBe(true);
      expect(r.status?.output).toContain(`${kind} ${outputName}`);
      // Owned by the request, so the garbage collector deletes it with the request.
      expect(object.metadata?.ownerReferences).toEqual([
        expect.objectContaining({
          kind: 'InferenceRequest',
          name,
          uid: r.metadata.uid,
          controller: true,
        }),
      ]);
    }
  });
});
