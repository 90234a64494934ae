// The soak: the real `edgellm operator` process for a long time (60 minutes; --quick 3) at about
// 70% of what the simulated agents can complete, with a fault every few minutes (the operator
// frozen with SIGSTOP for 10 s, or an agent drained and replaced at a new address, in turn).
// Samples the operator's RSS, heap, active handles and event-loop delay from its own /metrics
// every 5 s, and requests created/finished/failed; reports them per tenth of the run, the heap's
// trend over the second half (a leak grows there, warm-up does not), and draws them in
// bench/results/soak.svg. Finished requests expire after 30 s (ttlSecondsAfterFinished), so the
// cache the operator holds is bounded by the load, not the run's length.
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import * as k8s from '@kubernetes/client-node';
import type { InferenceRequest } from '../../src/gen/crds/inferencerequest.js';
import { InferenceRequestResource } from '../../src/operator/api/constants.js';
import { SIMULATED_DEFAULTS } from '../../src/runtime/simulated.js';
import {
  Identity,
  installCrds,
  kubeConfigFor,
  repoRoot,
  startControlPlane,
  stopControlPlane,
} from '../../test/harness/controlplane.js';
import { parsePrometheusText, sumOf } from '../../test/support/prometheus.js';
import { markdownTable, type BenchSuite } from '../suite.js';
import { SIM_MODEL, SimulatedFleet } from '../support/simulated-fleet.js';

const SIZES = {
  full: { minutes: 60, faultEveryMinutes: 5 },
  quick: { minutes: 3, faultEveryMinutes: 1 },
} as const;
const NODES = 4;
/**
 * 70% of what 4 simulated agents completed at saturation in the openai suite's InferenceRequest
 * path (17-18 requests/s on this machine): the operator, not the agents, is the limit there.
 */
const RATE_PER_SECOND = 12;
const SAMPLE_MS = 5000;

interface Sample {
  readonly seconds: number;
  readonly rssMiB: number;
  readonly heapUsedMiB: number;
  readonly handles: number;
  readonly eventLoopP99Ms: number;
  readonly created: number;
  readonly succeeded: number;
  readonly failed: number;
}

function slopePerHour(points: readonly { x: number; y: number }[]): number {
  const n = points.length;
  if (n < 2) return 0;
  const mx = points.reduce((s, p) => s + p.x, 0) / n;
  const my = points.reduce((s, p) => s + p.y, 0) / n;
  const num = points.reduce((s, p) => s + (p.x - mx) * (p.y - my), 0);
  const den = points.reduce((s, p) => s + (p.x - mx) ** 2, 0);
  return den === 0 ? 0 : (num / den) * 3600;
}

