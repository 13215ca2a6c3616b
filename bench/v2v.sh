#!/usr/bin/env bash
# VM-to-VM throughput of the agent's datapath next to testpmd (io forwarding, an upper bound)
# and Open vSwitch with DPDK, through the shared loopback harness (../shared/bench/v2v-loopback.sh).
# The switches alternate round by round, so a noisy neighbour hurts all of them alike; each
# switch's figure is the median of its rounds. Frame sizes 64 and 1518 bytes.
# Then the many-MAC run (bench/v2v-many-mac.sh: 1,024 source/destination MAC pairs per port, so a
# last-hit cache misses), agent and OVS alternating the same way.
# Last, kernel TCP between two QEMU guests through the agent and through OVS (bench/v2v-tcp.ts).
# Env: ROUNDS (default 3), SECS per run (default 10), SIZES (default "64 1518"), MANY_MAC_SIZES
# (default "64"; empty skips the many-MAC run), TCP_ROUNDS (default 2; 0 skips the TCP run), MIB.
# Prints: "v2v SWITCH BYTES Mpps=X" per switch and size, then "v2v agent/ovs BYTES ratio=R",
# "v2v agent/testpmd BYTES ratio=R", "v2v SWITCH many-mac BYTES Mpps=X" and
# "v2v agent/ovs many-mac BYTES ratio=R (target >= 1.5)", and the same normalised by the CPU share each switch's
# forwarding thread got ("v2v per-cpu ..."). Assumes setup happened (DPDK, OVS, hugepages, Node 24).
set -euo pipefail
root=$(git -C "$(dirname "$0")" rev-parse --show-toplevel)
harness=$root/../shared/bench/v2v-loopback.sh
[[ -x $harness || -f $harness ]] || { echo "v2v: harness not found at $harness" >&2; exit 1; }
. "$root/scripts/versions.sh"
bash "$root/scripts/build-native.sh" >/dev/null
ROUNDS=${ROUNDS:-3}
SECS=${SECS:-10}
SIZES=${SIZES:-"64 1518"}
MANY_MAC_SIZES=${MANY_MAC_SIZES-64}
agent="cmd:$NODE_DIR/bin/node $root/bench/v2v-switch.js"
results=$(mktemp)
log=$(mktemp /tmp/v2v-bench.XXXXXX.log)  # the harness's (and OVS's) chatter
trap 'rm -f "$results" "$results.share"' EXIT

