// Where a guest's files and hugetlbfs mounts may be. QEMU runs as root under the agent: a disk
// image of /dev/sda, or a hugetlbfs mounted over /etc, would be the host's undoing. So each such
// path must be in a directory the operator configured (--image-dir, --hugepages-dir), followed
// through symlinks, and a block device is refused unless --allow-block-devices says otherwise.
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { FieldIssue } from '../api';

export interface FilePolicy {
  /** Directories disk images, kernels and initrds may be in. */
  imageDirs: string[];
  /** Directories (or mount points) a guest's hugepagesPath and a HugepageConfig's mountPath may be. */
  hugepageDirs: string[];
  /** Whether a disk image may be a block device. */
  allowBlockDevices: boolean;
}

/** What a Debian-packaged agent allows: its own images directory, and the usual hugetlbfs mount points. */
export const DEFAULT_IMAGE_DIRS = ['/var/lib/vhostnet/images'];
export const DEFAULT_HUGEPAGE_DIRS = ['/dev/hugepages', '/dev/hugepages1G', '/mnt/huge', '/run/vhostnet-hugepages'];

export const defaultFilePolicy = (): FilePolicy => ({ imageDirs: DEFAULT_IMAGE_DIRS, hugepageDirs: DEFAULT_HUGEPAGE_DIRS, allowBlockDevices: false });

/** The path as the kernel resolves it: symlinks of the part that exists followed, the rest appended. */
function resolved(p: string): string {
  const rest: string[] = [];
  for (let at = path.resolve(p); ; at = path.dirname(at)) {
    try {
      return path.join(fs.realpathSync(at), ...rest.reverse());
    } catch {
      if (at === '/') return path.resolve(p);
      rest.push(path.basename(at));
    }
  }
}

const inside = (p: string, dir: string) => p === dir || p.startsWith(dir === '/' ? '/' : dir + path.sep);

/**
 * Why p may not be used as field, or undefined. kind 'file': a regular file (or a block device
 * when allowed) inside dirs; 'dir': a directory (or not there yet, the agent creates it) inside dirs.
 */
export function filePathIssue(field: string, p: string, dirs: string[], kind: 'file' | 'dir', flag: string, allowBlock = false): FieldIssue | undefined {
  const real = resolved(p);
  const where = dirs.map((d) => resolved(d));
  if (!where.some((d) => inside(real, d)))
    return {
      field,
      rule: `must be inside ${dirs.join(' or ')} (${flag}; ${p}${real === path.resolve(p) ? '' : ` is ${real}`} is not): QEMU runs as root`,
    };
  let st: fs.Stats;
  try {
    st = fs.statSync(real);
  } catch {
    return undefined; // missing: QEMU (or the mount) says so when it starts, naming the file
  }
  if (st.isBlockDevice() && !(kind === 'file' && allowBlock))
    return { field, rule: `must not be a block device (${real}) unless the agent runs with --allow-block-devices` };
  if (kind === 'file' && !st.isFile() && !st.isBlockDevice()) return { field, rule: `must be a regular file (${real} is not)` };
  if (kind === 'dir' && !st.isDirectory()) return { field, rule: `must be a directory (${real} is not)` };
  return undefined;
}