/** A small SVG: one panel per series over time, fault times marked. */
function plot(samples: readonly Sample[], faults: readonly number[]): string {
  const series: [keyof Sample, string][] = [
    ['rssMiB', 'RSS MiB'],
    ['heapUsedMiB', 'heap used MiB'],
    ['handles', 'active handles'],
    ['eventLoopP99Ms', 'event-loop delay p99 ms'],
  ];
  const w = 720;
  const h = 140;
  const end = samples.at(-1)?.seconds ?? 1;
  const panels = series.map(([key, label], i) => {
    const ys = samples.map((s) => s[key]);
    const max = Math.max(...ys, 1e-9) * 1.1;
    const y0 = i * (h + 20) + 20;
    const pts = samples
      .map(
        (s) => `${((s.seconds / end) * w).toFixed(1)},${(y0 + h - (s[key] / max) * h).toFixed(1)}`,
      )
      .join(' ');
    const marks = faults
      .map((t) => {
        const x = ((t / end) * w).toFixed(1);
        return `<line x1="${x}" y1="${y0}" x2="${x}" y2="${y0 + h}" stroke="#d33" stroke-dasharray="3,3"/>`;
      })
      .join('');
    return `<text x="4" y="${y0 - 4}" font-size="12">${label} (max ${max.toFixed(1)})</text><rect x="0" y="${y0}" width="${w}" height="${h}" fill="none" stroke="#999"/>${marks}<polyline fill="none" stroke="#236" points="${pts}"/>`;
  });
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="${series.length * (h + 20) + 20}" font-family="sans-serif">${panels.join('')}</svg>\n`;
}

export const soakSuite: BenchSuite = {
  name: 'soak',
  onlyWhenNamed: true,
  description:
    'The operator for an hour (--quick: 3 minutes) at 70% of capacity with a fault every 5 minutes: RSS, heap, handles, event-loop delay over time',
  async run({ quick }) {
    const size = quick ? SIZES.quick : SIZES.full;
    const minutes = Number(process.env['EDGELLM_SOAK_MINUTES'] ?? size.minutes);
    const cp = await startControlPlane();
    const kc = kubeConfigFor(cp.state, Identity.admin);
    const core = kc.makeApiClient(k8s.CoreV1Api);
    const custom = kc.makeApiClient(k8s.CustomObjectsApi);
    const namespace = `bench-soak-${Date.now().toString(36)}`;
    let fleet: SimulatedFleet | undefined;
    try {
      await installCrds(kc);
      await core.createNamespace({ body: { metadata: { name: namespace } } });
      fleet = await SimulatedFleet.start({
        kc,
        kubeconfigPath: cp.state.kubeconfigs[Identity.admin],
        namespace,
        nodes: NODES,
        policy: 'dftsp',
      });
      const started = Date.now();
      const endAt = started + minutes * 60_000;
      const samples: Sample[] = [];
      const faults: { seconds: number; what: string }[] = [];
      let created = 0;
      let createErrors = 0;
      const finished = new Set<string>();
      let failed = 0;
      const failedReasons: Record<string, number> = {};

      // The load: RATE_PER_SECOND creates a second, spread evenly, small chat-sized requests.
      const load = (async () => {
        for (let i = 0; Date.now() < endAt; i++) {
          const due = started + (i * 1000) / RATE_PER_SECOND;
          if (due > Date.now()) await sleep(due - Date.now());
          const body: InferenceRequest = {
            apiVersion: InferenceRequestResource.apiVersion,
            kind: InferenceRequestResource.kind,
            metadata: { name: `soak-${i}`, namespace },
            spec: {
              model: SIM_MODEL.name,
              prompt: `Soak request ${i}: summarise the state of the line`,
              maxTokens: 16 + (i % 4) * 16,
              latencyBudget: '30s',
              ttlSecondsAfterFinished: 30,
            },
          };
          custom
            .createNamespacedCustomObject({
              group: InferenceRequestResource.group,
              version: InferenceRequestResource.version,
              plural: InferenceRequestResource.plural,
              namespace,
              body,
            })
            .then(
              () => {
                created++;
              },
              () => {
                createErrors++;
              },
            );
        }
      })();

      // Faults, in turn.
      const faulting = (async () => {
        for (let k = 1; ; k++) {
          const at = started + k * size.faultEveryMinutes * 60_000;
          if (at + 30_000 > endAt) return;
          await sleep(at - Date.now());
          const seconds = (Date.now() - started) / 1000;
          if (k % 2 === 1) {
            faults.push({ seconds, what: 'operator frozen 10 s (SIGSTOP)' });
            await fleet.freezeOperator(10_000);
          } else {
            faults.push({ seconds, what: `agent ${k % NODES} drained and replaced` });
            await fleet.replaceAgent(k % NODES);
          }
        }
      })();

      // Outcomes: terminal requests seen by a list before their TTL takes them.
      const follow = async (): Promise<void> => {
        const list = (await custom.listNamespacedCustomObject({
          group: InferenceRequestResource.group,
          version: InferenceRequestResource.version,
          plural: InferenceRequestResource.plural,
          namespace,
        })) as { items: InferenceRequest[] };
        for (const r of list.items) {
          const phase = r.status?.phase;
          const name = r.metadata.name ?? '';
          if ((phase === 'Succeeded' || phase === 'Failed') && !finished.has(name)) {
            finished.add(name);
            if (phase === 'Failed') {
              failed++;
              const reason = r.status?.reason ?? 'none';
              failedReasons[reason] = (failedReasons[reason] ?? 0) + 1;
            }
          }
        }
      };

      while (Date.now() < endAt + 40_000) {
        await sleep(SAMPLE_MS);
        await follow().catch(() => undefined);
        const text = await fetch(`http://${fleet.operatorMetrics}/metrics`).then(
          (r) => r.text(),
          () => '',
        );
        if (text === '') continue; // frozen: the sample is missed, not invented
        const m = parsePrometheusText(text);
        samples.push({
          seconds: (Date.now() - started) / 1000,
          rssMiB: sumOf(m, 'process_resident_memory_bytes') / 2 ** 20,
          heapUsedMiB: sumOf(m, 'nodejs_heap_size_used_bytes') / 2 ** 20,
          handles: sumOf(m, 'nodejs_active_handles_total'),
          eventLoopP99Ms: sumOf(m, 'nodejs_eventloop_lag_p99_seconds') * 1000,
          created,
          succeeded: finished.size - failed,
          failed,
        });
        if (Date.now() > endAt && created === finished.size) break;
      }
      await load;
      await faulting;

      const secondHalf = samples.filter((s) => s.seconds > (minutes * 60) / 2);
      const heapTrend = slopePerHour(secondHalf.map((s) => ({ x: s.seconds, y: s.heapUsedMiB })));
      const rssTrend = slopePerHour(secondHalf.map((s) => ({ x: s.seconds, y: s.rssMiB })));
      const handlesTrend = slopePerHour(secondHalf.map((s) => ({ x: s.seconds, y: s.handles })));
      await writeFile(
        join(repoRoot, 'bench', 'results', 'soak.svg'),
        plot(
          samples,
          faults.map((f) => f.seconds),
        ),
      );
      const tenths = Array.from({ length: 10 }, (_, i) => {
        const from = (i * minutes * 60) / 10;
        const to = ((i + 1) * minutes * 60) / 10;
        const inside = samples.filter((s) => s.seconds > from && s.seconds <= to);
        const last = inside.at(-1);
        const max = (key: keyof Sample): string =>
          inside.length === 0 ? '-' : Math.max(...inside.map((s) => s[key])).toFixed(1);
        return [
          `${(from / 60).toFixed(1)}-${(to / 60).toFixed(1)}`,
          max('rssMiB'),
          max('heapUsedMiB'),
          max('handles'),
          max('eventLoopP99Ms'),
          String(last?.created ?? '-'),
          String(last?.succeeded ?? '-'),
          String(last?.failed ?? '-'),
          faults
            .filter((f) => f.seconds > from && f.seconds <= to)
            .map((f) => f.what)
            .join('; '),
        ];
      });
      const stuck = created - finished.size;
      const markdown = [
        `${minutes} minutes at ${RATE_PER_SECOND} requests/s on ${NODES} simulated agents (SimulatedRuntime timing a SmolLM2-135M-like CPU model), a fault every ${size.faultEveryMinutes} min; the operator's own /metrics every ${SAMPLE_MS / 1000} s (a frozen operator misses samples). Plot: bench/results/soak.svg.`,
        '',
        markdownTable(
          [
            'minutes',
            'RSS MiB (max)',
            'heap MiB (max)',
            'handles (max)',
            'event-loop p99 ms (max)',
            'created',
            'Succeeded',
            'Failed',
            'faults',
          ],
          tenths,
        ),
        '',
        `Second half, per hour: heap ${heapTrend.toFixed(1)} MiB, RSS ${rssTrend.toFixed(1)} MiB, handles ${handlesTrend.toFixed(1)}. Created ${created} (${createErrors} create calls failed), finished ${finished.size} (Failed ${failed}: ${JSON.stringify(failedReasons)}), not finished at the end ${stuck}.`,
      ].join('\n');
      return {
        name: 'soak',
        title: 'Soak: the operator over time under load and faults',
        markdown,
        data: {
          minutes,
          ratePerSecond: RATE_PER_SECOND,
          nodes: NODES,
          simulated: SIMULATED_DEFAULTS,
          samples,
          faults,
          created,
          createErrors,
          finished: finished.size,
          failed,
          failedReasons,
          notFinished: stuck,
          trendsPerHourSecondHalf: { heapMiB: heapTrend, rssMiB: rssTrend, handles: handlesTrend },
        },
      };
    } finally {
      await fleet?.stop();
      await core.deleteNamespace({ name: namespace }).catch(() => undefined);
      await stopControlPlane(cp);
    }
  },
};
