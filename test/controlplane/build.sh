#!/usr/bin/env bash
# Builds the test control plane binary if it is not cached yet and prints its path.
#
# The binary is cached under .cache/controlplane/<key>/edgellm-controlplane, where <key> hashes
# go.mod, go.sum, the Go sources here and `go version`: a fresh clone builds it (minutes: the
# kube-apiserver and etcd are large), a warm checkout reuses it at once. The Go module and
# build caches live in .cache/go/ (see env.sh), so a rebuild after a source change is quick.
set -euo pipefail
cd "$(dirname "$0")"
source ./env.sh

key=$( (go version; cat go.mod go.sum *.go) | sha256sum | cut -c1-16)
out="$repo_root/.cache/controlplane/$key/edgellm-controlplane"
if [[ -x "$out" ]]; then
  echo "$out"
  exit 0
fi

echo "edgellm: building the test control plane (etcd + kube-apiserver) into ${out#"$repo_root"/}; the first build takes several minutes" >&2
start=$(date +%s)
mkdir -p "$(dirname "$out")"
go build -trimpath -ldflags='-s -w' -o "$out.tmp.$$" .
mv -f "$out.tmp.$$" "$out"
# Binaries of earlier keys are dead weight (about 100 MiB each).
find "$repo_root/.cache/controlplane" -mindepth 1 -maxdepth 1 -type d -regextype posix-extended \
  -regex '.*/[0-9a-f]{16}' ! -name "$key" -exec rm -rf {} +
echo "edgellm: built the control plane in $(($(date +%s) - start))s" >&2
echo "$out"
