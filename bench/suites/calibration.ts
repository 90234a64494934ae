// `calibration`: the calibrated cost model's error on the real small model (SmolLM2-135M Q4_1
// from PyPI), in this process: the agent's start-up calibration and its online refinement
// predicting every batch of a workload over batch sizes and lengths (runtime-calibration.ts).
// Apart from the `runtime` suite (agent vs llama.cpp) so that either runs alone.
import { loadavg } from 'node:os';
import { createLlamaRuntime } from '../../src/runtime/llama.js';
import { REGISTRY_MODEL, registryModelPath } from '../../src/runtime/models/catalog.js';
import type { BenchSuite } from '../suite.js';
import {
  calibrationErrors,
  calibrationTable,
  measureCalibrationError,
  repeatNoise,
  stepTable,
  type CalibrationWorkload,
} from './runtime-calibration.js';

const MODEL = 'smollm2';
const MAX_SEQUENCES = 16;
const SEQUENCE_TOKENS = 256;

/** Shapes the calibrated model is checked on: batch sizes, prompt lengths and output lengths. */
const WORKLOAD: CalibrationWorkload = {
  batchSizes: [1, 2, 4, 8, 16],
  promptChars: [40, 320],
  maxTokens: [12, 40],
  passes: 3,
};
const QUICK_WORKLOAD: CalibrationWorkload = {
  batchSizes: [1, 4, 16],
  promptChars: [40, 320],
  maxTokens: [12],
  passes: 2,
};

function uptime(): string {
  return loadavg()
    .map((l) => l.toFixed(2))
    .join(', ');
}

const pct = (x: number): string => `${(x * 100).toFixed(1)}%`;

export const calibrationSuite: BenchSuite = {
  name: 'calibration',
  description:
    'calibrated latency model error on SmolLM2-135M: start-up calibration and online refinement',
  async run({ quick }) {
    // BENCH_THREADS sets the llama.cpp threads (default 2: this machine's cores).
    const threads = Number(process.env.BENCH_THREADS ?? 2);
    const workload = quick ? QUICK_WORKLOAD : WORKLOAD;
    const loadBefore = uptime();
    const runtime = await createLlamaRuntime({ threads });
    let calibration;
    try {
      const loaded = await runtime.loadModel({
        name: MODEL,
        quantization: REGISTRY_MODEL.quantization,
        path: registryModelPath(),
        maxSequences: MAX_SEQUENCES,
        contextTokens: MAX_SEQUENCES * SEQUENCE_TOKENS,
      });
      calibration = await measureCalibrationError(runtime, loaded.name, workload);
    } finally {
      await runtime.dispose();
    }
    const loadAfter = uptime();
    const last = Math.max(...calibration.batches.map((b) => b.pass));
    const refined = calibrationErrors(
      calibration.batches.filter((b) => b.pass === last),
      'refined',
    );
    const startup = calibrationErrors(calibration.batches, 'startup');
    const noise = repeatNoise(calibration.batches);
    const markdown = [
      `SmolLM2-135M-Instruct ${REGISTRY_MODEL.quantization} (PyPI \`${REGISTRY_MODEL.pypiPackage}\` ` +
        `${REGISTRY_MODEL.version}), CPU, ${threads} threads, in process. The agent's start-up calibration ` +
        `(CALIBRATION_PLANS.quick, ${calibration.startupProfile.samples.length} samples, ` +
        `${calibration.calibrationSeconds.toFixed(1)} s) fitted as the operator fits it, predicting each batch's ` +
        `prefill and decode phases from the batch's real shape; "refined" is the agent's ProfileStore fed every ` +
        `batch run before (what GetProfile serves). ${workload.passes} passes over batch sizes ` +
        `${workload.batchSizes.join(', ')} x prompts of about ${workload.promptChars.map((c) => Math.round(c / 4)).join(' and ')} ` +
        `tokens (±25% within a batch) x max tokens ${workload.maxTokens.join(' and ')}. Error = |predicted − measured| / measured per batch. ` +
        '"Repeat noise" predicts each batch of the last pass by the same shape\'s median time in the passes ' +
        'before: how much the same batch moves between passes on this machine, a floor for any model.',
      '',
      calibrationTable(calibration),
      '',
      `Calibrated error, refined, pass ${last}: median **${pct(refined.total.median)}**, ` +
        `p90 ${pct(refined.total.p90)} (goal: median < 10%, p90 < 25%); start-up calibration ` +
        `alone: median ${pct(startup.total.median)}, p90 ${pct(startup.total.p90)}` +
        (noise
          ? `; repeat noise: median ${pct(noise.total.median)}, p90 ${pct(noise.total.p90)}.`
          : '.'),
      '',
      'Decode step time by sequences in the step, every step of the run, against the final refined fit:',
      '',
      stepTable(calibration),
      '',
      `Load average (1, 5, 15 min): ${loadBefore} before, ${loadAfter} after.`,
    ].join('\n');
    return {
      name: 'calibration',
      title: 'Calibrated latency model on SmolLM2-135M: start-up and refined error',
      markdown,
      data: {
        threads,
        loadBefore,
        loadAfter,
        workload,
        startup,
        refinedLastPass: refined,
        repeatNoise: noise ?? null,
        ...calibration,
      },
    };
  },
};
