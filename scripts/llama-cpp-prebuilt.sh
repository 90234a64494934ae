# Sourced by scripts/build-native.sh and bench/llama-cpp/build.sh, which build against
# node-llama-cpp's llama.cpp: where its source bundle and this platform's prebuilt libraries are.
# Expects repo_root and who (the caller's name, for messages). Sets platform (empty where
# node-llama-cpp has no prebuilt Linux CPU build: check it first), then llama_cpp_prebuilt checks
# the files and sets nlc, bundle, info, bins, libllama and libggml (the versioned names follow
# node-llama-cpp's release tag). extract_llama_source DEST PATH... extracts those paths of the
# bundled source into DEST.
case "$(uname -s)-$(uname -m)" in
  Linux-x86_64) platform=linux-x64 ;;
  Linux-aarch64) platform=linux-arm64 ;;
  *) platform= ;;
esac

llama_cpp_prebuilt() {
  nlc="$repo_root/node_modules/node-llama-cpp"
  bundle="$nlc/llama/gitRelease.bundle"
  info="$nlc/llama/llama.cpp.info.json"
  bins="$repo_root/node_modules/@node-llama-cpp/$platform/bins/$platform"
  local f
  for f in "$bundle" "$info" "$bins/libllama-common.so" "$bins/libggml-base.so"; do
    [[ -e "$f" ]] || { echo "$who: $f is missing; run make setup (npm install)" >&2; return 1; }
  done
  libllama=$(cd "$bins" && compgen -G 'libllama.v*.so' | head -n1 || true)
  libggml=$(cd "$bins" && compgen -G 'libggml.v*.so' | head -n1 || true)
  [[ -n "$libllama" && -n "$libggml" ]] || { echo "$who: no libllama.v*.so / libggml.v*.so in $bins" >&2; return 1; }
}

extract_llama_source() {
  local dest=$1
  shift
  mkdir -p "$dest"
  # The clone lives in DEST, so the caller's clean-up of its work folder removes it on failure.
  git clone --quiet --bare "$bundle" "$dest/.llama-cpp.git"
  git --git-dir="$dest/.llama-cpp.git" archive HEAD "$@" | tar -x -C "$dest"
  rm -rf "$dest/.llama-cpp.git"
}
