// The test guest (Debian cloud kernel + busybox initramfs) built by scripts/build-guest-image.sh.
import { execFileSync } from 'node:child_process';
import * as path from 'node:path';

export interface GuestImage {
  dir: string;
  kernel: string;
  initrd: string;
}

let cached: GuestImage | undefined;

/** Builds the image if needed (first time ~3 s, then instant) and returns its paths. */
export function guestImage(): GuestImage {
  if (cached) return cached;
  const script = path.resolve(__dirname, '../../../scripts/build-guest-image.sh');
  const out = execFileSync('bash', [script], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  const dir = out.trim().split('\n').pop()!;
  cached = { dir, kernel: path.join(dir, 'vmlinuz'), initrd: path.join(dir, 'initrd.gz') };
  return cached;
}
