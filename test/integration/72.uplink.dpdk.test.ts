// Uplink ports (type 'dpdk'): a guest on br0 reaches a kernel host in a network namespace at
// the other end of a veth through a DPDK ethdev on the bridge (net_af_packet over the veth), as
// OVS-DPDK users add a `dpdk` port to br0. The guest also moves data over kernel TCP both ways
// with TSO and checksum offload as Linux negotiates them: the uplink segments and checksums its
// frames in software on their way out to the veth.
import { strict as assert } from 'node:assert';
import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { AgentError, DpdkPortState, VhostUserPortState } from '../../datapath/api';
import { AgentProcess, waitFor } from '../helpers/agent-process';
import { guestPings, pingingGuest, readConsole } from '../helpers/qemu-guest';

const NET = '169.254.72';
const NS = 'vhn-uplink';
const VETH = ['vhn-up0', 'vhn-up1']; // agent's end (root namespace), the kernel host's end
const HOST_IP = `${NET}.2`;
const GUEST_IP = `${NET}.1`;
const MIB = 8; // each way, over kernel TCP

// The kernel host's side of the transfer (python3 in the namespace): serve a file to each
// connection on port 8080, or fetch the guest's data and print its md5 and length.
const SERVE = `import socket,sys
s=socket.socket(); s.setsockopt(socket.SOL_SOCKET,socket.SO_REUSEADDR,1); s.bind((sys.argv[1],8080)); s.listen(4)
data=open(sys.argv[2],'rb').read()
while True:
  c,_=s.accept(); c.sendall(data); c.close()`;
const FETCH = `import socket,sys,hashlib,time
for i in range(120):
  try: c=socket.create_connection((sys.argv[1],8080),timeout=60); break
  except OSError: time.sleep(1)
h=hashlib.md5(); n=0
while True:
  b=c.recv(65536)
  if not b: break
  h.update(b); n+=len(b)
print(h.hexdigest(), n)`;

const sh = (...a: string[]) => execFileSync(a[0], a.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] }).toString();
const quiet = (...a: string[]) => {
  try {
    sh(...a);
  } catch {
    /* already gone */
  }
};

/** The wire: a veth from the agent's namespace to the kernel host's. */
function makeVeth(): void {
  sh('ip', 'link', 'add', VETH[0], 'type', 'veth', 'peer', 'name', VETH[1]);
  sh('ip', 'link', 'set', VETH[1], 'netns', NS);
  sh('ip', '-n', NS, 'addr', 'add', `${HOST_IP}/24`, 'dev', VETH[1]);
  sh('ip', '-n', NS, 'link', 'set', VETH[1], 'up');
  // The veth stands in for a wire: the kernel host hands it finished frames (no TSO, no partial
  // checksums), as it would a NIC that does them itself.
  sh('ip', 'netns', 'exec', NS, 'ethtool', '-K', VETH[1], 'tx', 'off', 'tso', 'off', 'gso', 'off');
  sh('ip', 'link', 'set', VETH[0], 'up'); // no address: the bridge owns its frames
}

/** The kernel host downloads the guest's data over TCP: its md5 and length. */
const hostFetches = () =>
  new Promise<{ md5: string; bytes: number }>((resolve, reject) =>
    execFile('ip', ['netns', 'exec', NS, 'python3', '-c', FETCH, GUEST_IP], { timeout: 240000 }, (e, out) => {
      if (e) return reject(e);
      const [md5, bytes] = out.trim().split(' ');
      resolve({ md5, bytes: Number(bytes) });
    }),
  );

