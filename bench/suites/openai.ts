// The OpenAI-compatible endpoint against InferenceRequests, on the same simulated agents in one
// run: the real `edgellm operator` process (with --openai-listen) on the local kube-apiserver,
// the same seeded requests sent both ways at each offered rate, the rate ramped past saturation.
// Per path and rate: requests/s completed, time to first token and end-to-end latency (p50/p99),
// and every request that did not succeed, by the HTTP status it got (or would get: an
// InferenceRequest's failure reason maps to the status the endpoint answers for it) or as
// unfinished when the run stopped waiting.
import { cpus, loadavg } from 'node:os';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import * as k8s from '@kubernetes/client-node';
import { pino } from 'pino';
import { PHASE, REQUEST_REASON } from '../../src/operator/api/constants.js';
import { PooledKubeConfig } from '../../src/operator/kube/config.js';
import { errorForReason } from '../../src/operator/openai/errors.js';
import { HEADERS } from '../../src/operator/openai/server.js';
import { SIMULATED_DEFAULTS, simulatedTokenCount } from '../../src/runtime/simulated.js';
import {
  Identity,
  installCrds,
  kubeConfigFor,
  startControlPlane,
  stopControlPlane,
} from '../../test/harness/controlplane.js';
import { freePort } from '../../test/support/net.js';
import { waitFor, waitUntil } from '../../test/support/wait.js';
import { markdownTable, quantile, type BenchSuite } from '../suite.js';
import { createLoadRequest, makeLoad, type Load } from '../support/load.js';
import { RequestTracker } from '../support/request-tracker.js';
import { SIM_MAX_SEQUENCES, SIM_MODEL, SimulatedFleet } from '../support/simulated-fleet.js';
import { streamCompletion, type StreamOutcome } from '../support/streamed-completion.js';

const SIZES = {
  full: { nodes: 4, rates: [10, 20, 40, 80], seconds: 20 },
  quick: { nodes: 2, rates: [5, 15, 45], seconds: 5 },
} as const;

/** After the last send, a phase waits this long for answers: the longest budget (30 s) + 10 s. */
const DRAIN_SECONDS = 40;
/** Pause between phases, after the previous one's leftovers were cancelled. */
const SETTLE_MS = 3000;
/** The load's seed: both paths get the same requests at a rate. */
const SEED = 17;

type Path = 'endpoint' | 'InferenceRequest';
type Quantiles = { readonly p50: number; readonly p99: number };

interface PhaseResult {
  readonly path: Path;
  readonly offeredPerSecond: number;
  readonly sent: number;
  /** First to last send, seconds (the pacer's actual rate is sent / this). */
  readonly sendSeconds: number;
  readonly succeeded: number;
  /** Did not succeed, by the HTTP status answered (endpoint) or mapped from the reason. */
  readonly notSucceededByStatus: Readonly<Record<string, number>>;
  /** The same, by status and OpenAI error code (endpoint) or status reason (InferenceRequest). */
  readonly notSucceededDetail: Readonly<Record<string, number>>;
  /** Neither succeeded nor failed when the phase stopped waiting. */
  readonly unfinished: number;
  /** Succeeded per second, from the first send to the last success. */
  readonly completedPerSecond: number;
  readonly ttftSeconds: Quantiles | null;
  readonly e2eSeconds: Quantiles | null;
  /** InferenceRequests only: more views of their timeline. */
  readonly requestTimes?: {
    /** Create to status.startTime (the batch's dispatch). */
    readonly toDispatchSeconds: Quantiles | null;
    /** Create to when this process's informer saw Running (status write + watch included). */
    readonly toSeenRunningSeconds: Quantiles | null;
    /** Create to when the informer saw Succeeded. */
    readonly toSeenSucceededSeconds: Quantiles | null;
  };
}

const q = (values: readonly number[]): Quantiles | null =>
  values.length === 0 ? null : { p50: quantile(values, 0.5), p99: quantile(values, 0.99) };

const add = (counts: Record<string, number>, key: string): void => {
  counts[key] = (counts[key] ?? 0) + 1;
};

/** The HTTP status the endpoint answers for an OpenAI error code it uses, by its reasons. */
const STATUS_OF_CODE = new Map<string, number>([
  ...Object.values(REQUEST_REASON).map((reason): [string, number] => {
    const e = errorForReason(reason, '');
    return [e.code, e.status];
  }),
  ['overloaded', 429],
  ['rate_limit_exceeded', 429],
  ['no_leader', 503],
]);

