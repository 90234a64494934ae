// 20,000 InferenceRequests waiting at once (--quick: 2,000): the real `edgellm operator` process
// on the local control plane with simulated agents that accept no more work, and its memory and
// the API server's while the requests arrive and after. Three cases, each with a fresh operator,
// namespace and agents:
// - busy, bound raised: 4 Ready nodes, each busy with its first batch for the whole case (the
//   agents run SLOWDOWN times slower than their calibration says, so the operator still plans
//   normal batches), --max-pending-per-node above the load: everything else waits;
// - busy, bounded: the same with --max-pending-per-node at a twentieth of the load (1000, the
//   default, for 20,000): a fifth waits, the rest fail QueueFull as they arrive;
// - no Ready node: the agents stopped, the EdgeNodes NotReady: admission control counts a model
//   with no Ready node as one node, so --max-pending-per-node wait and the rest fail QueueFull.
// Creates come from CREATE_CLIENTS clients at once (each a PooledKubeConfig). Every SAMPLE_MS it
// samples the operator's RSS, V8 heap and rounds (its own /metrics), its CPU seconds and the
// control plane's RSS (one process: kube-apiserver and etcd; /proc), during the creates and for
// HOLD seconds after them (memory must stop growing once requests stop arriving; the heap's
// floor over the hold, after the collector ran, is what stays live); then it counts the
// requests by phase and deletes them (deletecollection), so the next case starts from an empty
// store. Latency budgets are an hour: nothing expires during a case.
// EDGELLM_BENCH_PENDING_NODE_ARGS: Node.js flags of the operator process, space separated (e.g.
// "--heapsnapshot-signal=SIGUSR2" to take heap snapshots with kill -USR2 <pid>).
import { setTimeout as sleep } from 'node:timers/promises';
import * as k8s from '@kubernetes/client-node';
import type { InferenceRequest } from '../../src/gen/crds/inferencerequest.js';
import { InferenceRequestResource, PHASE } from '../../src/operator/api/constants.js';
import { PooledKubeConfig } from '../../src/operator/kube/config.js';
import { REQUEST_DEFAULTS } from '../../src/operator/requests/controller.js';
import {
  Identity,
  installCrds,
  kubeConfigFor,
  startControlPlane,
  stopControlPlane,
} from '../../test/harness/controlplane.js';
import { parsePrometheusText, sumOf } from '../../test/support/prometheus.js';
import { markdownTable, type BenchSuite } from '../suite.js';
import { createClients, createLoadRequest, makeLoad } from '../support/load.js';
import { cpuSeconds, procMemoryBytes } from '../support/proc.js';
import { SIM_MAX_SEQUENCES, SimulatedFleet } from '../support/simulated-fleet.js';

const SIZES = {
  full: { requests: 20_000, holdSeconds: 60 },
  quick: { requests: 2_000, holdSeconds: 15 },
} as const;
const NODES = 4;
/** Batches run this many times longer than predicted: a node's first batch outlasts its case. */
const SLOWDOWN = 100_000;
/** API clients creating at once, and creates in flight per client. */
const CREATE_CLIENTS = 4;
const CREATES_PER_CLIENT = 8;
const SAMPLE_MS = 2000;
const BUDGET_SECONDS = 3600;
const NODE_ARGS_ENV = 'EDGELLM_BENCH_PENDING_NODE_ARGS';

interface Case {
  readonly name: string;
  /** --max-pending-per-node. */
  readonly maxPendingPerNode: number;
  /** Stop the agents before the load: the EdgeNodes are NotReady. */
  readonly noReadyNode: boolean;
}

interface Sample {
  readonly seconds: number;
  readonly created: number;
  readonly operatorRssMiB: number;
  readonly operatorHeapMiB: number;
  readonly operatorCpuSeconds: number;
  /** Scheduling rounds so far, and their wall seconds (the `rounds` work queue). */
  readonly rounds: number;
  readonly roundSeconds: number;
  readonly apiServerRssMiB: number;
}

interface CaseResult {
  readonly name: string;
  readonly maxPendingPerNode: number;
  readonly requests: number;
  readonly createSeconds: number;
  readonly createErrors: number;
  readonly byPhase: Readonly<Record<string, number>>;
  readonly failedByReason: Readonly<Record<string, number>>;
  /** Samples from before the first create to the end of the hold. */
  readonly samples: readonly Sample[];
  readonly deleteSeconds: number;
}

