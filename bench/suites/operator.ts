// The operator at scale: the real `edgellm operator` process against the local kube-apiserver,
// with simulated agents (the real agent gRPC server over SimulatedRuntime: each batch takes the
// time its calibrated latency model predicts). Ramps the offered rate, one fresh operator per
// rate, and follows every request with the project's informer and a final list
// (bench/support/request-tracker.ts), so a request counts as unfinished only when it is. Per rate
// it reports requests completed per second, time from create to Scheduled and to Succeeded
// (p50/p99), SLA attainment, failures by reason, API writes per request (the API server's own
// apiserver_request_total), operator and API server CPU seconds and the operator's peak RSS; the
// knee is the highest rate with create→Scheduled p99 under 1 s and nothing unfinished. Then it
// runs a smaller identical load per scheduling policy (the sweep, DFTSP, FCFS, no batching) for throughput
// and SLA attainment. First it times the API client itself: the stock KubeConfig (a new
// connection and TLS handshake per call) against PooledKubeConfig (src/operator/kube/config.ts).
// To profile the operator at one rate: EDGELLM_BENCH_OPERATOR_RATES=50 (the ramp's rates, comma
// separated; the policy comparison is left out then) and EDGELLM_BENCH_OPERATOR_NODE_ARGS=
// "--cpu-prof --cpu-prof-dir=/tmp/prof" (Node.js flags of the operator process).
import { get, type RequestOptions } from 'node:https';
import { performance } from 'node:perf_hooks';
import * as k8s from '@kubernetes/client-node';
import { pino } from 'pino';
import { SIMULATED_DEFAULTS } from '../../src/runtime/simulated.js';
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
import { createClients, createWhenDue, makeLoad, type Load } from '../support/load.js';
import { cpuSeconds, groupCpuSeconds } from '../support/proc.js';
import { RequestTracker, type TrackedRequest } from '../support/request-tracker.js';
import { SIM_MAX_SEQUENCES, SimulatedFleet } from '../support/simulated-fleet.js';

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
    rates: [25, 50, 100, 200, 300, 400, 800],
    secondsPerRate: 8,
    policyNodes: 4,
    policyRequests: 300,
    apiCalls: 1000,
  },
  quick: {
    nodes: 4,
    rates: [25, 100],
    secondsPerRate: 3,
    policyNodes: 2,
    policyRequests: 60,
    apiCalls: 200,
  },
} as const;

/** The policy comparison creates requests at this rate (per second): more than 4 nodes serve. */
const POLICY_RATE_PER_SECOND = 100;
/** Creates in flight at once (from CREATE_CLIENTS pooled clients): enough for 800/s. */
const CREATE_CONCURRENCY = 32;
const CREATE_CLIENTS = 4;
/** A run stops waiting for requests this long after the last create. */
const DRAIN_TIMEOUT_SECONDS = 120;
const POLICIES = ['sweep', 'dftsp', 'fcfs', 'single'] as const;
/** The ramp runs the default policy. */
const RAMP_POLICY = 'sweep';
/** Seconds of a full batch of the load's longest outputs (48 tokens) on a ramp agent. */
function rampBatchSeconds(): number {
  const { prefill, decodeStep } = SIMULATED_DEFAULTS.coefficients;
  const step = decodeStep.fixedSeconds + decodeStep.perSequenceSeconds * SIM_MAX_SEQUENCES;
  const prompt = prefill.fixedSeconds + prefill.perTokenSeconds * SIM_MAX_SEQUENCES * 100;
  return (prompt + 48 * step) / RAMP_AGENT_SPEED;
}

/**
 * The ramp's agents run (and are calibrated) this many times faster than SIMULATED_DEFAULTS, so
 * that the operator, not the agents, is what the ramp finds the limit of.
 */
const RAMP_AGENT_SPEED = 4;
/** Environment: the ramp's rates instead of SIZES' (comma separated), for profiling one rate. */
const RATES_ENV = 'EDGELLM_BENCH_OPERATOR_RATES';
/** Environment: Node.js flags of the operator process, space separated. */
const NODE_ARGS_ENV = 'EDGELLM_BENCH_OPERATOR_NODE_ARGS';
/** The knee: the highest rate whose create→Scheduled p99 is under this, with nothing unfinished. */
const KNEE_SCHEDULED_P99_SECONDS = 1;

