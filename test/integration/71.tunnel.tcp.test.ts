// Kernel TCP between two QEMU guests on two hosts (namespaces vhn-a / vhn-b, one agent each)
// across a VXLAN tunnel whose underlay veth has MTU 1500. The guests negotiate what Linux
// negotiates (checksum offload, TSO) and are started by the agents from their ports, so they take
// the MTU the bridge advertises (host_mtu = 1500 - 50). Each guest downloads 16 MiB of random data
// from the other over TCP (busybox nc); what arrives must be what was served (md5 and length).
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { VhostUserPortState as PortState, VxlanPortState } from '../../datapath/api';
import type { GuestVmState as GuestState } from '../../datapath/api';
import { AgentProcess, waitFor } from '../helpers/agent-process';
import { guestImage } from '../helpers/guest-image';
import { IP, NS, VETH, makeHosts, removeHosts } from '../helpers/netns-hosts';
import { ensureHugepages, readConsole } from '../helpers/qemu-guest';

const NET = '169.254.71';
const MIB = 16;

describe('71 tunnel: kernel TCP between guests on two hosts, underlay MTU 1500', function () {
  this.timeout(420000);
  const agents: AgentProcess[] = [];
  const consoleOf = async (i: number) => (await agents[i].client.get<GuestState>(`/guests/vm-${'ab'[i]}`)).status!.consoleLog!;

  before(async () => {
    ensureHugepages();
    makeHosts(1500);
    const img = guestImage();
    for (let i = 0; i < 2; i++) {
      const a = await AgentProcess.start({ name: `tcp-${'ab'[i]}`, netns: NS[i] });
      agents.push(a);
      await a.client.put('/bridges/br0', {});
      await a.client.put('/ports/vx', { bridge: 'br0', type: 'vxlan', vni: 7100, underlay: { iface: VETH[i], localIp: IP[i], remoteIp: IP[1 - i] } });
      // The guests' MACs: each port's own (the port names are the same on both hosts, so derived MACs would be too).
      await a.client.put('/ports/g', {
        bridge: 'br0',
        type: 'dpdkvhostuserclient',
        vhostServerPath: path.join(a.dir, 'vm', 'g.sock'),
        mac: `02:00:00:00:71:0${i + 1}`,
      });
      const append = `console=ttyS0 quiet vhostnet.ip=${NET}.${i + 1}/24 vhostnet.serve=${MIB} vhostnet.fetch=${NET}.${2 - i}`;
      await a.client.put(`/guests/vm-${'ab'[i]}`, {
        vcpus: 1,
        memoryMb: 256,
        accel: 'tcg',
        boot: { kind: 'kernel', kernel: img.kernel, initrd: img.initrd, append },
        nics: [{ port: 'g' }],
      });
    }
  });

  // On a failure: what each guest said and what each port counted, for the report.
  afterEach(async function () {
    if (this.currentTest?.state !== 'failed') return;
    for (let i = 0; i < agents.length; i++) {
      const c = agents[i].client;
      const tail = readConsole(await consoleOf(i).catch(() => ''))
        .split('\n')
        .filter((l) => !/HEARTBEAT/.test(l))
        .slice(-12)
        .join('\n');
      console.log(`--- host ${'ab'[i]} console:\n${tail}`);
      for (const p of ['vx', 'g'])
        console.log(`--- host ${'ab'[i]} ${p}: ${JSON.stringify((await c.get<PortState>(`/ports/${p}`).catch(() => undefined))?.status?.stats)}`);
    }
  });

  after(async () => {
    for (let i = 0; i < agents.length; i++) {
      await agents[i].client.delete(`/guests/vm-${'ab'[i]}`).catch(() => undefined);
      await agents[i].stop().catch(() => undefined);
      fs.rmSync(agents[i].dir, { recursive: true, force: true });
    }
    removeHosts();
  });

  it('the bridge advertises the underlay MTU - 50: port status, qemuArgs and the guest agree', async () => {
    for (let i = 0; i < 2; i++) {
      const c = agents[i].client;
      const vx = (await c.get<VxlanPortState>('/ports/vx')).status!;
      assert.equal(vx.underlay.mtu, 1500);
      assert.equal(vx.mtu, 1450);
      const g = await c.get<PortState>('/ports/g');
      assert.ok(
        g.qemuArgs.some((x) => /^virtio-net-pci,.*host_mtu=1450/.test(x)),
        g.qemuArgs.join(' '),
      );
      assert.equal(g.status!.mtu, 1450);
      assert.match(g.status!.mtuSource!, /tunnel port vx: underlay MTU 1500 - 50/);
      const vm = await c.get<GuestState>(`/guests/vm-${'ab'[i]}`);
      assert.ok(
        vm.qemuCommand.some((x) => /host_mtu=1450/.test(x)),
        vm.qemuCommand.join(' '),
      );
      const s = await waitFor(
        `guest ${i} connected with VIRTIO_NET_F_MTU`,
        async () => {
          const st = (await c.get<PortState>('/ports/g')).status!;
          return st.link === 'up' && st.guestMtu !== undefined && st;
        },
        120000,
      );
      assert.equal(s.guestMtu, 1450);
      assert.ok(s.features.negotiatedNames.includes('host_tso4') && s.features.negotiatedNames.includes('guest_tso4'), s.features.negotiatedNames.join(' '));
      assert.deepEqual(s.warnings, []);
    }
  });

  it(`${MIB} MiB each way arrive whole (md5 and length), and nothing is dropped on the way`, async () => {
    const served: string[] = [];
    for (let i = 0; i < 2; i++) {
      const m = await waitFor(
        `guest ${i} serving`,
        async () => readConsole(await consoleOf(i)).match(/VHOSTNET-SERVING md5=([0-9a-f]{32}) bytes=(\d+)/) ?? false,
        120000,
        1000,
      );
      assert.equal(Number(m[2]), MIB * 1048576);
      served.push(m[1]);
    }
    for (let i = 0; i < 2; i++) {
      const m = await waitFor(
        `guest ${i} to download ${MIB} MiB from the other`,
        async () => readConsole(await consoleOf(i)).match(/VHOSTNET-FETCHED md5=([0-9a-f]{32}) bytes=(\d+) t0=([\d.]+) t1=([\d.]+)/) ?? false,
        240000,
        1000,
      );
      const log = readConsole(await consoleOf(i));
      const failed = (log.match(/VHOSTNET-FETCH-FAILED/g) ?? []).length;
      const secs = Number(m[4]) - Number(m[3]);
      console.log(
        `      guest ${'ab'[i]} <- ${'ab'[1 - i]}: ${m[2]} bytes in ${secs.toFixed(2)} s (${((Number(m[2]) * 8) / secs / 1e6).toFixed(1)} Mbit/s, TCG guests), ${failed} earlier tries`,
      );
      assert.equal(Number(m[2]), MIB * 1048576, 'bytes received');
      assert.equal(m[1], served[1 - i], 'md5 of what arrived = md5 of what the peer served');
    }
    for (let i = 0; i < 2; i++) {
      const c = agents[i].client;
      const vx = (await c.get<VxlanPortState>('/ports/vx')).status!;
      const g = (await c.get<PortState>('/ports/g')).status!;
      console.log(
        `      host ${'ab'[i]}: tunnel tx ${vx.stats.txPackets} frames, rx ${vx.stats.rxPackets}; drops tunnel ${JSON.stringify(vx.stats.drops)} guest port ${JSON.stringify(g.stats.drops)}`,
      );
      // TSO frames were segmented for the tunnel: more frames left than the guest handed over.
      assert.ok(vx.stats.txPackets > g.stats.rxPackets, `tunnel tx ${vx.stats.txPackets} > guest rx ${g.stats.rxPackets}`);
      for (const d of [vx.stats.drops, g.stats.drops]) {
        assert.equal(d.mtuExceeded, 0, 'frames too long for the underlay');
        assert.equal(d.offloadUnsupported, 0);
        assert.equal(d.malformed, 0);
      }
    }
  });
});
