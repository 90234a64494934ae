// A persistent ggml thread pool for every llama context node-llama-cpp creates.
//
// node-llama-cpp attaches no thread pool to its contexts, so ggml makes a disposable one for each
// graph it computes: on every llama_decode, the llama.cpp threads beyond the caller are created
// and joined again. Measured on 2 cores with 2 threads (README.md, "Threads:"): after any other
// process has used the cores, the scheduler places the freshly created thread on its creator's
// busy core for a while (3-3.5 ms runnable per decode instead of 0.03 ms, a quarter of the time
// idle, ggml's barriers spinning), and single-sequence decoding falls to 40-70 tok/s from
// 110-130. llama.cpp's own tools attach a persistent pool (common_threadpools::init in
// common/common.cpp), which this does for node-llama-cpp's contexts: the runtime loads this file
// with RTLD_GLOBAL before node-llama-cpp loads its addon (src/runtime/llama-thread-pool.ts), so the
// addon's calls to llama_init_from_model and llama_free resolve here first.
//
// Each wrapper calls the caller's own definition (looked up in the calling library's scope, so
// another llama.cpp build loaded later, a GPU one, reaches its own functions) and only when that
// is the libllama this module links (the prebuilt CPU one) attaches a pool of the context's
// threads (ggml's default parameters but no polling) to a new context, and frees a freed
// context's pool after it. Contexts of any other build are passed through untouched.
//
// Built by scripts/build-native.sh against the headers of the llama.cpp source node-llama-cpp
// ships (its git bundle), so the structs passed by value match the prebuilt libraries. A Node-API
// module, so that Node's process.dlopen loads it: it exports attachedPools(), the number of
// contexts that have a pool now, which the runtime reports.
#include <dlfcn.h>
#include <node_api.h>

#include <algorithm>
#include <cstdio>
#include <mutex>
#include <unordered_map>

#include "ggml-backend.h"
#include "ggml-cpu.h"
#include "llama.h"

extern "C" {
LLAMA_API llama_context * llama_init_from_model(llama_model * model, llama_context_params params);
LLAMA_API void llama_free(llama_context * ctx);
}

namespace {

using InitFn = llama_context * (*)(llama_model *, llama_context_params);
using FreeFn = void (*)(llama_context *);
using PoolNewFn = ggml_threadpool * (*)(ggml_threadpool_params *);
using PoolFreeFn = void (*)(ggml_threadpool *);

std::mutex pools_mutex;
std::unordered_map<llama_context *, ggml_threadpool *> pools;

/** `name` as the library containing `caller` resolves it (its own dependencies), not as ours. */
void * definition_for(const void * caller, const char * name, const void * wrapper) {
  Dl_info info;
  if (dladdr(caller, &info) != 0 && info.dli_fname != nullptr) {
    void * handle = dlopen(info.dli_fname, RTLD_LAZY | RTLD_NOLOAD);
    if (handle != nullptr) {
      void * found = dlsym(handle, name);
      dlclose(handle);
      if (found != nullptr && found != wrapper) return found;
    }
  }
  return dlsym(RTLD_NEXT, name);
}

template <typename Fn> Fn cpu_backend_function(const char * name) {
  ggml_backend_dev_t cpu = ggml_backend_dev_by_type(GGML_BACKEND_DEVICE_TYPE_CPU);
  ggml_backend_reg_t reg = cpu == nullptr ? nullptr : ggml_backend_dev_backend_reg(cpu);
  return reg == nullptr ? nullptr : reinterpret_cast<Fn>(ggml_backend_reg_get_proc_address(reg, name));
}

napi_value attached_pools(napi_env env, napi_callback_info /* info */) {
  size_t count = 0;
  {
    std::lock_guard<std::mutex> lock(pools_mutex);
    count = pools.size();
  }
  napi_value result = nullptr;
  napi_create_uint32(env, static_cast<uint32_t>(count), &result);
  return result;
}

}  // namespace

extern "C" {

LLAMA_API llama_context * llama_init_from_model(llama_model * model, llama_context_params params) {
  static const auto ours = reinterpret_cast<InitFn>(dlsym(RTLD_NEXT, "llama_init_from_model"));
  const auto real = reinterpret_cast<InitFn>(definition_for(
      __builtin_return_address(0), "llama_init_from_model", reinterpret_cast<void *>(&llama_init_from_model)));
  if (real == nullptr) {
    std::fprintf(stderr, "edgellm llama-thread-pool: no llama_init_from_model to call\n");
    return nullptr;
  }
  llama_context * ctx = real(model, params);
  if (ctx == nullptr || real != ours) return ctx;  // another llama.cpp build's context: untouched
  const auto create = cpu_backend_function<PoolNewFn>("ggml_threadpool_new");
  if (create == nullptr) return ctx;  // no CPU backend: nothing for a CPU pool to do
  // node-llama-cpp sets both counts alike; the pool must hold the larger.
  ggml_threadpool_params tpp = ggml_threadpool_params_default(std::max(params.n_threads, params.n_threads_batch));
  // No polling between graphs: ggml's default (50) spins each worker for 1024 * 128 * 50 pause
  // instructions after every graph, about 160 ms of CPU after each batch of an idle agent here;
  // without it a worker waits on the pool's condition variable, one wake-up per decode.
  tpp.poll = 0;
  ggml_threadpool * pool = create(&tpp);  // ggml aborts rather than return no pool
  llama_attach_threadpool(ctx, pool, nullptr);
  std::lock_guard<std::mutex> lock(pools_mutex);
  pools[ctx] = pool;
  return ctx;
}

LLAMA_API void llama_free(llama_context * ctx) {
  const auto real = reinterpret_cast<FreeFn>(
      definition_for(__builtin_return_address(0), "llama_free", reinterpret_cast<void *>(&llama_free)));
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

}  // extern "C"

NAPI_MODULE_INIT() {
  napi_value fn = nullptr;
  if (napi_create_function(env, "attachedPools", NAPI_AUTO_LENGTH, attached_pools, nullptr, &fn) == napi_ok)
    napi_set_named_property(env, exports, "attachedPools", fn);
  return exports;
}
