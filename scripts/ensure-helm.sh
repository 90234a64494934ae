#!/usr/bin/env bash
# Prints the path of a helm binary at the pinned version, building it first if it is not cached.
# helm is built from the Go module proxy (`go install helm.sh/helm/v3/cmd/helm@<version>`) into
# .cache/helm/<version>-<go version>/ (gitignored); the Go module and build caches are the
# repository's .cache/go/ like the test control plane's (test/controlplane/env.sh).
set -euo pipefail
HELM_VERSION="${EDGELLM_HELM_VERSION:-v3.22.0}"
source "$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/test/controlplane/env.sh"
export GOFLAGS=-buildvcs=false
go_version=$(go env GOVERSION)
bin_dir="$repo_root/.cache/helm/$HELM_VERSION-$go_version"
if [[ ! -x "$bin_dir/helm" ]]; then
  echo "ensure-helm: building helm $HELM_VERSION with $go_version into ${bin_dir#"$repo_root"/}" >&2
  start=$(date +%s)
  # -X sets the full version (`helm version` shows it); a release build sets it the same way.
  GOBIN="$bin_dir" go install -trimpath -ldflags="-s -w -X helm.sh/helm/v3/internal/version.version=$HELM_VERSION" \
    "helm.sh/helm/v3/cmd/helm@$HELM_VERSION"
  echo "ensure-helm: built in $(($(date +%s) - start))s" >&2
fi
echo "$bin_dir/helm"
