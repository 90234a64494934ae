#!/usr/bin/env bash
# Builds the test cluster's binaries if they are not cached yet and prints the control plane's
# path; the node's binaries lie beside it.
#
# One `go build` builds them all, so they share every compiled package: edgellm-controlplane
# (etcd + kube-apiserver, this folder's main package) and, from cmd/, kubelet,
# kube-controller-manager, kube-scheduler, kube-proxy (the same k8s.io/kubernetes version) and
# pause (the pod sandbox; static), and registry (an in-memory OCI registry, go-containerregistry, for
# Model sources oci://). They are cached under .cache/controlplane/<key>/, where <key>
# hashes go.mod, go.sum, every Go source here and `go version`: a fresh clone builds them
# (minutes: Kubernetes is large), a warm checkout reuses them at once. The Go module and build
# caches live in .cache/go/ (see env.sh), so a rebuild after a source change is quick.
set -euo pipefail
cd "$(dirname "$0")"
source ./env.sh

sources=$(find . -name '*.go' | LC_ALL=C sort)
# shellcheck disable=SC2086 # file names without spaces
key=$( (go version; cat go.mod go.sum build.sh; for f in $sources; do echo "$f"; cat "$f"; done) | sha256sum | cut -c1-16)
dir="$repo_root/.cache/controlplane/$key"
out="$dir/edgellm-controlplane"
binaries=(edgellm-controlplane kubelet kube-controller-manager kube-scheduler kube-proxy pause registry)
complete=1
for b in "${binaries[@]}"; do [[ -x "$dir/$b" ]] || complete=0; done
if ((complete)); then
  echo "$out"
  exit 0
fi

echo "edgellm: building the test cluster (etcd + kube-apiserver, kubelet, kube-controller-manager, kube-scheduler, kube-proxy, pause, registry) into ${dir#"$repo_root"/}; the first build takes several minutes" >&2
start=$(date +%s)
tmp="$dir.tmp.$$"
rm -rf "$tmp" && mkdir -p "$tmp"
trap 'rm -rf "$tmp"' EXIT
# The Kubernetes version the binaries report (/version, the Node's kubeletVersion): what
# `helm install` checks a chart's kubeVersion against. A module build has no git tree to read.
kube_version=$(go list -m -f '{{.Version}}' k8s.io/kubernetes)
minor=${kube_version#v1.}
minor=${minor%%.*}
ldflags="-s -w"
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  ldflags+=" -X $pkg.gitVersion=$kube_version -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor -X $pkg.gitTreeState=clean"
done
go build -trimpath -ldflags="$ldflags" -o "$tmp/" . ./cmd/...
mv -f "$tmp/controlplane" "$tmp/edgellm-controlplane"
mkdir -p "$dir"
for b in "${binaries[@]}"; do mv -f "$tmp/$b" "$dir/$b"; done
# Binaries of earlier keys are dead weight (about 480 MiB each).
find "$repo_root/.cache/controlplane" -mindepth 1 -maxdepth 1 -type d -regextype posix-extended \
  -regex '.*/[0-9a-f]{16}' ! -name "$key" -exec rm -rf {} +
echo "edgellm: built the test cluster in $(($(date +%s) - start))s" >&2
echo "$out"
