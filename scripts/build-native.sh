#!/usr/bin/env bash
# Builds native/llama-thread-pool.cpp into dist/native/llama-thread-pool.node (make build runs
# this after tsc): the persistent ggml thread pool the runtime gives node-llama-cpp's contexts
# (src/runtime/llama-thread-pool.ts says why).
#
# Inputs, all from what `npm install` put in node_modules (nothing is downloaded): the llama.cpp
# headers from the source node-llama-cpp ships as a git bundle (llama/gitRelease.bundle), and the
# prebuilt libraries the agent loads (@node-llama-cpp/<platform>/bins/<platform>/, found by
# llama-cpp-prebuilt.sh), which the module links with an rpath relative to dist/native/ (the same
# layout in the repository and in the agent image's /app). Cached under .cache/native/<key>/,
# key = hash of these scripts, the source, Node-API's header, the bundle, the libraries and the
# compiler's version. Needs a C++17 compiler, git and Node's headers (Node-API). On a platform
# without node-llama-cpp's prebuilt Linux CPU libraries it builds nothing and the runtime keeps
# ggml's per-call threads.
set -euo pipefail
repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
src="$repo_root/native/llama-thread-pool.cpp"
dest="$repo_root/dist/native/llama-thread-pool.node"
who=build-native
# shellcheck source=llama-cpp-prebuilt.sh
source "$repo_root/scripts/llama-cpp-prebuilt.sh"

if [[ -z "$platform" ]]; then
  echo "$who: node-llama-cpp has no prebuilt $(uname -s)-$(uname -m) CPU build; skipping the thread pool module" >&2
  rm -f "$dest"
  exit 0
fi
llama_cpp_prebuilt
cxx="${CXX:-c++}"
for tool in git "$cxx" node; do
  command -v "$tool" >/dev/null || { echo "$who: $tool is not installed (apt-get install g++ git; node: make setup)" >&2; exit 1; }
done
# Node-API's headers come with Node (the one scripts/ensure-node.sh provides has them).
node_include="$(dirname "$(dirname "$(command -v node)")")/include/node"
[[ -f "$node_include/node_api.h" ]] || { echo "$who: $node_include/node_api.h is missing (Node's headers)" >&2; exit 1; }

key=$( (cat "${BASH_SOURCE[0]}" "$repo_root/scripts/llama-cpp-prebuilt.sh" "$src" "$node_include/node_api.h"; sha256sum "$bundle" "$bins/$libllama" "$bins/$libggml" \
  "$bins/libggml-base.so" | cut -d' ' -f1; "$cxx" --version | head -n1) | sha256sum | cut -c1-16)
cached="$repo_root/.cache/native/$key/llama-thread-pool.node"
# A module that fails to build must not stay behind from an earlier build.
rm -f "$dest"
if [[ ! -f "$cached" ]]; then
  work="$(mktemp -d)"
  trap 'rm -rf "$work"' EXIT
  extract_llama_source "$work" include ggml/include
  mkdir -p "$(dirname "$cached")"
  # $ORIGIN/../..: the folder holding dist/ and node_modules/ (the repository, or /app).
  "$cxx" -std=c++17 -O2 -shared -fPIC -Wall -Wextra \
    -I"$work/include" -I"$work/ggml/include" -I"$node_include" -o "$work/llama-thread-pool.node" "$src" \
    -L"$bins" -l:"$libllama" -l:"$libggml" -l:libggml-base.so -ldl \
    -Wl,-rpath,"\$ORIGIN/../../node_modules/@node-llama-cpp/$platform/bins/$platform"
  mv -f "$work/llama-thread-pool.node" "$cached"
  # Modules of earlier keys are stale.
  find "$repo_root/.cache/native" -mindepth 1 -maxdepth 1 -type d ! -name "$key" -exec rm -rf {} +
fi
mkdir -p "$(dirname "$dest")"
cp -f "$cached" "$dest"