/**
 * The most requests/s the agents could complete on this mix: batches of SIM_MAX_SEQUENCES in
 * arrival order, each taking what SimulatedRuntime waits for it (prefill, then decode steps until
 * its longest sequence ends), back to back on every node with no gap and no scheduling cost.
 */
function agentCeiling(load: readonly Load[], nodes: number): number {
  const { prefill, decodeStep } = SIMULATED_DEFAULTS.coefficients;
  let seconds = 0;
  for (let b = 0; b < load.length; b += SIM_MAX_SEQUENCES) {
    const batch = load.slice(b, b + SIM_MAX_SEQUENCES);
    seconds += prefill.fixedSeconds;
    for (const r of batch) seconds += prefill.perTokenSeconds * simulatedTokenCount(r.prompt);
    const longest = Math.max(...batch.map((r) => r.maxTokens));
    for (let step = 0; step < longest; step++) {
      const active = batch.filter((r) => r.maxTokens > step).length;
      seconds += decodeStep.fixedSeconds + decodeStep.perSequenceSeconds * active;
    }
  }
  return (nodes * load.length) / seconds;
}

/** Sends `count` things at `rate` per second, open loop: a late answer never delays a send. */
async function openLoop(
  count: number,
  rate: number,
  send: (i: number) => Promise<void>,
): Promise<{ sent: Promise<void>[]; sendSeconds: number }> {
  const start = performance.now();
  const sent: Promise<void>[] = [];
  for (let i = 0; i < count; i++) {
    const wait = start + (i * 1000) / rate - performance.now();
    if (wait > 0) await sleep(wait);
    sent.push(send(i));
  }
  return { sent, sendSeconds: (performance.now() - start) / 1000 };
}

/** The load through POST /v1/completions, streamed; TTFT = send to first text event received. */
async function endpointPhase(
  address: string,
  load: readonly Load[],
  rate: number,
): Promise<PhaseResult> {
  const abort = new AbortController();
  const outcomes: { sentMs: number; outcome: StreamOutcome }[] = [];
  const start = performance.now();
  const { sent, sendSeconds } = await openLoop(load.length, rate, async (i) => {
    const item = load[i];
    if (item === undefined) return;
    const sentMs = performance.now() - start;
    const outcome = await streamCompletion(
      `http://${address}/v1/completions`,
      { model: SIM_MODEL.name, prompt: item.prompt, max_tokens: item.maxTokens },
      { [HEADERS.latencyBudget]: `${item.budgetSeconds}s` },
      abort.signal,
    );
    outcomes.push({ sentMs, outcome });
  });
  await Promise.race([Promise.all(sent), sleep(DRAIN_SECONDS * 1000)]);
  abort.abort();
  await Promise.all(sent);

  const byStatus: Record<string, number> = {};
  const detail: Record<string, number> = {};
  let lastSuccessMs = 0;
  const ttft: number[] = [];
  const e2e: number[] = [];
  for (const { sentMs, outcome } of outcomes) {
    if (outcome.kind === 'unfinished') continue;
    if (outcome.kind === 'succeeded' && outcome.endMs !== undefined) {
      e2e.push(outcome.endMs / 1000);
      if (outcome.firstTokenMs !== undefined) ttft.push(outcome.firstTokenMs / 1000);
      lastSuccessMs = Math.max(lastSuccessMs, sentMs + outcome.endMs);
      continue;
    }
    const status =
      outcome.kind === 'refused'
        ? outcome.status
        : (STATUS_OF_CODE.get(outcome.code ?? '') ?? outcome.status);
    add(byStatus, String(status));
    add(detail, `${outcome.kind} ${status} ${outcome.code ?? ''}`.trim());
  }
  const succeeded = e2e.length;
  return {
    path: 'endpoint',
    offeredPerSecond: rate,
    sent: load.length,
    sendSeconds,
    succeeded,
    notSucceededByStatus: byStatus,
    notSucceededDetail: detail,
    unfinished: outcomes.filter((o) => o.outcome.kind === 'unfinished').length,
    completedPerSecond: succeeded === 0 ? 0 : succeeded / (lastSuccessMs / 1000),
    ttftSeconds: q(ttft),
    e2eSeconds: q(e2e),
  };
}

