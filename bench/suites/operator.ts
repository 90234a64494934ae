// The operator at scale: the real `edgellm operator` process against the local kube-apiserver,
// with simulated agents (the real agent gRPC server over SimulatedRuntime: each batch takes the
// time its calibrated latency model predicts). Measures requests completed per second, time
// from create to Scheduled and to Succeeded (p50/p99), API writes per request and the operator's
// memory, then runs a smaller identical load per scheduling policy (DFTSP, FCFS, no batching)
// for throughput and SLA attainment. First it times the API client itself: the stock KubeConfig
// (a new connection and TLS handshake per call) against PooledKubeConfig (src/operator/kube/config.ts).
import { get, type RequestOptions } from 'node:https';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import * as k8s from '@kubernetes/client-node';
import type { InferenceRequest } from '../../src/gen/crds/inferencerequest.js';
import { InferenceRequestResource, PHASE } from '../../src/operator/api/constants.js';
import { PooledKubeConfig } from '../../src/operator/kube/config.js';
import {
  Identity,
  installCrds,
  kubeConfigFor,
  startControlPlane,
  stopControlPlane,
} from '../../test/harness/controlplane.js';
import { waitUntil } from '../../test/support/wait.js';
import { markdownTable, quantile, type BenchSuite } from '../suite.js';
import { makeLoad, type Load } from '../support/load.js';
import { SIM_MODEL, SimulatedFleet } from '../support/simulated-fleet.js';

interface ApiClientResult {
  readonly client: 'stock' | 'pooled';
  readonly calls: number;
  readonly sequentialMs: { p50: number; p99: number };
  readonly concurrentCallsPerSecond: number;
}

/** GETs of one Namespace: one at a time (latency), then API_CONCURRENCY at a time (rate). */
async function timeApiClient(
  client: ApiClientResult['client'],
  kc: k8s.KubeConfig,
  calls: number,
): Promise<ApiClientResult> {
  const api = (client === 'pooled' ? PooledKubeConfig.from(kc) : kc).makeApiClient(k8s.CoreV1Api);
  const call = (): Promise<unknown> => api.readNamespace({ name: 'default' });
  for (let i = 0; i < 20; i += 1) await call();
  const times: number[] = [];
  for (let i = 0; i < calls; i += 1) {
    const start = performance.now();
    await call();
    times.push(performance.now() - start);
  }
  const start = performance.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: API_CONCURRENCY }, async () => {
      while (next < calls) {
        next += 1;
        await call();
      }
    }),
  );
  const seconds = (performance.now() - start) / 1000;
  return {
    client,
    calls,
    sequentialMs: { p50: quantile(times, 0.5), p99: quantile(times, 0.99) },
    concurrentCallsPerSecond: calls / seconds,
  };
}

const API_CONCURRENCY = 8;

const SIZES = {
  full: {
    nodes: 20,
    requests: 2000,
    ratePerSecond: 25,
    policyNodes: 4,
    policyRequests: 300,
    apiCalls: 1000,
  },
  quick: {
    nodes: 4,
    requests: 200,
    ratePerSecond: 25,
    policyNodes: 2,
    policyRequests: 60,
    apiCalls: 200,
  },
} as const;

/** The policy comparison creates requests at this rate (per second): more than 4 nodes serve. */
const POLICY_RATE_PER_SECOND = 100;
const CREATE_CONCURRENCY = 16;
/** A run stops waiting for requests this long after the last create. */
const DRAIN_TIMEOUT_SECONDS = 300;
const POLICIES = ['dftsp', 'fcfs', 'single'] as const;

interface RequestTimes {
  created: number;
  scheduled?: number;
  finished?: number;
  phase?: string;
  reason?: string;
  budgetSeconds: number;
  measuredSeconds?: number;
}

interface RunResult {
  readonly policy: string;
  readonly nodes: number;
  readonly requests: number;
  readonly succeeded: number;
  readonly failed: Readonly<Record<string, number>>;
  readonly unfinished: number;
  readonly wallSeconds: number;
  readonly completedPerSecond: number;
  readonly toScheduledSeconds: { p50: number; p99: number };
  readonly toSucceededSeconds: { p50: number; p99: number };
  readonly slaAttainment: number;
  readonly apiWritesPerRequest: number;
  readonly operatorPeakRssMiB: number;
}

async function httpsGet(kc: k8s.KubeConfig, path: string): Promise<string> {
  const cluster = kc.getCurrentCluster();
  if (!cluster) throw new Error('kubeconfig has no cluster');
  const url = new URL(path, cluster.server);
  const options: RequestOptions = { hostname: url.hostname, port: url.port, path: url.pathname };
  await kc.applyToHTTPSOptions(options);
  return new Promise<string>((resolve, reject) => {
    get(options, (res) => {
      let data = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (data += chunk));
      res.on('end', () => {
        resolve(data);
      });
    }).on('error', reject);
  });
}

