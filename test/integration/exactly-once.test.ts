// Every request ends exactly once, with a reason, whatever its neighbours or the network do: the
// defects found under faults, each reproduced on the real control plane with real agent
// processes, the operator as the chart's RBAC, and (where the fault is the network) a TCP proxy
// that cuts the link between two real components. Executions are counted on the agent side, from
// its own log, not from the status the operator wrote.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import * as k8s from '@kubernetes/client-node';
import { InferenceRequestResource } from '../../src/operator/api/constants.js';
import type { Manager } from '../../src/operator/manager.js';
import { Identity } from '../harness/cluster.js';
import { executionsByRequest, type AgentProcess } from '../support/agent-process.js';
import { finished, OperatorEnv, ready, unique } from '../support/operator-env.js';
import { TcpProxy } from '../support/tcp-proxy.js';
import { waitFor } from '../support/wait.js';

/** Tokens one sequence of the agents here holds: contextTokens / maxSequences. */
const SEQUENCE_TOKENS = 512;
const MAX_SEQUENCES = 8;
const OUTPUT_LIMIT = 12;
// Faults here strike while a request is Running: written at its first token, not after the
// default second (a tiny model's generation may be over by then).
const MANAGER_OPTIONS = { maxStatusOutputChars: OUTPUT_LIMIT, runningWriteDelayMs: 0 };

let env: OperatorEnv;
let manager: Manager;
let agent: AgentProcess;
let proxy: TcpProxy;
let model: string;
let node: string;

beforeAll(async () => {
  env = await OperatorEnv.create('once');
  model = unique('tiny');
  agent = await env.startAgent(
    'once',
    { [model]: env.tinyModelPath },
    { maxSequences: MAX_SEQUENCES, contextTokens: SEQUENCE_TOKENS * MAX_SEQUENCES, metrics: true },
  );
  // The operator reaches this agent only through the proxy, so a test can cut the link.
  proxy = await TcpProxy.start(agent.address);
  node = unique('edge-once');
  await env.createNode(node, env.nodeSpec(proxy.address, model));
  manager = await env.startManager(MANAGER_OPTIONS);
  await env.waitForNode(node, ready);
}, 180_000);

afterAll(async () => {
  await proxy.close();
  await env.teardown();
});

