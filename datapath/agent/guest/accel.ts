// Accelerator choice: KVM or TCG.
//
// Why "auto" does not simply use KVM when /dev/kvm exists: on some hosts (nested virt, this
// project's CI machine) /dev/kvm opens fine but a KVM guest hangs right after kernel
// decompression, while TCG boots the same kernel in ~2 s. A hung guest is worse than a slow
// one, so auto picks KVM only when the operator says KVM works here (AccelOptions.trustKvm,
// the agent's config / VHOSTNET_TRUST_KVM=1) and /dev/kvm is usable; otherwise TCG.
// An explicit accel in the spec always wins.
import * as fs from 'node:fs';

export type Accel = 'kvm' | 'tcg';

export interface AccelChoice {
  accel: Accel;
  /** One sentence for the guest's notes. */
  reason: string;
}

export interface AccelOptions {
  /** The operator asserts KVM guests boot on this host. Default: VHOSTNET_TRUST_KVM=1 in the environment. */
  trustKvm?: boolean;
  /** Checks /dev/kvm; injectable for tests. */
  kvmUsable?: () => { ok: true } | { ok: false; reason: string };
}

export function kvmDeviceUsable(dev = '/dev/kvm'): { ok: true } | { ok: false; reason: string } {
  try {
    fs.accessSync(dev, fs.constants.R_OK | fs.constants.W_OK);
    return { ok: true };
  } catch (e) {
    return { ok: false, reason: `${dev}: ${(e as NodeJS.ErrnoException).code ?? String(e)}` };
  }
}

export function chooseAccel(requested: 'auto' | 'kvm' | 'tcg', opts: AccelOptions = {}): AccelChoice {
  const probe = opts.kvmUsable ?? (() => kvmDeviceUsable());
  const trust = opts.trustKvm ?? process.env.VHOSTNET_TRUST_KVM === '1';
  if (requested === 'tcg') return { accel: 'tcg', reason: 'accel: tcg as requested' };
  const kvm = probe();
  if (requested === 'kvm') {
    if (!kvm.ok) throw new Error(`accel: kvm requested but KVM is not usable (${kvm.reason})`);
    return { accel: 'kvm', reason: 'accel: kvm as requested' };
  }
  if (!kvm.ok) return { accel: 'tcg', reason: `accel: auto chose tcg because KVM is not usable (${kvm.reason})` };
  if (!trust) {
    return {
      accel: 'tcg',
      reason: 'accel: auto chose tcg because KVM is not trusted on this host (set trustKvm / VHOSTNET_TRUST_KVM=1 once a KVM guest is known to boot here)',
    };
  }
  return { accel: 'kvm', reason: 'accel: auto chose kvm (/dev/kvm usable and trusted by config)' };
}
