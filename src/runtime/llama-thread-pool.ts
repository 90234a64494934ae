// Whether node-llama-cpp's llama contexts get a persistent ggml thread pool
// (native/llama-thread-pool.cpp, built into dist/native/ by `make build`).
//
// node-llama-cpp attaches none, so ggml creates and joins the llama.cpp threads beyond the
// caller on every llama_decode. On a 2-core node with 2 threads that costs single-sequence
// decoding up to two thirds of its speed for a second or more after any other process has used
// the cores: the scheduler puts the freshly created thread on its creator's busy core (measured
// in README.md, "Threads:"). Loading the module with RTLD_GLOBAL before node-llama-cpp loads its
// addon makes the addon's llama_init_from_model and llama_free resolve to the module's wrappers,
// which attach a pool to each new context as llama.cpp's own tools do.
// `EDGELLM_LLAMA_THREAD_POOL=per-call` keeps ggml's per-call threads.
import { existsSync, readFileSync } from 'node:fs';
import { constants } from 'node:os';
import { join } from 'node:path';
import { RuntimeUnavailableError } from './errors.js';
import { repoRoot } from './models/catalog.js';

export type ThreadPoolMode = 'persistent' | 'per-call';

/** The environment variable that chooses the mode (default persistent). */
export const THREAD_POOL_ENV = 'EDGELLM_LLAMA_THREAD_POOL';

export interface ThreadPoolChoice {
  readonly mode: ThreadPoolMode;
  /** Why per-call, or the module's path. */
  readonly detail: string;
}

/** The built module: dist/native/ under the repository (or /app in the agent image). */
export function threadPoolModulePath(root = repoRoot()): string {
  return join(root, 'dist', 'native', 'llama-thread-pool.node');
}

let loadedFrom: string | undefined;

/**
 * Loads the thread pool module into this process (once) unless `env` asks for per-call threads
 * or the module is not built (Linux x64 and arm64 only). Must run before node-llama-cpp loads
 * its addon (getLlama); later contexts of every model get a pool.
 */
export function usePersistentThreadPool(
  env: Readonly<Record<string, string | undefined>> = process.env,
): ThreadPoolChoice {
  const setting = env[THREAD_POOL_ENV] ?? 'persistent';
  if (setting !== 'persistent' && setting !== 'per-call') {
    throw new RuntimeUnavailableError(
      `${THREAD_POOL_ENV} must be persistent or per-call, got ${JSON.stringify(setting)}`,
    );
  }
  if (setting === 'per-call') return { mode: 'per-call', detail: `${THREAD_POOL_ENV}=per-call` };
  if (loadedFrom !== undefined) return { mode: 'persistent', detail: loadedFrom };
  const path = threadPoolModulePath();
  if (!existsSync(path)) {
    return {
      mode: 'per-call',
      detail: `${path} is not built (make build builds it where node-llama-cpp has prebuilt Linux CPU libraries)`,
    };
  }
  // RTLD_GLOBAL: the addon node-llama-cpp loads next resolves llama.cpp's functions here first.
  process.dlopen({ exports: {} }, path, constants.dlopen.RTLD_NOW | constants.dlopen.RTLD_GLOBAL);
  loadedFrom = path;
  return { mode: 'persistent', detail: path };
}

/**
 * The distinct libllama files `maps` (a /proc/<pid>/maps text) has mapped. With the module
 * loaded there must be exactly one: its wrappers call the next llama_init_from_model, which is
 * in the libllama it links (the prebuilt CPU one), so contexts of another llama.cpp build would
 * reach the wrong library.
 */
export function mappedLlamaLibraries(maps: string): string[] {
  const paths = new Set<string>();
  for (const line of maps.split('\n')) {
    const path = line.slice(line.indexOf('/'));
    // libllama.so or libllama.v<tag>.so (not libllama-common.so, which node-llama-cpp also loads)
    if (line.includes('/') && /\/libllama\.(v[^/]*\.)?so$/.test(path)) paths.add(path);
  }
  return [...paths];
}

/** Throws RuntimeUnavailableError when this process has more than one libllama mapped. */
export function assertOneLlamaLibrary(maps = readFileSync('/proc/self/maps', 'utf8')): void {
  const libraries = mappedLlamaLibraries(maps);
  if (libraries.length > 1) {
    throw new RuntimeUnavailableError(
      `two llama.cpp libraries are loaded (${libraries.join(', ')}), so the persistent thread pool ` +
        `module would wrap the wrong one; set ${THREAD_POOL_ENV}=per-call`,
    );
  }
}
