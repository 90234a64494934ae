// The default scenario of `edgellm simulate` (spec/scheduling.md §6). Every value is a
// configuration entry; `assumptions` lists those the papers' full text would fix and we could
// not read. A JSON file of the same shape (`--scenario file.json`) replaces it.
import { z } from 'zod';

const range = z
  .tuple([z.number().nonnegative(), z.number().nonnegative()])
  .refine(([lo, hi]) => lo <= hi, {
    message: 'range must be [low, high] with low <= high',
  });

export const schedulingScenarioSchema = z.object({
  name: z.string(),
  description: z.string(),
  assumptions: z.array(z.string()),
  node: z.object({
    memoryBytes: z.number().positive(),
    computeFlops: z.number().positive(),
    utilization: z.number().positive().max(1),
    memoryBandwidthBytesPerSecond: z.number().positive().optional(),
    uplinkBandwidthHz: z.number().positive(),
    downlinkBandwidthHz: z.number().positive(),
  }),
  model: z.object({
    name: z.string(),
    layers: z.number().int().positive(),
    hiddenSize: z.number().int().positive(),
    ffnSize: z.number().int().positive(),
    kvWidth: z.number().int().positive(),
    parameters: z.number().positive(),
    kvBits: z.number().positive(),
  }),
  variants: z
    .array(
      z.object({
        quantization: z.string(),
        weightBits: z.number().positive(),
        computeFactor: z.number().positive(),
        perplexity: z.number().positive(),
      }),
    )
    .min(1),
  users: z.array(z.number().int().positive()).min(1),
  trials: z.number().int().positive(),
  seed: z.number().int(),
  requests: z.object({
    promptTokens: range,
    maxTokens: range,
    latencyBudgetSeconds: range,
    maxPerplexityIncrease: range,
    uplinkSpectralEfficiency: range,
    downlinkSpectralEfficiency: range,
  }),
  options: z.object({
    padding: z.enum(['static', 'ragged']),
    compute: z.enum(['flops', 'roofline']),
    communication: z.enum(['linear', 'noise-scaled']),
    bitsPerToken: z.number().positive(),
    objective: z.enum(['requests', 'tokens']),
  }),
  /** Node budget per DFTSP call; a call that hits it reports optimal=false. */
  maxNodes: z.number().int().positive(),
});

export type SchedulingScenario = z.output<typeof schedulingScenarioSchema>;

export const DEFAULT_SCHEDULING_SCENARIO: SchedulingScenario = {
  name: 'paper-shape',
  description:
    'A 7B-class decoder (LLaMA-2-7B shape) on a 24 GB edge GPU with 10 MHz uplink and 20 MHz downlink; 5-30 users per epoch with prompt, output, deadline, accuracy requirement and spectral efficiencies drawn uniformly.',
  assumptions: [
    'node.computeFlops = 125 TFLOP/s (an A10/L4-class edge GPU at FP16 with tensor cores); utilization 0.5 as in the spec',
    'node.memoryBandwidthBytesPerSecond = 600 GB/s (used only with compute=roofline)',
    'variant perplexities are LLaMA-2-7B on WikiText-2 as commonly reported: FP16 5.47, INT8 (LLM.int8) 5.50, INT4 (GPTQ) 5.69',
    'computeFactor = 1 for every variant (weight-only quantization: compute runs in FP16)',
    "request ranges (prompt 64-1024, output 32-512 tokens, deadline 1-6 s, accepted perplexity increase 0-0.4, spectral efficiency 1-6 bit/s/Hz) are ours: the paper's simulation table could not be read",
    'payload 32 bits per token on both links',
  ],
  node: {
    memoryBytes: 24e9,
    computeFlops: 125e12,
    utilization: 0.5,
    memoryBandwidthBytesPerSecond: 600e9,
    uplinkBandwidthHz: 10e6,
    downlinkBandwidthHz: 20e6,
  },
  model: {
    name: 'llama-2-7b',
    layers: 32,
    hiddenSize: 4096,
    ffnSize: 11008,
    kvWidth: 4096,
    parameters: 6.74e9,
    kvBits: 16,
  },
  variants: [
    { quantization: 'FP16', weightBits: 16, computeFactor: 1, perplexity: 5.47 },
    { quantization: 'INT8', weightBits: 8, computeFactor: 1, perplexity: 5.5 },
    { quantization: 'INT4', weightBits: 4, computeFactor: 1, perplexity: 5.69 },
  ],
  users: [5, 10, 15, 20, 25, 30],
  trials: 40,
  seed: 2024,
  requests: {
    promptTokens: [64, 1024],
    maxTokens: [32, 512],
    latencyBudgetSeconds: [1, 6],
    maxPerplexityIncrease: [0, 0.4],
    uplinkSpectralEfficiency: [1, 6],
    downlinkSpectralEfficiency: [1, 6],
  },
  options: {
    padding: 'static',
    compute: 'flops',
    communication: 'linear',
    bitsPerToken: 32,
    objective: 'requests',
  },
  maxNodes: 5_000_000,
};
