// The online scenario family of `edgellm simulate --online` (docs/scheduling-scenarios.md):
// requests arrive over time at a few edge nodes, each round the free nodes take a batch (GAH with
// one single-node policy everywhere), and a request meets its SLA when its batch finishes within
// its latency budget counted from its arrival. Each scenario stresses one thing where the choice
// of batch matters; every number here is an assumption of ours, listed per scenario.
import type { CostOptions, ModelVariant, NodeResources } from '../core/model/types.js';
import { defined } from '../util/objects.js';
import { variantsOf } from './scheduling-experiment.js';
import { DEFAULT_SCHEDULING_SCENARIO } from './scheduling-scenario.js';

/** One class of requests; a request's class is drawn by weight, its values uniformly. */
export interface RequestClass {
  readonly name: string;
  readonly weight: number;
  readonly promptTokens: readonly [number, number];
  readonly maxTokens: readonly [number, number];
  readonly latencyBudgetSeconds: readonly [number, number];
}

export interface OnlineNode {
  readonly name: string;
  readonly resources: NodeResources;
  readonly maxBatchSize?: number;
}

export interface OnlineScenario {
  readonly name: string;
  /** What the scenario stresses, in a sentence (printed with the table). */
  readonly stresses: string;
  readonly nodes: readonly OnlineNode[];
  readonly variant: ModelVariant;
  readonly options: CostOptions;
  /** Poisson arrivals at this mean rate for `durationSeconds`. */
  readonly ratePerSecond: number;
  readonly durationSeconds: number;
  /** Extra arrivals: `size` requests at once every `everySeconds` (from `everySeconds`). */
  readonly bursts?: { readonly everySeconds: number; readonly size: number };
  readonly classes: readonly RequestClass[];
  /** Node budget of each DFTSP call (deterministic, unlike a time budget). */
  readonly maxNodes: number;
}

/** LLaMA-2-7B at INT8, the shape of the paper-shape scenario of `edgellm simulate`. */
const LLAMA_2_7B_INT8: ModelVariant = variantsOf(DEFAULT_SCHEDULING_SCENARIO).find(
  (v) => v.quantization === 'INT8',
) as ModelVariant;

/**
 * The paper-shape scenario's node, an A10-class edge GPU: 125 TFLOP/s FP16 at utilisation 0.5,
 * 600 GB/s, 24 GB, 10/20 MHz links.
 */
const EDGE_GPU: NodeResources = defined(DEFAULT_SCHEDULING_SCENARIO.node);

/**
 * Roofline compute: a decode step reads the weights once for the whole batch, which is where
 * batching pays. Under `flops` a batch of N costs what N requests alone cost in sequence plus
 * padding, so batching never helps a deadline (scenario paper-flops-overload shows it).
 */
const OPTIONS: CostOptions = {
  padding: 'static',
  compute: 'roofline',
  communication: 'linear',
  bitsPerToken: 32,
  objective: 'requests',
};

const fourNodes = (resources: NodeResources): OnlineNode[] =>
  ['edge-a', 'edge-b', 'edge-c', 'edge-d'].map((name) => ({ name, resources }));

/** The paper-shape mix of `edgellm simulate`: prompt 64-1024, output 32-512, deadline 1-6 s. */
const PAPER_MIX: RequestClass = {
  name: 'paper',
  weight: 1,
  promptTokens: [64, 1024],
  maxTokens: [32, 512],
  latencyBudgetSeconds: [1, 6],
};

/** Chat: the paper's prompts with outputs and deadlines a 600 GB/s node can meet alone. */
const CHAT_MIX: RequestClass = {
  name: 'chat',
  weight: 1,
  promptTokens: [64, 1024],
  maxTokens: [16, 256],
  latencyBudgetSeconds: [2, 8],
};

const INTERACTIVE: RequestClass = {
  name: 'interactive',
  weight: 0.6,
  promptTokens: [32, 256],
  maxTokens: [16, 64],
  latencyBudgetSeconds: [1, 3],
};

const BULK: RequestClass = {
  name: 'bulk',
  weight: 0.4,
  promptTokens: [512, 2048],
  maxTokens: [128, 512],
  latencyBudgetSeconds: [10, 30],
};

