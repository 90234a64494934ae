// Admission control on the real control plane: the waiting queue stays bounded when no Ready
// node serves a model, and a round that sheds a flood dispatches its batch first and writes at
// most FAILURE_WRITES_PER_ROUND failures, the rest in the next rounds, each request ending once.
// A real agent process serves the Ready node; the other node's endpoint has nothing listening.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { InferenceRequest } from '../../src/gen/crds/inferencerequest.js';
import { InferenceRequestResource, REQUEST_REASON } from '../../src/operator/api/constants.js';
import type { Manager } from '../../src/operator/manager.js';
import { FAILURE_WRITES_PER_ROUND } from '../../src/operator/scheduling/failure-cap.js';
import { finished, OperatorEnv, ready, unique } from '../support/operator-env.js';
import { parsePrometheusText, sumOf } from '../support/prometheus.js';
import { waitFor } from '../support/wait.js';

const MAX_PENDING_PER_NODE = 2;
const MAX_SEQUENCES = 8;

let env: OperatorEnv;
let manager: Manager;
/** Served by a node whose agent runs. */
let model: string;
/** Served only by a node whose agent is not there (NotReady). */
let orphanModel: string;

const startManager = (): Promise<Manager> =>
  env.startManager({ watchNamespaces: [env.ns], maxPendingPerNode: MAX_PENDING_PER_NODE });

async function listRequests(): Promise<InferenceRequest[]> {
  const list = (await env.custom.listNamespacedCustomObject({
    group: InferenceRequestResource.group,
    version: InferenceRequestResource.version,
    plural: InferenceRequestResource.plural,
    namespace: env.ns,
  })) as { items: InferenceRequest[] };
  return list.items;
}

/** Creates `count` requests named `<prefix>-NNN` for `forModel`, 16 at a time. */
async function createRequests(prefix: string, forModel: string, count: number): Promise<string[]> {
  const names = Array.from({ length: count }, (_, i) => `${prefix}-${String(i).padStart(3, '0')}`);
  for (let i = 0; i < names.length; i += 16)
    await Promise.all(
      names.slice(i, i + 16).map((name) =>
        env.createRequest(name, {
          model: forModel,
          prompt: `request ${name}`,
          maxTokens: 4,
          latencyBudget: '600s',
        }),
      ),
    );
  return names;
}

async function shedTotal(): Promise<number> {
  const text = await (await fetch(`http://${manager.address ?? ''}/metrics`)).text();
  return sumOf(parsePrometheusText(text), 'edgellm_requests_shed_total', {
    reason: REQUEST_REASON.queueFull,
  });
}

beforeAll(async () => {
  env = await OperatorEnv.create('admission');
  model = unique('tiny');
  orphanModel = unique('tiny-orphan');
  const agent = await env.startAgent(
    'admission',
    { [model]: env.tinyModelPath },
    { maxSequences: MAX_SEQUENCES, contextTokens: MAX_SEQUENCES * 256 },
  );
  const node = unique('edge-admission');
  await env.createNode(node, env.nodeSpec(agent.address, model));
  // Port 1: nothing listens, the node never turns Ready.
  await env.createNode(unique('edge-orphan'), env.nodeSpec('127.0.0.1:1', orphanModel));
  manager = await startManager();
  await env.waitForNode(node, ready);
}, 180_000);

afterAll(async () => {
  await env.teardown();
});

describe('admission control', () => {
  it('bounds the queue of a model no Ready node serves to one node’s worth: the newest fail QueueFull', async () => {
    const names = await createRequests('orphan', orphanModel, MAX_PENDING_PER_NODE + 2);
    const shed = names.slice(MAX_PENDING_PER_NODE);
    const failed = await Promise.all(shed.map((n) => env.waitForRequest(n, finished, 30_000)));
    for (const r of failed) {
      expect(r.status?.phase).toBe('Failed');
      expect(r.status?.reason).toBe(REQUEST_REASON.queueFull);
      expect(r.status?.message).toContain('while no Ready node serves it');
    }
    // The oldest wait on (three more round intervals), as long as their budget lasts.
    await new Promise((resolve) => setTimeout(resolve, 3000));
    for (const n of names.slice(0, MAX_PENDING_PER_NODE))
      expect((await env.getRequest(n)).status?.phase ?? 'Pending').toBe('Pending');
  });

  it('a round dispatches its batch before it writes its failures, and a flood ends each request once', async () => {
    // Created while no operator runs, so that the first round sees them all at once.
    await env.stopManager(manager);
    const count = FAILURE_WRITES_PER_ROUND + 150;
    await createRequests('flood', model, count);
    manager = await startManager();
    const all = await waitFor(
      'every flood request finished',
      async () => (await listRequests()).filter((r) => r.metadata.name?.startsWith('flood-')),
      (rs) => rs.length === count && rs.every(finished),
      { timeoutMs: 120_000, intervalMs: 500 },
    );
    const succeeded = all.filter((r) => r.status?.phase === 'Succeeded');
    const queueFull = all.filter((r) => r.status?.reason === REQUEST_REASON.queueFull);
    // Every request ended, each with a reason: it ran, or it was shed.
    expect(succeeded.length + queueFull.length).toBe(count);
    expect(queueFull.length).toBeGreaterThan(FAILURE_WRITES_PER_ROUND);
    // Each shed request counted once: no round ended a request an earlier round had ended.
    expect(await shedTotal()).toBe(queueFull.length);
    // The round that saw them all dispatched its batch first: no more than one round's cap of
    // failures was written before the batch's Scheduled status (today's main wrote every one).
    const firstScheduled = Math.min(
      ...succeeded.map((r) => Date.parse(r.status?.scheduledTime ?? '')),
    );
    const shedBefore = queueFull.filter(
      (r) => Date.parse(r.status?.completionTime ?? '') < firstScheduled,
    );
    expect(shedBefore.length).toBeLessThanOrEqual(FAILURE_WRITES_PER_ROUND);
  });
});