interface RunResult {
  readonly policy: string;
  readonly nodes: number;
  readonly offeredPerSecond: number;
  /** Requests created per second of creating: below the offered rate when creates fall behind. */
  readonly createdPerSecond: number;
  readonly requests: number;
  readonly succeeded: number;
  readonly failed: Readonly<Record<string, number>>;
  readonly unfinished: number;
  readonly wallSeconds: number;
  readonly completedPerSecond: number;
  /** Created to status.startTime (the operator's clock at dispatch, when it writes Scheduled). */
  readonly toScheduledSeconds: { p50: number; p99: number };
  /** Created to when this process's informer saw it Scheduled: adds the watch delays. */
  readonly seenScheduledSeconds: { p50: number; p99: number };
  /** The create call: from its start to the API server's answer. */
  readonly createCallSeconds: { p50: number; p99: number };
  /**
   * The operator's own mean wait from first seeing a request to its batch's dispatch
   * (edgellm_request_latency_seconds{kind="queued"}): create→Scheduled less the watch delays.
   */
  readonly queuedMeanSeconds: number;
  readonly toSucceededSeconds: { p50: number; p99: number };
  readonly slaAttainment: number;
  /** API server writes per request besides its create, all verbs, and by verb. */
  readonly apiWritesPerRequest: number;
  /** By "VERB resource[/subresource] code". */
  readonly apiWritesPerRequestByKind: Readonly<Record<string, number>>;
  /** Request status writes the API server accepted, per request. */
  readonly statusWritesPerRequest: number;
  readonly operatorCpuSeconds: number;
  readonly apiServerCpuSeconds: number;
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

/** The InferenceRequest creates of the load, which "writes per request" leaves out. */
const LOAD_CREATES = 'POST inferencerequests 201';
/** Request status writes the API server accepted. */
const STATUS_WRITES = 'PATCH inferencerequests/status 200';

/**
 * apiserver_request_total over mutating verbs from the apiserver's /metrics, by
 * "VERB resource[/subresource] code" (a refused write, 409 or 5xx, is a request too).
 */
async function apiWrites(kc: k8s.KubeConfig): Promise<Map<string, number>> {
  const counts = new Map<string, number>();
  for (const line of (await httpsGet(kc, '/metrics')).split('\n')) {
    if (!line.startsWith('apiserver_request_total{')) continue;
    const label = (name: string): string =>
      new RegExp(`[{,]${name}="([^"]*)"`).exec(line)?.[1] ?? '';
    const verb = label('verb');
    if (!['POST', 'PUT', 'PATCH', 'DELETE', 'APPLY'].includes(verb)) continue;
    const sub = label('subresource');
    const key = `${verb} ${label('resource')}${sub ? `/${sub}` : ''} ${label('code')}`;
    counts.set(key, (counts.get(key) ?? 0) + Number(line.slice(line.lastIndexOf(' ') + 1)));
  }
  return counts;
}

/** Mean of the operator's edgellm_request_latency_seconds{kind="queued"} over its nodes. */
async function queuedMean(metricsAddress: string): Promise<number> {
  const text = await fetch(`http://${metricsAddress}/metrics`).then(
    (r) => r.text(),
    () => '',
  );
  const total = (what: 'sum' | 'count'): number => {
    const pattern = new RegExp(
      `^edgellm_request_latency_seconds_${what}\\{[^}]*kind="queued"[^}]*\\} (\\S+)$`,
      'gm',
    );
    return [...text.matchAll(pattern)].reduce((a, m) => a + Number(m[1]), 0);
  };
  const count = total('count');
  return count > 0 ? total('sum') / count : NaN;
}

async function runLoad(
  kc: k8s.KubeConfig,
  kubeconfigPath: string,
  controlPlanePid: number,
  policy: string,
  nodeCount: number,
  load: readonly Load[],
  ratePerSecond: number,
  /** The agents' speed over SIMULATED_DEFAULTS (SimulatedFleet's `speed`). */
  agentSpeed = 1,
): Promise<RunResult> {
  const core = kc.makeApiClient(k8s.CoreV1Api);
  const clients = createClients(kc, CREATE_CLIENTS);
  const tag = `${policy}-${ratePerSecond}-${Date.now().toString(36)}`;
  const namespace = `bench-${tag}`;
  await core.createNamespace({ body: { metadata: { name: namespace } } });

  let fleet: SimulatedFleet | undefined;
  const tracker = new RequestTracker(kc, namespace, pino({ level: 'warn' }));
  try {
    fleet = await SimulatedFleet.start({
      kc,
      kubeconfigPath,
      namespace,
      nodes: nodeCount,
      policy,
      speed: agentSpeed,
      operatorNodeArgs: (process.env[NODE_ARGS_ENV] ?? '').split(' ').filter(Boolean),
    });
    await tracker.start();

    const writesBefore = await apiWrites(kc);
    const operatorCpuBefore = cpuSeconds(fleet.operatorPid);
    const apiServerCpuBefore = groupCpuSeconds(controlPlanePid);
    const started = Date.now();
    const createErrors = await createWhenDue(
      clients,
      namespace,
      tracker,
      load,
      (_item, i) => started + (i * 1000) / ratePerSecond,
      CREATE_CONCURRENCY,
    );
    const createdPerSecond = load.length / Math.max(1e-3, (Date.now() - started) / 1000);
    await waitUntil('every request finished', () => tracker.allFinished(), {
      timeoutMs: DRAIN_TIMEOUT_SECONDS * 1000,
      intervalMs: 250,
    }).catch(() => undefined);
    await tracker.finalList();
    const operatorCpu = cpuSeconds(fleet.operatorPid) - operatorCpuBefore;
    const apiServerCpu = groupCpuSeconds(controlPlanePid) - apiServerCpuBefore;
    const all = [...tracker.requests.values()];
    const { succeeded, failed, metBudget, unfinished, wallSeconds } = tracker.outcomes(
      load,
      started,
      createErrors,
    );
    const writesAfter = await apiWrites(kc);
    const byKind: Record<string, number> = {};
    let writes = 0;
    for (const [key, after] of writesAfter) {
      const n = after - (writesBefore.get(key) ?? 0);
      if (n === 0 || key === LOAD_CREATES) continue;
      byKind[key] = n / load.length;
      writes += n;
    }
    const peakRss = fleet.operatorPeakRssBytes();
    const queuedMeanSeconds = await queuedMean(fleet.operatorMetrics);

    // The status's times: what the system did, whatever the lag of this process's own watch
    // (on 2 cores this process, the API server and the operator share the CPU, and at 100/s
    // its informer saw Scheduled 1-2 s after the operator wrote it; seenScheduled below).
    const since = (t: TrackedRequest, ms: number | undefined): number[] =>
      ms === undefined ? [] : [(ms - t.createdMs) / 1000];
    const toScheduled = all.flatMap((t) => since(t, t.startTimeMs));
    const seenScheduled = all.flatMap((t) => since(t, t.seenScheduledMs));
    const createCall = all.flatMap((t) => since(t, t.acceptedMs));
    const toSucceeded = succeeded.flatMap((t) => since(t, t.completionTimeMs ?? t.seenFinishedMs));
    const q = (values: number[], p: number): number => (values.length ? quantile(values, p) : NaN);
    return {
      policy,
      nodes: nodeCount,
      offeredPerSecond: ratePerSecond,
      createdPerSecond,
      requests: load.length,
      succeeded: succeeded.length,
      failed,
      unfinished,
      wallSeconds,
      completedPerSecond: succeeded.length / wallSeconds,
      toScheduledSeconds: { p50: q(toScheduled, 0.5), p99: q(toScheduled, 0.99) },
      seenScheduledSeconds: { p50: q(seenScheduled, 0.5), p99: q(seenScheduled, 0.99) },
      createCallSeconds: { p50: q(createCall, 0.5), p99: q(createCall, 0.99) },
      queuedMeanSeconds,
      toSucceededSeconds: { p50: q(toSucceeded, 0.5), p99: q(toSucceeded, 0.99) },
      slaAttainment: metBudget / load.length,
      apiWritesPerRequest: writes / load.length,
      apiWritesPerRequestByKind: byKind,
      statusWritesPerRequest: byKind[STATUS_WRITES] ?? 0,
      operatorCpuSeconds: operatorCpu,
      apiServerCpuSeconds: apiServerCpu,
      operatorPeakRssMiB: peakRss / 1024 ** 2,
    };
  } finally {
    await tracker.stop();
    await fleet?.stop();
    await core.deleteNamespace({ name: namespace }).catch(() => undefined);
  }
}

const fmt = (x: number, digits = 2): string => (Number.isFinite(x) ? x.toFixed(digits) : '—');

/** The highest rate whose create→Scheduled p99 is under a second with nothing unfinished. */
function kneeOf(ramp: readonly RunResult[]): RunResult | undefined {
  return ramp
    .filter(
      (r) =>
        r.unfinished === 0 &&
        !Object.hasOwn(r.failed, 'CreateRefused') &&
        r.toScheduledSeconds.p99 < KNEE_SCHEDULED_P99_SECONDS,
    )
    .sort((a, b) => b.offeredPerSecond - a.offeredPerSecond)[0];
}

export const operatorSuite: BenchSuite = {
  name: 'operator',
  description:
    'operator on the local control plane with simulated agents: throughput, create→Scheduled/Succeeded latency, API writes, memory; sweep vs DFTSP vs FCFS vs no batching',
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
      const ratesOverride = process.env[RATES_ENV]?.split(',').map(Number);
      if (ratesOverride?.some((r) => !(r > 0)))
        throw new Error(`${RATES_ENV} must be positive numbers, comma separated`);
      const ramp: RunResult[] = [];
      for (const rate of ratesOverride ?? size.rates) {
        const result = await runLoad(
          kc,
          kubeconfigPath,
          cp.state.pid,
          RAMP_POLICY,
          size.nodes,
          makeLoad(rate * size.secondsPerRate, 1),
          rate,
          RAMP_AGENT_SPEED,
        );
        process.stdout.write(
          `operator bench: ${rate}/s: ${result.succeeded}/${result.requests} succeeded, ${result.unfinished} unfinished, create→Scheduled p99 ${fmt(result.toScheduledSeconds.p99)} s\n`,
        );
        ramp.push(result);
      }
      const knee = kneeOf(ramp);
      const policies: RunResult[] = [];
      for (const policy of ratesOverride === undefined ? POLICIES : []) {
        policies.push(
          await runLoad(
            kc,
            kubeconfigPath,
            cp.state.pid,
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
        `Ramp: ${RAMP_POLICY} (the default policy) on ${size.nodes} simulated agents (${SIM_MAX_SEQUENCES} sequences each, ${RAMP_AGENT_SPEED}x the simulated model's default speed and calibrated to it: a full batch of the longest outputs takes about ${rampBatchSeconds().toFixed(2)} s, so the fleet finishes about ${String(Math.round((size.nodes * SIM_MAX_SEQUENCES) / rampBatchSeconds()))} requests/s), one operator process per rate, requests created for ${size.secondsPerRate} s at each offered rate (prompts 20-400 chars, 8-48 tokens, budgets 5-30 s), followed with the operator's informer and a final list. create→Scheduled and create→Succeeded: from right before the create call to the request's status.startTime (the operator's clock when it dispatched the batch and wrote Scheduled) and status.completionTime; the create call is the API server taking the create (the rest of create→Scheduled is its watch event reaching the operator and the operator's own wait); the operator's queued mean is its edgellm_request_latency_seconds{kind="queued"} (first seen by the operator to dispatch); "seen Scheduled by the bench" is when this process's own informer saw it, which adds the watch delays of a process that shares the 2 cores with the API server, the operator and the 20 simulated agents. Writes/request: the API server's apiserver_request_total over POST/PUT/PATCH/DELETE, any answer (a 409 or 5xx is a request too), less the load's creates; status writes: accepted PATCHes of inferencerequests/status (the JSON has every verb, resource and code). CPU: user + system seconds over the run (/proc/<pid>/stat); API server: the control plane's process group (kube-apiserver and etcd).`,
        '',
        markdownTable(
          [
            'offered/s',
            'created/s',
            'requests',
            'succeeded',
            'failed',
            'unfinished',
            'completed/s',
            'create→Scheduled p50 s',
            'p99 s',
            'of it: create call p50 s',
            'p99 s',
            "operator's queued mean s",
            'seen Scheduled by the bench p99 s',
            'create→Succeeded p50 s',
            'p99 s',
            'SLA attainment',
            'API writes/request',
            'of them status writes',
            'operator CPU s',
            'API server CPU s',
            'operator peak RSS MiB',
          ],
          ramp.map((r) => [
            String(r.offeredPerSecond),
            fmt(r.createdPerSecond, 1),
            String(r.requests),
            String(r.succeeded),
            failures(r),
            String(r.unfinished),
            fmt(r.completedPerSecond, 1),
            fmt(r.toScheduledSeconds.p50),
            fmt(r.toScheduledSeconds.p99),
            fmt(r.createCallSeconds.p50),
            fmt(r.createCallSeconds.p99),
            fmt(r.queuedMeanSeconds),
            fmt(r.seenScheduledSeconds.p99),
            fmt(r.toSucceededSeconds.p50),
            fmt(r.toSucceededSeconds.p99),
            `${fmt(r.slaAttainment * 100, 1)}%`,
            fmt(r.apiWritesPerRequest, 2),
            fmt(r.statusWritesPerRequest, 2),
            fmt(r.operatorCpuSeconds, 1),
            fmt(r.apiServerCpuSeconds, 1),
            fmt(r.operatorPeakRssMiB, 0),
          ]),
        ),
        '',
        knee === undefined
          ? `**Knee: none** (no rate had create→Scheduled p99 < ${KNEE_SCHEDULED_P99_SECONDS} s with nothing unfinished).`
          : `**Knee: ${knee.offeredPerSecond} requests/s** (the highest offered rate with create→Scheduled p99 < ${KNEE_SCHEDULED_P99_SECONDS} s and nothing unfinished: p99 ${fmt(knee.toScheduledSeconds.p99)} s, ${fmt(knee.completedPerSecond, 1)} completed/s).`,
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
        data: { apiClient, ramp, knee: knee?.offeredPerSecond ?? null, policies },
      };
    } finally {
      await stopControlPlane(cp);
    }
  },
};
