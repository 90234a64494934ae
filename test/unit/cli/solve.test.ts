// `edgellm solve` through the built CLI (make test builds dist/ first).
import { describe, expect, it } from '@jest/globals';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
const cli = join(process.cwd(), 'bin', 'edgellm');

async function solve(instance: unknown): Promise<{ code: number; stdout: string; stderr: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'edgellm-solve-'));
  const file = join(dir, 'instance.json');
  await writeFile(file, typeof instance === 'string' ? instance : JSON.stringify(instance));
  try {
    const { stdout, stderr } = await run(cli, ['solve', '--input', file]);
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

const example = JSON.parse(
  await readFile(join(process.cwd(), 'examples', 'instance.json'), 'utf8'),
) as {
  requests: Record<string, unknown>[];
  options: Record<string, unknown>;
  node: Record<string, unknown>;
};

describe('edgellm solve', () => {
  it('prints the decision: batch, nodes evaluated, optimality, predicted phases, shares summing to the band', async () => {
    const { code, stdout } = await solve(example);
    expect(code).toBe(0);
    const out = JSON.parse(stdout) as {
      batch: string[];
      nodesEvaluated: number;
      optimal: boolean;
      predicted: Record<string, number>;
      bandwidthShares: Record<string, { uplinkHz: number; downlinkHz: number }>;
      rejected: { id: string; reason: string }[];
    };
    // c asks for at most 0.01 perplexity over the best variant; this Q8 variant is 0.02 worse.
    expect(out.batch).toEqual(['a', 'b', 'd', 'e']);
    expect(out.rejected).toEqual([{ id: 'c', reason: 'ineligible' }]);
    expect(out.optimal).toBe(true);
    expect(out.nodesEvaluated).toBeGreaterThan(0);
    expect(Object.keys(out.predicted).sort()).toEqual(
      ['computeSeconds', 'downlinkSeconds', 'totalSeconds', 'uplinkSeconds'].sort(),
    );
    const up = Object.values(out.bandwidthShares).reduce((a, s) => a + s.uplinkHz, 0);
    expect(up).toBeCloseTo(example.node.uplinkBandwidthHz as number, 3);
  });

  it('under a time budget warms the policy up first and reports that apart from the solve', async () => {
    const { code, stdout } = await solve({
      ...example,
      options: { ...example.options, policy: 'sweep', maxMilliseconds: 50 },
    });
    expect(code).toBe(0);
    const out = JSON.parse(stdout) as {
      batch: string[];
      optimal: boolean;
      warmUpMilliseconds?: number;
    };
    expect(out.batch).toEqual(['a', 'b', 'd', 'e']);
    expect(out.optimal).toBe(true);
    expect(out.warmUpMilliseconds).toBeGreaterThan(0);
    const plain = JSON.parse((await solve(example)).stdout) as { warmUpMilliseconds?: number };
    expect(plain.warmUpMilliseconds).toBeUndefined();
    const baseline = await solve({
      ...example,
      options: { ...example.options, policy: 'fcfs', maxMilliseconds: 50 },
    });
    expect(
      (JSON.parse(baseline.stdout) as { warmUpMilliseconds?: number }).warmUpMilliseconds,
    ).toBeUndefined();
  });

  it('runs every policy', async () => {
    for (const policy of [
      'sweep',
      'dftsp',
      'bruteforce',
      'fcfs',
      'greedy',
      'edf',
      'random',
      'single',
    ]) {
      const { code, stdout } = await solve({ ...example, options: { ...example.options, policy } });
      expect(code).toBe(0);
      expect((JSON.parse(stdout) as { policy: string }).policy).toBe(policy);
    }
  });

  it.each([
    [
      'a missing field',
      (i: typeof example) => delete i.requests[1]?.promptTokens,
      /requests\[1\]\.promptTokens: is required/,
    ],
    [
      'a negative number',
      (i: typeof example) => (i.node.memoryBytes = -5),
      /node\.memoryBytes: .*>0/,
    ],
    [
      'a duplicate id',
      (i: typeof example) => ((i.requests[3] as { id: string }).id = 'a'),
      /requests\[3\]\.id: duplicate id "a"/,
    ],
    ['an unknown policy', (i: typeof example) => (i.options.policy = 'magic'), /options\.policy/],
  ])('rejects %s, naming the field', async (_what, mutate, message) => {
    const bad = structuredClone(example);
    mutate(bad);
    const { code, stderr } = await solve(bad);
    expect(code).not.toBe(0);
    expect(stderr).toMatch(message);
  });

  it('rejects non-finite numbers and broken JSON', async () => {
    const text = JSON.stringify(example).replace(
      '"memoryBytes":24000000000',
      '"memoryBytes":1e999',
    );
    const nonFinite = await solve(text);
    expect(nonFinite.code).not.toBe(0);
    expect(nonFinite.stderr).toMatch(/node\.memoryBytes/);
    const broken = await solve('{"node": ');
    expect(broken.code).not.toBe(0);
    expect(broken.stderr).toMatch(/not valid JSON/);
  });
});
