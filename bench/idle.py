#!/usr/bin/env python3
"""Idle cost and wake-up latency of a vhost-user switch: the agent's datapath beside Open vSwitch
with DPDK, in one run (npm run bench:idle, via bench/idle.sh).

Per switch: the switch makes two vhost-user server sockets (its PMD on CPU 1); two testpmd guests
(virtio-user, each its own process, CPU 0) connect. Guest B polls in rxonly mode, verbose, and
prints every frame it receives; guest A is connected but sends nothing. Then
  1. the PMD thread's CPU share over IDLE_SECS s without traffic (from /proc/.../schedstat);
  2. PROBES times: IDLE_GAP s of silence, then A sends one frame (testpmd `start tx_first 1`,
     burst 1) and we time from writing that command to B printing its arrival.
The latency includes testpmd's command handling and the pipes; Open vSwitch busy-polls, so its
figure is that floor and agent - OVS is the agent's wake-up cost.
Prints "idle SWITCH pmd_cpu=X%" and "idle SWITCH first-packet-after-Ns latency_us=median (min..max)".
Env: IDLE_SECS (10), PROBES (5), IDLE_GAP (2), PMD_MAX_SLEEP_US (the agent's default, 200).
"""
import os, select, shutil, signal, statistics, subprocess, sys, tempfile, time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NODE = os.path.join(os.environ["NODE_DIR"], "bin", "node")
IDLE_SECS = float(os.environ.get("IDLE_SECS", 10))
PROBES = int(os.environ.get("PROBES", 5))
IDLE_GAP = float(os.environ.get("IDLE_GAP", 2))
MAX_SLEEP = os.environ.get("PMD_MAX_SLEEP_US", "200")
ID = os.getpid()


def sh(*args, **kw):
    return subprocess.run(args, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, **kw)


class Ovs:
    name = "ovs"

    def __init__(self, run):
        self.run = run
        env = dict(os.environ, OVS_RUNDIR=run, OVS_LOGDIR=run, OVS_DBDIR=run)
        self.vsctl = ["ovs-vsctl", f"--db=unix:{run}/db.sock"]
        sh("ovsdb-tool", "create", f"{run}/conf.db", "/usr/share/openvswitch/vswitch.ovsschema", env=env)
        sh("ovsdb-server", f"{run}/conf.db", f"--remote=punix:{run}/db.sock", f"--pidfile={run}/ovsdb-server.pid",
           "--detach", f"--log-file={run}/ovsdb-server.log", env=env)
        sh(*self.vsctl, "--no-wait", "init")
        sh(*self.vsctl, "--no-wait", "set", "Open_vSwitch", ".", "other_config:dpdk-init=true",
           "other_config:dpdk-socket-mem=256", "other_config:dpdk-lcore-mask=0x1", "other_config:pmd-cpu-mask=0x2",
           f"other_config:dpdk-extra=--no-pci --file-prefix=idleovs{ID}")
        sh("/usr/lib/openvswitch-switch-dpdk/ovs-vswitchd-dpdk", f"unix:{run}/db.sock",
           f"--pidfile={run}/ovs-vswitchd.pid", "--detach", f"--log-file={run}/ovs-vswitchd.log", env=env)
        sh(*self.vsctl, "add-br", "br0", "--", "set", "bridge", "br0", "datapath_type=netdev")
        sh(*self.vsctl, "set", "Open_vSwitch", ".", "other_config:vhost-sock-dir=.")
        for s in ("sock0", "sock1"):
            sh(*self.vsctl, "add-port", "br0", s, "--", "set", "Interface", s, "type=dpdkvhostuser")
        self.pid = int(open(f"{run}/ovs-vswitchd.pid").read())

    def pmd_thread(self):
        return find_thread(self.pid, ("pmd",))

    def stop(self):
        for f in ("ovs-vswitchd.pid", "ovsdb-server.pid"):
            try:
                os.kill(int(open(f"{self.run}/{f}").read()), signal.SIGTERM)
            except (OSError, ValueError):
                pass


class Agent:
    name = "agent"

    def __init__(self, run):
        env = dict(os.environ, SOCK0=f"{run}/sock0", SOCK1=f"{run}/sock1", FILE_PREFIX=f"idleagent{ID}",
                   PMD_MAX_SLEEP_US=MAX_SLEEP)
        self.proc = subprocess.Popen([NODE, os.path.join(ROOT, "bench/v2v-switch.js")], env=env,
                                     stdout=open(f"{run}/agent.log", "w"), stderr=subprocess.STDOUT)
        self.pid = self.proc.pid

    def pmd_thread(self):
        return find_thread(self.pid, ("worker-1", "pmd"))

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def find_thread(pid, names):
    for t in os.listdir(f"/proc/{pid}/task"):
        comm = open(f"/proc/{pid}/task/{t}/comm").read().strip()
        if any(n in comm for n in names):
            return f"/proc/{pid}/task/{t}"
    raise RuntimeError(f"no PMD thread ({names}) in process {pid}")


