// Offloads a guest did not negotiate are done by the datapath. Guest A (Linux, TSO and checksum
// offload as the kernel negotiates them) serves 16 MiB over kernel TCP on bridge br0 to
//  - guest C on the same bridge, started with guest_tso4/tso6/ufo=off and mrg_rxbuf=off: A's TSO
//    frames must reach it segmented to its MTU, whole;
//  - guest B on bridge br1, through a DPDK guest: testpmd (virtio PMD, no rx offloads, so neither
//    guest_csum nor guest_tso) forwarding between its port on br0 and its port on br1 (io mode, as a
//    bump in the wire). testpmd receives A's segments as the datapath made them and passes them on
//    unchanged with no offload flags, so B's kernel checks every TCP and IPv4 checksum in software:
//    one bad checksum is a segment dropped again on every retransmission, and the transfer stalls.
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { VhostUserPortState as PortState } from '../../datapath/api';
import type { GuestVmState as GuestState } from '../../datapath/api';
import { AgentProcess, waitFor } from '../helpers/agent-process';
import { guestImage } from '../helpers/guest-image';
import { ensureHugepages, readConsole } from '../helpers/qemu-guest';
import { TestpmdGuest } from '../helpers/testpmd';

const NET = '169.254.41';
const MIB = 16;