/**
 * The load as InferenceRequests in a fresh namespace, followed by the informer and a final list.
 * TTFT = create call to status.startTime + status.measured.firstTokenSeconds (the batch's
 * dispatch as the operator records it, plus the agent's measured wait for the first token).
 */
async function requestPhase(
  kc: k8s.KubeConfig,
  load: readonly Load[],
  rate: number,
): Promise<PhaseResult> {
  const core = kc.makeApiClient(k8s.CoreV1Api);
  const custom = PooledKubeConfig.from(kc).makeApiClient(k8s.CustomObjectsApi);
  const namespace = `bench-openai-ir-${rate}-${Date.now().toString(36)}`;
  await core.createNamespace({ body: { metadata: { name: namespace } } });
  const tracker = new RequestTracker(kc, namespace, pino({ level: 'warn' }));
  const createErrors: Record<string, number> = {};
  try {
    await tracker.start();
    const startMs = Date.now();
    const { sent, sendSeconds } = await openLoop(load.length, rate, async (i) => {
      const item = load[i];
      if (item === undefined) return;
      tracker.created(item.name, Date.now());
      try {
        await createLoadRequest(custom, namespace, item);
      } catch (error) {
        tracker.requests.delete(item.name);
        add(createErrors, String((error as { code?: number }).code ?? 0));
      }
    });
    await Promise.all(sent);
    await waitUntil('every InferenceRequest finished', () => tracker.allFinished(), {
      timeoutMs: DRAIN_SECONDS * 1000,
      intervalMs: 250,
    }).catch(() => undefined);
    await tracker.finalList();

    const byStatus: Record<string, number> = { ...createErrors };
    const detail: Record<string, number> = {};
    for (const [status, n] of Object.entries(createErrors)) detail[`create ${status}`] = n;
    const all = [...tracker.requests.values()];
    const succeeded = all.filter((t) => t.phase === PHASE.succeeded);
    for (const t of all) {
      if (t.phase !== PHASE.failed) continue;
      const reason = t.reason ?? 'Unknown';
      add(byStatus, String(errorForReason(reason, '').status));
      add(detail, `Failed ${reason}`);
    }
    const ttft: number[] = [];
    const e2e: number[] = [];
    const toDispatch: number[] = [];
    const toSeenRunning: number[] = [];
    const toSeenSucceeded: number[] = [];
    let lastSuccessMs = startMs;
    for (const t of succeeded) {
      if (t.startTimeMs !== undefined) {
        toDispatch.push((t.startTimeMs - t.createdMs) / 1000);
        if (t.firstTokenSeconds !== undefined)
          ttft.push((t.startTimeMs - t.createdMs) / 1000 + t.firstTokenSeconds);
      }
      if (t.seenRunningMs !== undefined) toSeenRunning.push((t.seenRunningMs - t.createdMs) / 1000);
      if (t.seenFinishedMs !== undefined)
        toSeenSucceeded.push((t.seenFinishedMs - t.createdMs) / 1000);
      const done = t.completionTimeMs ?? t.seenFinishedMs;
      if (done !== undefined) {
        e2e.push((done - t.createdMs) / 1000);
        lastSuccessMs = Math.max(lastSuccessMs, done);
      }
    }
    return {
      path: 'InferenceRequest',
      offeredPerSecond: rate,
      sent: load.length,
      sendSeconds,
      succeeded: succeeded.length,
      notSucceededByStatus: byStatus,
      notSucceededDetail: detail,
      unfinished: all.filter((t) => t.phase !== PHASE.succeeded && t.phase !== PHASE.failed).length,
      completedPerSecond:
        succeeded.length === 0 ? 0 : succeeded.length / ((lastSuccessMs - startMs) / 1000),
      ttftSeconds: q(ttft),
      e2eSeconds: q(e2e),
      requestTimes: {
        toDispatchSeconds: q(toDispatch),
        toSeenRunningSeconds: q(toSeenRunning),
        toSeenSucceededSeconds: q(toSeenSucceeded),
      },
    };
  } finally {
    await tracker.stop();
    // Deleting the namespace deletes what is left, and the operator cancels those still running.
    await core.deleteNamespace({ name: namespace }).catch(() => undefined);
  }
}

