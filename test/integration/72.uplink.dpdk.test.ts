// Uplink ports (type 'dpdk'): a guest on br0 reaches a kernel host in a network namespace at
// the other end of a veth through a DPDK ethdev on the bridge (net_af_packet over the veth), as
// OVS-DPDK users add a `dpdk` port to br0. (Kernel TCP over the uplink waits for segmentation
// at egress: a guest's TSO frames are larger than the veth's MTU.)
import { strict as assert } from 'node:assert';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { AgentError, DpdkPortState } from '../../datapath/api';
import { AgentProcess, waitFor } from '../helpers/agent-process';
import { guestPings, pingingGuest } from '../helpers/qemu-guest';

const NET = '169.254.72';
const NS = 'vhn-uplink';
const VETH = ['vhn-up0', 'vhn-up1']; // agent's end (root namespace), the kernel host's end
const HOST_IP = `${NET}.2`;

const sh = (...a: string[]) => execFileSync(a[0], a.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] }).toString();
const quiet = (...a: string[]) => {
  try {
    sh(...a);
  } catch {
    /* already gone */
  }
};

describe('72 uplink: a dpdk port to a kernel host over a veth', function () {
  this.timeout(300000);
  let agent: AgentProcess;
  const { waitReplies } = guestPings(() => agent.client, NET);
  const uplink = (extra: object = {}) => ({ bridge: 'br0', type: 'dpdk', devargs: `net_af_packet72,iface=${VETH[0]}`, ...extra });

  before(async () => {
    quiet('ip', 'netns', 'del', NS);
    quiet('ip', 'link', 'del', VETH[0]);
    sh('ip', 'netns', 'add', NS);
    sh('ip', 'link', 'add', VETH[0], 'type', 'veth', 'peer', 'name', VETH[1]);
    sh('ip', 'link', 'set', VETH[1], 'netns', NS);
    sh('ip', '-n', NS, 'addr', 'add', `${HOST_IP}/24`, 'dev', VETH[1]);
    sh('ip', '-n', NS, 'link', 'set', VETH[1], 'up');
    sh('ip', '-n', NS, 'link', 'set', 'lo', 'up');
    sh('ip', 'link', 'set', VETH[0], 'up'); // no address: the bridge owns its frames
    agent = await AgentProcess.start({ name: 'uplink' });
    await agent.client.put('/bridges/br0', {});
  });

  after(async () => {
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
    await agent.client.put('/guests/upvm', pingingGuest(NET, 1, 2, ['vmp'], { nics: [{ port: 'vmp' }] }));
    await waitReplies('upvm', 2, 3);
    const up = await agent.client.get<DpdkPortState>('/ports/up0');
    assert.equal(up.status!.link, 'up', up.status!.reason);
    assert.deepEqual({ driver: up.status!.device.driver, iface: up.status!.device.iface }, { driver: 'af_packet', iface: VETH[0] });
    assert.ok(up.status!.stats.rxPackets >= 3 && up.status!.stats.txPackets >= 3, JSON.stringify(up.status!.stats));
    const fdb = await agent.client.get<{ mac: string; port: string }[]>('/bridges/br0/fdb');
    const hostMac = sh('ip', '-n', NS, '-j', 'link', 'show', VETH[1]).match(/"address":"([0-9a-f:]{17})"/)![1];
    assert.ok(
      fdb.some((e) => e.mac === hostMac && e.port === 'up0'),
      `the host's MAC is learned on the uplink: ${JSON.stringify(fdb)}`,
    );
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
});
