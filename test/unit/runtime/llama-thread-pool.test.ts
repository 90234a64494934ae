// Choosing how llama.cpp's threads are kept (llama-thread-pool.ts): the environment setting and
// the fall-backs to per-call threads when the module is missing or does not load. Loading the
// real module is tested with the runtime and the agent process (test/component/runtime/
// llama.test.ts, test/component/agent/cli.test.ts).
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  THREAD_POOL_ENV,
  usePersistentThreadPool,
} from '../../../src/runtime/llama-thread-pool.js';

let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'edgellm-thread-pool-'));
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('usePersistentThreadPool', () => {
  it('keeps per-call threads when the environment asks, without loading anything', () => {
    expect(usePersistentThreadPool({ [THREAD_POOL_ENV]: 'per-call' })).toEqual({
      mode: 'per-call',
      detail: `${THREAD_POOL_ENV}=per-call`,
    });
  });

  it('rejects any other setting with the accepted values', () => {
    expect(() => usePersistentThreadPool({ [THREAD_POOL_ENV]: 'on' })).toThrow(
      `${THREAD_POOL_ENV} must be persistent or per-call, got "on"`,
    );
  });

  it('falls back to per-call threads, saying why, when the module is not built', () => {
    const path = join(dir, 'missing.node');
    expect(usePersistentThreadPool({}, path)).toEqual({
      mode: 'per-call',
      detail: expect.stringContaining(`${path} is not built`),
    });
  });

  it("falls back to per-call threads with the loader's error when the module does not load", async () => {
    // What a module built against other llama.cpp libraries than node_modules holds looks like
    // to the loader: a file it cannot load.
    const path = join(dir, 'broken.node');
    await writeFile(path, 'not a shared library');
    const choice = usePersistentThreadPool({}, path);
    expect(choice.mode).toBe('per-call');
    expect(choice.detail).toContain(`could not load ${path} (run make build)`);
  });
});