const fmt = (x: number | undefined, digits = 2): string =>
  x !== undefined && Number.isFinite(x) ? x.toFixed(digits) : '—';

function markdownOf(
  size: (typeof SIZES)[keyof typeof SIZES],
  phases: readonly PhaseResult[],
  loadAverage: number,
  ceiling: number,
): string {
  const { prefill, decodeStep } = SIMULATED_DEFAULTS.coefficients;
  const other = (r: PhaseResult): string =>
    String(
      Object.entries(r.notSucceededByStatus)
        .filter(([status]) => !['429', '503', '504'].includes(status))
        .reduce((a, [, n]) => a + n, 0),
    );
  const rows = phases.map((r) => [
    String(r.offeredPerSecond),
    r.path === 'endpoint' ? 'endpoint (SSE)' : 'InferenceRequest',
    String(r.sent),
    String(r.succeeded),
    String(r.notSucceededByStatus['429'] ?? 0),
    String(r.notSucceededByStatus['503'] ?? 0),
    String(r.notSucceededByStatus['504'] ?? 0),
    other(r),
    String(r.unfinished),
    fmt(r.completedPerSecond, 1),
    fmt(r.ttftSeconds?.p50),
    fmt(r.ttftSeconds?.p99),
    fmt(r.e2eSeconds?.p50),
    fmt(r.e2eSeconds?.p99),
  ]);
  const ratios = size.rates.map((rate) => {
    const e = phases.find((r) => r.offeredPerSecond === rate && r.path === 'endpoint');
    const i = phases.find((r) => r.offeredPerSecond === rate && r.path === 'InferenceRequest');
    const ratio = (a: number | undefined, b: number | undefined): string =>
      a !== undefined && b !== undefined && b > 0 ? `${fmt(a / b, 2)}x` : '—';
    return [
      String(rate),
      ratio(e?.completedPerSecond, i?.completedPerSecond),
      ratio(i?.ttftSeconds?.p50, e?.ttftSeconds?.p50),
      ratio(i?.ttftSeconds?.p99, e?.ttftSeconds?.p99),
      ratio(i?.e2eSeconds?.p50, e?.e2eSeconds?.p50),
    ];
  });
  return [
    `${size.nodes} simulated agents (SimulatedRuntime: no text is generated, each batch takes the time the latency model of a SmolLM2-135M-like quantized model on a few CPU cores predicts: prefill ${prefill.fixedSeconds * 1000} ms + ${prefill.perTokenSeconds * 1000} ms per prompt token, decode step ${decodeStep.fixedSeconds * 1000} ms + ${decodeStep.perSequenceSeconds * 1000} ms per sequence; ${SIM_MAX_SEQUENCES} sequences per agent, DFTSP), one operator process serving both paths. At each offered rate the same ${size.seconds} s of seeded requests (prompts 20-400 chars, 8-48 tokens, budgets 5-30 s) go through the OpenAI endpoint (POST /v1/completions, streamed, plain fetch; the per-key rate limit off, the default queue of 256) and as InferenceRequests, back to back, the order alternating by rate; a phase waits up to ${DRAIN_SECONDS} s after its last send. The agents' ceiling on this mix is ${ceiling.toFixed(1)} req/s (full batches of ${SIM_MAX_SEQUENCES} back to back on every node, no scheduling gap).`,
    '',
    markdownTable(
      [
        'offered req/s',
        'path',
        'sent',
        'succeeded',
        '429',
        '503',
        '504',
        'other',
        'unfinished',
        'completed req/s',
        'TTFT p50 s',
        'TTFT p99 s',
        'e2e p50 s',
        'e2e p99 s',
      ],
      rows,
    ),
    '',
    'Side by side at each rate (above 1x: the endpoint does better):',
    '',
    markdownTable(
      [
        'offered req/s',
        'completed req/s endpoint / IR',
        'TTFT p50 IR / endpoint',
        'TTFT p99 IR / endpoint',
        'e2e p50 IR / endpoint',
      ],
      ratios,
    ),
    '',
    'Endpoint: TTFT is the client’s send to the first server-sent event with text; e2e is send to `[DONE]`. InferenceRequest: TTFT is the create call to `status.startTime` (the batch’s dispatch, as the operator records it) plus `status.measured.firstTokenSeconds` (the agent’s batch start to this request’s first token); e2e is the create call to `status.completionTime`. Latencies are of succeeded requests. 429/503/504: answered with that status (endpoint), or failed for a reason the endpoint answers with it (InferenceRequest: DeadlineExceeded/DeadlineInfeasible are 504, NoEligibleNode/InsufficientMemory/AgentLost 503; create calls refused count by their status). Unfinished: still waiting or running when the phase stopped waiting (then cancelled). Completed req/s: successes over the time from the first send to the last success. `bench/results/openai.json` also has the create → dispatch, create → Running and create → Succeeded times as a watching client sees them.',
    '',
    `1-minute load average at the end: ${loadAverage.toFixed(1)} on ${cpus().length} cores, which the kube-apiserver, etcd, the operator and this process (the agents and the clients of both paths) share.`,
  ].join('\n');
}

