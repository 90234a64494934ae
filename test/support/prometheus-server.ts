// A real Prometheus (Debian's 2.42 binary, scripts/ensure-prometheus.sh) on the test host,
// scraping given targets every second: the e2e asks it the dashboard's and the alerts' queries.
import { spawn, type ChildProcess, execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { freePort } from './net.js';
import { waitFor } from './wait.js';

export interface ScrapeJob {
  readonly job: string;
  /** host:port of each target's /metrics. */
  readonly targets: readonly string[];
}

export class TestPrometheus {
  private constructor(
    private readonly proc: ChildProcess,
    private readonly dir: string,
    readonly url: string,
  ) {}

  static async start(jobs: readonly ScrapeJob[]): Promise<TestPrometheus> {
    const bin = join(
      execFileSync('scripts/ensure-prometheus.sh', { encoding: 'utf8' }).trim(),
      'prometheus',
    );
    const dir = mkdtempSync(join(tmpdir(), 'edgellm-prometheus-'));
    writeFileSync(
      join(dir, 'prometheus.yml'),
      stringify({
        global: { scrape_interval: '1s', evaluation_interval: '1s' },
        scrape_configs: jobs.map((j) => ({
          job_name: j.job,
          static_configs: [{ targets: j.targets }],
        })),
      }),
    );
    const port = await freePort();
    const proc = spawn(
      bin,
      [
        `--config.file=${join(dir, 'prometheus.yml')}`,
        `--storage.tsdb.path=${join(dir, 'data')}`,
        `--web.listen-address=127.0.0.1:${port}`,
      ],
      { stdio: 'ignore' },
    );
    const prometheus = new TestPrometheus(proc, dir, `http://127.0.0.1:${port}`);
    const expected = jobs.reduce((n, j) => n + j.targets.length, 0);
    await waitFor(
      'every target up',
      async () => {
        const res = await fetch(`${prometheus.url}/api/v1/targets`).catch(() => undefined);
        if (res?.ok !== true) return 0;
        const body = (await res.json()) as { data: { activeTargets: { health: string }[] } };
        return body.data.activeTargets.filter((t) => t.health === 'up').length;
      },
      (up) => up === expected,
      { timeoutMs: 60_000, intervalMs: 500 },
    );
    return prometheus;
  }

  /** The series an instant query returns (throws on a query Prometheus rejects). */
  async query(expr: string): Promise<unknown[]> {
    const res = await fetch(`${this.url}/api/v1/query?query=${encodeURIComponent(expr)}`);
    const body = (await res.json()) as {
      status: string;
      error?: string;
      data?: { result: unknown[] };
    };
    if (body.status !== 'success')
      throw new Error(`Prometheus rejected ${expr}: ${body.error ?? ''}`);
    return body.data?.result ?? [];
  }

  stop(): void {
    this.proc.kill('SIGKILL');
    rmSync(this.dir, { recursive: true, force: true });
  }
}
