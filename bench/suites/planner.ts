// Split planner: time to plan one request with the DP for L = 12..80 layers and K = 100..10,000
// time steps (goal: p99 < 1 ms at L = 32, K = 1,000). The instance is a 7B-like layer shape
// (h = 4096, h_ff = 11008) with L layers, a 1024-token prompt and 64 output tokens, a client at
// 2 TFLOP/s on a 100/400 Mbit/s link, a server at 100 TFLOP/s, and an SLA that leaves room for
// a few layers on the client, so the DP's answer is a real mix.
import { cpus, loadavg } from 'node:os';
import { performance } from 'node:perf_hooks';
import {
  buildSplitProfile,
  DpWorkspace,
  planSplit,
  SPLIT_ALGORITHM,
} from '../../src/core/planner/index.js';
import { markdownTable, median, quantile, type BenchSuite } from '../suite.js';

const LAYERS = [12, 32, 48, 80] as const;
const STEPS = [100, 1000, 10_000] as const;

function instance(layers: number): { profile: ReturnType<typeof buildSplitProfile>; sla: number } {
  const profile = buildSplitProfile({
    model: { layers, hiddenSize: 4096, ffnSize: 11008, bytesPerElement: 2 },
    request: { promptTokens: 1024, outputTokens: 64 },
    client: { computeFlops: 2e12, uplinkBytesPerSecond: 1.25e7, downlinkBytesPerSecond: 5e7 },
    server: { computeFlops: 1e14 },
  });
  const serverOnly = planSplit(profile, 1e9, {
    algorithm: SPLIT_ALGORITHM.serverOnly,
  });
  // room for about a fifth of the layers on the client
  const perLayerClient = profile.clientSeconds[0] ?? 0;
  const sla =
    serverOnly.latency.totalSeconds +
    (profile.uploadSeconds[1] ?? 0) +
    perLayerClient * layers * 0.2;
  return { profile, sla };
}

export const plannerSuite: BenchSuite = {
  name: 'planner',
  description: 'split DP plan time for L = 12..80 layers and K = 100..10,000 steps',
  async run({ quick }) {
    const rows: string[][] = [];
    const data: {
      layers: number;
      steps: number;
      iterations: number;
      p50Ms: number;
      p99Ms: number;
      cpuP50Ms: number;
      cpuP99Ms: number;
      clientLayers: number;
    }[] = [];
    for (const layers of LAYERS) {
      const { profile, sla } = instance(layers);
      for (const steps of STEPS) {
        const work = layers * steps;
        const iterations = Math.max(
          quick ? 20 : 100,
          Math.min(quick ? 200 : 2000, Math.floor(2e8 / work / (quick ? 10 : 1))),
        );
        const options = { timeStepSeconds: sla / steps };
        let clientLayers = 0;
        const workspace = new DpWorkspace(); // reused across plans, as a scheduler round would
        for (let i = 0; i < Math.min(50, iterations); i++) {
          planSplit(profile, sla, options, workspace);
        }
        const times: number[] = [];
        const cpuTimes: number[] = [];
        for (let i = 0; i < iterations; i++) {
          const c0 = process.cpuUsage();
          const t0 = performance.now();
          const plan = planSplit(profile, sla, options, workspace);
          times.push(performance.now() - t0);
          const cpu = process.cpuUsage(c0);
          cpuTimes.push((cpu.user + cpu.system) / 1000);
          clientLayers = plan.placement?.filter((p) => p === 'client').length ?? 0;
        }
        const p50Ms = median(times);
        const p99Ms = quantile(times, 0.99);
        const cpuP50Ms = median(cpuTimes);
        const cpuP99Ms = quantile(cpuTimes, 0.99);
        data.push({ layers, steps, iterations, p50Ms, p99Ms, cpuP50Ms, cpuP99Ms, clientLayers });
        rows.push([
          String(layers),
          String(steps),
          String(iterations),
          p50Ms.toFixed(3),
          p99Ms.toFixed(3),
          cpuP50Ms.toFixed(3),
          cpuP99Ms.toFixed(3),
          String(clientLayers),
        ]);
        await Promise.resolve();
      }
    }
    const goal = data.find((d) => d.layers === 32 && d.steps === 1000);
    const load = loadavg()[0] ?? 0;
    const markdown = [
      markdownTable(
        [
          'L',
          'K',
          'runs',
          'wall p50 ms',
          'wall p99 ms',
          'CPU p50 ms',
          'CPU p99 ms',
          'client layers',
        ],
        rows,
      ),
      '',
      `Goal p99 < 1 ms at L = 32, K = 1,000: wall-clock p99 ${goal ? goal.p99Ms.toFixed(3) : '?'} ms ` +
        `(${goal && goal.p99Ms < 1 ? 'met' : 'not met'}), CPU-time p99 ${goal ? goal.cpuP99Ms.toFixed(3) : '?'} ms ` +
        `(${goal && goal.cpuP99Ms < 1 ? 'met' : 'not met'}). Plan time is planSplit on a prebuilt ` +
        'profile with a reused DpWorkspace: the DP over typed arrays, backtracking, and evaluating ' +
        'the plan; O(L*K). CPU time (process.cpuUsage, user + system) leaves out the time the ' +
        'process was preempted. 1-minute load average at the end of the run: ' +
        `${load.toFixed(1)} on ${String(cpus().length)} cores: wall-clock p99 on a loaded machine mostly measures preemption.`,
    ].join('\n');
    return {
      name: 'planner',
      title: 'Split planner (DP plan time)',
      markdown,
      data: { loadAverage1m: load, results: data },
    };
  },
};
