// `edgellm simulate` through the built CLI: table, JSON and figures.
import { describe, expect, it } from '@jest/globals';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
const cli = join(process.cwd(), 'bin', 'edgellm');

interface Row {
  variant: string;
  users: number;
  policy: string;
  requestsPerEpoch: number;
  optimalShare: number;
}

describe('edgellm simulate', () => {
  it('compares DFTSP with every baseline for 5-30 users and three variants, and draws the figures', async () => {
    const out = await mkdtemp(join(tmpdir(), 'edgellm-sim-'));
    const { stdout } = await run(cli, ['simulate', '--trials', '3', '--out', out]);
    expect(stdout).toContain('Requests served per epoch, FP16');
    expect(stdout).toContain('Complexity');
    const json = JSON.parse(await readFile(join(out, 'scheduling.json'), 'utf8')) as {
      result: { throughput: Row[]; complexity: { users: number; reduction: number }[] };
    };
    const rows = json.result.throughput;
    expect(new Set(rows.map((r) => r.variant))).toEqual(new Set(['FP16', 'INT8', 'INT4']));
    expect(new Set(rows.map((r) => r.users))).toEqual(new Set([5, 10, 15, 20, 25, 30]));
    expect(new Set(rows.map((r) => r.policy))).toEqual(
      new Set(['dftsp', 'fcfs', 'greedy', 'edf', 'random', 'single']),
    );
    for (const r of rows.filter((x) => x.policy === 'dftsp')) {
      expect(r.optimalShare).toBe(1);
      const others = rows.filter(
        (x) => x.variant === r.variant && x.users === r.users && x.policy !== 'dftsp',
      );
      for (const o of others)
        expect(o.requestsPerEpoch).toBeLessThanOrEqual(r.requestsPerEpoch + 1e-9);
    }
    for (const c of json.result.complexity) expect(c.reduction).toBeGreaterThan(0);
    for (const figure of [
      'throughput-FP16.svg',
      'throughput-INT8.svg',
      'throughput-INT4.svg',
      'complexity.svg',
    ]) {
      const svg = await readFile(join(out, figure), 'utf8');
      expect(svg.startsWith('<svg')).toBe(true);
      expect(svg.trimEnd().endsWith('</svg>')).toBe(true);
      expect(svg).toMatch(/<path d="M[\d.]+,[\d.]+ L/);
    }
  });

  it('rejects a scenario file with a bad field, naming it', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'edgellm-sim-'));
    const file = join(dir, 'scenario.json');
    const { writeFile } = await import('node:fs/promises');
    await writeFile(file, JSON.stringify({ name: 'x', users: [-1] }));
    await expect(run(cli, ['simulate', '--scenario', file, '--out', dir])).rejects.toMatchObject({
      stderr: expect.stringMatching(/users\[0\]/) as unknown as string,
    });
  });
});
