// `edgellm fetch-model` as the LLM pods' init container runs it (the built CLI): a verified file
// lands in the cache and the report says so; a bad checksum exits 1 (so the pod never starts an
// agent without its model) and the termination log carries the reason the operator shows.
import { createHash } from 'node:crypto';
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { readGgufHeader } from '../../../src/gguf/header-reader.js';
import { modelShapeOf } from '../../../src/gguf/model-shape.js';
import { buildTinyModel } from '../../../src/runtime/gguf/tiny-model.js';
import { ModelServer } from '../../support/model-server.js';

const run = promisify(execFile);
const file = buildTinyModel({ type: 'F32', seed: 5 });
const sha = createHash('sha256').update(file).digest('hex');
const server = new ModelServer();
let dir: string;

beforeAll(async () => {
  server.serve('/m.gguf', file);
  await server.start();
  dir = await mkdtemp(join(tmpdir(), 'edgellm-fetch-cli-'));
});
afterAll(async () => {
  await server.stop();
  await rm(dir, { recursive: true, force: true });
});

function fetchModel(digest: string): Promise<{ code: number; stdout: string; log: string }> {
  const log = join(dir, `termination-${digest.slice(0, 8)}.log`);
  const args = [
    'dist/src/cli/main.js',
    'fetch-model',
    `--source=${server.url('/m.gguf')}`,
    `--sha256=${digest}`,
    `--cache-dir=${join(dir, 'cache')}`,
    '--max-cache-bytes=100000000',
    `--termination-log=${log}`,
  ];
  return run(process.execPath, args).then(
    async ({ stdout }) => ({ code: 0, stdout, log: await readFile(log, 'utf8') }),
    async (error: unknown) => {
      const failed = error as { code: number; stdout: string };
      return { code: failed.code, stdout: failed.stdout, log: await readFile(log, 'utf8') };
    },
  );
}

describe('edgellm fetch-model', () => {
  it('puts a verified file in the cache and reports it', async () => {
    const { code, stdout, log } = await fetchModel(sha);
    expect(code).toBe(0);
    const report = JSON.parse(stdout) as { ok: boolean; path: string; downloaded: boolean };
    expect(report).toMatchObject({
      ok: true,
      downloaded: true,
      path: join(dir, 'cache', `${sha}.gguf`),
    });
    expect(JSON.parse(log)).toEqual(report);
  });

  it('reads only the header of a file in a mounted claim (the shape probe)', async () => {
    const mount = join(dir, 'claim');
    await mkdir(join(mount, 'models'), { recursive: true });
    await writeFile(join(mount, 'models', 'm.gguf'), file);
    const log = join(dir, 'probe.log');
    const { stdout } = await run(process.execPath, [
      'dist/src/cli/main.js',
      'fetch-model',
      '--source=pvc://edgellm/claim/models/m.gguf',
      `--sha256=${sha}`,
      '--header-only',
      `--pvc-mount=${mount}`,
      `--termination-log=${log}`,
    ]);
    const report = JSON.parse(stdout) as { ok: boolean; shape: unknown };
    expect(report).toMatchObject({ ok: true, shape: modelShapeOf(readGgufHeader(file)) });
    expect(JSON.parse(await readFile(log, 'utf8'))).toEqual(report);
  });

  it('exits 1 on a bad checksum with the reason in the termination log', async () => {
    const { code, log } = await fetchModel('0'.repeat(64));
    expect(code).toBe(1);
    expect(JSON.parse(log)).toMatchObject({ ok: false, reason: 'ChecksumMismatch' });
  });
});
