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
import { existsSync } from 'node:fs';
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

/** What the module exports. */
interface ThreadPoolModule {
  /** Contexts that have a pool now (in this process). */
  attachedPools(): number;
}

let loaded: { readonly path: string; readonly module: ThreadPoolModule } | undefined;

/**
 * Loads the thread pool module into this process (once) unless `env` asks for per-call threads,
 * the module is not built (Linux x64 and arm64 only) or it does not load (then per-call, with the
 * loader's error). Must run before node-llama-cpp loads its addon (getLlama); later contexts of
 * node-llama-cpp's prebuilt CPU build get a pool.
 */
export function usePersistentThreadPool(
  env: Readonly<Record<string, string | undefined>> = process.env,
  path = threadPoolModulePath(),
): ThreadPoolChoice {
  const setting = env[THREAD_POOL_ENV] ?? 'persistent';
  if (setting !== 'persistent' && setting !== 'per-call') {
    throw new RuntimeUnavailableError(
      `${THREAD_POOL_ENV} must be persistent or per-call, got ${JSON.stringify(setting)}`,
    );
  }
  if (setting === 'per-call') return { mode: 'per-call', detail: `${THREAD_POOL_ENV}=per-call` };
  if (loaded !== undefined) return { mode: 'persistent', detail: loaded.path };
  if (!existsSync(path)) {
    return {
      mode: 'per-call',
      detail: `${path} is not built (make build builds it where node-llama-cpp has prebuilt Linux CPU libraries)`,
    };
  }
  const module = { exports: {} as Partial<ThreadPoolModule> };
  try {
    // RTLD_GLOBAL: the addon node-llama-cpp loads next resolves llama.cpp's functions here first.
    process.dlopen(module, path, constants.dlopen.RTLD_NOW | constants.dlopen.RTLD_GLOBAL);
  } catch (error) {
    // E.g. built for other llama.cpp libraries than node_modules holds now: make build rebuilds.
    const reason = error instanceof Error ? error.message : String(error);
    return { mode: 'per-call', detail: `could not load ${path} (run make build): ${reason}` };
  }
  const { attachedPools } = module.exports;
  if (typeof attachedPools !== 'function') {
    return { mode: 'per-call', detail: `${path} exports no attachedPools(); run make build` };
  }
  loaded = { path, module: { attachedPools } };
  return { mode: 'persistent', detail: path };
}

/** Contexts with a persistent pool in this process now (0 without the module). */
export function attachedPools(): number {
  return loaded?.module.attachedPools() ?? 0;
}
