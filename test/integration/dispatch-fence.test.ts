// A write only a request's dispatch may make (Running, its outcome, a requeue) never lands over a
// newer state, on the real API server: two RequestStatusRecorders stand for two leadership terms
// (an old leader whose dispatcher still streams after it lost the Lease, and the new leader that
// recovered or re-dispatched the request). On an unfenced write the old term's Succeeded would end
// a request that is running again elsewhere, and its requeue would reopen a request that had
// ended, which then runs twice.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import * as k8s from '@kubernetes/client-node';
import { Registry } from 'prom-client';
import type { InferenceRequest } from '../../src/gen/crds/inferencerequest.js';
import { FinishReason, type RequestResult } from '../../src/gen/edgellm/agent/v1/agent.js';
import { InferenceRequestResource } from '../../src/operator/api/constants.js';
import { systemClock } from '../../src/operator/kube/clock.js';
import { customResourceInformer, type Informer } from '../../src/operator/kube/informer.js';
import { EventRecorder, StatusWriter } from '../../src/operator/kube/writes.js';
import { createOperatorMetrics, type OperatorMetrics } from '../../src/operator/metrics.js';
import { FirstSeen } from '../../src/operator/requests/first-seen.js';
import { OutputSpill } from '../../src/operator/requests/output-spill.js';
import {
  DispatchSupersededError,
  RequestStatusRecorder,
} from '../../src/operator/requests/status-recorder.js';
import { Identity } from '../harness/cluster.js';
import { OperatorEnv, unique } from '../support/operator-env.js';
import { waitUntil } from '../support/wait.js';

let env: OperatorEnv;
let kubeConfig: k8s.KubeConfig;
let informer: Informer<InferenceRequest>;

beforeAll(async () => {
  env = await OperatorEnv.create('fence');
  kubeConfig = env.cluster.kubeConfig(Identity.operator);
  informer = customResourceInformer<InferenceRequest>(
    kubeConfig,
    { ...InferenceRequestResource, namespaced: true },
    { namespaces: [env.ns], log: env.log },
  );
  informer.start();
  await informer.synced;
}, 60_000);

afterAll(async () => {
  await informer.stop();
  await env.teardown();
});

/** One leadership term's recorder, with its own metrics. */
function term(): { recorder: RequestStatusRecorder; metrics: OperatorMetrics; registry: Registry } {
  const registry = new Registry();
  const metrics = createOperatorMetrics(registry);
  const custom = kubeConfig.makeApiClient(k8s.CustomObjectsApi);
  const { group, version, plural } = InferenceRequestResource;
  const recorder = new RequestStatusRecorder({
    status: new StatusWriter(kubeConfig),
    events: new EventRecorder(kubeConfig, env.log),
    metrics,
    log: env.log,
    requests: informer,
    read: async (namespace, name) =>
      (await custom.getNamespacedCustomObject({
        group,
        version,
        plural,
        namespace,
        name,
      })) as InferenceRequest,
    spill: new OutputSpill(kubeConfig, 4096, systemClock),
    maxAttempts: 3,
    firstSeen: new FirstSeen(systemClock),
    clock: systemClock,
  });
  return { recorder, metrics, registry };
}

async function counter(registry: Registry, name: string): Promise<number> {
  const metric = (await registry.getMetricsAsJSON()).find((m) => m.name === name);
  return (metric?.values ?? []).reduce((sum, v) => sum + v.value, 0);
}

async function newRequest(): Promise<InferenceRequest> {
  const name = unique('fenced');
  await env.createRequest(name, {
    model: 'tiny',
    prompt: 'hello',
    maxTokens: 4,
    latencyBudget: '60s',
  });
  return env.getRequest(name);
}

/** Marks `r` Scheduled in `batchId` by `recorder`; returns the dispatch's copy. */
function schedule(
  recorder: RequestStatusRecorder,
  r: InferenceRequest,
  batchId: string,
): Promise<InferenceRequest> {
  return recorder.scheduled(r, {
    assignment: { node: 'edge-a', batchId, model: 'tiny', batchSize: 1 },
    predicted: { latencySeconds: 0.5 },
  });
}

function result(r: InferenceRequest): RequestResult {
  return {
    requestId: `${r.metadata.namespace ?? ''}/${r.metadata.name ?? ''}`,
    text: 'four tokens of output',
    promptTokens: 2,
    completionTokens: 4,
    finishReason: FinishReason.FINISH_REASON_LENGTH,
    firstTokenSeconds: 0.1,
    totalSeconds: 0.3,
    error: '',
  };
}

