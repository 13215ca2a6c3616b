// examples/network as written (one VhostNetwork) under the real engine and a real agent: two
// QEMU guests that ping each other, a second preview with no changes, destroy leaves nothing.
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { GuestState } from '../../datapath/agent/guests';
import type { GuestNetworkOutputs } from '../../components';
import { AgentProcess, waitFor } from '../helpers/agent-process';
import { guestImage } from '../helpers/guest-image';
import { EXAMPLES, engineStack, type EngineStack } from '../helpers/pulumi-stack';
import { pingReplies } from '../helpers/qemu-guest';

describe('60 components: VhostNetwork (examples/network) with the real engine', function () {
  this.timeout(600000);
  let agent: AgentProcess;
  let s: EngineStack;
  const nrHugepages = () => Number(fs.readFileSync('/proc/sys/vm/nr_hugepages', 'utf8'));

  before(async () => {
    agent = await AgentProcess.start({ name: 'enet' });
    const img = guestImage();
    s = await engineStack('network', path.join(EXAMPLES, 'network'), {
      'vhostnet:endpoint': `unix:${agent.socket}`,
      kernel: img.kernel,
      initrd: img.initrd,
      socketDir: path.join(agent.dir, 'vm'),
      hugepages: nrHugepages() + 8,
    });
  });
  after(async () => {
    await s?.stack.destroy().catch(() => undefined);
    await agent?.stop();
    await s?.remove();
    if (agent) fs.rmSync(agent.dir, { recursive: true, force: true });
  });

  it('up makes the bridge, ports, hugepages and two guests that ping each other; outputs per guest', async () => {
    const up = await s.stack.up();
    // stack + component + bridge + hugepages + 2 ports + 2 guests
    assert.equal(up.summary.resourceChanges?.create, 8, JSON.stringify(up.summary.resourceChanges));
    const guests = up.outputs.guests.value as Record<string, GuestNetworkOutputs>;
    assert.deepEqual(Object.keys(guests).sort(), ['vm1', 'vm2']);
    assert.deepEqual(guests.vm1.ports, ['vm1-eth0']);
    assert.deepEqual(guests.vm1.sockets, [path.join(agent.dir, 'vm', 'vm1-eth0')]);
    assert.match(guests.vm1.macs[0], /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/);
    assert.ok(guests.vm1.qemuCommand.some((a) => a.includes(guests.vm1.sockets[0]) && /server=on/.test(a)), guests.vm1.qemuCommand.join(' '));
    assert.match(guests.vm2.libvirtXml, /<interface type='vhostuser'>[\s\S]*mode='server'/);
    const st = await agent.client.get<{ bridges: { name: string }[]; ports: { name: string; bridge: string }[] }>('/state');
    assert.deepEqual(st.bridges.map((b) => b.name), ['br0']);
    assert.deepEqual(st.ports.map((p) => `${p.bridge}/${p.name}`).sort(), ['br0/vm1-eth0', 'br0/vm2-eth0']);
    const consoleOf = async (n: string) => (await agent.client.get<GuestState>(`/guests/${n}`)).status!.consoleLog;
    await waitFor('vm1 pings vm2', async () => pingReplies(await consoleOf('vm1'), '169.254.100.2') >= 3, 180000, 500);
    await waitFor('vm2 pings vm1', async () => pingReplies(await consoleOf('vm2'), '169.254.100.1') >= 3, 60000, 500);
  });

  it('a second preview has no changes', async () => {
    const again = await s.stack.preview({ expectNoChanges: true });
    assert.deepEqual(Object.keys(again.changeSummary), ['same']);
  });

  it('destroy leaves the agent empty', async () => {
    await s.stack.destroy();
    const st = await agent.client.get<{ bridges: unknown[]; ports: unknown[]; guests: unknown[]; hugepages: unknown[] }>('/state');
    assert.deepEqual([st.bridges, st.ports, st.guests, st.hugepages], [[], [], [], []]);
  });
});