def cpu_ns(task):
    return int(open(f"{task}/schedstat").read().split()[0])


class Guest:
    def __init__(self, run, name, sock, mac, peer, rx):
        args = ["stdbuf", "-oL", "dpdk-testpmd", "--lcores", "0@0,1@0", "-n", "1", f"--file-prefix=idle{name}{ID}",
                "--no-pci", "-m", "256", "--single-file-segments",
                "--vdev", f"net_virtio_user0,path={sock},queues=1,queue_size=256,mac={mac}",
                "--", "-i", "--port-topology=loop", "--nb-cores=1", f"--eth-peer=0,{peer}",
                "--forward-mode=rxonly"]
        self.proc = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                     text=True, bufsize=1)
        self.buf = ""
        self.log = open(f"{run}/guest-{name}.log", "w")
        self.wait_for("testpmd>", 60)
        if rx:
            self.cmd("set verbose 1")
            self.cmd("start")
        else:
            self.cmd("set burst 1")

    def cmd(self, line):
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()

    def wait_for(self, text, timeout):
        """Reads output until TEXT appears; returns the time it was read (monotonic)."""
        end = time.monotonic() + timeout
        fd = self.proc.stdout.fileno()
        while True:
            i = self.buf.find(text)
            if i >= 0:
                self.buf = self.buf[i + len(text):]
                return time.monotonic()
            left = end - time.monotonic()
            if left <= 0 or not select.select([fd], [], [], left)[0]:
                raise RuntimeError(f"timed out waiting for {text!r}")
            chunk = os.read(fd, 65536).decode(errors="replace")
            if not chunk:
                raise RuntimeError(f"guest exited waiting for {text!r}")
            self.log.write(chunk)
            self.buf += chunk

    def drain(self):
        fd = self.proc.stdout.fileno()
        while select.select([fd], [], [], 0)[0]:
            chunk = os.read(fd, 65536).decode(errors="replace")
            if not chunk:
                break
            self.log.write(chunk)
        self.buf = ""

    def stop(self):
        try:
            self.cmd("stop")
            self.cmd("quit")
            self.proc.wait(10)
        except Exception:
            self.proc.kill()


def measure(kind):
    run = tempfile.mkdtemp(prefix="vhostnet-idle-")
    sw = guests = None
    try:
        sw = kind(run)
        for _ in range(100):
            if os.path.exists(f"{run}/sock0") and os.path.exists(f"{run}/sock1"):
                break
            time.sleep(0.2)
        else:
            raise RuntimeError(f"{kind.name} made no sockets (see {run})")
        b = Guest(run, "b", f"{run}/sock1", "02:00:00:00:00:21", "02:00:00:00:00:20", rx=True)
        a = Guest(run, "a", f"{run}/sock0", "02:00:00:00:00:20", "02:00:00:00:00:21", rx=False)
        guests = (a, b)
        time.sleep(3)  # links up, the switch settles into its idle state
        task = sw.pmd_thread()
        c0, t0 = cpu_ns(task), time.monotonic_ns()
        time.sleep(IDLE_SECS)
        share = (cpu_ns(task) - c0) / (time.monotonic_ns() - t0)
        lat = []
        for _ in range(PROBES):
            time.sleep(IDLE_GAP)
            b.drain()
            sent = time.monotonic()
            a.cmd("start tx_first 1")
            got = b.wait_for("received 1 packets", 10)
            lat.append((got - sent) * 1e6)
            a.cmd("stop")
            a.wait_for("Done.", 10)
        return share, lat
    finally:
        for g in guests or ():
            g.stop()
        if sw:
            sw.stop()
        time.sleep(1)
        for f in os.listdir("/dev/hugepages"):
            if f.startswith("idle") and str(ID) in f:
                os.unlink(f"/dev/hugepages/{f}")
        if not os.environ.get("KEEP"):
            shutil.rmtree(run, ignore_errors=True)


res = {}
for kind in (Agent, Ovs):
    try:
        res[kind.name] = measure(kind)
    except Exception as e:  # print what did run; a failed switch is reported, not hidden
        print(f"idle {kind.name} failed: {e}", file=sys.stderr)
for name, (share, lat) in res.items():
    print(f"idle {name} pmd_cpu={share * 100:.2f}%")
for name, (share, lat) in res.items():
    print(f"idle {name} first-packet-after-{IDLE_GAP:g}s latency_us={statistics.median(lat):.0f}"
          f" ({min(lat):.0f}..{max(lat):.0f}, {len(lat)} probes)")
if "agent" in res and "ovs" in res:
    a, o = res["agent"], res["ovs"]
    print(f"idle agent/ovs pmd_cpu ratio={a[0] / o[0] if o[0] else 0:.3f}"
          f" latency agent-ovs_us={statistics.median(a[1]) - statistics.median(o[1]):.0f}")
sys.exit(0 if len(res) == 2 else 1)
