import { strict as assert } from 'node:assert';
import { parseGuestSpec } from '../../../datapath/api/guest';

const base = () => ({
  name: 'vm1',
  boot: { kind: 'kernel', kernel: '/img/vmlinuz' },
  nics: [{ name: 'eth0', socketPath: '/run/p0.sock', mac: '52:54:00:00:00:01' }],
});

function refused(patch: (s: any) => void, re: RegExp) {
  const s: any = base();
  patch(s);
  assert.throws(() => parseGuestSpec(s), re);
}

describe('GuestSpec', () => {
  it('applies defaults', () => {
    const g = parseGuestSpec(base());
    assert.equal(g.vcpus, 1);
    assert.equal(g.memoryMb, 256);
    assert.equal(g.hugepagesPath, '/dev/hugepages');
    assert.equal(g.machine, 'q35');
    assert.equal(g.accel, 'auto');
    assert.equal(g.restartPolicy, 'never');
    assert.equal(g.dpdkGuest, false);
    assert.deepEqual(g.nics[0], { name: 'eth0', socketPath: '/run/p0.sock', portMode: 'client', mac: '52:54:00:00:00:01', queues: 1, iommu: false });
  });

  it('names the field and the rule for each bad input', () => {
    refused((s) => (s.name = 'Bad Name'), /name: must be 1-31 chars/);
    refused((s) => (s.vcpus = 0), /vcpus: must be >= 1/);
    refused((s) => (s.memoryMb = 257), /memoryMb: must be a multiple of 2/);
    refused((s) => (s.hugepagesPath = 'dev/hugepages'), /hugepagesPath: must be an absolute path/);
    refused((s) => (s.accel = 'hvf'), /accel: must be 'auto', 'kvm' or 'tcg'/);
    refused((s) => (s.boot = { kind: 'pxe' }), /boot\.kind/);
    refused((s) => (s.boot.kernel = 'vmlinuz'), /boot\.kernel: must be an absolute path/);
    refused((s) => (s.boot.append = 'a\nb'), /boot\.append: must not contain NUL or newline/);
    refused((s) => (s.nics[0].mac = '01:00:00:00:00:01'), /nics\[0\]\.mac: must be a unicast MAC/);
    refused((s) => (s.nics[0].socketPath = '/' + 'x'.repeat(120)), /nics\[0\]\.socketPath: must be at most 107 bytes/);
    refused((s) => (s.nics[0].queues = 17), /nics\[0\]\.queues: must be at most 16/);
    refused((s) => (s.nics[0].portMode = 'dpdkvhostuser'), /nics\[0\]\.portMode: must be 'client' or 'server'/);
    refused((s) => (s.restartPolicy = 'unless-stopped'), /restartPolicy: must be 'never', 'on-failure' or 'always'/);
  });

  it('cross-field rules', () => {
    refused((s) => s.nics.push({ ...s.nics[0], mac: '52:54:00:00:00:02' }), /nics\[1\]\.name: must be unique \(same as nics\[0\]\.name\)/);
    refused((s) => s.nics.push({ name: 'eth1', socketPath: '/run/p1.sock', mac: '52:54:00:00:00:01' }), /nics\[1\]\.mac: must be unique/);
    refused((s) => ((s.dpdkGuest = true), (s.nics[0].mrgRxbuf = false)), /nics\[0\]\.mrgRxbuf: must not be false when dpdkGuest is true/);
    refused((s) => ((s.machine = 'pc'), (s.nics[0].iommu = true)), /nics\[0\]\.iommu: needs machine 'q35'/);
    refused((s) => ((s.vcpus = 2), (s.pinning = { vcpus: [[1]] })), /pinning\.vcpus: must have one entry per vCPU \(2\)/);
    refused((s) => (s.pinning = { vcpus: [[-1]] }), /pinning\.vcpus\[0\]\[0\]: must be >= 0/);
  });
});
