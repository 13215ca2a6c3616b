// VhostNetwork's plan and wiring with the engine mocked (pulumi.runtime.setMocks): what children
// it declares, with which inputs, and the argument-naming refusals of its converters.
import { strict as assert } from 'node:assert';
import * as pulumi from '@pulumi/pulumi';
import { VhostNetwork, VhostNetworkArgError, nicList, planNetwork, type GuestNetworkOutputs, type VhostNetworkArgs } from '../../components';

interface Made {
  type: string;
  name: string;
  inputs: Record<string, unknown>;
}

const made: Made[] = [];

/**
 * The MAC the mocked agent gives each port declared without one: a table here, not a rule the
 * component or the agent shares, so the expected values below cannot follow the code they check.
 */
const AGENT_MACS: Record<string, string> = { 'vm1-eth0': '02:00:00:60:00:01', custom: '02:00:00:60:00:03' };

const boot = { kind: 'kernel' as const, kernel: '/k', initrd: '/i' };
const args = (extra: Partial<VhostNetworkArgs> = {}): VhostNetworkArgs => ({
  bridge: 'br0',
  socketDir: '/tmp/vhostnet',
  guests: { vm1: { memoryMb: 256, boot }, vm2: { boot, nics: [{ queues: 2, mac: '02:00:00:00:00:22' }, { port: 'custom' }] } },
  ...extra,
});

function outputOf<T>(o: pulumi.Output<T>): Promise<T> {
  return new Promise((resolve) => o.apply((v) => resolve(v)));
}

