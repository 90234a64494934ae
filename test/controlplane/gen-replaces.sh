#!/usr/bin/env bash
# Regenerates go.mod's requirement on k8s.io/kubernetes and its `replace` lines.
#
# k8s.io/kubernetes requires its staging modules (k8s.io/api, k8s.io/apiserver, ...) at v0.0.0
# and replaces them with ./staging/src/... paths that only exist inside the kubernetes repo. A
# module that imports k8s.io/kubernetes must replace each of them with the published tag
# v0.<minor>.<patch>. This script reads that list from the downloaded k8s.io/kubernetes go.mod
# (never typed by hand), pins etcd to the version Kubernetes itself requires, and tidies.
#
# Usage: test/controlplane/gen-replaces.sh [v1.X.Y]   (default: the version in go.mod)
set -euo pipefail
cd "$(dirname "$0")"
source ./env.sh
export GOFLAGS="-mod=mod -buildvcs=false"

version="${1:-$(go list -m -f '{{.Version}}' k8s.io/kubernetes)}"
staging_version="v0.${version#v1.}"
echo "k8s.io/kubernetes $version, staging modules at $staging_version" >&2

# The source zip is needed, not just go.mod: the proxy lists some versions whose zip it refuses.
if ! download=$(go mod download -json "k8s.io/kubernetes@$version"); then
  echo "could not download k8s.io/kubernetes@$version:" >&2
  echo "$download" | sed -n 's/^[[:space:]]*"Error": "\(.*\)",$/  \1/p' >&2
  exit 1
fi
kube_gomod=$(echo "$download" | sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",\{0,1\}$/\1/p')

# Drop every existing k8s.io replace, then add one per staging module of this version.
for old in $(go mod edit -json | sed -n 's/^[[:space:]]*"Path": "\(k8s\.io\/[^"]*\)".*/\1/p' | sort -u); do
  go mod edit -dropreplace="$old" 2>/dev/null || true
done
staging=$(sed -n 's#^[[:space:]]*\(k8s\.io/[^[:space:]]*\) => \./staging/src/k8s\.io/.*#\1#p' "$kube_gomod")
[[ -n "$staging" ]] || { echo "no staging replaces found in $kube_gomod" >&2; exit 1; }
for mod in $staging; do
  go mod edit -replace="$mod=$mod@$staging_version"
done

# etcd at exactly the version Kubernetes pins (the server module is indirect there).
etcd_version=$(sed -n 's#^[[:space:]]*go\.etcd\.io/etcd/server/v3 \(v[^[:space:]]*\).*#\1#p' "$kube_gomod")
go mod edit -require="k8s.io/kubernetes@$version" -require="go.etcd.io/etcd/server/v3@$etcd_version"
go mod tidy
echo "go.mod: k8s.io/kubernetes $version, etcd server $etcd_version, $(echo "$staging" | wc -l) staging replaces" >&2
