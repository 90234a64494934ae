# Sourced by the scripts here: the Go environment every build of the control plane uses.
# Module and build caches live in the repository's gitignored .cache/ so a fresh clone builds
# from scratch and a warm one reuses everything; GOTOOLCHAIN=local never downloads a toolchain.
repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
export GOTOOLCHAIN=local
export GOFLAGS="-mod=readonly -buildvcs=false"
export GOCACHE="${EDGELLM_GOCACHE:-$repo_root/.cache/go/build}"
export GOMODCACHE="${EDGELLM_GOMODCACHE:-$repo_root/.cache/go/mod}"
if ! command -v go >/dev/null 2>&1; then
  echo "edgellm: Go is needed to build the test control plane (kube-apiserver + etcd); install Go >= 1.26" >&2
  exit 1
fi