const mib = (bytes: number): number => bytes / 2 ** 20;

interface OperatorGauges {
  readonly rss: number;
  readonly heap: number;
  readonly rounds: number;
  readonly roundSeconds: number;
}

/** The operator's RSS, heap and rounds from its /metrics (NaN when it does not answer in 5 s). */
async function operatorGauges(metrics: string): Promise<OperatorGauges> {
  try {
    const text = await fetch(`http://${metrics}/metrics`, {
      signal: AbortSignal.timeout(5000),
    }).then((r) => r.text());
    const m = parsePrometheusText(text);
    const rounds = { name: 'rounds' };
    return {
      rss: sumOf(m, 'process_resident_memory_bytes'),
      heap: sumOf(m, 'nodejs_heap_size_used_bytes'),
      rounds: sumOf(m, 'edgellm_operator_workqueue_work_duration_seconds_count', rounds),
      roundSeconds: sumOf(m, 'edgellm_operator_workqueue_work_duration_seconds_sum', rounds),
    };
  } catch {
    return { rss: NaN, heap: NaN, rounds: NaN, roundSeconds: NaN };
  }
}

/** Every InferenceRequest of `namespace`, a page at a time. */
async function listAll(
  custom: k8s.CustomObjectsApi,
  namespace: string,
): Promise<InferenceRequest[]> {
  const items: InferenceRequest[] = [];
  let _continue: string | undefined;
  do {
    const page = (await custom.listNamespacedCustomObject({
      group: InferenceRequestResource.group,
      version: InferenceRequestResource.version,
      plural: InferenceRequestResource.plural,
      namespace,
      limit: 2000,
      ...(_continue === undefined ? {} : { _continue }),
    })) as { items: InferenceRequest[]; metadata?: { continue?: string } };
    items.push(...page.items);
    _continue = page.metadata?.continue || undefined;
  } while (_continue !== undefined);
  return items;
}

async function runCase(
  kc: k8s.KubeConfig,
  kubeconfigPath: string,
  controlPlanePid: number,
  c: Case,
  requests: number,
  holdSeconds: number,
): Promise<CaseResult> {
  const core = kc.makeApiClient(k8s.CoreV1Api);
  const custom = PooledKubeConfig.from(kc).makeApiClient(k8s.CustomObjectsApi);
  const namespace = `bench-pending-${c.name}-${Date.now().toString(36)}`;
  await core.createNamespace({ body: { metadata: { name: namespace } } });
  const fleet = await SimulatedFleet.start({
    kc,
    kubeconfigPath,
    namespace,
    nodes: NODES,
    policy: 'dftsp',
    slowdown: SLOWDOWN,
    operatorArgs: ['--max-pending-per-node', String(c.maxPendingPerNode)],
    operatorNodeArgs: (process.env[NODE_ARGS_ENV] ?? '').split(' ').filter(Boolean),
  });
  try {
    if (c.noReadyNode) {
      await fleet.stopAgents();
    }
    const load = makeLoad(requests, 3).map((l) => ({ ...l, budgetSeconds: BUDGET_SECONDS }));
    const samples: Sample[] = [];
    const started = Date.now();
    let created = 0;
    let createErrors = 0;
    const stopSampling = new AbortController();
    const sampler = (async () => {
      while (!stopSampling.signal.aborted) {
        const op = await operatorGauges(fleet.operatorMetrics);
        samples.push({
          seconds: (Date.now() - started) / 1000,
          created,
          operatorRssMiB: mib(op.rss),
          operatorHeapMiB: mib(op.heap),
          operatorCpuSeconds: cpuSeconds(fleet.operatorPid),
          rounds: op.rounds,
          roundSeconds: op.roundSeconds,
          apiServerRssMiB: mib(procMemoryBytes(controlPlanePid, 'VmRSS')),
        });
        await sleep(SAMPLE_MS);
      }
    })();
    let next = 0;
    const clients = createClients(kc, CREATE_CLIENTS);
    await Promise.all(
      clients.flatMap((client) =>
        Array.from({ length: CREATES_PER_CLIENT }, async () => {
          for (let i = next++; i < load.length; i = next++) {
            const item = load[i];
            if (item === undefined) break;
            await createLoadRequest(client, namespace, item).then(
              () => (created += 1),
              (error: unknown) => {
                createErrors += 1;
                if (createErrors <= 5)
                  process.stderr.write(`pending bench: create ${item.name}: ${String(error)}\n`);
              },
            );
          }
        }),
      ),
    );
    const createSeconds = (Date.now() - started) / 1000;
    process.stdout.write(
      `pending bench: ${c.name}: ${created} created in ${createSeconds.toFixed(0)} s (${(created / createSeconds).toFixed(0)}/s from ${CREATE_CLIENTS} clients × ${CREATES_PER_CLIENT})\n`,
    );
    await sleep(holdSeconds * 1000);
    stopSampling.abort();
    await sampler;
    const items = await listAll(custom, namespace);
    const byPhase: Record<string, number> = {};
    const failedByReason: Record<string, number> = {};
    for (const r of items) {
      const phase = r.status?.phase ?? PHASE.pending;
      byPhase[phase] = (byPhase[phase] ?? 0) + 1;
      if (phase === PHASE.failed) {
        const reason = r.status?.reason ?? 'Unknown';
        failedByReason[reason] = (failedByReason[reason] ?? 0) + 1;
      }
    }
    await fleet.stop();
    const deleting = Date.now();
    await custom.deleteCollectionNamespacedCustomObject({
      group: InferenceRequestResource.group,
      version: InferenceRequestResource.version,
      plural: InferenceRequestResource.plural,
      namespace,
    });
    return {
      name: c.name,
      maxPendingPerNode: c.maxPendingPerNode,
      requests,
      createSeconds,
      createErrors,
      byPhase,
      failedByReason,
      samples,
      deleteSeconds: (Date.now() - deleting) / 1000,
    };
  } finally {
    await fleet.stop();
  }
}

