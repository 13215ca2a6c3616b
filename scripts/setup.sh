#!/usr/bin/env bash
# All set-up on a fresh Debian machine, idempotent and quick when everything is already there:
# apt packages, hugepages, Node 24, npm ci, the TypeScript build, the native addon, the
# Pulumi engine (built from Go modules) and the test guests' kernel and initramfs.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/versions.sh
say() { printf 'setup: %s\n' "$*"; }

# libxml2-utils: virt-xml-validate needs xmllint; clang-format: build-native.sh checks the C++;
# dpkg-dev, fakeroot, binutils (strip), lintian: packaging/build-deb.sh and its test.
# librte-net-af-xdp23 / -af-packet23: the uplink and tunnel vdevs; ethtool: test 72 makes its veth a plain wire.
# Recommends are installed too: the suite is tested on machines set up that way.
APT_PACKAGES=(dpdk dpdk-dev libdpdk-dev librte-net-af-xdp23 librte-net-af-packet23 pkg-config build-essential python3 python3-venv qemu-system-x86 qemu-utils
  openvswitch-switch-dpdk busybox-static cpio libvirt-clients libvirt-daemon-system libxml2-utils openssh-server
  openssh-client linux-perf iproute2 ethtool procps util-linux xz-utils clang-format
  prometheus dpkg-dev fakeroot binutils lintian openssl)
missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if ((${#missing[@]})); then
  say "installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# 2 MiB hugepages for the datapath, the test guests and the benchmark's anchors.
want_pages=${VHOSTNET_HUGEPAGES:-2048}
if (($(cat /proc/sys/vm/nr_hugepages) < want_pages)); then
  echo "$want_pages" >/proc/sys/vm/nr_hugepages
  say "hugepages: $(cat /proc/sys/vm/nr_hugepages) x 2 MiB reserved"
fi
mkdir -p /dev/hugepages
mountpoint -q /dev/hugepages || mount -t hugetlbfs hugetlbfs /dev/hugepages

# libvirtd for GuestVMs with backend 'libvirt'. QEMU under libvirt runs as libvirt-qemu by
# default and could not open the agent's 0700 state dir, its vhost-user sockets or the hugepages:
# on this test host it runs as root and libvirt leaves file ownership alone (only set when the
# admin has not chosen these settings). No systemd here: start the daemons by hand.
conf=/etc/libvirt/qemu.conf
conf_changed=0
if [[ -f $conf ]]; then
  for setting in 'user = "root"' 'group = "root"' 'dynamic_ownership = 0'; do
    grep -qE "^\s*${setting%% *}\s*=" "$conf" || { echo "$setting" >>"$conf"; conf_changed=1; }
  done
fi
# A libvirtd already running (the package may have started one) reads qemu.conf only at start.
if ((conf_changed)) && pgrep -x libvirtd >/dev/null; then
  pkill -x libvirtd
  for _ in $(seq 50); do pgrep -x libvirtd >/dev/null || break; sleep 0.2; done
fi
pgrep -x virtlogd >/dev/null || virtlogd -d
pgrep -x libvirtd >/dev/null || libvirtd -d
for _ in $(seq 50); do virsh -c qemu:///system version --daemon >/dev/null 2>&1 && break; sleep 0.2; done

bash scripts/install-node.sh >/dev/null
export PATH="$NODE_DIR/bin:$PWD/node_modules/.bin:$PATH"

lock_hash=$(sha256sum package-lock.json | cut -c1-16)
if [[ ! -f node_modules/.vhostnet-lock && ! -d node_modules ]] || [[ "$(cat node_modules/.vhostnet-lock 2>/dev/null)" != "$lock_hash" ]]; then
  say "npm ci"
  npm ci --no-audit --no-fund --loglevel=error
  echo "$lock_hash" >node_modules/.vhostnet-lock
fi

# From clean: tsc never removes the output of a source that was deleted or moved, and a stale
# dist/datapath/agent/control.js would shadow control/ for Node's resolution.
rm -rf dist
tsc -p tsconfig.json
# The tree's habits (Prettier, typescript-eslint): a change that breaks them fails here, not in review.
bash scripts/lint.sh
bash scripts/build-native.sh
[[ ${VHOSTNET_SKIP_PULUMI:-} == 1 ]] || bash scripts/install-pulumi.sh
[[ ${VHOSTNET_SKIP_GUEST:-} == 1 || ! -f scripts/build-guest-image.sh ]] || bash scripts/build-guest-image.sh >/dev/null
say "ready"