const BASE = {
  variant: LLAMA_2_7B_INT8,
  options: OPTIONS,
  durationSeconds: 30,
  maxNodes: 20_000,
} as const;

export const ONLINE_SCENARIOS: readonly OnlineScenario[] = [
  {
    ...BASE,
    name: 'paper-flops-overload',
    stresses:
      "the paper's mix and cost model (compute: flops) at 100 requests/s on 4 nodes: a batch costs what its members cost one after another, plus padding",
    options: { ...OPTIONS, compute: 'flops' },
    nodes: fourNodes(EDGE_GPU),
    ratePerSecond: 100,
    classes: [PAPER_MIX],
  },
  {
    ...BASE,
    name: 'chat-steady',
    stresses:
      'chat mix (prompt 64-1024, output 16-256, deadline 2-8 s) under the roofline at 8 requests/s, near what 4 nodes carry: about 70% is the best any policy does',
    nodes: fourNodes(EDGE_GPU),
    ratePerSecond: 8,
    classes: [CHAT_MIX],
  },
  {
    ...BASE,
    name: 'chat-overload',
    stresses:
      'the chat mix at 30 requests/s on 4 nodes, about three times what they carry: who is chosen when most cannot be',
    nodes: fourNodes(EDGE_GPU),
    ratePerSecond: 30,
    classes: [CHAT_MIX],
  },
  {
    ...BASE,
    name: 'mixed-deadlines',
    stresses:
      'interactive (prompt 32-256, output 16-64, deadline 1-3 s) and bulk (prompt 512-2048, output 128-512, deadline 10-30 s): a batch takes its tightest deadline and its longest member',
    nodes: fourNodes(EDGE_GPU),
    ratePerSecond: 15,
    classes: [INTERACTIVE, BULK],
  },
  {
    ...BASE,
    name: 'heavy-tail-prompts',
    stresses:
      'mostly short prompts with 10% of 2-4k tokens: under static padding one long prompt pads the whole batch',
    nodes: fourNodes(EDGE_GPU),
    ratePerSecond: 15,
    classes: [
      {
        name: 'short',
        weight: 0.9,
        promptTokens: [32, 256],
        maxTokens: [16, 256],
        latencyBudgetSeconds: [2, 8],
      },
      {
        name: 'long-prompt',
        weight: 0.1,
        promptTokens: [2048, 4096],
        maxTokens: [16, 256],
        latencyBudgetSeconds: [4, 12],
      },
    ],
  },
  {
    ...BASE,
    name: 'memory-tight',
    stresses:
      'nodes with 9 GB for an INT8 7B model (2.3 GB of KV cache, a few padded sequences): memory, not compute, caps the batch',
    nodes: fourNodes({ ...EDGE_GPU, memoryBytes: 9e9 }),
    ratePerSecond: 6,
    classes: [CHAT_MIX],
  },
  {
    ...BASE,
    name: 'bursts',
    stresses:
      'a light Poisson load (3/s) plus 30 chat requests at once every 5 s: queues build and drain, deadlines cluster',
    nodes: fourNodes(EDGE_GPU),
    ratePerSecond: 3,
    bursts: { everySeconds: 5, size: 30 },
    classes: [CHAT_MIX],
  },
  {
    ...BASE,
    name: 'heterogeneous-nodes',
    stresses:
      'one fast node (250 TFLOP/s, 1.2 TB/s) and three slow ones (62.5 TFLOP/s, 300 GB/s, 16 GB) with mixed deadlines: GAH visits the fast node first',
    nodes: [
      {
        name: 'edge-fast',
        resources: { ...EDGE_GPU, computeFlops: 250e12, memoryBandwidthBytesPerSecond: 1200e9 },
      },
      ...['edge-s1', 'edge-s2', 'edge-s3'].map((name) => ({
        name,
        resources: {
          ...EDGE_GPU,
          computeFlops: 62.5e12,
          memoryBandwidthBytesPerSecond: 300e9,
          memoryBytes: 16e9,
        },
      })),
    ],
    ratePerSecond: 12,
    classes: [INTERACTIVE, BULK],
  },
];