describe('72 uplink: a dpdk port to a kernel host over a veth', function () {
  this.timeout(300000);
  let agent: AgentProcess;
  let server: ChildProcess | undefined;
  const hostData = { md5: '', bytes: MIB * 1048576 };
  let guestData = { md5: '', bytes: 0 };
  const { waitReplies, consoleOf, replies } = guestPings(() => agent.client, NET);
  const uplink = (extra: object = {}) => ({ bridge: 'br0', type: 'dpdk', devargs: `net_af_packet72,iface=${VETH[0]}`, ...extra });

  before(async () => {
    quiet('ip', 'netns', 'del', NS);
    quiet('ip', 'link', 'del', VETH[0]);
    sh('ip', 'netns', 'add', NS);
    sh('ip', '-n', NS, 'link', 'set', 'lo', 'up');
    makeVeth();
    agent = await AgentProcess.start({ name: 'uplink' });
    await agent.client.put('/bridges/br0', {});
    const data = crypto.randomBytes(hostData.bytes);
    hostData.md5 = crypto.createHash('md5').update(data).digest('hex');
    fs.writeFileSync(path.join(agent.dir, 'host-data'), data);
    server = spawn('ip', ['netns', 'exec', NS, 'python3', '-c', SERVE, HOST_IP, path.join(agent.dir, 'host-data')], { stdio: 'ignore' });
  });

  after(async () => {
    server?.kill();
    await agent?.client.delete('/guests/upvm').catch(() => undefined);
    await agent?.stop();
    quiet('ip', 'netns', 'del', NS);
    quiet('ip', 'link', 'del', VETH[0]);
    if (agent) fs.rmSync(agent.dir, { recursive: true, force: true });
  });

  it('refuses devargs it cannot use, naming the field and how to fix it', async () => {
    const refused = async (body: object, rule: RegExp) =>
      assert.rejects(
        agent.client.put('/ports/bad', body),
        (e: AgentError) => e.issues.some((i) => i.field === 'devargs' && rule.test(i.rule)) || assert.fail(JSON.stringify(e.issues)),
      );
    await refused(uplink({ devargs: 'net_ring0' }), /PCI address .* or 'net_af_xdp<N>,iface=/);
    await refused(uplink({ devargs: 'net_af_packet1' }), /iface=/);
    await refused(uplink({ devargs: 'net_af_packet1,iface=vhn-nosuch' }), /interface in the agent's network namespace/);
    // A PCI device bound to a kernel driver (this VM's virtio NICs): refused, saying how to bind it.
    const pci = fs.readdirSync('/sys/bus/pci/devices').find((d) => {
      try {
        return path.basename(fs.readlinkSync(`/sys/bus/pci/devices/${d}/driver`)) !== 'vfio-pci';
      } catch {
        return false;
      }
    });
    if (pci) await refused(uplink({ devargs: pci }), new RegExp(`bound to vfio-pci: modprobe vfio-pci; dpdk-devbind.py --bind=vfio-pci ${pci}`));
    await refused(uplink({ devargs: '0000:ff:1f.7' }), /PCI device of this host/);
    assert.deepEqual((await agent.client.get<unknown[]>('/ports')).length, 0, 'nothing was created');
  });

  it('a guest on br0 pings the kernel host through the uplink, and the uplink counts both ways', async () => {
    const r = await agent.client.put<{ object: DpdkPortState }>('/ports/up0', uplink());
    assert.equal(r.object.type, 'dpdk');
    await agent.client.put('/ports/vmp', { bridge: 'br0', type: 'dpdkvhostuserclient', vhostServerPath: path.join(agent.dir, 'vm', 'vmp.sock') });
    const guest = pingingGuest(NET, 1, 2, ['vmp'], { nics: [{ port: 'vmp' }] }) as { boot: { append: string } };
    guest.boot.append += ` vhostnet.serve=${MIB} vhostnet.fetch=${HOST_IP}`; // for the TCP case below
    await agent.client.put('/guests/upvm', guest);
    await waitReplies('upvm', 2, 3);
    const up = await agent.client.get<DpdkPortState>('/ports/up0');
    assert.equal(up.status!.link, 'up', up.status!.reason);
    assert.deepEqual({ driver: up.status!.device.driver, iface: up.status!.device.iface }, { driver: 'af_packet', iface: VETH[0] });
    assert.ok(up.status!.stats.rxPackets >= 3 && up.status!.stats.txPackets >= 3, JSON.stringify(up.status!.stats));
    // What the device dropped before a PMD saw it is there too (rte_eth_stats), not only the queues' counts.
    const dc = up.status!.device.counters!;
    assert.deepEqual(
      Object.keys(dc ?? {}).sort(),
      ['kernelRxDropped', 'kernelTxDropped', 'rxErrors', 'rxMissed', 'rxNoMbuf', 'txErrors'],
      JSON.stringify(up.status!.device),
    );
    assert.ok(
      Object.values(dc).every((n) => Number.isInteger(n) && n >= 0),
      JSON.stringify(dc),
    );
    const fdb = await agent.client.get<{ mac: string; port: string }[]>('/bridges/br0/fdb');
    const hostMac = sh('ip', '-n', NS, '-j', 'link', 'show', VETH[1]).match(/"address":"([0-9a-f:]{17})"/)![1];
    assert.ok(
      fdb.some((e) => e.mac === hostMac && e.port === 'up0'),
      `the host's MAC is learned on the uplink: ${JSON.stringify(fdb)}`,
    );
  });

  it(`kernel TCP both ways through the uplink: ${MIB} MiB each way arrive whole (md5 and length), segmented for the wire`, async () => {
    const served = await waitFor(
      'the guest serving',
      async () => readConsole(await consoleOf('upvm')).match(/VHOSTNET-SERVING md5=([0-9a-f]{32}) bytes=(\d+)/) ?? false,
      120000,
      1000,
    );
    const fetched = hostFetches();
    const got = await waitFor(
      `the guest to download ${MIB} MiB from the kernel host`,
      async () => readConsole(await consoleOf('upvm')).match(/VHOSTNET-FETCHED md5=([0-9a-f]{32}) bytes=(\d+) t0=([\d.]+) t1=([\d.]+)/) ?? false,
      240000,
      1000,
    );
    assert.deepEqual({ md5: got[1], bytes: Number(got[2]) }, hostData, 'what the guest received is what the kernel host served');
    guestData = { md5: served[1], bytes: Number(served[2]) };
    assert.deepEqual(await fetched, guestData, 'what the kernel host received is what the guest served');
    const up = (await agent.client.get<DpdkPortState>('/ports/up0')).status!;
    const vm = (await agent.client.get<VhostUserPortState>('/ports/vmp')).status!;
    const drops = [up.stats, vm.stats].map((s) => (s as { drops?: Record<string, number> }).drops);
    console.log(
      `      uplink tx ${up.stats.txPackets} frames for the guest's ${vm.stats.rxPackets}; drops uplink ${JSON.stringify(drops[0])} guest port ${JSON.stringify(drops[1])}`,
    );
    assert.ok(vm.features.negotiatedNames.includes('host_tso4'), `the guest sends TSO frames: ${vm.features.negotiatedNames.join(' ')}`);
    // Its TSO frames were segmented for the veth: more frames left than the guest handed over.
    assert.ok(up.stats.txPackets > vm.stats.rxPackets, `uplink tx ${up.stats.txPackets} > guest rx ${vm.stats.rxPackets}`);
    for (const d of drops)
      assert.deepEqual({ mtu: d?.mtuExceeded, offload: d?.offloadUnsupported, malformed: d?.malformed }, { mtu: 0, offload: 0, malformed: 0 });
  });

  it('an interface that vanishes is noticed: link down, naming the interface', async () => {
    sh('ip', 'link', 'del', VETH[0]); // its peer in the namespace goes with it
    const st = await waitFor('up0 down', async () => {
      const p = await agent.client.get<DpdkPortState>('/ports/up0');
      return p.status!.link === 'down' && p.status!;
    });
    assert.match(st.reason!, new RegExp(`${VETH[0]} has vanished`));
    await agent.client.delete('/ports/up0');
  });

  it('af_xdp: the same uplink over AF_XDP on the veth pings, carries kernel TCP, and says its XDP mode', async function () {
    assert.ok(guestData.bytes > 0, 'the guest serves (the TCP case ran)');
    makeVeth(); // the last case took the old one away
    const before = await replies('upvm', 2);
    const made = await agent.client
      .put<{ object: DpdkPortState }>('/ports/up1', uplink({ devargs: `net_af_xdp72,iface=${VETH[0]}` }))
      .catch((e: AgentError) => e);
    if (!('object' in made)) {
      // Only a kernel that refuses AF_XDP sockets skips this (the reason is in the agent's log).
      console.log(
        `      af_xdp refused here: ${JSON.stringify(made)}\n${agent.log
          .split('\n')
          .filter((l) => /xdp/i.test(l))
          .slice(-8)
          .join('\n')}`,
      );
      this.skip();
    }
    await waitReplies('upvm', 2, before + 3);
    const up = (await agent.client.get<DpdkPortState>('/ports/up1')).status!;
    assert.equal(up.link, 'up', up.reason);
    assert.equal(up.device.driver, 'af_xdp');
    assert.ok(up.device.xdpMode === 'native' || up.device.xdpMode === 'generic', `XDP mode: ${up.device.xdpMode}`);
    console.log(`      af_xdp on ${VETH[0]}: XDP mode ${up.device.xdpMode}`);
    const vmBefore = (await agent.client.get<VhostUserPortState>('/ports/vmp')).status!.stats.rxPackets;
    assert.deepEqual(await hostFetches(), guestData, 'what the kernel host received over af_xdp is what the guest served');
    const after = (await agent.client.get<DpdkPortState>('/ports/up1')).status!;
    const vm = (await agent.client.get<VhostUserPortState>('/ports/vmp')).status!;
    const d = (after.stats as { drops?: Record<string, number> }).drops;
    console.log(`      af_xdp uplink tx ${after.stats.txPackets} frames for the guest's ${vm.stats.rxPackets - vmBefore}; drops ${JSON.stringify(d)}`);
    assert.ok(after.stats.txPackets > vm.stats.rxPackets - vmBefore, "the guest's TSO frames were segmented for the wire");
    assert.deepEqual({ mtu: d?.mtuExceeded, offload: d?.offloadUnsupported, malformed: d?.malformed }, { mtu: 0, offload: 0, malformed: 0 });
    await agent.client.delete('/ports/up1');
  });
});
