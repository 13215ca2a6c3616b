// examples/network as written (one VhostNetwork) under the real engine and a real agent: two
// QEMU guests that ping each other, a second preview with no changes, destroy leaves nothing.
import { strict as assert } from 'node:assert';
import * as path from 'node:path';
import type { GuestNetworkOutputs } from '../../components';
import type { AgentProcess } from '../helpers/agent-process';
import { guestStack, type GuestStack } from '../helpers/guest-stack';
import { EXAMPLES, type EngineStack } from '../helpers/pulumi-stack';
import { guestPings } from '../helpers/qemu-guest';

describe('60 components: VhostNetwork (examples/network) with the real engine', function () {
  this.timeout(600000);
  let agent: AgentProcess;
  let s: EngineStack;
  let g: GuestStack | undefined;

  before(async () => {
    g = await guestStack('network', path.join(EXAMPLES, 'network'));
    ({ agent, stack: s } = g);
  });
  after(async () => {
    await g?.cleanup();
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
    assert.ok(
      guests.vm1.qemuCommand.some((a) => a.includes(guests.vm1.sockets[0]) && /server=on/.test(a)),
      guests.vm1.qemuCommand.join(' '),
    );
    assert.match(guests.vm2.libvirtXml, /<interface type='vhostuser'>[\s\S]*mode='server'/);
    const st = await agent.client.get<{ bridges: { name: string }[]; ports: { name: string; bridge: string }[] }>('/state');
    assert.deepEqual(
      st.bridges.map((b) => b.name),
      ['br0'],
    );
    assert.deepEqual(st.ports.map((p) => `${p.bridge}/${p.name}`).sort(), ['br0/vm1-eth0', 'br0/vm2-eth0']);
    const { waitReplies } = guestPings(() => agent.client, '169.254.100');
    await waitReplies('vm1', 2, 3, 180000);
    await waitReplies('vm2', 1, 3, 60000);
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
