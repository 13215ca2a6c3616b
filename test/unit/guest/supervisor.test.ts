// Supervisor logic that needs no QEMU run (the real lifecycle is in test/integration/45.guests.supervisor-testpmd).
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { GuestSupervisor, pidMatches, processUptimeSec } from '../../../datapath/agent/guest/supervisor';
import { guestPaths } from '../../../datapath/agent/guest/paths';
import { parseQemuVersion } from '../../../datapath/agent/guest/version';

const spec = {
  name: 'vm1',
  accel: 'tcg',
  boot: { kind: 'kernel', kernel: '/img/vmlinuz' },
  nics: [{ name: 'eth0', socketPath: '/run/p0.sock', mac: '52:54:00:00:00:01' }],
};

describe('guest/supervisor (no QEMU)', () => {
  let dir: string;
  beforeEach(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vhn-sup-'))));
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  const sup = (version = '7.2.22') => new GuestSupervisor({ stateDir: dir, detectVersion: async () => parseQemuVersion(`QEMU emulator version ${version}`) });

  it('refuses a state dir that breaks QEMU options or the socket limit', () => {
    assert.throws(() => new GuestSupervisor({ stateDir: 'rel/dir' }), /stateDir: must be an absolute path/);
    assert.throws(() => new GuestSupervisor({ stateDir: '/a,b' }), /stateDir: must not contain ','/);
    assert.throws(() => new GuestSupervisor({ stateDir: '/' + 'd'.repeat(80) }), /stateDir: must be short enough/);
  });

  it('plan() refuses a QEMU too old for client ports, naming the field and the rule', async () => {
    await assert.rejects(sup('2.6.0').plan(spec), /QEMU 2\.6\.0 cannot run this guest: nics\[\]\.portMode: client ports .* need QEMU >= 2\.7\.0/);
    await assert.rejects(sup().plan({ ...spec, vcpus: 0 }), /invalid GuestVM spec: vcpus: must be >= 1/);
  });

  it("plan() previews the command with the guest's runtime paths", async () => {
    const p = await sup().plan(spec);
    const gp = guestPaths(dir, 'vm1');
    assert.ok(p.command.argv.includes(gp.pidFile));
    assert.ok(p.command.argv.includes(`file:${gp.consoleLog}`));
    assert.equal(p.qemuVersion.major, 7);
  });

  it('adopt() reports a guest that died while the agent was down as crashed (and keeps a stopped one stopped)', async () => {
    const s1 = sup();
    const { command, spec: parsed } = await s1.plan(spec);
    for (const [name, desired] of [
      ['vm1', 'running'],
      ['vm2', 'stopped'],
    ] as const) {
      const gp = guestPaths(dir, name);
      fs.mkdirSync(gp.dir, { recursive: true });
      const saved = { spec: { ...parsed, name }, command, accel: { accel: 'tcg', reason: '' }, qemuVersion: '7.2.22', desired, restarts: 0 };
      fs.writeFileSync(gp.stateFile, JSON.stringify(saved));
      fs.writeFileSync(gp.pidFile, '999999\n'); // no such process
      fs.writeFileSync(gp.consoleLog, '\x1b[2Jboot\nVHOSTNET-HEARTBEAT 3.1\r\n');
    }
    const crashed: string[] = [];
    s1.on('crashed', (s) => crashed.push(s.name));
    const found = await s1.adopt();
    assert.deepEqual(found.map((s) => [s.name, s.state]).sort(), [
      ['vm1', 'crashed'],
      ['vm2', 'stopped'],
    ]);
    const st = s1.status('vm1')!;
    assert.match(st.exitReason!, /exited while the agent was not running/);
    assert.deepEqual(st.lastConsoleLines, ['boot', 'VHOSTNET-HEARTBEAT 3.1']);
    assert.deepEqual(crashed, ['vm1']);
    s1.detach();
  });

  it("pidMatches refuses a live process that is not this guest's QEMU (pid reuse)", () => {
    assert.equal(pidMatches(process.pid, guestPaths(dir, 'vm1')), false);
    const up = processUptimeSec(process.pid);
    assert.ok(up !== undefined && up >= 0 && up < 3600);
  });
});
