import { strict as assert } from 'node:assert';
import { chooseAccel } from '../../../datapath/agent/guest/accel';

const usable = () => ({ ok: true as const });
const missing = () => ({ ok: false as const, reason: '/dev/kvm: ENOENT' });

describe('guest/accel', () => {
  it('auto picks TCG when KVM is usable but not trusted (this machine: KVM guests hang)', () => {
    const c = chooseAccel('auto', { kvmUsable: usable, trustKvm: false });
    assert.equal(c.accel, 'tcg');
    assert.match(c.reason, /not trusted/);
  });
  it('auto picks KVM when trusted and usable', () => {
    assert.equal(chooseAccel('auto', { kvmUsable: usable, trustKvm: true }).accel, 'kvm');
  });
  it('auto picks TCG when /dev/kvm is not usable, saying why', () => {
    const c = chooseAccel('auto', { kvmUsable: missing, trustKvm: true });
    assert.equal(c.accel, 'tcg');
    assert.match(c.reason, /ENOENT/);
  });
  it('explicit tcg always wins; explicit kvm wins when usable, else is refused naming the field', () => {
    assert.equal(chooseAccel('tcg', { kvmUsable: usable, trustKvm: true }).accel, 'tcg');
    assert.equal(chooseAccel('kvm', { kvmUsable: usable, trustKvm: false }).accel, 'kvm');
    assert.throws(() => chooseAccel('kvm', { kvmUsable: missing }), /^Error: accel: kvm requested but KVM is not usable \(\/dev\/kvm: ENOENT\)/);
  });
  it('trust defaults to VHOSTNET_TRUST_KVM=1', () => {
    const old = process.env.VHOSTNET_TRUST_KVM;
    try {
      process.env.VHOSTNET_TRUST_KVM = '1';
      assert.equal(chooseAccel('auto', { kvmUsable: usable }).accel, 'kvm');
      delete process.env.VHOSTNET_TRUST_KVM;
      assert.equal(chooseAccel('auto', { kvmUsable: usable }).accel, 'tcg');
    } finally {
      if (old === undefined) delete process.env.VHOSTNET_TRUST_KVM;
      else process.env.VHOSTNET_TRUST_KVM = old;
    }
  });
});
