// --qemu-user: the 'qemu' backend's command drops to the user (-runas); libvirt's never carries it
// (libvirtd runs QEMU as qemu.conf's user), nor does a command without a user.
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { GuestSupervisor } from '../../../datapath/agent/guest/supervisor';
import { parseQemuVersion } from '../../../datapath/agent/guest/version';

const spec = {
  name: 'vm1',
  accel: 'tcg',
  boot: { kind: 'kernel', kernel: '/img/vmlinuz' },
  nics: [{ name: 'eth0', socketPath: '/run/p0.sock', mac: '52:54:00:00:00:01' }],
};

describe('guest/runas (no QEMU)', () => {
  let dir: string;
  beforeEach(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vhn-runas-'))));
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));
  const sup = (qemuUser?: string) =>
    new GuestSupervisor({ stateDir: dir, qemuUser, detectVersion: async () => parseQemuVersion('QEMU emulator version 7.2.22') });

  it('the qemu backend runs as --qemu-user: -runas USER', async () => {
    const { argv } = (await sup('nobody').plan(spec)).command;
    assert.equal(argv[argv.indexOf('-runas') + 1], 'nobody');
    assert.equal(argv.filter((a) => a === '-runas').length, 1);
  });

  it('no -runas without a user, nor for a libvirt guest', async () => {
    assert.ok(!(await sup().plan(spec)).command.argv.includes('-runas'));
    assert.ok(!(await sup('nobody').plan({ ...spec, backend: 'libvirt' })).command.argv.includes('-runas'));
  });
});
