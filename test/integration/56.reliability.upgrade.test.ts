// Stored state across releases: this release's agent starts on the state directory a 0.1.0 agent
// left (test/fixtures/store-0.1.0, made by that release: scripts/make-store-fixture.sh), with the
// guest that agent started still running, as on a host being upgraded. The store is migrated,
// every object reads back as 0.1.0 showed it, the datapath is rebuilt, the guest is adopted.
import { strict as assert } from 'node:assert';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { CLOSE_INHERITED_FDS } from '../../datapath/agent/guest/supervisor';
import { SCHEMA_VERSION } from '../../datapath/agent/store';
import { AgentProcess, waitFor } from '../helpers/agent-process';
import { NS, makeHosts, removeHosts } from '../helpers/netns-hosts';
import { readConsole } from '../helpers/qemu-guest';
import { FIXTURE, linkGuestImage, storedObjects } from '../fixtures/make-store-fixture';

const FIXTURE_DIR = path.resolve(__dirname, '../../../test/fixtures/store-0.1.0');

// br0 has the tunnel vx over the 1600-byte veth: since 0.2 its guest port takes 1600 - 50.
const HOST_MTU = ',host_mtu=1550';
const onBr0Device = (argv: string[]) => argv.map((a) => (a.startsWith('virtio-net-pci,') && a.includes('netdev=net-vm0p') ? a + HOST_MTU : a));

/**
 * Fields a later release renders differently on purpose, by kind: `${kind}.${field}` -> why, and
 * what 0.1.0's value must read as now (compared exactly). Otherwise this release shows every
 * 0.1.0 field as 0.1.0 did.
 */
const CHANGED_ON_PURPOSE: Record<string, { why: string; now: (was: unknown, o: Obj) => unknown }> = {
  'ports.qemuArgs': {
    why: "a port on a bridge with a tunnel tells its guest the bridge's MTU (underlay - 50) as host_mtu",
    now: (was, o) => (o.bridge === 'br0' ? onBr0Device(was as string[]) : was),
  },
  'guests.qemuCommand': { why: "the guest's NIC takes its port's MTU (host_mtu)", now: (was) => onBr0Device(was as string[]) },
  'guests.libvirtXml': {
    why: "the guest's NIC takes its port's MTU (<mtu size>)",
    now: (was) => (was as string).replace("      <model type='virtio'/>\n", "      <model type='virtio'/>\n      <mtu size='1550'/>\n"),
  },
};

/** Live values the API shows beside the stored ones: they follow the host, not the store. */
const LIVE: Record<string, string> = { 'settings.running': "what this datapath started with (from this host's CPUs and hugepages)" };

type Obj = Record<string, unknown> & { name?: string };

