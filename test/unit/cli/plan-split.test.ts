// `edgellm plan-split` as a user runs it: the built CLI (dist/, built by `make test`'s build
// step) on good and bad input files.
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const MAIN = join(process.cwd(), 'dist', 'src', 'cli', 'main.js');
let dir = '';
let count = 0;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'edgellm-plan-split-'));
});
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

function run(input: unknown): { status: number | null; stdout: string; stderr: string } {
  const file = join(dir, `in-${String(count++)}.json`);
  writeFileSync(file, typeof input === 'string' ? input : JSON.stringify(input));
  const r = spawnSync(process.execPath, [MAIN, 'plan-split', '--input', file], {
    encoding: 'utf8',
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

const good = {
  model: { layers: 32, hiddenSize: 4096, ffnSize: 11008, bytesPerElement: 2 },
  sequenceLength: 1024,
  outputTokens: 16,
  client: { computeFlops: 2e12, uplinkBytesPerSecond: 2.5e7, downlinkBytesPerSecond: 1e8 },
  server: { computeFlops: 1e14 },
  slaSeconds: 3,
  options: { policy: 'dp' },
  comment: 'extra fields are allowed',
};

interface Output {
  placement: string[] | null;
  serverFlops: number;
  clientFlops: number;
  latencySeconds: number;
  switches: number;
  feasible: boolean;
  decision: string;
}

describe('edgellm plan-split', () => {
  test('prints a feasible plan with the documented fields', () => {
    const r = run(good);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const out = JSON.parse(r.stdout) as Output;
    expect(out.placement).toHaveLength(32);
    expect(out.feasible).toBe(true);
    expect(out.latencySeconds).toBeLessThanOrEqual(3);
    expect(out.serverFlops + out.clientFlops).toBeGreaterThan(0);
    expect(out.clientFlops).toBeGreaterThan(0); // the loose SLA leaves room on the client
    expect(Number.isInteger(out.switches)).toBe(true);
    const serverOnly = JSON.parse(
      run({ ...good, options: { policy: 'server-only' } }).stdout,
    ) as Output;
    expect(serverOnly.placement).toEqual(Array(32).fill('server'));
    expect(serverOnly.clientFlops).toBe(0);
    expect(out.serverFlops).toBeLessThan(serverOnly.serverFlops);
  });

  test('the README example (examples/split.json) plans a feasible split', () => {
    const r = spawnSync(
      process.execPath,
      [MAIN, 'plan-split', '--input', join(process.cwd(), 'examples', 'split.json')],
      { encoding: 'utf8' },
    );
    expect(r.status).toBe(0);
    const out = JSON.parse(r.stdout) as Output;
    expect(out.feasible).toBe(true);
    expect(out.placement).toContain('client');
    expect(out.placement).toContain('server');
  });

  test('exhaustive on a small model agrees with dp exactly, and dp-steps is no better', () => {
    const small = {
      ...good,
      model: { layers: 8, hiddenSize: 768, ffnSize: 3072, bytesPerElement: 2 },
      client: { ...good.client, computeFlops: 1e12 },
      slaSeconds: 0.12,
      options: { policy: 'exhaustive' },
    };
    const ex = JSON.parse(run(small).stdout) as Output;
    const dp = JSON.parse(run({ ...small, options: { policy: 'dp' } }).stdout) as Output;
    const steps = JSON.parse(
      run({ ...small, options: { policy: 'dp-steps', timeStepSeconds: 1e-4 } }).stdout,
    ) as Output;
    expect(ex.feasible).toBe(true);
    expect(ex.placement).toContain('client');
    expect(ex.placement).toContain('server');
    expect(dp.serverFlops).toBe(ex.serverFlops);
    expect(dp.latencySeconds).toBe(ex.latencySeconds);
    expect(steps.serverFlops).toBeGreaterThanOrEqual(dp.serverFlops);
  });

  test('an impossible SLA is reported, and rejected when asked', () => {
    const tight = { ...good, slaSeconds: 0.0001, options: { onInfeasible: 'reject' } };
    const r = run(tight);
    expect(r.status).toBe(0);
    const out = JSON.parse(r.stdout) as Output;
    expect(out.feasible).toBe(false);
    expect(out.decision).toBe('rejected');
    expect(out.placement).toBeNull();
  });

  test.each([
    [{ ...good, client: { ...good.client, computeFlops: undefined } }, 'client.computeFlops'],
    [{ ...good, model: { ...good.model, layers: -1 } }, 'model.layers'],
    [{ ...good, options: { policy: 'magic' } }, 'options.policy'],
    [{ ...good, slaSeconds: 'soon' }, 'slaSeconds'],
    ['{ not json', 'not valid JSON'],
    [{ ...good, options: { policy: 'exhaustive' } }, 'exhaustive search over 32 units'],
    [
      { ...good, options: { timeStepSeconds: 0.001 } },
      'timeStepSeconds applies to algorithm dp-steps only',
    ],
  ])('bad input exits non-zero naming the problem (%#)', (input, field) => {
    const r = run(input);
    expect(r.status).not.toBe(0);
    expect(r.stderr).toContain(field);
    expect(r.stdout).toBe('');
  });

  test('a missing file exits non-zero', () => {
    const r = spawnSync(process.execPath, [MAIN, 'plan-split', '--input', join(dir, 'nope.json')], {
      encoding: 'utf8',
    });
    expect(r.status).not.toBe(0);
    expect(r.stderr).toContain('cannot read split input');
  });
});
