// The per-unit cost profile: the closed-form FLOPs equal the per-step sums of
// spec/scheduling.md §2, sub-layers add up to layers, transfers count every token once.
import { describe, expect, test } from '@jest/globals';
import fc from 'fast-check';
import {
  buildSplitProfile,
  layerFlops,
  ON_INFEASIBLE,
  planSplit,
  solveExhaustive,
  SplitPlanError,
  type SplitClient,
  type SplitModel,
} from '../../../../src/core/planner/index.js';
import { decodeFlops, prefillFlops } from '../../../../src/core/model/flops.js';
import { llama7b } from '../../../support/models.js';

const gpt2: SplitModel = { layers: 12, hiddenSize: 768, ffnSize: 3072, bytesPerElement: 2 };
const phone: SplitClient = {
  computeFlops: 2e11,
  uplinkBytesPerSecond: 1.25e6,
  downlinkBytesPerSecond: 5e6,
};
const server = { computeFlops: 5e13 };

/** The spec's per-step formulas, summed step by step. */
function stepwise(h: number, hff: number, s: number, n: number): number {
  let total = s * (8 * h * h + 4 * h * hff) + 4 * s * s * h;
  for (let i = 1; i <= n - 1; i++) total += 8 * h * h + 4 * h * hff + 4 * h * (s + i);
  return total;
}

