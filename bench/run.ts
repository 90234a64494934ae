// `make bench` (or `node dist/bench/run.js [--only name,...] [--quick]`): runs the benchmark
// suites, prints each table, writes bench/results/<name>.json and refreshes bench/README.md.
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cpus, totalmem } from 'node:os';
import { SUITES } from './suites/index.js';
import type { BenchResult } from './suite.js';

const benchDir = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'bench');

function parseArgs(argv: readonly string[]): { only: Set<string> | null; quick: boolean } {
  let only: Set<string> | null = null;
  let quick = false;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--quick') quick = true;
    else if (arg === '--only') only = new Set((argv[++i] ?? '').split(',').filter(Boolean));
    else throw new Error(`unknown argument ${String(arg)}; use --only a,b and/or --quick`);
  }
  return { only, quick };
}

async function updateReadme(result: BenchResult): Promise<void> {
  const path = join(benchDir, 'README.md');
  const text = await readFile(path, 'utf8');
  const begin = `<!-- bench:${result.name}:begin -->`;
  const end = `<!-- bench:${result.name}:end -->`;
  const section = `${begin}\n### ${result.title}\n\n${result.markdown}\n${end}`;
  const start = text.indexOf(begin);
  const stop = text.indexOf(end);
  const next =
    start >= 0 && stop > start
      ? text.slice(0, start) + section + text.slice(stop + end.length)
      : `${text.trimEnd()}\n\n${section}\n`;
  await writeFile(path, next);
}

async function run(): Promise<void> {
  const { only, quick } = parseArgs(process.argv.slice(2));
  const machine = {
    node: process.version,
    cpus: cpus().length,
    cpuModel: cpus()[0]?.model ?? 'unknown',
    memoryBytes: totalmem(),
  };
  await mkdir(join(benchDir, 'results'), { recursive: true });
  for (const suite of SUITES) {
    if (only ? !only.has(suite.name) : suite.onlyWhenNamed === true) continue;
    process.stdout.write(`\n## ${suite.name}: ${suite.description}\n`);
    const result = await suite.run({ quick });
    process.stdout.write(`\n${result.markdown}\n`);
    const file = join(benchDir, 'results', `${result.name}.json`);
    const payload = {
      name: result.name,
      date: new Date().toISOString(),
      quick,
      machine,
      data: result.data,
    };
    await writeFile(file, `${JSON.stringify(payload, null, 2)}\n`);
    if (!quick) await updateReadme(result);
    process.stdout.write(`\nwrote ${file}\n`);
  }
}

await run();