describe('56 reliability: an agent of this release on the state a 0.1.0 agent left', function () {
  this.timeout(300000);
  const { dir } = FIXTURE;
  const stateDir = path.join(dir, 'state');
  const expected = JSON.parse(fs.readFileSync(path.join(FIXTURE_DIR, 'expected.json'), 'utf8')) as { release: string; objects: Record<string, Obj | Obj[]> };
  const saved = JSON.parse(fs.readFileSync(path.join(FIXTURE_DIR, 'state', 'guests', FIXTURE.guest, 'guest.json'), 'utf8')) as {
    command: { binary: string; argv: string[] };
  };
  const guestDir = path.join(stateDir, 'guests', FIXTURE.guest);
  let agent: AgentProcess | undefined;
  let qemuPid = 0;
  const guest = async () =>
    (await agent!.client.get<{ status: { state: string; pid: number; adopted: boolean; consoleLog: string } }>(`/guests/${FIXTURE.guest}`)).status;

  before(async () => {
    fs.rmSync(dir, { recursive: true, force: true });
    fs.mkdirSync(path.join(dir, 'vm'), { recursive: true });
    fs.cpSync(path.join(FIXTURE_DIR, 'state'), stateDir, { recursive: true });
    fs.chmodSync(stateDir, 0o700);
    linkGuestImage();
    makeHosts();
    // The guest 0.1.0's agent left running: QEMU with the command that agent saved for it,
    // spawned as its supervisor does (own session, no inherited fds, output to its stderr log).
    const err = fs.openSync(path.join(guestDir, 'qemu.stderr.log'), 'a');
    const q = spawn('/bin/bash', ['-c', CLOSE_INHERITED_FDS, saved.command.binary, ...saved.command.argv], { detached: true, stdio: ['ignore', err, err] });
    fs.closeSync(err);
    q.unref();
    qemuPid = q.pid!;
    await waitFor('QEMU to write its pidfile', async () => fs.existsSync(path.join(guestDir, 'qemu.pid')), 10000, 50);
    assert.equal(Number(fs.readFileSync(path.join(guestDir, 'qemu.pid'), 'utf8')), qemuPid);
    agent = await AgentProcess.start({ name: FIXTURE.agentName, dir, netns: NS[0] });
  });

  after(async () => {
    await agent?.client.delete(`/guests/${FIXTURE.guest}`).catch(() => undefined);
    try {
      process.kill(qemuPid, 'SIGKILL');
    } catch {
      /* stopped through the API */
    }
    await agent?.stop();
    removeHosts();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it("the store went from schema 0 (0.1.0 kept none) to this release's, a copy of the old one kept", async () => {
    // user_version, read off the file's header (offset 60): opening it would write beside the fixture.
    const fixtureVersion = fs.readFileSync(path.join(FIXTURE_DIR, 'state', 'state.db')).readUInt32BE(60);
    const migrated = new DatabaseSync(path.join(stateDir, 'state.db'));
    assert.equal((migrated.prepare('PRAGMA user_version').get() as { user_version: number }).user_version, SCHEMA_VERSION, 'the copy the agent runs on');
    migrated.close();
    assert.equal(expected.release, '0.1.0');
    assert.equal(fixtureVersion, 0);
    const h = await agent!.client.get<{ schemaVersion: number }>('/health');
    assert.equal(h.schemaVersion, SCHEMA_VERSION);
    assert.ok(h.schemaVersion > fixtureVersion, `schema ${h.schemaVersion} > ${fixtureVersion}`);
    assert.ok(fs.existsSync(path.join(stateDir, 'state.db.schema-0')), 'state.db.schema-0 kept for going back to 0.1.0');
    assert.match(fs.readFileSync(path.join(dir, 'agent.log'), 'utf8'), /store: schema 0 -> 1: /);
  });

  it('settings, bridges, ports, the tunnel, the hugepage config and the guest read back field by field', async () => {
    const now = await storedObjects(agent!);
    const compare = (kind: string, was: Obj, is: Obj | undefined) => {
      assert.ok(is, `${kind} ${was.name ?? ''} is still there`);
      for (const field of Object.keys(was)) {
        if (LIVE[`${kind}.${field}`]) continue;
        const changed = CHANGED_ON_PURPOSE[`${kind}.${field}`];
        const want = changed ? changed.now(was[field], was) : was[field];
        assert.deepEqual(is[field], want, `${kind} ${was.name ?? ''}: field ${field}${changed ? ` (${changed.why})` : ''}`);
      }
    };
    compare('settings', expected.objects.settings as Obj, now.settings as Obj);
    for (const kind of ['bridges', 'ports', 'hugepages', 'guests']) {
      const was = expected.objects[kind] as Obj[];
      const is = now[kind] as Obj[];
      assert.deepEqual(
        is.map((o) => o.name),
        was.map((o) => o.name),
        `${kind}: the same names`,
      );
      for (const o of was)
        compare(
          kind,
          o,
          is.find((x) => x.name === o.name),
        );
    }
    // What the fixture holds, so that a fixture missing a kind cannot pass.
    const ports = expected.objects.ports as Obj[];
    assert.deepEqual(ports.map((p) => p.type).sort(), ['dpdkvhostuser', 'dpdkvhostuserclient', 'vxlan']);
    assert.equal((expected.objects.settings as Obj).vhostSockDir, 'sock');
    assert.equal((expected.objects.bridges as Obj[]).find((b) => b.name === 'br0')!.version, 2);
    assert.equal((expected.objects.hugepages as Obj[]).length, 1);
    assert.equal((expected.objects.guests as Obj[]).length, 1);
  });

  it("the datapath has every port again: the guest's and the tunnel are up, the server port listens where it did", async () => {
    type P = { name: string; socketPath?: string; status?: { link: string; socketPath?: string; stats: { txPackets: number } } };
    const ports = await waitFor(
      'the guest port and the tunnel up',
      async () => {
        const ps = await agent!.client.get<P[]>('/ports');
        return ps.find((p) => p.name === 'vm0p')?.status?.link === 'up' && ps.find((p) => p.name === 'vx')?.status?.link === 'up' && ps;
      },
      60000,
      500,
    );
    const srv = ports.find((p) => p.name === 'srv0')!;
    assert.equal(srv.socketPath, path.join(dir, 'run', 'sock', 'srv0'));
    assert.ok(fs.statSync(srv.socketPath!).isSocket(), "the server port's socket exists");
    const br0 = await agent!.client.get<{ ports: string[] }>('/bridges/br0');
    assert.deepEqual([...br0.ports].sort(), ['vm0p', 'vx']);
    // The guest pings a peer no one plays: its ARP requests flood br0, into the tunnel.
    const tx0 = ports.find((p) => p.name === 'vx')!.status!.stats.txPackets;
    await waitFor(
      "the guest's frames to leave through the tunnel",
      async () => (await agent!.client.get<P>('/ports/vx')).status!.stats.txPackets > tx0,
      30000,
      500,
    );
  });

  it('the guest 0.1.0 left running was adopted, not restarted: the same QEMU, booted once', async () => {
    const s = await waitFor('the guest running', async () => {
      const g = await guest();
      return g.state === 'running' && g;
    });
    assert.equal(s.pid, qemuPid, 'the QEMU 0.1.0 started');
    assert.equal(s.adopted, true);
    await waitFor('the guest to boot', async () => /VHOSTNET-READY/.test(readConsole(s.consoleLog)), 90000, 500);
    assert.equal((readConsole(s.consoleLog).match(/VHOSTNET-READY/g) ?? []).length, 1, 'booted once');
  });

  it('across a SIGKILL and restart of this agent the guest keeps running: same pid, adopted again', async () => {
    const log = (await guest()).consoleLog;
    await agent!.restart();
    const s = await guest();
    assert.equal(s.pid, qemuPid);
    assert.equal(s.adopted, true);
    // An adopted guest reads 'starting' until the new agent's QMP connection is up (a loaded host
    // takes a moment), then 'running': the same process throughout.
    const settled = await waitFor('the adopted guest running', async () => {
      const g = await guest();
      return g.state !== 'starting' && g;
    });
    assert.equal(settled.state, 'running');
    assert.equal(settled.pid, qemuPid);
    const beats = () => [...readConsole(log).matchAll(/VHOSTNET-HEARTBEAT (\d+)/g)].map((m) => Number(m[1]));
    const n = beats().length;
    await waitFor('another heartbeat', async () => beats().length > n, 30000, 500);
    assert.ok(
      beats().every((b, i, a) => i === 0 || b >= a[i - 1]),
      'the guest uptime never went back',
    );
    assert.equal((readConsole(log).match(/VHOSTNET-READY/g) ?? []).length, 1, 'booted once');
    assert.equal((await agent!.client.get<{ schemaVersion: number }>('/health')).schemaVersion, SCHEMA_VERSION, 'no migration the second time');
  });
});
