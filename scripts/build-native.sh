#!/usr/bin/env bash
# Builds native/llama-thread-pool.cpp into dist/native/llama-thread-pool.node (make build runs
# this after tsc): the persistent ggml thread pool the runtime gives node-llama-cpp's contexts
# (src/runtime/llama-thread-pool.ts says why).
#
# Inputs, all from what `npm install` put in node_modules (nothing is downloaded): the llama.cpp
# headers from the source node-llama-cpp ships as a git bundle (llama/gitRelease.bundle), and the
# prebuilt libraries the agent loads (@node-llama-cpp/linux-x64/bins/linux-x64/), which the module
# links with an rpath relative to dist/native/ (the same layout in the repository and in the
# agent image's /app). Cached under .cache/native/<key>/, key = hash of this script, the source,
# the bundle, the libraries and the compiler's version. Needs a C++17 compiler and git. Only
# linux-x64 has the prebuilt CPU libraries this targets; elsewhere it builds nothing and the
# runtime keeps ggml's per-call threads.
set -euo pipefail
repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
src="$repo_root/native/llama-thread-pool.cpp"
dest="$repo_root/dist/native/llama-thread-pool.node"
nlc="$repo_root/node_modules/node-llama-cpp"
bundle="$nlc/llama/gitRelease.bundle"
platform=linux-x64
bins="$repo_root/node_modules/@node-llama-cpp/$platform/bins/$platform"

if [[ "$(uname -s)-$(uname -m)" != Linux-x86_64 ]]; then
  echo "build-native: $(uname -s)-$(uname -m) has no prebuilt $platform llama.cpp; skipping the thread pool module" >&2
  rm -f "$dest"
  exit 0
fi
for f in "$bundle" "$bins/libggml-base.so"; do
  [[ -e "$f" ]] || { echo "build-native: $f is missing; run make setup (npm install)" >&2; exit 1; }
done
cxx="${CXX:-c++}"
for tool in git "$cxx"; do
  command -v "$tool" >/dev/null || { echo "build-native: $tool is not installed (apt-get install g++ git)" >&2; exit 1; }
done
libllama=$(cd "$bins" && ls libllama.v*.so 2>/dev/null | head -n1)
libggml=$(cd "$bins" && ls libggml.v*.so 2>/dev/null | head -n1)
[[ -n "$libllama" && -n "$libggml" ]] || { echo "build-native: no libllama.v*.so / libggml.v*.so in $bins" >&2; exit 1; }

key=$( (cat "${BASH_SOURCE[0]}" "$src"; sha256sum "$bundle" "$bins/$libllama" "$bins/$libggml" \
  "$bins/libggml-base.so" | cut -d' ' -f1; "$cxx" --version | head -n1) | sha256sum | cut -c1-16)
cached="$repo_root/.cache/native/$key/llama-thread-pool.node"
if [[ ! -f "$cached" ]]; then
  work="$(mktemp -d)"
  trap 'rm -rf "$work"' EXIT
  git clone --quiet --bare "$bundle" "$work/git"
  git --git-dir="$work/git" archive HEAD include ggml/include | tar -x -C "$work"
  mkdir -p "$(dirname "$cached")"
  # $ORIGIN/../..: the folder holding dist/ and node_modules/ (the repository, or /app).
  "$cxx" -std=c++17 -O2 -shared -fPIC -Wall -Wextra -Werror \
    -I"$work/include" -I"$work/ggml/include" -o "$work/llama-thread-pool.node" "$src" \
    -L"$bins" -l:"$libllama" -l:"$libggml" -l:libggml-base.so -ldl \
    -Wl,-rpath,"\$ORIGIN/../../node_modules/@node-llama-cpp/$platform/bins/$platform"
  mv -f "$work/llama-thread-pool.node" "$cached"
  # Modules of earlier keys are stale.
  find "$repo_root/.cache/native" -mindepth 1 -maxdepth 1 -type d ! -name "$key" -exec rm -rf {} +
fi
mkdir -p "$(dirname "$dest")"
cp -f "$cached" "$dest"
