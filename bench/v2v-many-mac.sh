#!/usr/bin/env bash
# One many-MAC VM-to-VM run through a vhost-user switch (bench/v2v.sh calls it per round).
# Unlike ../shared/bench/v2v-loopback.sh, whose guest mac-forwards two fixed MACs, the testpmd
# guest here replays two generated pcaps (bench/many-mac-pcap.py: 1,024 distinct source/destination
# MAC pairs per port, consecutive frames in different pairs) through net_pcap (infinite_rx) into
# its two virtio-user ports, and counts what the switch delivers on the other port. Ports: 0 pcap a
# -> 1 virtio0, 2 pcap b -> 3 virtio1 (io forwarding, paired); what arrives on a virtio port goes to
# its pcap port's tx, which drops it. CPU layout as the two-MAC harness: guest on CPU 0, switch on 1.
# Usage: v2v-many-mac.sh ovs|cmd:COMMAND [SECONDS] [FRAME_BYTES]
# Prints one line: "v2v SWITCH many-mac FRAME_BYTES Mpps=X" (X = packets received on both virtio
# ports per second, median over the seconds after 3 s of warm-up).
set -euo pipefail
SWITCH=${1:?usage: v2v-many-mac.sh ovs|cmd:COMMAND [SECONDS] [FRAME_BYTES]}
SECS=${2:-10}
FRAME=${3:-64}
here=$(cd "$(dirname "$0")" && pwd)
RUN=$(mktemp -d /tmp/v2vmm.XXXXXX)
ID=$$
SOCK0=$RUN/sock0 SOCK1=$RUN/sock1
export SOCK0 SOCK1
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  sleep 1
  for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null || true; done
  for f in ovs-vswitchd ovsdb-server; do
    [[ -f $RUN/$f.pid ]] && kill "$(cat "$RUN/$f.pid")" 2>/dev/null || true
  done
  rm -f /dev/hugepages/v2vmm*"$ID"map_*
  rm -rf "$RUN"
}
trap cleanup EXIT
(( $(cat /proc/sys/vm/nr_hugepages) >= 1024 )) || echo 1024 >/proc/sys/vm/nr_hugepages
python3 "$here/many-mac-pcap.py" "$RUN" "$FRAME" 1024

case $SWITCH in
  ovs)  # as bench/ovs.ts and the two-MAC harness; MAC table sized for the 2,048 MACs (default 2,048)
    export OVS_RUNDIR=$RUN OVS_LOGDIR=$RUN OVS_DBDIR=$RUN
    VSCTL="ovs-vsctl --db=unix:$RUN/db.sock"
    ovsdb-tool create "$RUN/conf.db" /usr/share/openvswitch/vswitch.ovsschema
    ovsdb-server "$RUN/conf.db" --remote=punix:"$RUN/db.sock" --pidfile="$RUN/ovsdb-server.pid" \
      --detach --log-file="$RUN/ovsdb-server.log"
    $VSCTL --no-wait init
    $VSCTL --no-wait set Open_vSwitch . other_config:dpdk-init=true other_config:dpdk-socket-mem=256 \
      other_config:dpdk-lcore-mask=0x1 other_config:pmd-cpu-mask=0x2 \
      other_config:dpdk-extra="--no-pci --file-prefix=v2vmmovs$ID"
    /usr/lib/openvswitch-switch-dpdk/ovs-vswitchd-dpdk unix:"$RUN/db.sock" --pidfile="$RUN/ovs-vswitchd.pid" \
      --detach --log-file="$RUN/ovs-vswitchd.log"
    $VSCTL add-br br0 -- set bridge br0 datapath_type=netdev other_config:mac-table-size=8192
    $VSCTL set Open_vSwitch . other_config:vhost-sock-dir=.
    $VSCTL add-port br0 sock0 -- set Interface sock0 type=dpdkvhostuser
    $VSCTL add-port br0 sock1 -- set Interface sock1 type=dpdkvhostuser ;;
  cmd:*)
    FILE_PREFIX=v2vmmagent$ID bash -c "${SWITCH#cmd:}" >"$RUN/switch.log" 2>&1 &
    PIDS+=($!) ;;
  *) echo "v2v-many-mac: unknown switch $SWITCH" >&2; exit 2 ;;
esac
for _ in $(seq 100); do [[ -S $SOCK0 && -S $SOCK1 ]] && break; sleep 0.2; done
[[ -S $SOCK0 && -S $SOCK1 ]] || { echo "v2v-many-mac: switch made no sockets" >&2; exit 1; }

mkfifo "$RUN/cmd"
( sleep 5; echo "start"; for _ in $(seq "$SECS"); do sleep 1; echo "show port stats 1"; echo "show port stats 3"; done
  echo stop; echo quit ) >"$RUN/cmd" &
PIDS+=($!)
dpdk-testpmd --lcores '0@0,1@0' -n 1 --file-prefix=v2vmmguest$ID --no-pci -m 512 --single-file-segments \
  --vdev "net_pcap0,rx_pcap=$RUN/a.pcap,infinite_rx=1" \
  --vdev "net_virtio_user0,path=$SOCK0,queues=1,queue_size=1024,mac=02:00:00:00:00:10" \
  --vdev "net_pcap1,rx_pcap=$RUN/b.pcap,infinite_rx=1" \
  --vdev "net_virtio_user1,path=$SOCK1,queues=1,queue_size=1024,mac=02:00:00:00:00:11" \
  -- -i --forward-mode=io --nb-cores=1 --rxd=1024 --txd=1024 --burst=32 \
  <"$RUN/cmd" >"$RUN/guest.log" 2>&1 &
GUEST=$!
PIDS+=($GUEST)
wait "$GUEST" || true
[[ -n ${KEEP_LOG:-} ]] && cp "$RUN/guest.log" "$KEEP_LOG"

python3 - "$RUN/guest.log" "${SWITCH%%:*}" "$FRAME" <<'PY'
import re, statistics, sys
vals = [int(v) for v in re.findall(r"Rx-pps:\s+(\d+)", open(sys.argv[1], errors="replace").read())]
sums = [vals[i] + vals[i + 1] for i in range(0, len(vals) - 1, 2)]
sums = sums[3:] or sums
mpps = statistics.median(sums) / 1e6 if sums else 0.0
print(f"v2v {sys.argv[2]} many-mac {sys.argv[3]} Mpps={mpps:.2f}")
PY
