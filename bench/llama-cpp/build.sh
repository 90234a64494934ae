#!/usr/bin/env bash
# Prints the path of llama.cpp's `llama-batched-bench`, building it first when it is not cached.
#
# Inputs, all from what `npm install` put in node_modules (nothing is downloaded):
#   - the llama.cpp source node-llama-cpp ships as a git bundle (llama/gitRelease.bundle, tag in
#     llama/llama.cpp.info.json): only tools/batched-bench and the headers are extracted;
#   - the prebuilt shared libraries the agent loads (@node-llama-cpp/<platform>/bins/<platform>/:
#     libllama, libllama-common, libggml, libggml-base; the CPU kernels libggml-cpu-<variant>.so
#     are chosen at run time by ggml_backend_load_all from the working directory, which the
#     runtime bench sets to that folder, as the addon loads them from there).
# Cached under .cache/llama-batched-bench/<key>/, key = hash of this script, CMakeLists.txt, the
# bundle, the libraries it links, and the compiler and cmake versions. Needs cmake, a C++17
# compiler and git. Prints the binary's path on stdout; progress goes to stderr.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo_root="$(cd "$here/../.." && pwd)"
who=llama-batched-bench
# shellcheck source=../../scripts/llama-cpp-prebuilt.sh
source "$repo_root/scripts/llama-cpp-prebuilt.sh"
[[ -n "$platform" ]] || { echo "$who: unsupported platform $(uname -s)-$(uname -m) (linux x64/arm64 only)" >&2; exit 1; }
llama_cpp_prebuilt
for tool in cmake git "${CXX:-c++}"; do
  command -v "$tool" >/dev/null || { echo "$who: $tool is not installed (apt-get install cmake g++ git)" >&2; exit 1; }
done

key=$( (cat "$here/build.sh" "$here/CMakeLists.txt" "$repo_root/scripts/llama-cpp-prebuilt.sh" "$info"; sha256sum "$bundle" "$bins/libllama-common.so" \
  "$bins/$libllama" "$bins/$libggml" "$bins/libggml-base.so" | cut -d' ' -f1; "${CXX:-c++}" --version | head -n1;
  cmake --version | head -n1) | sha256sum | cut -c1-16)
out_dir="$repo_root/.cache/llama-batched-bench/$key"
out="$out_dir/llama-batched-bench"
if [[ -x "$out" ]]; then
  echo "$out"
  exit 0
fi

tag=$(sed -n 's/.*"tag": *"\([^"]*\)".*/\1/p' "$info")
echo "llama-batched-bench: building llama.cpp $tag's batched-bench into ${out_dir#"$repo_root"/}" >&2
start=$(date +%s)
work="$out_dir.tmp.$$"
rm -rf "$work" && mkdir -p "$work/src"
trap 'rm -rf "$work"' EXIT
extract_llama_source "$work/src" include common ggml/include tools/batched-bench vendor
cmake -S "$here" -B "$work/build" -DCMAKE_BUILD_TYPE=Release -DLLAMA_SRC="$work/src" -DNLC_BINS="$bins" \
  -DLIBLLAMA="$libllama" -DLIBGGML="$libggml" >&2
cmake --build "$work/build" --parallel 2 >&2
# The binary must resolve llama.cpp from the prebuilt folder (the agent's copy), not anywhere else.
if ldd "$work/build/llama-batched-bench" | grep -E 'libllama|libggml' | grep -v -F "$bins/" >&2; then
  echo "llama-batched-bench: the binary links llama.cpp libraries outside $bins" >&2
  exit 1
fi
mkdir -p "$out_dir"
mv -f "$work/build/llama-batched-bench" "$out.tmp.$$"
mv -f "$out.tmp.$$" "$out"
# Binaries of earlier keys are stale.
find "$repo_root/.cache/llama-batched-bench" -mindepth 1 -maxdepth 1 -type d -regextype posix-extended \
  -regex '.*/[0-9a-f]{16}' ! -name "$key" -exec rm -rf {} +
echo "llama-batched-bench: built in $(($(date +%s) - start))s" >&2
echo "$out"
