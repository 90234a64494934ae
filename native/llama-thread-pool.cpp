// A persistent ggml thread pool for every llama context node-llama-cpp creates.
//
// node-llama-cpp attaches no thread pool to its contexts, so ggml makes a disposable one for each
// graph it computes: on every llama_decode, the llama.cpp threads beyond the caller are created
// and joined again. Measured on 2 cores with 2 threads (README.md, "Threads:"):
// after any other process has used the cores, the scheduler places the freshly created thread on
// its creator's busy core for a while (3-3.5 ms runnable per decode instead of 0.03 ms, a quarter of
// the time idle, ggml's barriers spinning), and single-sequence decoding falls to 40-70 tok/s from
// 110-130. llama.cpp's own tools attach a persistent pool (common_threadpools::init in
// common/common.cpp), which this does for node-llama-cpp's contexts: the runtime loads this file
// with RTLD_GLOBAL before node-llama-cpp loads its addon (src/runtime/llama-thread-pool.ts), so the
// addon's calls to llama_init_from_model and llama_free resolve here first. Each wraps the real
// function (the next definition, in the libllama this library links: the prebuilt one
// node-llama-cpp loads); a new context gets a pool of its n_threads with ggml's default
// parameters, a freed context's pool is freed after it.
//
// Built by scripts/build-native.sh against the headers of the llama.cpp source node-llama-cpp
// ships (its git bundle), so the structs passed by value match the prebuilt libraries. A Node-API
// module (napi_register_module_v1) only so that Node's process.dlopen accepts it; it exports
// nothing.
#include <dlfcn.h>

#include <cstdio>
#include <mutex>
#include <unordered_map>

#include "ggml-backend.h"
#include "ggml-cpu.h"
#include "llama.h"

namespace {

using InitFn = llama_context * (*)(llama_model *, llama_context_params);
using FreeFn = void (*)(llama_context *);
using PoolNewFn = ggml_threadpool * (*)(ggml_threadpool_params *);
using PoolFreeFn = void (*)(ggml_threadpool *);

std::mutex pools_mutex;
std::unordered_map<llama_context *, ggml_threadpool *> pools;

template <typename Fn> Fn next_definition(const char * name) {
  return reinterpret_cast<Fn>(dlsym(RTLD_NEXT, name));
}

template <typename Fn> Fn cpu_backend_function(const char * name) {
  ggml_backend_dev_t cpu = ggml_backend_dev_by_type(GGML_BACKEND_DEVICE_TYPE_CPU);
  ggml_backend_reg_t reg = cpu == nullptr ? nullptr : ggml_backend_dev_backend_reg(cpu);
  return reg == nullptr ? nullptr : reinterpret_cast<Fn>(ggml_backend_reg_get_proc_address(reg, name));
}

}  // namespace

extern "C" {

LLAMA_API llama_context * llama_init_from_model(llama_model * model, llama_context_params params) {
  static const auto real = next_definition<InitFn>("llama_init_from_model");
  if (real == nullptr) {
    std::fprintf(stderr, "edgellm llama-thread-pool: no llama_init_from_model after this library\n");
    return nullptr;
  }
  llama_context * ctx = real(model, params);
  if (ctx == nullptr) return ctx;
  const auto create = cpu_backend_function<PoolNewFn>("ggml_threadpool_new");
  if (create == nullptr) return ctx;  // no CPU backend: nothing for a CPU pool to do
  ggml_threadpool_params tpp = ggml_threadpool_params_default(params.n_threads);
  ggml_threadpool * pool = create(&tpp);
  if (pool == nullptr) {
    std::fprintf(stderr, "edgellm llama-thread-pool: ggml_threadpool_new(%d threads) failed; this context creates its threads per call\n",
                 params.n_threads);
    return ctx;
  }
  llama_attach_threadpool(ctx, pool, nullptr);
  std::lock_guard<std::mutex> lock(pools_mutex);
  pools[ctx] = pool;
  return ctx;
}

LLAMA_API void llama_free(llama_context * ctx) {
  static const auto real = next_definition<FreeFn>("llama_free");
  ggml_threadpool * pool = nullptr;
  {
    std::lock_guard<std::mutex> lock(pools_mutex);
    const auto it = pools.find(ctx);
    if (it != pools.end()) {
      pool = it->second;
      pools.erase(it);
    }
  }
  if (real != nullptr) real(ctx);
  if (pool != nullptr) {
    const auto free_pool = cpu_backend_function<PoolFreeFn>("ggml_threadpool_free");
    if (free_pool != nullptr) free_pool(pool);
  }
}

// Node-API entry point (node_api.h's napi_register_module_v1 with opaque pointers): exports nothing.
__attribute__((visibility("default"))) void * napi_register_module_v1(void * /* env */, void * exports) {
  return exports;
}

}  // extern "C"
