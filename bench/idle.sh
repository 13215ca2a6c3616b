#!/usr/bin/env bash
# Idle cost of the agent's PMD beside Open vSwitch's, and the first packet's latency after an
# idle period, in one run (bench/idle.py says how). Env: IDLE_SECS, PROBES, IDLE_GAP,
# PMD_MAX_SLEEP_US. Assumes setup happened (DPDK, OVS, hugepages, Node 24).
set -euo pipefail
root=$(git -C "$(dirname "$0")" rev-parse --show-toplevel)
. "$root/scripts/versions.sh"
bash "$root/scripts/build-native.sh" >/dev/null
(( $(cat /proc/sys/vm/nr_hugepages) >= 1024 )) || echo 1024 >/proc/sys/vm/nr_hugepages
NODE_DIR=$NODE_DIR exec python3 "$root/bench/idle.py"
