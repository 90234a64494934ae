// Placement benchmark: decision time of placeModels on edge clusters of 4, 8 and 16 nodes
// (Raspberry Pi 5, Jetson Orin Nano / NX / AGX memory and compute), four models from 135M to 8B
// parameters in F16, Q8_0 and Q4_K_M (12 variants), and 24 demand classes (each model at three
// accuracy bounds and two request sizes, seeded random rates and deadlines). Each instance is
// decided cold (nothing runs) and again warm after the rates are redrawn, with the cold decision
// as the current placement, as the operator would on a demand change.
import { cpus, loadavg } from 'node:os';
import { performance } from 'node:perf_hooks';
import type { ModelVariant } from '../../src/core/model/types.js';
import { placeModels } from '../../src/core/placement/place.js';
import type {
  DemandClass,
  PlacementDecision,
  PlacementNode,
} from '../../src/core/placement/types.js';
import { createRng, uniform, uniformInt, type Random } from '../../src/core/random.js';
import { markdownTable, median, quantile, type BenchSuite } from '../suite.js';

const NODE_COUNTS = [4, 8, 16] as const;

/** name, layers, hidden, FFN, KV width, parameters, F16 perplexity (public model cards' shapes). */
const MODELS = [
  ['smollm2-135m', 30, 576, 1536, 192, 134.5e6, 15.9],
  ['qwen2.5-1.5b', 28, 1536, 8960, 256, 1.54e9, 9.5],
  ['llama-3.2-3b', 28, 3072, 8192, 1024, 3.21e9, 7.8],
  ['llama-3.1-8b', 32, 4096, 14336, 1024, 8.03e9, 6.2],
] as const;
/** Quantization, bits per weight, perplexity increase over F16 (typical llama.cpp numbers). */
const QUANTS = [
  ['F16', 16, 0],
  ['Q8_0', 8.5, 0.02],
  ['Q4_K_M', 4.85, 0.3],
] as const;

const VARIANTS: ModelVariant[] = MODELS.flatMap(([name, layers, h, ffn, kv, params, ppl]) =>
  QUANTS.map(([quantization, weightBits, increase]) => ({
    name,
    quantization,
    layers,
    hiddenSize: h,
    ffnSize: ffn,
    kvWidth: kv,
    parameters: params,
    weightBits,
    kvBits: 16,
    computeFactor: 1,
    perplexity: ppl + increase,
  })),
);

/** Memory for models (bytes) and effective FLOP/s of the device kinds. */
const DEVICES = [
  ['rpi5', 6e9, 1e11],
  ['orin-nano', 6e9, 5e12],
  ['orin-nx', 12e9, 1e13],
  ['agx-orin', 48e9, 5e13],
] as const;

function nodes(count: number, rng: Random): PlacementNode[] {
  return Array.from({ length: count }, (_, i) => {
    const [kind, memoryBytes, computeFlops] = DEVICES[uniformInt(rng, 0, DEVICES.length - 1)] ?? [
      'rpi5',
      6e9,
      1e11,
    ];
    return {
      name: `${kind}-${String(i).padStart(2, '0')}`,
      resources: { memoryBytes, computeFlops, utilization: 0.5 },
    };
  });
}

function demand(rng: Random): DemandClass[] {
  return MODELS.flatMap(([model]) =>
    [0, 0.05, 1].flatMap((maxPerplexityIncrease) =>
      [
        [128, 128],
        [1024, 512],
      ].map(([promptTokens = 0, maxTokens = 0]) => ({
        id: `${model}/${maxPerplexityIncrease}/${promptTokens}`,
        model,
        promptTokens,
        maxTokens,
        latencyBudgetSeconds: uniform(rng, 2, 30),
        maxPerplexityIncrease,
        pending: uniformInt(rng, 0, 10),
        arrivalsPerSecond: rng() < 0.3 ? 0 : uniform(rng, 0, 2),
      })),
    ),
  );
}