describe('41 guests: offloads a guest did not negotiate are done by the datapath', function () {
  this.timeout(480000);
  let agent: AgentProcess;
  let testpmd: TestpmdGuest | undefined;
  const sock = (n: string) => path.join(agent.dir, 'vm', `${n}.sock`);
  const port = async (n: string) => (await agent.client.get<PortState>(`/ports/${n}`)).status!;
  const consoleOf = async (g: string) => (await agent.client.get<GuestState>(`/guests/${g}`)).status!.consoleLog!;
  const guest = (ip: number, port: string, args: string, nic: object = {}) => {
    const img = guestImage();
    const append = `console=ttyS0 quiet vhostnet.ip=${NET}.${ip}/24 ${args}`;
    return { vcpus: 1, memoryMb: 256, accel: 'tcg', boot: { kind: 'kernel', kernel: img.kernel, initrd: img.initrd, append }, nics: [{ port, ...nic }] };
  };
  const fetched = async (g: string) =>
    waitFor(
      `${g} to download ${MIB} MiB from A`,
      async () => readConsole(await consoleOf(g)).match(/VHOSTNET-FETCHED md5=([0-9a-f]{32}) bytes=(\d+) t0=([\d.]+) t1=([\d.]+)/) ?? false,
      300000,
      1000,
    );
  let served = '';

  before(async () => {
    ensureHugepages();
    agent = await AgentProcess.start({ name: 'offloads' });
    await agent.client.put('/bridges/br0', {});
    await agent.client.put('/bridges/br1', {});
    fs.mkdirSync(path.join(agent.dir, 'vm'), { recursive: true });
    // testpmd creates its sockets (QEMU's role): the agent's ports for it are client ports.
    const starting = TestpmdGuest.start({
      name: `offl-${process.pid}`,
      logDir: agent.dir,
      ports: [
        { path: sock('tp0'), server: true, mac: '02:00:00:00:41:f0' },
        { path: sock('tp1'), server: true, mac: '02:00:00:00:41:f1' },
      ],
    });
    await agent.client.put('/ports/tp0', { bridge: 'br0', type: 'dpdkvhostuserclient', vhostServerPath: sock('tp0') });
    await agent.client.put('/ports/tp1', { bridge: 'br1', type: 'dpdkvhostuserclient', vhostServerPath: sock('tp1') });
    testpmd = await starting;
    await testpmd.startForwarding('io');
    for (const [name, bridge] of [
      ['a', 'br0'],
      ['c', 'br0'],
      ['b', 'br1'],
    ])
      await agent.client.put(`/ports/${name}`, { bridge, type: 'dpdkvhostuserclient', vhostServerPath: sock(name), mac: `02:00:00:00:41:0${name}` });
    await agent.client.put('/guests/vm-a', guest(1, 'a', `vhostnet.serve=${MIB}`));
    await agent.client.put('/guests/vm-c', guest(3, 'c', `vhostnet.fetch=${NET}.1`, { guestTso: false, mrgRxbuf: false }));
    await agent.client.put('/guests/vm-b', guest(2, 'b', `vhostnet.fetch=${NET}.1`));
    const m = await waitFor(
      'A serving',
      async () => readConsole(await consoleOf('vm-a')).match(/VHOSTNET-SERVING md5=([0-9a-f]{32}) bytes=(\d+)/) ?? false,
      120000,
      1000,
    );
    assert.equal(Number(m[2]), MIB * 1048576);
    served = m[1];
  });

  afterEach(async function () {
    if (this.currentTest?.state !== 'failed') return;
    for (const g of ['vm-a', 'vm-b', 'vm-c']) {
      const tail = readConsole(await consoleOf(g).catch(() => ''))
        .split('\n')
        .filter((l) => !/HEARTBEAT/.test(l))
        .slice(-8)
        .join('\n');
      console.log(`--- ${g}:\n${tail}`);
    }
    for (const p of ['a', 'b', 'c', 'tp0', 'tp1']) console.log(`--- port ${p}: ${JSON.stringify((await port(p).catch(() => undefined))?.stats)}`);
  });

  after(async () => {
    for (const g of ['vm-a', 'vm-b', 'vm-c']) await agent?.client.delete(`/guests/${g}`).catch(() => undefined);
    await testpmd?.stop().catch(() => undefined);
    await agent?.stop();
    if (agent) fs.rmSync(agent.dir, { recursive: true, force: true });
  });

  it("a guest without guest_tso4 and mrg_rxbuf receives the sender's TSO traffic whole, in frames of its MTU", async () => {
    const c = await port('c');
    assert.ok(!c.features.negotiatedNames.includes('guest_tso4') && !c.features.negotiatedNames.includes('mrg_rxbuf'), c.features.negotiatedNames.join(' '));
    const a = await port('a');
    assert.ok(a.features.negotiatedNames.includes('host_tso4'), 'the sender negotiated TSO');
    const m = await fetched('vm-c');
    const secs = Number(m[4]) - Number(m[3]);
    console.log(`      C <- A: ${m[2]} bytes in ${secs.toFixed(2)} s (${((Number(m[2]) * 8) / secs / 1e6).toFixed(1)} Mbit/s, TCG guests)`);
    assert.equal(Number(m[2]), MIB * 1048576, 'bytes received');
    assert.equal(m[1], served, 'md5 of what arrived = md5 of what A served');
    const [sa, sc] = [(await port('a')).stats, (await port('c')).stats];
    console.log(
      `      A handed over ${sa.rxPackets} frames (${Math.round(sa.rxBytes / sa.rxPackets)} B average); C got ${sc.txPackets} (${Math.round(sc.txBytes / sc.txPackets)} B average); drops to C ${JSON.stringify(sc.drops)}`,
    );
    assert.ok(sa.rxBytes / sa.rxPackets > 1518, 'A sent GSO frames larger than its MTU');
    assert.ok(sc.txBytes / sc.txPackets <= 1518, 'C only got frames of its MTU');
    assert.equal(sc.drops.mtuExceeded + sc.drops.offloadUnsupported, 0);
  });

  it("a DPDK guest (testpmd, no offloads) receives A's TCP as checksummed segments; B, behind it, gets all 16 MiB", async () => {
    const tp0 = await port('tp0');
    assert.ok(
      !tp0.features.negotiatedNames.includes('guest_csum') && !tp0.features.negotiatedNames.includes('guest_tso4'),
      tp0.features.negotiatedNames.join(' '),
    );
    const m = await fetched('vm-b');
    const secs = Number(m[4]) - Number(m[3]);
    console.log(`      B <- testpmd <- A: ${m[2]} bytes in ${secs.toFixed(2)} s (${((Number(m[2]) * 8) / secs / 1e6).toFixed(1)} Mbit/s, TCG guests)`);
    assert.equal(Number(m[2]), MIB * 1048576, 'bytes received');
    assert.equal(m[1], served, 'md5 of what arrived = md5 of what A served');
    const pmd = await testpmd!.counters();
    const s = (await port('tp0')).stats;
    console.log(`      testpmd port 0 received ${pmd[0].rxPackets} frames, ${pmd[0].rxBytes} bytes; drops to it ${JSON.stringify(s.drops)}`);
    assert.ok(pmd[0].rxBytes >= MIB * 1048576, 'testpmd received the whole stream');
    assert.ok(pmd[0].rxBytes / pmd[0].rxPackets <= 1518, 'in frames of its MTU');
    assert.equal(s.drops.mtuExceeded + s.drops.offloadUnsupported, 0);
  });
});
