#!/usr/bin/env bash
# Installs the Debian packages the e2e test node needs (test/harness/node-host.ts NODE_PACKAGES)
# when any is missing: containerd and runc (the container runtime), iptables and conntrack
# (kube-proxy, the CNI bridge's masquerading), containernetworking-plugins (bridge, host-local,
# portmap in /usr/lib/cni). CI runs on a fresh machine as root, so `make e2e` calls this first.
set -euo pipefail
declare -A needs=(
  [containerd]="containerd containerd-shim-runc-v2 ctr"
  [runc]="runc"
  [iptables]="iptables iptables-save iptables-restore"
  [conntrack]="conntrack"
  [containernetworking-plugins]="/usr/lib/cni/bridge /usr/lib/cni/host-local /usr/lib/cni/portmap"
)
missing=()
for pkg in "${!needs[@]}"; do
  for cmd in ${needs[$pkg]}; do
    if [[ "$cmd" == /* ]]; then [[ -x "$cmd" ]] && continue; else command -v "$cmd" >/dev/null && continue; fi
    missing+=("$pkg")
    break
  done
done
((${#missing[@]} == 0)) && exit 0
if [[ $(id -u) -ne 0 ]] || ! command -v apt-get >/dev/null; then
  echo "ensure-node-packages: the e2e node needs the Debian packages ${missing[*]}; install them as root (apt-get install ${missing[*]})" >&2
  exit 1
fi
echo "ensure-node-packages: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >&2
apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