describe('exactly once', () => {
  it('one request too large for a sequence fails alone; its 15 batch-mates succeed', async () => {
    const valid = Array.from({ length: 15 }, (_, i) => unique(`valid${i}`));
    const tooLong = unique('too-long');
    // The round's estimate (bytes / 4) thinks this prompt fits; the tiny model's tokenizer counts
    // one token per character, so only the agent can tell: it rejects this sequence alone.
    const underestimated = unique('underestimated');
    await Promise.all([
      ...valid.map((name, i) =>
        env.createRequest(name, {
          model,
          prompt: `Valid request ${i}`,
          maxTokens: 8,
          latencyBudget: '120s',
        }),
      ),
      env.createRequest(tooLong, { model, prompt: 'x', maxTokens: 8192, latencyBudget: '120s' }),
      env.createRequest(underestimated, {
        model,
        prompt: 'x'.repeat(SEQUENCE_TOKENS + 200),
        maxTokens: 8,
        latencyBudget: '120s',
      }),
    ]);
    const done = await Promise.all(
      [...valid, tooLong, underestimated].map((n) => env.waitForRequest(n, finished, 120_000)),
    );
    const byName = new Map(done.map((r) => [r.metadata.name, r]));
    for (const name of valid)
      expect([name, byName.get(name)?.status?.phase]).toEqual([name, 'Succeeded']);
    expect(byName.get(tooLong)?.status).toMatchObject({
      phase: 'Failed',
      reason: 'ContextExceeded',
    });
    expect(byName.get(tooLong)?.status?.message).toMatch(/lower spec\.maxTokens to at most/);
    // Never dispatched: it cannot fit anywhere.
    expect(byName.get(tooLong)?.status?.assignment).toBeUndefined();
    expect(byName.get(underestimated)?.status).toMatchObject({
      phase: 'Failed',
      reason: 'ContextExceeded',
    });
    expect(byName.get(underestimated)?.status?.message).toMatch(
      /rejected it: .*context of one sequence/,
    );
    for (const name of valid) expect(byName.get(name)?.status?.attempts).toBe(1);
  }, 180_000);

  it('deleting a Running request stops its sequence; its batch-mates run once, undisturbed', async () => {
    const names = [unique('keep-a'), unique('gone'), unique('keep-b')];
    // Prompts the tiny random-weight model answers at length (no end-of-generation token within
    // 480 tokens), so the deleted one is still generating when the delete arrives.
    const prompts = ['Keep going for a while', 'Tell me everything', 'Please continue'];
    await Promise.all(
      names.map((name, i) =>
        env.createRequest(name, {
          model,
          prompt: prompts[i] ?? '',
          maxTokens: 400,
          latencyBudget: '120s',
        }),
      ),
    );
    const running = await waitFor(
      'all three Running in one batch',
      () => Promise.all(names.map((n) => env.getRequest(n))),
      (rs) =>
        rs.every((r) => r.status?.phase === 'Running') &&
        new Set(rs.map((r) => r.status?.assignment?.batchId)).size === 1,
      { timeoutMs: 60_000, intervalMs: 50 },
    );
    const batchId = running[0]?.status?.assignment?.batchId;
    const [keepA, gone, keepB] = names as [string, string, string];
    await env.deleteRequest(gone);
    const kept = await Promise.all([keepA, keepB].map((n) => env.waitForRequest(n, finished)));
    for (const r of kept) {
      expect(r.status?.phase).toBe('Succeeded');
      expect(r.status?.attempts).toBe(1);
      expect(r.status?.assignment?.batchId).toBe(batchId);
      expect(r.status?.usage?.completionTokens).toBeGreaterThan(0);
    }
    // On the agent: the deleted one stopped early, the others ran exactly once.
    const goneKey = `${env.ns}/${gone}`;
    const finishedGone = agent.lines.find(
      (l) => l.msg === 'request finished' && l.requestId === goneKey,
    );
    expect(finishedGone?.finishReason).toBe('cancelled');
    const runs = executionsByRequest([agent]);
    for (const name of [keepA, keepB]) expect(runs.get(`${env.ns}/${name}`)).toBe(1);
    expect(agent.lines.some((l) => l.msg === 'request cancelled' && l.requestId === goneKey)).toBe(
      true,
    );
  }, 120_000);

  it('a dropped stream reattaches: the batch runs once and its request succeeds on the first attempt', async () => {
    const name = unique('reattach');
    await env.createRequest(name, {
      model,
      prompt: 'A long story, please',
      maxTokens: 480,
      latencyBudget: '120s',
    });
    const running = await env.waitForRequest(name, (r) => r.status?.phase === 'Running', 60_000);
    const before = proxy.connections;
    await proxy.cut(); // the link between operator and agent breaks; the agent runs on
    await new Promise((r) => setTimeout(r, 300));
    await proxy.restore();
    const r = await env.waitForRequest(name, finished);
    expect(r.status?.phase).toBe('Succeeded');
    expect(r.status?.attempts).toBe(1);
    expect(r.status?.assignment?.batchId).toBe(running.status?.assignment?.batchId);
    expect(r.status?.usage?.completionTokens).toBe(480);
    expect(proxy.connections).toBeGreaterThan(before);
    const batchId = r.status?.assignment?.batchId;
    expect(
      agent.lines.filter((l) => l.msg === 'batch started' && l.batchId === batchId),
    ).toHaveLength(1);
    expect(executionsByRequest([agent]).get(`${env.ns}/${name}`)).toBe(1);
  }, 120_000);

  it('never writes into an output object a user made first, and cannot update or list them', async () => {
    const core = env.cluster.api(k8s.CoreV1Api);
    const victim = unique('victim');
    const victim2 = unique('victim2');
    await core.createNamespacedConfigMap({
      namespace: env.ns,
      body: { metadata: { name: `${victim}-output` }, data: { output: 'mine' } },
    });
    await core.createNamespacedSecret({
      namespace: env.ns,
      body: { metadata: { name: `${victim2}-output` }, stringData: { output: 'mine too' } },
    });
    await core.createNamespacedSecret({
      namespace: env.ns,
      body: {
        metadata: { name: `${victim2}-prompt` },
        stringData: { prompt: 'A secret question' },
      },
    });
    await env.createRequest(victim, {
      model,
      prompt: 'Say a lot',
      maxTokens: 24,
      latencyBudget: '60s',
    });
    await env.createRequest(victim2, {
      model,
      promptFrom: { secretKeyRef: { name: `${victim2}-prompt`, key: 'prompt' } },
      maxTokens: 24,
      latencyBudget: '60s',
    });
    const [a, b] = await Promise.all([victim, victim2].map((n) => env.waitForRequest(n, finished)));
    expect([a?.status?.phase, b?.status?.phase]).toEqual(['Succeeded', 'Succeeded']);
    expect(a?.status?.outputRef?.name).toMatch(new RegExp(`^${victim}-output-[a-z0-9]{5}$`));
    expect(b?.status?.outputRef?.name).toMatch(new RegExp(`^${victim2}-output-[a-z0-9]{5}$`));
    const cm = await core.readNamespacedConfigMap({ namespace: env.ns, name: `${victim}-output` });
    expect(cm.data).toEqual({ output: 'mine' });
    expect(cm.metadata?.ownerReferences).toBeUndefined();
    const secret = await core.readNamespacedSecret({
      namespace: env.ns,
      name: `${victim2}-output`,
    });
    expect(Buffer.from(secret.data?.['output'] ?? '', 'base64').toString()).toBe('mine too');
    expect(secret.metadata?.ownerReferences).toBeUndefined();
    // The chart's RBAC gives the operator no verb to overwrite, delete or enumerate them.
    const asOperator = env.cluster.api(k8s.CoreV1Api, Identity.operator);
    const denied = async (call: Promise<unknown>): Promise<number | undefined> =>
      call.then(
        () => undefined,
        (e: unknown) => (e as { code?: number }).code,
      );
    expect(
      await denied(
        asOperator.replaceNamespacedConfigMap({
          namespace: env.ns,
          name: `${victim}-output`,
          body: cm,
        }),
      ),
    ).toBe(403);
    expect(
      await denied(
        asOperator.deleteNamespacedSecret({ namespace: env.ns, name: `${victim2}-output` }),
      ),
    ).toBe(403);
    expect(await denied(asOperator.listNamespacedSecret({ namespace: env.ns }))).toBe(403);
  }, 120_000);

  it('an output the API server refuses to store fails its request OutputNotStored; it ran once', async () => {
    // A namespace quota with no ConfigMap left: the spill's create is refused (403). On main the
    // request stayed Running for good, its result dropped after "could not record a result".
    const core = env.cluster.api(k8s.CoreV1Api);
    const quota = unique('no-configmaps');
    const hard = { 'count/configmaps': '0' };
    const created = await core.createNamespacedResourceQuota({
      namespace: env.ns,
      body: { metadata: { name: quota }, spec: { hard } },
    });
    // No controller manager computes usage here: the administrator's status says none is left.
    await core.replaceNamespacedResourceQuotaStatus({
      namespace: env.ns,
      name: quota,
      body: {
        metadata: { name: quota, resourceVersion: created.metadata?.resourceVersion ?? '' },
        spec: { hard },
        status: { hard, used: { 'count/configmaps': '0' } },
      },
    });
    try {
      const name = unique('refused');
      await env.createRequest(name, {
        model,
        prompt: 'Say a lot',
        maxTokens: 24,
        latencyBudget: '60s',
      });
      const r = await env.waitForRequest(name, finished, 60_000);
      expect(r.status).toMatchObject({ phase: 'Failed', reason: 'OutputNotStored', attempts: 1 });
      expect(r.status?.message).toMatch(
        /^it ran on .*, but its output \(\d+ characters, more than the 12 kept in status\) could not be stored in a ConfigMap: HTTP 403: .*exceeded quota/,
      );
      expect(r.status?.outputRef).toBeUndefined();
      expect(executionsByRequest([agent]).get(`${env.ns}/${name}`)).toBe(1);
    } finally {
      await core.deleteNamespacedResourceQuota({ namespace: env.ns, name: quota });
    }
  }, 120_000);

  it('a refused final status write leaves no request in flight: once writes land, it ends with its result, ran once, same leader', async () => {
    // The fault of an etcd out of space (NOSPACE, not retried) for one request: an admission
    // policy refuses every status write that would move it out of Scheduled or Running. On main
    // its result was dropped after "could not record a result" and it stayed Running until the
    // leader changed; now the leader settles it from the result its agent kept (GetBatch).
    const name = unique('held');
    const admission = env.cluster.api(k8s.AdmissionregistrationV1Api);
    const policy = unique('hold-final-status');
    // A dry-run create of this name is refused too: how the test knows the policy is in force.
    const probe = `${name}-probe`;
    const refusal = "the test refuses this request's final status";
    await admission.createValidatingAdmissionPolicy({
      body: {
        metadata: { name: policy },
        spec: {
          failurePolicy: 'Fail',
          matchConstraints: {
            resourceRules: [
              {
                apiGroups: ['edgellm.io'],
                apiVersions: ['*'],
                resources: ['inferencerequests', 'inferencerequests/status'],
                operations: ['CREATE', 'UPDATE'],
              },
            ],
          },
          validations: [
            {
              expression: `object.metadata.name != '${probe}' && (object.metadata.name != '${name}' || !has(object.status) || !has(object.status.phase) || object.status.phase in ['Scheduled', 'Running'])`,
              message: refusal,
            },
          ],
        },
      },
    });
    await admission.createValidatingAdmissionPolicyBinding({
      body: {
        metadata: { name: policy },
        spec: { policyName: policy, validationActions: ['Deny'] },
      },
    });
    const lift = async (): Promise<void> => {
      await admission
        .deleteValidatingAdmissionPolicyBinding({ name: policy })
        .catch(() => undefined);
      await admission.deleteValidatingAdmissionPolicy({ name: policy }).catch(() => undefined);
    };
    // Sampled throughout: a new leader term would recover the request the old way.
    let leaderLost = !manager.isLeader;
    const sampler = setInterval(() => {
      leaderLost ||= !manager.isLeader;
    }, 100);
    try {
      await waitFor(
        'the policy in force',
        () =>
          env.custom
            .createNamespacedCustomObject({
              group: InferenceRequestResource.group,
              version: InferenceRequestResource.version,
              plural: InferenceRequestResource.plural,
              namespace: env.ns,
              body: {
                apiVersion: InferenceRequestResource.apiVersion,
                kind: InferenceRequestResource.kind,
                metadata: { name: probe },
                spec: { model, prompt: 'x', maxTokens: 1, latencyBudget: '1s' },
              },
              dryRun: 'All',
            })
            .then(
              () => false,
              (e: unknown) => String((e as { body?: unknown }).body ?? e).includes(refusal),
            ),
        (refused) => refused,
        { timeoutMs: 20_000, intervalMs: 50 },
      );
      await env.createRequest(name, {
        model,
        prompt: 'A long story, please',
        maxTokens: 480,
        latencyBudget: '120s',
      });
      const key = `${env.ns}/${name}`;
      await waitFor(
        'the agent finished the request',
        () => Promise.resolve(agent.lines),
        (lines) => lines.some((l) => l.msg === 'request finished' && l.requestId === key),
        { timeoutMs: 60_000, intervalMs: 100 },
      );
      // Its result is in, the write refused: it stays in flight while the refusal lasts.
      await new Promise((r) => setTimeout(r, 10_000));
      const held = await env.getRequest(name);
      expect(held.status?.phase).toBe('Running');
      await lift();
      const r = await env.waitForRequest(name, finished, 60_000);
      expect(r.status).toMatchObject({ phase: 'Succeeded', attempts: 1 });
      expect(r.status?.assignment?.batchId).toBe(held.status?.assignment?.batchId);
      expect(r.status?.usage?.completionTokens).toBe(480);
      expect(executionsByRequest([agent]).get(key)).toBe(1);
      expect(leaderLost).toBe(false);
    } finally {
      clearInterval(sampler);
      await lift();
    }
  }, 120_000);

  it('counts a latency budget from when the operator saw the request, to the millisecond', async () => {
    // creationTimestamp has whole seconds: counted from it, up to a second of these 900 ms budgets
    // is gone before the request is seen, and some fail DeadlineExceeded before they run.
    const names = Array.from({ length: 10 }, (_, i) => unique(`quick${i}`));
    for (const name of names) {
      await env.createRequest(name, { model, prompt: 'Hi', maxTokens: 1, latencyBudget: '900ms' });
      await new Promise((r) => setTimeout(r, 137));
    }
    const done = await Promise.all(names.map((n) => env.waitForRequest(n, finished)));
    expect(done.map((r) => [r.metadata.name, r.status?.phase, r.status?.reason])).toEqual(
      names.map((n) => [n, 'Succeeded', 'Succeeded']),
    );
    // A budget no node could ever meet says so, not DeadlineExceeded.
    const hopeless = unique('hopeless');
    await env.createRequest(hopeless, { model, prompt: 'x', maxTokens: 400, latencyBudget: '1ms' });
    const h = await env.waitForRequest(hopeless, finished);
    expect(h.status).toMatchObject({ phase: 'Failed', reason: 'DeadlineInfeasible' });
  }, 120_000);

  it('after a 35 s API server outage, caches are fresh again within seconds', async () => {
    await env.stopManager(manager);
    // This operator reaches the API server only through a proxy that goes away for 35 s.
    const direct = env.cluster.kubeConfig(Identity.operator);
    const server = new URL(direct.getCurrentCluster()?.server ?? '');
    const apiProxy = await TcpProxy.start(`${server.hostname}:${server.port}`);
    const viaProxy = new k8s.KubeConfig();
    viaProxy.loadFromOptions({
      clusters: direct.clusters.map((c) => ({
        ...c,
        server: `https://127.0.0.1:${apiProxy.port}`,
      })),
      users: direct.users,
      contexts: direct.contexts,
      currentContext: direct.currentContext,
    });
    const proxied = await env.startManager({ kubeConfig: viaProxy });
    try {
      await waitFor(
        'the proxied operator leads',
        () => proxied.isLeader,
        (v) => v,
        {
          timeoutMs: 30_000,
        },
      );
      await apiProxy.cut();
      await new Promise((r) => setTimeout(r, 35_000));
      await apiProxy.restore();
      const name = unique('after-outage');
      const created = Date.now();
      await env.createRequest(name, { model, prompt: 'Back?', maxTokens: 2, latencyBudget: '60s' });
      const r = await env.waitForRequest(name, finished, 60_000);
      const seconds = (Date.now() - created) / 1000;
      expect(r.status?.phase).toBe('Succeeded');
      // Waiting out the informers' backoff took about 28 s here before; probing brings it to ~1-3 s.
      expect(seconds).toBeLessThan(10);
    } finally {
      await env.stopManager(proxied);
      await apiProxy.close();
      manager = await env.startManager(MANAGER_OPTIONS);
    }
  }, 180_000);
});
