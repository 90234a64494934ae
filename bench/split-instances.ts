// Random split-planning instances for the planner bench and its cold runs: a 7B-class layer
// shape (h = 4096, h_ff = 11008) with L layers, a request of 64-2048 prompt and 1-256 output
// tokens, a client of 10 GFLOP/s to 10 TFLOP/s on a 1-1000 MB/s link each way, a server at
// 100 TFLOP/s, and an SLA of 1.2x to 40x the server-only latency (as in issue 18's check).
import {
  buildSplitProfile,
  evaluatePlacement,
  GRANULARITY,
  LOC_SERVER,
  type Endpoints,
  type Granularity,
  type SplitProfile,
} from '../src/core/planner/index.js';
import { createRng, uniform, uniformInt } from '../src/core/random.js';

export interface SplitBenchInstance {
  readonly profile: SplitProfile;
  readonly slaSeconds: number;
  readonly ends: Endpoints;
}

const ENDS: Endpoints = { inputAtClient: true, outputAt: 'client' };

/** Instance `index` of the series for (layers, granularity): the same for a given seed. */
export function splitBenchInstance(
  layers: number,
  index: number,
  granularity: Granularity = GRANULARITY.layer,
  seed = 2024,
): SplitBenchInstance {
  const rng = createRng(seed * 1_000_003 + layers * 7919 + index);
  const logUniform = (lo: number, hi: number): number =>
    Math.exp(uniform(rng, Math.log(lo), Math.log(hi)));
  const profile = buildSplitProfile({
    model: { layers, hiddenSize: 4096, ffnSize: 11008, bytesPerElement: 2 },
    request: { promptTokens: uniformInt(rng, 64, 2048), outputTokens: uniformInt(rng, 1, 256) },
    client: {
      computeFlops: logUniform(1e10, 1e13),
      uplinkBytesPerSecond: logUniform(1e6, 1e9),
      downlinkBytesPerSecond: logUniform(1e6, 1e9),
    },
    server: { computeFlops: 1e14 },
    granularity,
  });
  const units = profile.clientSeconds.length;
  const serverOnly = evaluatePlacement(profile, new Uint8Array(units).fill(LOC_SERVER), ENDS);
  return {
    profile,
    slaSeconds: serverOnly.latency.totalSeconds * uniform(rng, 1.2, 40),
    ends: ENDS,
  };
}
