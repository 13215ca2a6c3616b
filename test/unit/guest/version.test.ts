import { strict as assert } from 'node:assert';
import { parseQemuVersion, versionProblems, QemuVersion, requirementsOf } from '../../../datapath/agent/guest/version';

const v = (s: string): QemuVersion => parseQemuVersion(`QEMU emulator version ${s} (test)\nCopyright`);
const none = { vhostUser: false, clientPorts: false, iommu: false };

describe('guest/version', () => {
  it('parses qemu --version output, micro optional', () => {
    const d = parseQemuVersion('QEMU emulator version 7.2.22 (Debian 1:7.2+dfsg-7+deb12u18+b3)\nCopyright (c) 2003-2022');
    assert.deepEqual([d.major, d.minor, d.micro], [7, 2, 22]);
    assert.match(d.text, /^QEMU emulator version 7\.2\.22/);
    assert.deepEqual([v('2.9').major, v('2.9').minor, v('2.9').micro], [2, 9, 0]);
    assert.throws(() => parseQemuVersion('something else'), /no "QEMU emulator version/);
  });

  it('vhost-user: 2.1.3 refused, 2.2.0 allowed', () => {
    const req = { ...none, vhostUser: true };
    assert.match(versionProblems(v('2.1.3'), req).join(), /vhost-user needs QEMU >= 2\.2\.0, found 2\.1\.3/);
    assert.deepEqual(versionProblems(v('2.2.0'), req), []);
  });

  it('client ports (QEMU as server): 2.6.2 refused, 2.7.0 allowed', () => {
    const req = { ...none, vhostUser: true, clientPorts: true };
    assert.match(versionProblems(v('2.6.2'), req).join(), /portMode: client ports .* need QEMU >= 2\.7\.0, found 2\.6\.2/);
    assert.deepEqual(versionProblems(v('2.7.0'), req), []);
  });

  it('vhost IOMMU: 2.6.x not supported, 2.7.0 and 2.9.0 refused (reply-ack bug), 2.9.1 allowed', () => {
    const req = { ...none, vhostUser: true, iommu: true };
    assert.match(versionProblems(v('2.6.0'), req).join(), /iommu: vhost IOMMU needs QEMU >= 2\.9\.1/);
    for (const bad of ['2.7.0', '2.8.1', '2.9.0']) {
      assert.match(versionProblems(v(bad), req).join(), /refused on QEMU 2\.7\.0-2\.9\.0 \(buggy vhost-user reply-ack\)/, bad);
    }
    assert.deepEqual(versionProblems(v('2.9.1'), req), []);
    assert.deepEqual(versionProblems(v('7.2.22'), req), []);
  });

  it('derives requirements from the NICs', () => {
    assert.deepEqual(requirementsOf({ nics: [] }), none);
    assert.deepEqual(requirementsOf({ nics: [{ portMode: 'server', iommu: false }] }), { vhostUser: true, clientPorts: false, iommu: false });
    assert.deepEqual(requirementsOf({ nics: [{ portMode: 'client', iommu: true }] }), { vhostUser: true, clientPorts: true, iommu: true });
  });
});