describe('status writes of a dispatch', () => {
  it("an old term's outcome never ends a request that was re-dispatched meanwhile", async () => {
    const old = term();
    const next = term();
    const inOld = await schedule(old.recorder, await newRequest(), 'batch-old');
    // The new leader found the batch unknown to the agent: back to Pending, then a new batch.
    await next.recorder.requeue(await env.getRequest(inOld.metadata.name ?? ''), 'agent restarted');
    const requeued = await env.getRequest(inOld.metadata.name ?? '');
    expect(requeued.status?.phase).toBe('Pending');
    const inNew = await schedule(next.recorder, requeued, 'batch-new');

    await old.recorder.succeeded(inOld, 'edge-a', result(inOld), Date.now());
    await old.recorder.requeue(inOld, 'the stream broke');
    await old.recorder.failed(inOld, 'AgentError', 'batch failed', 'edge-a');
    await expect(old.recorder.running(inOld, Date.now())).rejects.toBeInstanceOf(
      DispatchSupersededError,
    );

    const now = await env.getRequest(inOld.metadata.name ?? '');
    expect(now.status?.phase).toBe('Scheduled');
    expect(now.status?.assignment?.batchId).toBe('batch-new');
    expect(now.status?.attempts).toBe(2);
    expect(now.metadata.resourceVersion).toBe(inNew.metadata.resourceVersion);
    expect(await counter(old.registry, 'edgellm_requests_completed_total')).toBe(0);
    expect(await counter(old.registry, 'edgellm_request_status_writes_superseded_total')).toBe(4);
  });

  it('a requeue of a dispatch whose outcome is on record does not reopen the request', async () => {
    const old = term();
    const next = term();
    const inOld = await schedule(old.recorder, await newRequest(), 'batch-1');
    // The new leader recovered the same batch and recorded the result the agent kept.
    const recovered = await env.getRequest(inOld.metadata.name ?? '');
    await next.recorder.succeeded(recovered, 'edge-a', result(recovered), Date.now());
    expect(await counter(next.registry, 'edgellm_requests_completed_total')).toBe(1);

    await old.recorder.requeue(inOld, 'the stream broke');
    await old.recorder.succeeded(inOld, 'edge-a', result(inOld), Date.now());

    const now = await env.getRequest(inOld.metadata.name ?? '');
    expect(now.status?.phase).toBe('Succeeded');
    expect(now.status?.attempts).toBe(1);
    expect(now.status?.output).toBe('four tokens of output');
    expect(await counter(old.registry, 'edgellm_requests_completed_total')).toBe(0);
  });

  it('a metadata change does not stop the dispatch from recording its outcome', async () => {
    const t = term();
    const inBatch = await schedule(t.recorder, await newRequest(), 'batch-2');
    const name = inBatch.metadata.name ?? '';
    await env.custom.patchNamespacedCustomObject(
      {
        group: InferenceRequestResource.group,
        version: InferenceRequestResource.version,
        plural: InferenceRequestResource.plural,
        namespace: env.ns,
        name,
        body: { metadata: { labels: { team: 'search' } } },
      },
      k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch),
    );
    // The informer may show the label edit already or not: both ways the write lands.
    await t.recorder.succeeded(inBatch, 'edge-a', result(inBatch), Date.now());
    const now = await env.getRequest(name);
    expect(now.status?.phase).toBe('Succeeded');
    expect(now.metadata.labels?.['team']).toBe('search');
    expect(await counter(t.registry, 'edgellm_requests_completed_total')).toBe(1);
    expect(await counter(t.registry, 'edgellm_request_status_writes_superseded_total')).toBe(0);
  });

  it('never writes into a request created again under the name of one in its batch', async () => {
    const t = term();
    const inBatch = await schedule(t.recorder, await newRequest(), 'batch-3');
    const name = inBatch.metadata.name ?? '';
    await env.deleteRequest(name);
    await env.createRequest(name, {
      model: 'tiny',
      prompt: 'someone else',
      maxTokens: 4,
      latencyBudget: '60s',
    });
    const again = await env.getRequest(name);
    await waitUntil(
      'the informer to show the new object',
      () => informer.get(`${env.ns}/${name}`)?.metadata.uid === again.metadata.uid,
    );

    await t.recorder.succeeded(inBatch, 'edge-a', result(inBatch), Date.now());
    await t.recorder.requeue(inBatch, 'the stream broke');

    const now = await env.getRequest(name);
    expect(now.metadata.uid).toBe(again.metadata.uid);
    expect(now.status).toBeUndefined();
    expect(await counter(t.registry, 'edgellm_requests_completed_total')).toBe(0);
  });
});
