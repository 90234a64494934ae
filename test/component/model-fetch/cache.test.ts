// The node model cache (src/model-fetch/cache.ts) and header reads over real HTTP: a file is
// verified before it is named, a bad checksum or an unreachable source is a clear error that leaves
// nothing behind, concurrent fetches share one download, least recently used files go first, and
// a shape read asks for the header's bytes only.
import { createHash } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import { readGgufHeader } from '../../../src/gguf/header-reader.js';
import { modelShapeOf } from '../../../src/gguf/model-shape.js';
import { ModelCache } from '../../../src/model-fetch/cache.js';
import { FETCH_REASON } from '../../../src/model-fetch/errors.js';
import { readSourceShape } from '../../../src/model-fetch/shape.js';
import { parseModelSource } from '../../../src/model-fetch/source.js';
import { fetchFailure } from '../../support/model-fetch.js';
import { buildTinyModel } from '../../../src/runtime/gguf/tiny-model.js';
import { ModelServer } from '../../support/model-server.js';

const server = new ModelServer();
const files = {
  a: buildTinyModel({ type: 'F32', seed: 1 }),
  b: buildTinyModel({ type: 'F32', seed: 2 }),
  c: buildTinyModel({ type: 'F32', seed: 3 }),
};
const sha = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex');
const src = (name: keyof typeof files) => parseModelSource(server.url(`/${name}.gguf`));
let dir: string;

beforeAll(async () => {
  for (const [name, bytes] of Object.entries(files)) server.serve(`/${name}.gguf`, bytes);
  await server.start();
});
afterAll(async () => {
  await server.stop();
});
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'edgellm-cache-'));
});

/** A loopback port nothing listens on. */
async function closedPort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as AddressInfo;
  await new Promise<void>((resolve) =>
    probe.close(() => {
      resolve();
    }),
  );
  return port;
}

describe('ModelCache', () => {
  it('downloads a verified file once and finds it in the cache afterwards', async () => {
    const cache = new ModelCache({ dir, maxBytes: 10 * files.a.length });
    const first = await cache.ensure(sha(files.a), src('a'));
    expect(first).toMatchObject({
      downloaded: true,
      bytes: files.a.length,
      path: join(dir, `${sha(files.a)}.gguf`),
    });
    expect(Buffer.compare(await readFile(first.path), Buffer.from(files.a))).toBe(0);
    const before = server.count('/a.gguf');
    const second = await cache.ensure(sha(files.a), src('a'));
    expect(second.downloaded).toBe(false);
    expect(server.count('/a.gguf')).toBe(before);
    await rm(dir, { recursive: true });
  });

  it('refuses a file whose sha256 differs and keeps nothing of it', async () => {
    const cache = new ModelCache({ dir, maxBytes: 10 * files.a.length });
    const error = await fetchFailure(cache.ensure(sha(files.b), src('a')));
    expect(error.reason).toBe(FETCH_REASON.checksumMismatch);
    expect(error.message).toContain(`has sha256 ${sha(files.a)}`);
    expect(error.message).toContain(`not the ${sha(files.b)} the Model declares`);
    expect(await readdir(dir)).toEqual([]);
    await rm(dir, { recursive: true });
  });

  it('says which source cannot be reached and why', async () => {
    const cache = new ModelCache({ dir, maxBytes: 1e9 });
    const missing = await fetchFailure(
      cache.ensure(sha(files.a), parseModelSource(server.url('/none.gguf'))),
    );
    expect(missing.reason).toBe(FETCH_REASON.sourceUnreachable);
    expect(missing.message).toMatch(/none\.gguf: the server answered 404/);
    const closed = await fetchFailure(
      cache.ensure(sha(files.a), parseModelSource(`http://127.0.0.1:${await closedPort()}/x.gguf`)),
    );
    expect(closed.reason).toBe(FETCH_REASON.sourceUnreachable);
    expect(closed.message).toMatch(
      /127\.0\.0\.1:[0-9]+\/x\.gguf: cannot reach it \(.*ECONNREFUSED/,
    );
    expect(await readdir(dir)).toEqual([]);
    await rm(dir, { recursive: true });
  });

  it('shares one download between fetches of the same file at once', async () => {
    const caches = [1, 2, 3].map(() => new ModelCache({ dir, maxBytes: 1e9 }));
    const before = server.count('/c.gguf');
    const results = await Promise.all(caches.map((c) => c.ensure(sha(files.c), src('c'))));
    expect(server.count('/c.gguf') - before).toBe(1);
    expect(results.filter((r) => r.downloaded)).toHaveLength(1);
    expect(new Set(results.map((r) => r.path)).size).toBe(1);
    await rm(dir, { recursive: true });
  });

  it('evicts the least recently used file to stay within its bound', async () => {
    const cache = new ModelCache({ dir, maxBytes: 2 * files.a.length + 100 });
    await cache.ensure(sha(files.a), src('a'));
    await new Promise((r) => setTimeout(r, 20));
    await cache.ensure(sha(files.b), src('b'));
    await new Promise((r) => setTimeout(r, 20));
    expect((await cache.ensure(sha(files.a), src('a'))).downloaded).toBe(false); // a used again
    await new Promise((r) => setTimeout(r, 20));
    const c = await cache.ensure(sha(files.c), src('c'));
    expect(c.evicted).toEqual([`${sha(files.b)}.gguf`]);
    expect((await readdir(dir)).sort()).toEqual(
      [`${sha(files.a)}.gguf`, `${sha(files.c)}.gguf`].sort(),
    );
    await rm(dir, { recursive: true });
  });

  it('says the cache is too small for a file larger than its bound', async () => {
    const cache = new ModelCache({ dir, maxBytes: files.a.length - 1 });
    const error = await fetchFailure(cache.ensure(sha(files.a), src('a')));
    expect(error.reason).toBe(FETCH_REASON.cacheTooSmall);
    expect(error.message).toContain(`holds at most ${files.a.length - 1}`);
    expect(await readdir(dir)).toEqual([]);
    await rm(dir, { recursive: true });
  });
});

describe('readSourceShape', () => {
  it('reads the shape from a Range request of the header', async () => {
    const before = server.gets.length;
    const { shape, fileBytes } = await readSourceShape(src('a'));
    expect(shape).toEqual(modelShapeOf(readGgufHeader(files.a)));
    expect(fileBytes).toBe(files.a.length);
    expect(server.gets.slice(before).map((g) => g.headers.range)).toEqual([
      expect.stringMatching(/^bytes=0-/),
    ]);
  });

  it('calls a file that is not GGUF NotGguf', async () => {
    server.serve('/text.gguf', new TextEncoder().encode('<html>not a model</html>'));
    const error = await fetchFailure(readSourceShape(parseModelSource(server.url('/text.gguf'))));
    expect(error.reason).toBe(FETCH_REASON.notGguf);
  });
});