describe('60 components: VhostNetwork (mocked engine)', () => {
  before(() => {
    pulumi.runtime.setMocks(
      {
        newResource: (a) => {
          made.push({ type: a.type, name: a.name, inputs: a.inputs });
          const i = a.inputs;
          // What the agent would answer: a socket, a MAC, the guest's command line.
          const extra =
            'vhostServerPath' in i
              ? { socketPath: i.vhostServerPath, macAddress: i.mac ?? AGENT_MACS[i.name] ?? `no MAC for ${i.name} in AGENT_MACS` }
              : 'boot' in i
                ? { qemuCommand: ['qemu-system-x86_64', '-name', i.name], libvirtXml: `<domain><name>${i.name}</name></domain>` }
                : {};
          return { id: `${a.name}-id`, state: { ...i, ...extra } };
        },
        call: () => ({}),
      },
      'proj',
      'stack',
      false,
    );
  });

  it('declares bridge, hugepages, one client port per NIC and the guests, with their inputs', async () => {
    made.length = 0;
    const net = new VhostNetwork('net', args({ hugepages: { pages: 512, mountPath: '/dev/hugepages' }, connection: { endpoint: 'unix:/run/h1.sock' } }));
    const guests = await outputOf(net.guests);
    const byName = new Map(made.map((m) => [m.name, m]));
    assert.deepEqual([...byName.keys()].sort(), ['net', 'net-br0', 'net-custom', 'net-hugepages', 'net-vm1', 'net-vm1-eth0', 'net-vm2', 'net-vm2-eth0']);
    assert.equal(byName.get('net')!.type, 'vhostnet:index:VhostNetwork');
    assert.equal(byName.get('net-br0')!.inputs.name, 'br0');
    const p = byName.get('net-vm2-eth0')!.inputs;
    assert.deepEqual(
      [p.name, p.bridge, p.vhostServerPath, p.queues, p.mac, p.agentEndpoint],
      ['vm2-eth0', 'br0', '/tmp/vhostnet/vm2-eth0', 2, '02:00:00:00:00:22', 'unix:/run/h1.sock'],
    );
    assert.equal(byName.get('net-custom')!.inputs.vhostServerPath, '/tmp/vhostnet/custom');
    const vm2 = byName.get('net-vm2')!.inputs;
    assert.equal(vm2.hugepagesPath, '/dev/hugepages');
    assert.deepEqual(
      (vm2.nics as { port: string; queues?: number }[]).map((n) => [n.port, n.queues ?? 1]),
      [
        ['vm2-eth0', 2],
        ['custom', 1],
      ],
    );
    assert.equal(byName.get('net-hugepages')!.inputs.pages, 512);
    // Each guest's MACs, in NIC order: the agent's answer for a port declared without one, the
    // declared MAC otherwise, as literals.
    const expected: GuestNetworkOutputs = {
      ports: ['vm1-eth0'],
      sockets: ['/tmp/vhostnet/vm1-eth0'],
      macs: ['02:00:00:60:00:01'],
      qemuCommand: ['qemu-system-x86_64', '-name', 'vm1'],
      libvirtXml: '<domain><name>vm1</name></domain>',
    };
    assert.deepEqual(guests.vm1, expected);
    assert.deepEqual(guests.vm2.ports, ['vm2-eth0', 'custom']);
    assert.deepEqual(guests.vm2.sockets, ['/tmp/vhostnet/vm2-eth0', '/tmp/vhostnet/custom']);
    assert.deepEqual(guests.vm2.macs, ['02:00:00:00:00:22', '02:00:00:60:00:03']);
  });

  it('a guest with nics: 0 gets no ports; nics: N gets N single-queue ports', () => {
    assert.deepEqual(nicList('n', 'g', 0), []);
    assert.deepEqual(nicList('n', 'g', 2), [{}, {}]);
    assert.deepEqual(nicList('n', 'g', undefined), [{}]);
    const plan = planNetwork('n', args({ guests: { a: { boot, nics: 0 }, b: { boot, nics: 3 } } }));
    assert.deepEqual(
      plan.ports.map((p) => p.name),
      ['b-eth0', 'b-eth1', 'b-eth2'],
    );
    assert.deepEqual(
      plan.guests.map((g) => [g.name, g.ports.length]),
      [
        ['a', 0],
        ['b', 3],
      ],
    );
  });

  it('refuses bad arguments, naming the component, the argument and the rule', () => {
    const cases: [Partial<VhostNetworkArgs>, RegExp][] = [
      [{ bridge: 'br/0' }, /^VhostNetwork 'net': bridge must not contain '\/'/],
      [{ bridge: undefined as unknown as string }, /bridge must be a plain string/],
      [{ socketDir: 'relative' }, /socketDir must be an absolute path/],
      [{ socketDir: `/${'d'.repeat(100)}` }, /guests\.vm1\.nics\[0\] socket .* must be at most 107 bytes/],
      [{ hugepages: { pages: -1 } }, /hugepages\.pages must be a whole number >= 0/],
      [{ guests: [] as unknown as VhostNetworkArgs['guests'] }, /guests must be an object of guests by name/],
      [{ guests: { 'bad name': { boot } } }, /guests\.bad name \(its name\) must start with a letter or digit/],
      [{ guests: { vm: {} as VhostNetworkArgs['guests'][string] } }, /guests\.vm\.boot is required/],
      [{ guests: { vm: { boot, nics: 1.5 } } }, /guests\.vm\.nics must be a whole number from 0 to 32/],
      [{ guests: { vm: { boot, nics: [{ queues: 0 }] } } }, /guests\.vm\.nics\[0\]\.queues must be at least 1/],
      [{ guests: { vm: { boot, nics: [{ queues: 17 }] } } }, /guests\.vm\.nics\[0\]\.queues must be at most 16/],
      [{ guests: { vm: { boot, nics: [{ mac: '01:00:5e:00:00:01' }] } } }, /guests\.vm\.nics\[0\]\.mac must be a unicast MAC/],
      [{ guests: { vm: { boot, nics: [{ mac: 'xx' }] } } }, /guests\.vm\.nics\[0\]\.mac must be a MAC address/],
      [
        { guests: { a: { boot, nics: [{ port: 'p' }] }, b: { boot, nics: [{ port: 'p' }] } } },
        /guests\.b\.nics\[0\]\.port must be unique \(guests\.a\.nics\[0\] has p already\)/,
      ],
      [{ guests: { a: { boot, nics: [{ mac: '02:00:00:00:00:01' }, { mac: '02:00:00:00:00:01' }] } } }, /guests\.a\.nics\[1\]\.mac must be unique/],
    ];
    for (const [extra, re] of cases) {
      assert.throws(
        () => planNetwork('net', args(extra)),
        (e: Error) => {
          assert.ok(e instanceof VhostNetworkArgError, `${e.name}: ${e.message}`);
          assert.match(e.message, re);
          return true;
        },
        JSON.stringify(extra),
      );
    }
  });

  it('the constructor refuses before declaring any child', () => {
    made.length = 0;
    assert.throws(
      () => new VhostNetwork('bad', args({ guests: { vm: { boot, nics: [{ queues: 0 }] } } })),
      /VhostNetwork 'bad': guests\.vm\.nics\[0\]\.queues/,
    );
    assert.deepEqual(
      made.filter((m) => m.name !== 'bad'),
      [],
    );
  });
});