export const openaiSuite: BenchSuite = {
  name: 'openai',
  description:
    'OpenAI endpoint vs InferenceRequests on the same simulated agents: completed req/s, TTFT and e2e p50/p99, refusals, ramping the offered rate past saturation',
  async run({ quick }) {
    const size = quick ? SIZES.quick : SIZES.full;
    const cp = await startControlPlane();
    let fleet: SimulatedFleet | undefined;
    const kc = kubeConfigFor(cp.state, Identity.admin);
    const core = kc.makeApiClient(k8s.CoreV1Api);
    const namespace = `bench-openai-${Date.now().toString(36)}`;
    try {
      await installCrds(kc);
      await core.createNamespace({ body: { metadata: { name: namespace } } });
      const openaiPort = await freePort();
      const address = `127.0.0.1:${openaiPort}`;
      fleet = await SimulatedFleet.start({
        kc,
        kubeconfigPath: cp.state.kubeconfigs[Identity.admin],
        namespace,
        nodes: size.nodes,
        policy: 'dftsp',
        operatorArgs: ['--openai-listen', address, '--openai-rate-limit', '0'],
      });
      await waitFor(
        `${SIM_MODEL.name} in GET /v1/models`,
        () =>
          fetch(`http://${address}/v1/models`).then(
            async (r) => (await r.text()).includes(`"${SIM_MODEL.name}"`),
            () => false,
          ),
        (listed) => listed,
        { timeoutMs: 60_000, intervalMs: 250 },
      );
      const phases: PhaseResult[] = [];
      for (const [index, rate] of size.rates.entries()) {
        const load = makeLoad(Math.round(rate * size.seconds), SEED);
        const paths: Path[] =
          index % 2 === 0 ? ['endpoint', 'InferenceRequest'] : ['InferenceRequest', 'endpoint'];
        for (const path of paths) {
          const result =
            path === 'endpoint'
              ? await endpointPhase(address, load, rate)
              : await requestPhase(kc, load, rate);
          phases.push(result);
          process.stdout.write(
            `  ${rate}/s ${path}: ${result.succeeded}/${result.sent} succeeded, ${fmt(result.completedPerSecond, 1)}/s, TTFT p50 ${fmt(result.ttftSeconds?.p50)} s\n`,
          );
          await sleep(SETTLE_MS);
        }
      }
      const loadAverage = loadavg()[0] ?? 0;
      const ceiling = agentCeiling(
        makeLoad(Math.round(Math.max(...size.rates) * size.seconds), SEED),
        size.nodes,
      );
      return {
        name: 'openai',
        title: `OpenAI endpoint vs InferenceRequests, simulated model (SimulatedRuntime timing a SmolLM2-135M-like CPU model), ${size.nodes} agents`,
        markdown: markdownOf(size, phases, loadAverage, ceiling),
        data: {
          nodes: size.nodes,
          secondsPerRate: size.seconds,
          drainSeconds: DRAIN_SECONDS,
          model: SIM_MODEL,
          simulated: SIMULATED_DEFAULTS,
          phases,
          loadAverage,
          agentCeilingPerSecond: ceiling,
          operatorPeakRssMiB: fleet.operatorPeakRssBytes() / 1024 ** 2,
        },
      };
    } finally {
      await fleet?.stop();
      await core.deleteNamespace({ name: namespace }).catch(() => undefined);
      await stopControlPlane(cp);
    }
  },
};