describe('split cost profile', () => {
  test('closed-form layer FLOPs equal the step-by-step sum of spec/scheduling.md', () => {
    expect(layerFlops({ hiddenSize: 2, ffnSize: 3 }, { promptTokens: 4, outputTokens: 3 })).toEqual(
      { attentionFlops: 408, ffnFlops: 144 },
    );
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 8192 }),
        fc.integer({ min: 1, max: 30000 }),
        fc.integer({ min: 1, max: 4096 }),
        fc.integer({ min: 1, max: 512 }),
        (h, hff, s, n) => {
          const { attentionFlops, ffnFlops } = layerFlops(
            { hiddenSize: h, ffnSize: hff },
            { promptTokens: s, outputTokens: n },
          );
          const expected = stepwise(h, hff, s, n);
          expect(Math.abs(attentionFlops + ffnFlops - expected)).toBeLessThanOrEqual(
            1e-12 * expected,
          );
        },
      ),
      { numRuns: 300 },
    );
  });

  test('sub-layers add up to layers; times follow each side’s FLOP/s; transfers count every token', () => {
    const request = { promptTokens: 300, outputTokens: 21 };
    const whole = buildSplitProfile({ model: gpt2, request, client: phone, server });
    const split = buildSplitProfile({
      model: gpt2,
      request,
      client: phone,
      server,
      granularity: 'sublayer',
    });
    expect(whole.labels).toHaveLength(12);
    expect(split.labels).toHaveLength(24);
    expect(split.labels[1]).toBe('layer 0 ffn');
    for (let l = 0; l < 12; l++) {
      const sum = (split.flops[2 * l] ?? 0) + (split.flops[2 * l + 1] ?? 0);
      expect(sum).toBeCloseTo(whole.flops[l] ?? 0, 0);
      expect(whole.clientSeconds[l]).toBeCloseTo((whole.flops[l] ?? 0) / phone.computeFlops, 12);
      expect(whole.serverSeconds[l]).toBeCloseTo((whole.flops[l] ?? 0) / server.computeFlops, 12);
    }
    const bytes = (300 + 20) * 768 * 2;
    expect(whole.activationBytes[5]).toBe(bytes);
    expect(whole.uploadSeconds[11]).toBeCloseTo(bytes / phone.uplinkBytesPerSecond, 12);
    expect(whole.downloadSeconds[3]).toBeCloseTo(bytes / phone.downlinkBytesPerSecond, 12);
    // at the ends only token ids cross, unless asked for hidden states
    expect(whole.activationBytes[0]).toBe((300 + 20) * 4);
    expect(whole.downloadSeconds[12]).toBeCloseTo((21 * 4) / phone.downlinkBytesPerSecond, 12);
    const hidden = buildSplitProfile({
      model: gpt2,
      request,
      client: phone,
      server,
      boundaryTransfer: 'hidden',
    });
    expect(hidden.activationBytes[0]).toBe(bytes);
    expect(hidden.activationBytes[12]).toBe(bytes);
    // attention carries the quadratic term: its share grows with the prompt
    const share = (s: number): number => {
      const f = layerFlops(gpt2, { promptTokens: s, outputTokens: 1 });
      return f.attentionFlops / (f.attentionFlops + f.ffnFlops);
    };
    expect(share(8192)).toBeGreaterThan(share(128));
  });

  test('L times the layer FLOPs equals the cost model of src/core/model (prefill + decode)', () => {
    const variant = llama7b();
    for (const [s, n] of [
      [1, 1],
      [128, 32],
      [2048, 500],
    ] as const) {
      const f = layerFlops(variant, { promptTokens: s, outputTokens: n });
      const expected = prefillFlops(variant, s) + decodeFlops(variant, s, n);
      expect(variant.layers * (f.attentionFlops + f.ffnFlops)).toBeCloseTo(expected, -3);
    }
  });

  test('link latency is paid once per generation step per transfer', () => {
    const request = { promptTokens: 10, outputTokens: 5 };
    const base = buildSplitProfile({ model: gpt2, request, client: phone, server });
    const slow = buildSplitProfile({
      model: gpt2,
      request,
      client: { ...phone, linkLatencySeconds: 0.01 },
      server,
    });
    expect((slow.uploadSeconds[0] ?? 0) - (base.uploadSeconds[0] ?? 0)).toBeCloseTo(0.05, 12);
  });

  test('measured per-unit times replace the analytic ones and are checked', () => {
    const request = { promptTokens: 64, outputTokens: 1 };
    const measured = { clientSeconds: Array.from({ length: 12 }, (_, i) => i * 0.01) };
    const p = buildSplitProfile({ model: gpt2, request, client: phone, server, measured });
    expect(Array.from(p.clientSeconds)).toEqual(measured.clientSeconds);
    expect(() =>
      buildSplitProfile({
        model: gpt2,
        request,
        client: phone,
        server,
        measured: { serverSeconds: [1, 2] },
      }),
    ).toThrow(SplitPlanError);
    expect(() =>
      buildSplitProfile({ model: gpt2, request, client: { ...phone, computeFlops: 0 }, server }),
    ).toThrow(/client.computeFlops/);
  });

  test('cutting layers into attention and FFN never does worse (real-time oracle, L <= 6)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 6 }),
        fc.integer({ min: 1, max: 4096 }),
        fc.double({ min: 1e9, max: 1e13, noNaN: true }),
        fc.double({ min: 1e4, max: 1e8, noNaN: true }),
        fc.double({ min: 0.001, max: 5, noNaN: true }),
        (layers, s, clientFlops, rate, sla) => {
          const model = { ...gpt2, layers };
          const client = {
            computeFlops: clientFlops,
            uplinkBytesPerSecond: rate,
            downlinkBytesPerSecond: rate * 4,
          };
          const request = { promptTokens: s, outputTokens: 1 };
          const ends = { inputAtClient: true, outputAt: 'client' } as const;
          const layer = buildSplitProfile({ model, request, client, server });
          const sub = buildSplitProfile({
            model,
            request,
            client,
            server,
            granularity: 'sublayer',
          });
          const a = solveExhaustive(layer, sla, ends);
          const b = solveExhaustive(sub, sla, ends);
          if (a.codes !== null)
            expect(b.serverWorkload).toBeLessThanOrEqual(a.serverWorkload * (1 + 1e-12));
        },
      ),
      { numRuns: 300 },
    );
  });

  test('the infeasibility policy: reject, or serve server-only and flag it', () => {
    const profile = buildSplitProfile({
      model: gpt2,
      request: { promptTokens: 2048, outputTokens: 1 },
      client: phone,
      server,
    });
    const flagged = planSplit(profile, 0.001);
    expect(flagged.feasible).toBe(false);
    expect(flagged.decision).toBe('server-only-flagged');
    expect(flagged.placement).toEqual(Array(12).fill('server'));
    expect(flagged.note).toMatch(/SLA at risk/);
    const rejected = planSplit(profile, 0.001, { onInfeasible: ON_INFEASIBLE.reject });
    expect(rejected.decision).toBe('rejected');
    expect(rejected.placement).toBeNull();
    expect(rejected.serverFlops).toBe(0);
  });
});