# CPU share the switch's forwarding thread got during the measured seconds (from
# /proc/.../schedstat): the machine may be shared, and a switch that only got half of CPU 1
# forwarded about half as much. Printed beside each run; the summary also gives Mpps / share.
switch_thread() {
  local pid=""
  case $1 in
    testpmd) pid=$(pgrep -f -- '--file-prefix=v2vsw' | head -1) ;;
    ovs) pid=$(pgrep -f 'ovs-vswitchd-dpdk unix:/tmp/v2v' | head -1) ;;
    agent) pid=$(pgrep -f "^$NODE_DIR/bin/node $root/bench/v2v-switch.js" | head -1) ;;
  esac
  [[ -n $pid ]] || return 1
  for t in /proc/"$pid"/task/*; do
    case $(cat "$t/comm" 2>/dev/null) in *worker-1* | pmd*) echo "$t"; return 0 ;; esac
  done
  return 1
}
sample_share() {  # $1 switch; waits for the harness's start-up and warm-up, then samples SECS/3 s
  sleep $((5 + SECS / 2))
  local t a b t0 t1
  t=$(switch_thread "$1") || { echo 0; return; }
  a=$(cut -d' ' -f1 "$t/schedstat"); t0=$(date +%s%N)
  sleep $(( SECS / 3 > 0 ? SECS / 3 : 1 ))
  b=$(cut -d' ' -f1 "$t/schedstat" 2>/dev/null) || { echo 0; return; }
  t1=$(date +%s%N)
  awk -v a="$a" -v b="$b" -v t0="$t0" -v t1="$t1" 'BEGIN { printf "%.2f", (b - a) / (t1 - t0) }'
}

for size in $SIZES; do
  for round in $(seq "$ROUNDS"); do
    for sw in testpmd ovs agent; do
      arg=$sw
      [[ $sw == agent ]] && arg=$agent
      sample_share "$sw" >"$results.share" &
      line=$(bash "$harness" "$arg" "$SECS" "$size" 2>>"$log" | tail -1) || true
      wait $! || true
      share=$(cat "$results.share"); [[ $share =~ ^[0-9.]+$ ]] || share=0
      mpps=${line##*Mpps=}
      [[ $mpps =~ ^[0-9.]+$ ]] || { echo "v2v: $sw $size run failed (see $log)" >&2; mpps=0; }
      echo "round $round: $sw $size Mpps=$mpps cpu_share=$share" >&2
      echo "$sw $size $mpps $share" >>"$results"
    done
  done
done

for size in $MANY_MAC_SIZES; do
  for round in $(seq "$ROUNDS"); do
    for sw in ovs agent; do
      arg=$sw
      [[ $sw == agent ]] && arg=$agent
      sample_share "$sw" >"$results.share" &
      line=$(bash "$root/bench/v2v-many-mac.sh" "$arg" "$SECS" "$size" 2>>"$log" | tail -1) || true
      wait $! || true
      share=$(cat "$results.share"); [[ $share =~ ^[0-9.]+$ ]] || share=0
      mpps=${line##*Mpps=}
      [[ $mpps =~ ^[0-9.]+$ ]] || { echo "v2v: $sw many-mac $size run failed (see $log)" >&2; mpps=0; }
      echo "round $round: $sw many-mac $size Mpps=$mpps cpu_share=$share" >&2
      echo "$sw mm$size $mpps $share" >>"$results"
    done
  done
done

python3 - "$results" "$SIZES" "$MANY_MAC_SIZES" <<'PY'
import statistics, sys
rows = [l.split() for l in open(sys.argv[1]) if l.strip()]
for size in sys.argv[2].split():
    med = {}
    for sw in ("agent", "ovs", "testpmd"):
        vals = [float(r[2]) for r in rows if r[0] == sw and r[1] == size]
        med[sw] = statistics.median(vals) if vals else 0.0
        print(f"v2v {sw} {size} Mpps={med[sw]:.2f}")
    for other in ("ovs", "testpmd"):
        ratio = med["agent"] / med[other] if med[other] else 0.0
        print(f"v2v agent/{other} {size} ratio={ratio:.2f}")
    # per CPU actually received (noisy neighbours): median of Mpps / share of CPU 1
    norm = {}
    for sw in ("agent", "ovs", "testpmd"):
        vals = [float(r[2]) / float(r[3]) for r in rows if r[0] == sw and r[1] == size and float(r[3]) > 0.05]
        norm[sw] = statistics.median(vals) if vals else 0.0
    print(f"v2v per-cpu {size} agent={norm['agent']:.2f} ovs={norm['ovs']:.2f} testpmd={norm['testpmd']:.2f} Mpps/core"
          f" agent/ovs={norm['agent'] / norm['ovs'] if norm['ovs'] else 0:.2f}"
          f" agent/testpmd={norm['agent'] / norm['testpmd'] if norm['testpmd'] else 0:.2f}")
for size in sys.argv[3].split():
    med, norm = {}, {}
    for sw in ("agent", "ovs"):
        sel = [r for r in rows if r[0] == sw and r[1] == f"mm{size}"]
        med[sw] = statistics.median([float(r[2]) for r in sel]) if sel else 0.0
        per = [float(r[2]) / float(r[3]) for r in sel if float(r[3]) > 0.05]
        norm[sw] = statistics.median(per) if per else 0.0
        print(f"v2v {sw} many-mac {size} Mpps={med[sw]:.2f}")
    ratio = med["agent"] / med["ovs"] if med["ovs"] else 0.0
    print(f"v2v agent/ovs many-mac {size} ratio={ratio:.2f} (target >= 1.5: {'met' if ratio >= 1.5 else 'NOT met'})")
    print(f"v2v per-cpu many-mac {size} agent={norm['agent']:.2f} ovs={norm['ovs']:.2f} Mpps/core"
          f" agent/ovs={norm['agent'] / norm['ovs'] if norm['ovs'] else 0:.2f}")
PY

# Kernel TCP between two guests (prints "v2v SWITCH tcp Mbit/s=X" and the ratio).
if [[ ${TCP_ROUNDS:-2} != 0 ]]; then
  bash "$root/scripts/with-node.sh" node "$root/dist/bench/v2v-tcp.js" 2>>"$log"
fi