const fmt = (x: number | undefined, digits = 0): string =>
  x !== undefined && Number.isFinite(x) ? x.toFixed(digits) : '—';

/** The samples that the operator answered. */
const answered = (samples: readonly Sample[]): Sample[] =>
  samples.filter((s) => Number.isFinite(s.operatorHeapMiB));

const maxOf = (values: readonly number[]): number => Math.max(...values);
const minOf = (values: readonly number[]): number => Math.min(...values);

/** What one case's row says: memory before, over the run and over the hold; work in the hold. */
function summary(r: CaseResult): {
  readonly waiting: number;
  readonly before: Sample | undefined;
  readonly end: Sample | undefined;
  readonly peakRssMiB: number;
  readonly peakApiServerRssMiB: number;
  /** The least heap in use over the hold: after a collection, what stays live. */
  readonly holdHeapFloorMiB: number;
  readonly holdCpuShare: number;
  readonly holdRoundsPerSecond: number;
  readonly holdRoundMs: number;
} {
  const ok = answered(r.samples);
  const hold = ok.filter((s) => s.seconds >= r.createSeconds);
  const first = hold[0];
  const last = hold.at(-1);
  const wall = first && last ? last.seconds - first.seconds : NaN;
  const rounds = first && last ? last.rounds - first.rounds : NaN;
  return {
    waiting: r.byPhase[PHASE.pending] ?? 0,
    before: ok[0],
    end: ok.at(-1),
    peakRssMiB: maxOf(ok.map((s) => s.operatorRssMiB)),
    peakApiServerRssMiB: maxOf(r.samples.map((s) => s.apiServerRssMiB)),
    holdHeapFloorMiB: minOf(hold.map((s) => s.operatorHeapMiB)),
    holdCpuShare: first && last ? (last.operatorCpuSeconds - first.operatorCpuSeconds) / wall : NaN,
    holdRoundsPerSecond: rounds / wall,
    holdRoundMs: first && last ? ((last.roundSeconds - first.roundSeconds) / rounds) * 1000 : NaN,
  };
}

/** RSS / heap MiB at the first sample with at least `created` requests created. */
function atCreated(r: CaseResult, created: number): string {
  const s = answered(r.samples).find((x) => x.created >= created);
  return s === undefined ? '—' : `${fmt(s.operatorRssMiB)} / ${fmt(s.operatorHeapMiB)}`;
}

