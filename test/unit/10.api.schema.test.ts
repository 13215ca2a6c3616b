import { strict as assert } from 'node:assert';
import { BridgeSpec, PORT_REPLACE_FIELDS, PORT_TYPES, PortSpec, SERVER_SOCKET_RULE, SettingsSpec, checkSpec, fieldIssues, portMode } from '../../datapath/api';

function refusal(schema: { safeParse(x: unknown): { success: boolean; error?: unknown } }, input: unknown) {
  const r = schema.safeParse(input);
  assert.equal(r.success, false, `expected ${JSON.stringify(input)} to be refused`);
  return fieldIssues(r.error as never);
}

const client = { name: 'p0', bridge: 'br0', type: 'dpdkvhostuserclient', vhostServerPath: '/tmp/vhost/p0.sock' };

describe('10 API schema: what a user may ask for', () => {
  it('takes the guide quick example port and fills defaults', () => {
    const p = PortSpec.parse(client);
    assert.ok(p.type === 'dpdkvhostuserclient');
    assert.equal(p.queues, 1);
    assert.equal(p.vhostServerPath, '/tmp/vhost/p0.sock');
  });
  for (const [what, name, rule] of [
    ['a slash', 'a/b', "'/'"],
    ['a backslash', 'a\\b', "'/'"],
    ['dot-dot', '..', 'must start with a letter or digit'],
    ['NUL', 'a\0b', 'NUL'],
    ['300 characters', 'x'.repeat(300), 'at most 64'],
    ['nothing', '', 'must not be empty'],
  ] as const) {
    it(`refuses a port name with ${what}, naming the field and the rule`, () => {
      const issues = refusal(PortSpec, { ...client, name });
      assert.ok(
        issues.some((i) => i.field === 'name' && i.rule.includes(rule)),
        JSON.stringify(issues),
      );
    });
  }
  it('refuses multicast and malformed MACs', () => {
    assert.ok(refusal(PortSpec, { ...client, mac: '01:00:5e:00:00:01' }).some((i) => i.field === 'mac' && /unicast/.test(i.rule)));
    assert.ok(refusal(PortSpec, { ...client, mac: '02:00:00:00:00' }).some((i) => i.field === 'mac'));
  });
  it('refuses queues of 0, negative, too many, and numbers as strings', () => {
    for (const q of [0, -1, 17, '2', 1.5])
      assert.ok(
        refusal(PortSpec, { ...client, queues: q }).some((i) => i.field === 'queues'),
        String(q),
      );
  });
  it("refuses n_rxq with the guide's reason", () => {
    const issues = refusal(PortSpec, { ...client, nRxq: 2 });
    assert.ok(issues.some((i) => i.field === 'nRxq' && /negotiated with the guest/.test(i.rule)));
  });
  it('refuses unknown fields by name', () => {
    assert.deepEqual(refusal(BridgeSpec, { name: 'br0', colour: 'red' }), [{ field: 'colour', rule: 'is not a known field' }]);
  });
  it('needs a socket path for client ports and refuses one for server ports', () => {
    assert.ok(refusal(PortSpec, { name: 'p', bridge: 'b', type: 'dpdkvhostuserclient' }).some((i) => i.field === 'vhostServerPath'));
    assert.ok(refusal(PortSpec, { name: 'p', bridge: 'b', type: 'dpdkvhostuser', vhostServerPath: '/tmp/x' }).some((i) => i.field === 'vhostServerPath'));
  });
  it('refuses relative, dotted and over-long socket paths', () => {
    for (const p of ['tmp/x', '/tmp/../etc/x', '/tmp/' + 'x'.repeat(120)])
      assert.ok(
        refusal(PortSpec, { ...client, vhostServerPath: p }).some((i) => i.field === 'vhostServerPath'),
        p,
      );
  });
  it('refuses a vhost-sock-dir that escapes the run dir', () => {
    assert.ok(refusal(SettingsSpec, { vhostSockDir: '../etc' }).some((i) => i.field === 'vhostSockDir'));
    assert.ok(refusal(SettingsSpec, { vhostSockDir: '/etc' }).some((i) => i.field === 'vhostSockDir'));
  });
  it('takes every port type through one union on type, and names type when it is missing or unknown', () => {
    const vx = { name: 'v', bridge: 'b', type: 'vxlan', vni: 5, underlay: { iface: 'eth0', localIp: '169.254.1.1', remoteIp: '169.254.1.2' } };
    assert.equal(PortSpec.parse(vx).type, 'vxlan');
    assert.equal(PortSpec.parse({ name: 's', bridge: 'b', type: 'dpdkvhostuser' }).type, 'dpdkvhostuser');
    assert.deepEqual(checkSpec(PortSpec, { name: 'p', bridge: 'b' }).issues, [{ field: 'type', rule: 'is required' }]);
    assert.equal(PortSpec.parse({ name: 'u', bridge: 'b', type: 'dpdk', devargs: 'net_af_xdp0,iface=eth1' }).type, 'dpdk');
    const unknown = checkSpec(PortSpec, { ...client, type: 'dpdkr' }).issues!;
    assert.equal(unknown.length, 1);
    assert.equal(unknown[0].field, 'type');
    assert.match(unknown[0].rule, /dpdkvhostuserclient.*dpdkvhostuser.*vxlan.*dpdk/);
    // A field of another type is refused by the type's own rule, not by a guess among the members.
    assert.ok(refusal(PortSpec, { ...vx, queues: 2 }).some((i) => i.field === 'queues' && i.rule === 'is not a known field'));
  });
  it('takes an uplink by its devargs: a PCI address or an af_xdp / af_packet vdev over an interface', () => {
    const up = (devargs: string) => ({ name: 'u', bridge: 'b', type: 'dpdk', devargs });
    for (const ok of ['0000:01:00.0', 'net_af_xdp0,iface=eth1', 'net_af_packet3,iface=vhn-up0', 'net_af_xdp,iface=eth0,start_queue=0'])
      assert.equal(checkSpec(PortSpec, up(ok)).issues, undefined, ok);
    for (const bad of ['net_ring0', 'net_af_xdp0', 'net_af_xdp0,iface=a/b', 'net_tap0,iface=eth0', '0000:01:00', 'net_af_packet0,iface'])
      assert.deepEqual(
        checkSpec(PortSpec, up(bad)).issues?.map((i) => i.field),
        ['devargs'],
        bad,
      );
    assert.deepEqual(checkSpec(PortSpec, { ...up('0000:01:00.0'), mtu: 20 }).issues, [{ field: 'mtu', rule: 'must be at least 68' }]);
  });
  it("says why a server port's socket path is refused, and a wrong type apart from a missing field", () => {
    assert.deepEqual(checkSpec(PortSpec, { name: 'p', bridge: 'b', type: 'dpdkvhostuser', vhostServerPath: '/tmp/x' }).issues, [
      { field: 'vhostServerPath', rule: SERVER_SOCKET_RULE },
    ]);
    assert.deepEqual(checkSpec(BridgeSpec, { name: 'b', macAgingSeconds: '300' }).issues, [{ field: 'macAgingSeconds', rule: 'must be a whole number' }]);
    assert.deepEqual(checkSpec(PortSpec, { name: 'p', type: 'dpdkvhostuser' }).issues, [{ field: 'bridge', rule: 'is required' }]);
  });
  it("takes a bridge's MAC table settings, with OVS-like defaults, and refuses bad ones naming the field and the rule", () => {
    const b = BridgeSpec.parse({ name: 'b' });
    assert.equal(b.macTableSize, 4096);
    assert.equal(b.macLimitPerPort, 2048);
    assert.equal(BridgeSpec.parse({ name: 'b', macLimitPerPort: 0 }).macLimitPerPort, 0, '0: no limit');
    assert.deepEqual(checkSpec(BridgeSpec, { name: 'b', macTableSize: 0 }).issues, [{ field: 'macTableSize', rule: 'must be at least 1' }]);
    assert.deepEqual(checkSpec(BridgeSpec, { name: 'b', macTableSize: 8192 }).issues, [
      { field: 'macTableSize', rule: "must be at most 4096 (the entries the datapath's table holds)" },
    ]);
    assert.deepEqual(checkSpec(BridgeSpec, { name: 'b', macLimitPerPort: -1 }).issues, [
      { field: 'macLimitPerPort', rule: 'must be at least 0 (0: no limit)' },
    ]);
    assert.deepEqual(checkSpec(BridgeSpec, { name: 'b', macLimitPerPort: 1.5 }).issues, [{ field: 'macLimitPerPort', rule: 'must be a whole number' }]);
  });
  it("takes a port's own MAC limit on every port type, absent by default", () => {
    assert.equal(PortSpec.parse(client).macLimit, undefined);
    assert.equal(PortSpec.parse({ ...client, macLimit: 10 }).macLimit, 10);
    assert.deepEqual(checkSpec(PortSpec, { ...client, macLimit: 5000 }).issues, [
      { field: 'macLimit', rule: "must be at most 4096 (the entries a bridge's table holds)" },
    ]);
    const vx = { name: 'v', bridge: 'b', type: 'vxlan', vni: 1, underlay: { iface: 'eth0', localIp: '169.254.0.1', remoteIp: '169.254.0.2' } };
    assert.equal(PortSpec.parse({ ...vx, macLimit: 0 }).macLimit, 0);
    assert.deepEqual(checkSpec(PortSpec, { name: 'u', bridge: 'b', type: 'dpdk', devargs: 'net_af_packet0,iface=eth1', macLimit: 'x' }).issues, [
      { field: 'macLimit', rule: 'must be a whole number' },
    ]);
  });
  it('takes an mtu on bridges and vhost-user ports (68..9710, whole), naming the field and the rule', () => {
    const client = { name: 'p', bridge: 'b', type: 'dpdkvhostuserclient', vhostServerPath: '/tmp/p.sock' };
    assert.equal(checkSpec(BridgeSpec, { name: 'b', mtu: 9000 }).issues, undefined);
    assert.equal(checkSpec(PortSpec, { ...client, mtu: 68 }).issues, undefined);
    assert.deepEqual(checkSpec(BridgeSpec, { name: 'b', mtu: 67 }).issues, [{ field: 'mtu', rule: 'must be at least 68 (the smallest IPv4 MTU)' }]);
    assert.deepEqual(checkSpec(PortSpec, { ...client, mtu: 9711 }).issues, [
      { field: 'mtu', rule: 'must be at most 9710 (the longest frame the datapath carries)' },
    ]);
    assert.deepEqual(checkSpec(PortSpec, { ...client, type: 'dpdkvhostuser', vhostServerPath: undefined, mtu: 1500.5 }).issues, [
      { field: 'mtu', rule: 'must be a whole number' },
    ]);
    assert.deepEqual(checkSpec(BridgeSpec, { name: 'b', mtu: '1500' }).issues, [{ field: 'mtu', rule: 'must be a whole number' }]);
  });
  it('has replace fields for every port type, each a field of that type, and one mode per vhost-user type', () => {
    assert.deepEqual(Object.keys(PORT_REPLACE_FIELDS).sort(), [...PORT_TYPES].sort());
    for (const t of PORT_TYPES) for (const f of ['name', 'bridge', 'type']) assert.ok((PORT_REPLACE_FIELDS[t] as readonly string[]).includes(f), `${t} ${f}`);
    assert.ok((PORT_REPLACE_FIELDS.dpdkvhostuserclient as readonly string[]).includes('vhostServerPath'));
    assert.equal(portMode('dpdkvhostuserclient'), 'client');
    assert.equal(portMode('dpdkvhostuser'), 'server');
  });
});
