// The size of libuv's thread pool in the agent process. node-llama-cpp runs every llama_decode
// and every sampling call of the decode loop on a pool thread; with more than one pool thread the
// decodes of one step take turns on different threads, and on a 2-core node with 2 llama.cpp
// threads some decodes then take 3-6 times as long (in-process, SmolLM2-135M, 1 sequence: decode
// steps of 7.8 ms median but up to 35-50 ms with pools of 2, 4 or 8 threads, 55-101 tok/s; with
// one pool thread at most 8-15 ms, 121-126 tok/s). Those runs had ggml's per-call llama.cpp
// threads, created by whichever pool thread decodes; what the scheduler does with such threads
// was measured later and is why the runtime now keeps them in a persistent pool
// (src/runtime/llama-thread-pool.ts); the pool sizes were not measured again with it. One pool
// thread costs nothing the agent needs (the decode loop already runs one call at a time), so the
// agent starts with one unless UV_THREADPOOL_SIZE says otherwise.
// libuv sizes the pool at its first use, so this runs before the agent reads any file.

/** Pool threads of the agent process when UV_THREADPOOL_SIZE is not set. */
export const AGENT_THREAD_POOL_SIZE = 1;

/** Sets UV_THREADPOOL_SIZE for this process unless it is set; call before any async fs work. */
export function sizeAgentThreadPool(env: NodeJS.ProcessEnv = process.env): void {
  env['UV_THREADPOOL_SIZE'] ??= String(AGENT_THREAD_POOL_SIZE);
}
