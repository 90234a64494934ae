// The chart's alerts under Prometheus' own rule engine: `promtool check rules` and `promtool test
// rules` (alerts.promtool.yaml beside this file: each alert fires on the series it is meant for,
// not on its neighbours, with its annotations rendered). promtool is Debian's, fetched by
// scripts/ensure-prometheus.sh into .cache/prometheus/.
import { execFile, execFileSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from '@jest/globals';
import { parse, stringify } from 'yaml';

const run = promisify(execFile);
const PROMTOOL = join(
  execFileSync('scripts/ensure-prometheus.sh', { encoding: 'utf8' }).trim(),
  'promtool',
);
const dir = mkdtempSync(join(tmpdir(), 'edgellm-promtool-'));

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

/** The chart's alert list as a Prometheus rule file, the way the PrometheusRule groups it. */
function writeRules(alerts = readFileSync('charts/edgellm/files/alerts.yaml', 'utf8')): void {
  writeFileSync(
    join(dir, 'rules.yaml'),
    stringify({ groups: [{ name: 'edgellm', rules: parse(alerts) as unknown }] }),
  );
  copyFileSync('test/component/deploy/alerts.promtool.yaml', join(dir, 'tests.yaml'));
}

async function promtool(...args: string[]): Promise<{ code: number; output: string }> {
  try {
    const { stdout, stderr } = await run(PROMTOOL, args, { cwd: dir });
    return { code: 0, output: stdout + stderr };
  } catch (error) {
    const e = error as { code?: number; stdout?: string; stderr?: string };
    return { code: e.code ?? -1, output: `${e.stdout ?? ''}${e.stderr ?? ''}` };
  }
}

describe('alerts under promtool', () => {
  it('promtool check rules accepts them', async () => {
    writeRules();
    const result = await promtool('check', 'rules', 'rules.yaml');
    expect(result).toEqual({ code: 0, output: expect.stringMatching(/SUCCESS: \d+ rules found/) });
  });

  it('promtool test rules passes: each alert fires where it should and nowhere else', async () => {
    writeRules();
    const result = await promtool('test', 'rules', 'tests.yaml');
    expect(result).toEqual({ code: 0, output: expect.stringContaining('SUCCESS') });
  });

  it('the tests catch a changed threshold', async () => {
    writeRules(readFileSync('charts/edgellm/files/alerts.yaml', 'utf8').replace('< 0.9', '< 0.7'));
    const result = await promtool('test', 'rules', 'tests.yaml');
    expect(result.code).not.toBe(0);
    expect(result.output).toContain('EdgellmSlaAttainmentLow');
  });
});
