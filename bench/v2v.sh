#!/usr/bin/env bash
# VM-to-VM throughput of the agent's datapath next to testpmd (io forwarding, an upper bound)
# and Open vSwitch with DPDK, through the shared loopback harness (../shared/bench/v2v-loopback.sh).
# The switches alternate round by round, so a noisy neighbour hurts all of them alike; each
# switch's figure is the median of its rounds. Frame sizes 64 and 1518 bytes.
# Env: ROUNDS (default 3), SECS per run (default 10), SIZES (default "64 1518").
# Prints: "v2v SWITCH BYTES Mpps=X" per switch and size, then "v2v agent/ovs BYTES ratio=R" and
# "v2v agent/testpmd BYTES ratio=R". Assumes setup happened (DPDK, OVS, hugepages, Node 24).
set -euo pipefail
root=$(git -C "$(dirname "$0")" rev-parse --show-toplevel)
harness=$root/../shared/bench/v2v-loopback.sh
[[ -x $harness || -f $harness ]] || { echo "v2v: harness not found at $harness" >&2; exit 1; }
. "$root/scripts/versions.sh"
bash "$root/scripts/build-native.sh" >/dev/null
ROUNDS=${ROUNDS:-3}
SECS=${SECS:-10}
SIZES=${SIZES:-"64 1518"}
agent="cmd:$NODE_DIR/bin/node $root/bench/v2v-switch.js"
results=$(mktemp)
log=$(mktemp /tmp/v2v-bench.XXXXXX.log)  # the harness's (and OVS's) chatter
trap 'rm -f "$results"' EXIT

for size in $SIZES; do
  for round in $(seq "$ROUNDS"); do
    for sw in testpmd ovs agent; do
      arg=$sw
      [[ $sw == agent ]] && arg=$agent
      line=$(bash "$harness" "$arg" "$SECS" "$size" 2>>"$log" | tail -1) || true
      mpps=${line##*Mpps=}
      [[ $mpps =~ ^[0-9.]+$ ]] || { echo "v2v: $sw $size run failed (see $log)" >&2; mpps=0; }
      echo "round $round: $sw $size Mpps=$mpps" >&2
      echo "$sw $size $mpps" >>"$results"
    done
  done
done

python3 - "$results" $SIZES <<'PY'
import statistics, sys
rows = [l.split() for l in open(sys.argv[1]) if l.strip()]
for size in sys.argv[2:]:
    med = {}
    for sw in ("agent", "ovs", "testpmd"):
        vals = [float(r[2]) for r in rows if r[0] == sw and r[1] == size]
        med[sw] = statistics.median(vals) if vals else 0.0
        print(f"v2v {sw} {size} Mpps={med[sw]:.2f}")
    for other in ("ovs", "testpmd"):
        ratio = med["agent"] / med[other] if med[other] else 0.0
        print(f"v2v agent/{other} {size} ratio={ratio:.2f}")
PY
