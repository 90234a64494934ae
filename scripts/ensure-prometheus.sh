#!/usr/bin/env bash
# Prints the folder holding `prometheus` and `promtool` at the pinned Debian version, fetching
# them first if they are not cached. They come from Debian's `prometheus` package (apt-get
# download: a package registry, no container registry or GitHub release), checked against the
# pinned sha256 and unpacked into .cache/prometheus/<version>/ (gitignored); nothing is installed
# on the system. Both binaries need only libc.
set -euo pipefail
VERSION="2.42.0+ds-5+deb12u1"
SHA256="81d59a24fce84f7fbe97a45a4f2914b6a5881b5cd1db2a6a0e129e515e1a5f55"
repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
dir="$repo_root/.cache/prometheus/$VERSION"
if [[ ! -x "$dir/promtool" || ! -x "$dir/prometheus" ]]; then
  echo "ensure-prometheus: fetching Debian's prometheus $VERSION into ${dir#"$repo_root"/}" >&2
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  # apt drops to the _apt user for downloads; it must be able to write the folder.
  chmod 777 "$tmp"
  if ! (cd "$tmp" && apt-get download -q "prometheus=$VERSION" >/dev/null 2>&1); then
    # A fresh machine may have no package lists yet.
    apt-get update -q >/dev/null
    (cd "$tmp" && apt-get download -q "prometheus=$VERSION" >/dev/null)
  fi
  deb=("$tmp"/prometheus_*.deb)
  echo "$SHA256  ${deb[0]}" | sha256sum --check --quiet
  dpkg-deb -x "${deb[0]}" "$tmp/x"
  mkdir -p "$dir.tmp"
  cp "$tmp/x/usr/bin/prometheus" "$tmp/x/usr/bin/promtool" "$dir.tmp/"
  rm -rf "$dir" && mv "$dir.tmp" "$dir"
fi
echo "$dir"
