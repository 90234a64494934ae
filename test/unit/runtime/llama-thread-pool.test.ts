// Choosing how llama.cpp's threads are kept (llama-thread-pool.ts): the environment setting and
// the check that only one libllama is loaded. Loading the module itself is tested with the agent
// process (test/component/agent/cli.test.ts).
import { describe, expect, it } from '@jest/globals';
import { RuntimeUnavailableError } from '../../../src/runtime/errors.js';
import {
  assertOneLlamaLibrary,
  mappedLlamaLibraries,
  THREAD_POOL_ENV,
  usePersistentThreadPool,
} from '../../../src/runtime/llama-thread-pool.js';

const bins = '/app/node_modules/@node-llama-cpp/linux-x64/bins/linux-x64';
const vulkan = '/app/node_modules/@node-llama-cpp/linux-x64-vulkan/bins/linux-x64-vulkan';

/** /proc/<pid>/maps lines mapping `path` (two segments each, as the loader maps a library). */
function maps(...paths: string[]): string {
  return paths
    .flatMap((p) => [
      `7f1c2a000000-7f1c2a100000 r--p 00000000 08:01 1234 ${p}`,
      `7f1c2a100000-7f1c2a300000 r-xp 00100000 08:01 1234 ${p}`,
    ])
    .concat(['7ffd1a000000-7ffd1a021000 rw-p 00000000 00:00 0 [stack]'])
    .join('\n');
}

describe('mappedLlamaLibraries', () => {
  it('lists each libllama once, leaving out libllama-common and other libraries', () => {
    const text = maps(
      `${bins}/libllama.v0.5.0.so`,
      `${bins}/libllama-common.so`,
      `${bins}/libggml-base.so`,
      '/usr/lib/x86_64-linux-gnu/libstdc++.so.6',
    );
    expect(mappedLlamaLibraries(text)).toEqual([`${bins}/libllama.v0.5.0.so`]);
    expect(mappedLlamaLibraries(maps('/opt/llama/libllama.so'))).toEqual([
      '/opt/llama/libllama.so',
    ]);
  });

  it('finds two builds when two are mapped, and assertOneLlamaLibrary says what to set', () => {
    const text = maps(`${bins}/libllama.v0.5.0.so`, `${vulkan}/libllama.v0.5.0.so`);
    expect(mappedLlamaLibraries(text)).toHaveLength(2);
    expect(() => {
      assertOneLlamaLibrary(text);
    }).toThrow(RuntimeUnavailableError);
    expect(() => {
      assertOneLlamaLibrary(text);
    }).toThrow(`${THREAD_POOL_ENV}=per-call`);
    expect(() => {
      assertOneLlamaLibrary(maps(`${bins}/libllama.v0.5.0.so`));
    }).not.toThrow();
  });
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
});