export const pendingSuite: BenchSuite = {
  name: 'pending',
  onlyWhenNamed: true,
  description:
    "20,000 InferenceRequests waiting (--quick 2,000) on busy or NotReady simulated nodes: the operator's and the API server's memory over time, what admission control sheds",
  async run({ quick }) {
    const size = quick ? SIZES.quick : SIZES.full;
    const cases: Case[] = [
      { name: 'busy-bound-raised', maxPendingPerNode: size.requests, noReadyNode: false },
      { name: 'busy-bounded', maxPendingPerNode: size.requests / 20, noReadyNode: false },
      {
        name: 'no-ready-node',
        maxPendingPerNode: REQUEST_DEFAULTS.maxPendingPerNode,
        noReadyNode: true,
      },
    ];
    const cp = await startControlPlane();
    try {
      const kc = kubeConfigFor(cp.state, Identity.admin);
      await installCrds(kc);
      const results: CaseResult[] = [];
      for (const c of cases)
        results.push(
          await runCase(
            kc,
            cp.state.kubeconfigs[Identity.admin],
            cp.state.pid,
            c,
            size.requests,
            size.holdSeconds,
          ),
        );
      const rows = results.map((r) => {
        const m = summary(r);
        return [
          r.name,
          String(r.maxPendingPerNode),
          `${fmt(r.createSeconds)} s (${fmt(r.requests / r.createSeconds)}/s)`,
          String(m.waiting),
          String((r.byPhase[PHASE.scheduled] ?? 0) + (r.byPhase[PHASE.running] ?? 0)),
          Object.entries(r.failedByReason)
            .map(([k, v]) => `${k} ${v}`)
            .join(', ') || '0',
          `${fmt(m.before?.operatorRssMiB)} / ${fmt(m.peakRssMiB)} / ${fmt(m.end?.operatorRssMiB)}`,
          `${fmt(m.before?.operatorHeapMiB)} / ${fmt(m.holdHeapFloorMiB)}`,
          fmt(
            m.waiting > 0
              ? ((m.holdHeapFloorMiB - (m.before?.operatorHeapMiB ?? NaN)) / m.waiting) * 1000
              : NaN,
            1,
          ),
          `${fmt(m.holdCpuShare * 100)}%, ${fmt(m.holdRoundsPerSecond, 1)}/s of ${fmt(m.holdRoundMs)} ms`,
          `${fmt(m.before?.apiServerRssMiB)} / ${fmt(m.peakApiServerRssMiB)} / ${fmt(m.end?.apiServerRssMiB)}`,
        ];
      });
      const quarters = [0.25, 0.5, 0.75, 1].map((q) => Math.round(size.requests * q));
      const markdown = [
        `${size.requests} InferenceRequests created as fast as ${CREATE_CLIENTS} API clients × ${CREATES_PER_CLIENT} creates in flight allow, on ${NODES} simulated nodes (batches up to ${SIM_MAX_SEQUENCES}) that take no more work: Ready but busy with a first batch that runs ${SLOWDOWN}× longer than predicted, or NotReady (agents stopped). Budgets ${BUDGET_SECONDS} s, so nothing expires. Sampled every ${SAMPLE_MS / 1000} s from before the first create to ${size.holdSeconds} s after the last: the operator's RSS, V8 heap in use and rounds from its /metrics, its CPU from /proc; the API server's RSS is the control plane process (kube-apiserver and etcd). Heap: before the load / the least over the hold (after a collection: what stays live). Per 1,000 waiting: (hold floor − before) / waiting × 1,000. Hold: the operator's CPU share and scheduling rounds while nothing arrives.`,
        '',
        markdownTable(
          [
            'case',
            'max pending per node',
            'create time',
            'waiting at end',
            'scheduled or running',
            'failed',
            'operator RSS MiB before / peak / end',
            'operator heap MiB before / hold floor',
            'heap MiB per 1,000 waiting',
            'hold: operator CPU, rounds',
            'API server RSS MiB before / peak / end',
          ],
          rows,
        ),
        '',
        'Operator RSS / heap MiB as the requests arrive, and at the end of the hold:',
        '',
        markdownTable(
          ['case', ...quarters.map((q) => `${q} created`), 'hold end'],
          results.map((r) => {
            const end = answered(r.samples).at(-1);
            return [
              r.name,
              ...quarters.map((q) => atCreated(r, q)),
              end === undefined ? '—' : `${fmt(end.operatorRssMiB)} / ${fmt(end.operatorHeapMiB)}`,
            ];
          }),
        ),
      ].join('\n');
      return {
        name: 'pending',
        title: 'Operator memory with 20,000 waiting requests',
        markdown,
        data: { nodes: NODES, slowdown: SLOWDOWN, results },
      };
    } finally {
      await stopControlPlane(cp);
    }
  },
};