/** Sum of apiserver_request_total over mutating verbs, from the apiserver's /metrics. */
async function apiWrites(kc: k8s.KubeConfig): Promise<number> {
  let total = 0;
  for (const line of (await httpsGet(kc, '/metrics')).split('\n')) {
    if (!line.startsWith('apiserver_request_total{')) continue;
    if (!/verb="(POST|PUT|PATCH|DELETE|APPLY)"/.test(line)) continue;
    total += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return total;
}

async function runLoad(
  kc: k8s.KubeConfig,
  kubeconfigPath: string,
  policy: string,
  nodeCount: number,
  load: readonly Load[],
  ratePerSecond: number,
): Promise<RunResult> {
  const core = kc.makeApiClient(k8s.CoreV1Api);
  const custom = kc.makeApiClient(k8s.CustomObjectsApi);
  const tag = `${policy}-${Date.now().toString(36)}`;
  const namespace = `bench-${tag}`;
  await core.createNamespace({ body: { metadata: { name: namespace } } });

  let fleet: SimulatedFleet | undefined;
  const times = new Map<string, RequestTimes>();
  let watchRequest: { abort: () => void } | undefined;
  try {
    fleet = await SimulatedFleet.start({ kc, kubeconfigPath, namespace, nodes: nodeCount, policy });

    const watch = new k8s.Watch(kc);
    watchRequest = await watch.watch(
      `/apis/${InferenceRequestResource.group}/${InferenceRequestResource.version}/namespaces/${namespace}/${InferenceRequestResource.plural}`,
      {},
      (_type: string, object: InferenceRequest) => {
        const t = times.get(object.metadata.name ?? '');
        const status = object.status;
        if (!t || !status?.phase) return;
        const now = performance.now();
        if (status.phase !== PHASE.pending) t.scheduled ??= now;
        if (status.phase === PHASE.succeeded || status.phase === PHASE.failed) {
          t.finished ??= now;
          t.phase = status.phase;
          if (status.reason !== undefined) t.reason = status.reason;
          if (status.measured?.latencySeconds !== undefined)
            t.measuredSeconds = status.measured.latencySeconds;
        }
      },
      () => undefined,
    );

    const writesBefore = await apiWrites(kc);
    const started = performance.now();
    let next = 0;
    const creator = async (): Promise<void> => {
      for (;;) {
        const i = next++;
        const item = load[i];
        if (!item) return;
        const due = started + (i * 1000) / ratePerSecond;
        const wait = due - performance.now();
        if (wait > 0) await sleep(wait);
        times.set(item.name, { created: performance.now(), budgetSeconds: item.budgetSeconds });
        const body: InferenceRequest = {
          apiVersion: InferenceRequestResource.apiVersion,
          kind: InferenceRequestResource.kind,
          metadata: { name: item.name, namespace },
          spec: {
            model: SIM_MODEL.name,
            prompt: item.prompt,
            maxTokens: item.maxTokens,
            latencyBudget: `${item.budgetSeconds}s`,
          },
        };
        await custom.createNamespacedCustomObject({
          group: InferenceRequestResource.group,
          version: InferenceRequestResource.version,
          plural: InferenceRequestResource.plural,
          namespace,
          body,
        });
      }
    };
    await Promise.all(Array.from({ length: CREATE_CONCURRENCY }, creator));
    await waitUntil(
      'every request finished',
      () => [...times.values()].every((t) => t.finished !== undefined),
      { timeoutMs: DRAIN_TIMEOUT_SECONDS * 1000, intervalMs: 250 },
    ).catch(() => undefined);
    const all = [...times.values()];
    const lastFinish = Math.max(started, ...all.map((t) => t.finished ?? 0));
    const wallSeconds = (lastFinish - started) / 1000;
    const writes = (await apiWrites(kc)) - writesBefore - load.length;
    const peakRss = fleet.operatorPeakRssBytes();

    const succeeded = all.filter((t) => t.phase === PHASE.succeeded);
    const failed: Record<string, number> = {};
    for (const t of all)
      if (t.phase === PHASE.failed)
        failed[t.reason ?? 'Unknown'] = (failed[t.reason ?? 'Unknown'] ?? 0) + 1;
    const met = succeeded.filter(
      (t) => t.measuredSeconds !== undefined && t.measuredSeconds <= t.budgetSeconds,
    ).length;
    const toScheduled = all.flatMap((t) =>
      t.scheduled === undefined ? [] : [(t.scheduled - t.created) / 1000],
    );
    const toSucceeded = succeeded.flatMap((t) =>
      t.finished === undefined ? [] : [(t.finished - t.created) / 1000],
    );
    const q = (values: number[], p: number): number => (values.length ? quantile(values, p) : NaN);
    return {
      policy,
      nodes: nodeCount,
      requests: load.length,
      succeeded: succeeded.length,
      failed,
      unfinished: all.filter((t) => t.finished === undefined).length,
      wallSeconds,
      completedPerSecond: succeeded.length / wallSeconds,
      toScheduledSeconds: { p50: q(toScheduled, 0.5), p99: q(toScheduled, 0.99) },
      toSucceededSeconds: { p50: q(toSucceeded, 0.5), p99: q(toSucceeded, 0.99) },
      slaAttainment: met / load.length,
      apiWritesPerRequest: writes / load.length,
      operatorPeakRssMiB: peakRss / 1024 ** 2,
    };
  } finally {
    watchRequest?.abort();
    await fleet?.stop();
    await core.deleteNamespace({ name: namespace }).catch(() => undefined);
  }
}

const fmt = (x: number, digits = 2): string => (Number.isFinite(x) ? x.toFixed(digits) : '—');

export const operatorSuite: BenchSuite = {
  name: 'operator',
  description:
    'operator on the local control plane with simulated agents: throughput, create→Scheduled/Succeeded latency, API writes, memory; DFTSP vs FCFS vs no batching',
  async run({ quick }) {
    const size = quick ? SIZES.quick : SIZES.full;
    const cp = await startControlPlane();
    try {
      const kc = kubeConfigFor(cp.state, Identity.admin);
      await installCrds(kc);
      const kubeconfigPath = cp.state.kubeconfigs[Identity.admin];
      const apiClient: ApiClientResult[] = [];
      for (const client of ['stock', 'pooled'] as const)
        apiClient.push(await timeApiClient(client, kc, size.apiCalls));
      const scale = await runLoad(
        kc,
        kubeconfigPath,
        'dftsp',
        size.nodes,
        makeLoad(size.requests, 1),
        size.ratePerSecond,
      );
      const policies: RunResult[] = [];
      for (const policy of POLICIES) {
        policies.push(
          await runLoad(
            kc,
            kubeconfigPath,
            policy,
            size.policyNodes,
            makeLoad(size.policyRequests, 2),
            POLICY_RATE_PER_SECOND,
          ),
        );
      }
      const failures = (r: RunResult): string =>
        Object.entries(r.failed)
          .map(([reason, n]) => `${reason} ${n}`)
          .join(', ') || '0';
      const markdown = [
        `API client: ${size.apiCalls} GETs of a Namespace, one at a time and ${API_CONCURRENCY} at a time, with the stock KubeConfig (a new connection per call) and PooledKubeConfig (connections reused):`,
        '',
        markdownTable(
          ['client', 'sequential p50 ms', 'p99 ms', `calls/s at ${API_CONCURRENCY} concurrent`],
          apiClient.map((r) => [
            r.client,
            fmt(r.sequentialMs.p50),
            fmt(r.sequentialMs.p99),
            fmt(r.concurrentCallsPerSecond, 0),
          ]),
        ),
        '',
        `${size.requests} requests over ${size.nodes} simulated agents (created at ${size.ratePerSecond}/s; prompts 20-400 chars, 8-48 tokens, budgets 5-30 s), one operator process, DFTSP:`,
        '',
        markdownTable(
          [
            'requests',
            'succeeded',
            'failed',
            'unfinished',
            'completed/s',
            'create→Scheduled p50 s',
            'p99 s',
            'create→Succeeded p50 s',
            'p99 s',
            'API writes/request',
            'operator peak RSS MiB',
          ],
          [
            [
              String(scale.requests),
              String(scale.succeeded),
              failures(scale),
              String(scale.unfinished),
              fmt(scale.completedPerSecond, 1),
              fmt(scale.toScheduledSeconds.p50),
              fmt(scale.toScheduledSeconds.p99),
              fmt(scale.toSucceededSeconds.p50),
              fmt(scale.toSucceededSeconds.p99),
              fmt(scale.apiWritesPerRequest, 1),
              fmt(scale.operatorPeakRssMiB, 0),
            ],
          ],
        ),
        '',
        `The same ${size.policyRequests} requests on ${size.policyNodes} nodes per policy, created at ${POLICY_RATE_PER_SECOND}/s (overloaded on purpose, so who is chosen matters):`,
        '',
        markdownTable(
          [
            'policy',
            'succeeded',
            'failed',
            'completed/s',
            'SLA attainment',
            'create→Succeeded p50 s',
          ],
          policies.map((r) => [
            r.policy,
            String(r.succeeded),
            failures(r),
            fmt(r.completedPerSecond, 1),
            `${fmt(r.slaAttainment * 100, 1)}%`,
            fmt(r.toSucceededSeconds.p50),
          ]),
        ),
      ].join('\n');
      return {
        name: 'operator',
        title: 'Operator at scale (simulated agents)',
        markdown,
        data: { apiClient, scale, policies },
      };
    } finally {
      await stopControlPlane(cp);
    }
  },
};
