#!/usr/bin/env bash
# The main job on this host, as a user does it: start vhostnet-agent, `pulumi preview` and
# `pulumi up` examples/guests (hugepages, bridge br0, two vhost-user client ports, two QEMU guests),
# show the guests pinging each other and `vhostctl show` with the counters moving, then
# `pulumi destroy` and stop the agent. DEMO_KEEP=1 leaves everything running.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
. scripts/versions.sh
export PATH="$NODE_DIR/bin:$root/node_modules/.bin:$PULUMI_DIR/bin:$PATH"

demo=${DEMO_DIR:-/var/lib/vhostnet-demo}
run=/run/vhostnet-demo
# QEMU's sockets in the agent's default socket directory (root's, never world-writable /tmp).
sockets=/run/vhostnet-qemu/demo
# A previous demo that was interrupted may have left its guests (they outlive the agent by design) and agent.
for pidfile in "$demo"/state/guests/*/qemu.pid; do [[ -f $pidfile ]] && kill "$(cat "$pidfile")" 2>/dev/null || true; done
pkill -f -- '--file-prefix vhostnet-demo' 2>/dev/null || true
rm -rf "$demo" "$sockets" && mkdir -p "$demo"
export PULUMI_BACKEND_URL=file://$demo/pulumi PULUMI_HOME=$demo/pulumi-home PULUMI_CONFIG_PASSPHRASE=vhostnet-demo \
  PULUMI_SKIP_UPDATE_CHECK=true PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION=true
mkdir -p "$demo/pulumi"
vhostctl() { node "$root/dist/datapath/vhostctl/main.js" --endpoint "unix:$run/agent.sock" "$@"; }
step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

img=$(bash scripts/build-guest-image.sh)
step "vhostnet-agent (DPDK datapath: PMD on the last CPU, hugepages, run dir $run, guest images from $img)"
node dist/datapath/agent/main.js --run-dir "$run" --state-dir "$demo/state" --file-prefix vhostnet-demo --image-dir "$img" \
  --eal-arg=--log-level=lib.eal:error >"$demo/agent.log" 2>&1 &
agent=$!
cleanup() {
  trap '' PIPE # our reader may be gone (demo | head): clean up regardless of failed writes
  set +e
  if [[ ${DEMO_KEEP:-} == 1 ]]; then echo "left running: agent pid $agent; tear down with: (cd examples/guests && pulumi destroy --yes --stack demo)"; return; fi
  step "pulumi destroy, then stop the agent"
  (cd "$root/examples/guests" && pulumi destroy --yes --non-interactive --stack demo 2>&1 | tail -4) || true
  kill "$agent" 2>/dev/null || true
  wait "$agent" 2>/dev/null || true
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP PIPE
for _ in $(seq 100); do [[ -S $run/agent.sock ]] && break; sleep 0.2; done
vhostctl show | head -1

cd examples/guests
pulumi stack init demo --non-interactive >/dev/null
pulumi config set vhostnet:endpoint "unix:$run/agent.sock"
pulumi config set kernel "$img/vmlinuz"
pulumi config set initrd "$img/initrd.gz"
pulumi config set socketDir "$sockets"
pulumi config set hugepages "$(cat /proc/sys/vm/nr_hugepages)"

step "pulumi preview (nothing on the host changes)"
pulumi preview --non-interactive 2>&1 | grep -E '^ +[+~-] |^Resources:|to create'

step "pulumi up"
pulumi up --yes --skip-preview --non-interactive 2>&1 | grep -E ' created|^Resources:|to create| created$|^Duration'

step "the guests ping each other through the datapath (their serial consoles)"
for i in $(seq 120); do
  n1=$(grep -c 'bytes from 169.254.100.2' "$demo/state/guests/vm1/console.log" 2>/dev/null || true)
  n2=$(grep -c 'bytes from 169.254.100.1' "$demo/state/guests/vm2/console.log" 2>/dev/null || true)
  ((${n1:-0} >= 3 && ${n2:-0} >= 3)) && break
  sleep 0.5
done
echo "vm1:"; grep 'bytes from' "$demo/state/guests/vm1/console.log" | tail -3
echo "vm2:"; grep 'bytes from' "$demo/state/guests/vm2/console.log" | tail -3

step "vhostctl show"
vhostctl show
sleep 5
step "vhostctl show, 5 s later: the counters moved"
vhostctl show | grep -E 'Port|rx:'
step "vhostctl pmd stats"
vhostctl pmd stats