interface Run {
  readonly ms: number;
  readonly decision: PlacementDecision;
}

function decide(
  nodeList: PlacementNode[],
  classes: DemandClass[],
  current: PlacementDecision['placement'],
): Run {
  const t0 = performance.now();
  const decision = placeModels({
    nodes: nodeList,
    variants: VARIANTS,
    demand: classes,
    pins: [],
    current,
  });
  return { ms: performance.now() - t0, decision };
}

export const placementSuite: BenchSuite = {
  name: 'placement',
  description: 'placeModels decision time for 4-16 edge nodes, 12 variants, 24 demand classes',
  async run({ quick }) {
    const instances = quick ? 5 : 30;
    const rows: string[][] = [];
    const data: unknown[] = [];
    for (const count of NODE_COUNTS) {
      for (const phase of ['cold', 'warm'] as const) {
        const runs: Run[] = [];
        for (let seed = 1; seed <= instances; seed++) {
          const rng = createRng(seed * 7919 + count);
          const nodeList = nodes(count, rng);
          const cold = decide(nodeList, demand(rng), []);
          runs.push(
            phase === 'cold' ? cold : decide(nodeList, demand(rng), cold.decision.placement),
          );
          await Promise.resolve();
        }
        const ms = runs.map((r) => r.ms);
        const evaluations = runs.map((r) => r.decision.evaluations);
        const optimal = runs.filter((r) => r.decision.optimal).length / runs.length;
        const served = runs.map((r) => r.decision.servedFraction);
        const gaps = runs.map(
          (r) => r.decision.upperBoundServedFraction - r.decision.bestServedFraction,
        );
        const moved = runs.map((r) => r.decision.added.length + r.decision.removed.length);
        const placed = runs.map((r) => r.decision.placement.length);
        const kept = runs.filter((r) => r.decision.kept).length;
        const row = {
          nodes: count,
          phase,
          instances,
          p50Ms: median(ms),
          p99Ms: quantile(ms, 0.99),
          maxMs: Math.max(...ms),
          evaluationsMedian: median(evaluations),
          evaluationsMax: Math.max(...evaluations),
          optimal,
          servedMedian: median(served),
          gapMax: Math.max(...gaps),
          placedMedian: median(placed),
          changesMedian: median(moved),
          kept,
        };
        data.push(row);
        rows.push([
          String(count),
          phase,
          String(instances),
          row.p50Ms.toFixed(2),
          row.p99Ms.toFixed(2),
          row.maxMs.toFixed(2),
          String(row.evaluationsMedian),
          String(row.evaluationsMax),
          `${(optimal * 100).toFixed(0)}%`,
          row.servedMedian.toFixed(3),
          row.gapMax.toFixed(3),
          String(row.placedMedian),
          String(row.changesMedian),
          String(kept),
        ]);
      }
    }
    const markdown = [
      markdownTable(
        [
          'nodes',
          'phase',
          'instances',
          'p50 ms',
          'p99 ms',
          'max ms',
          'evaluations (median)',
          'evaluations (max)',
          'proven optimal',
          'served (median)',
          'bound gap (max)',
          'variants placed (median)',
          'changes (median)',
          'kept by hysteresis',
        ],
        rows,
      ),
      '',
      'Cold: nothing runs; warm: the rates are redrawn and the cold decision is the current ' +
        'placement (changes = variants added + removed). Default options (PLACEMENT_DEFAULTS: ' +
        '60 s horizon, 4096-token KV reserve, 80% of compute, 5-point hysteresis, 20000 ' +
        'evaluations). Bound gap: the proven upper bound on the served fraction minus the best ' +
        'placement found (0 when proven optimal). 1-minute load average at the end of the run: ' +
        `${(loadavg()[0] ?? 0).toFixed(1)} on ${String(cpus().length)} cores.`,
    ].join('\n');
    return { name: 'placement', title: 'Placement (decision time)', markdown, data };
  },
};
