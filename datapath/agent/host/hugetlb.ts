// Hugepage reservations (sysfs nr_hugepages) and hugetlbfs mounts, as the guide has a person
// type `echo N > /sys/.../nr_hugepages` and `mount -t hugetlbfs`.
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';

export const PAGE_KB = { '2M': 2048, '1G': 1048576 } as const;
export type PageSize = keyof typeof PAGE_KB;

/** One page size's reservation, system-wide or on a NUMA node, under a sysfs root. */
export class HugepagePool {
  readonly dir: string;

  constructor(sysfs: string, pageSize: PageSize, node: number | undefined) {
    const leaf = `hugepages/hugepages-${PAGE_KB[pageSize]}kB`;
    this.dir = node === undefined ? `${sysfs}/kernel/mm/${leaf}` : `${sysfs}/devices/system/node/node${node}/${leaf}`;
  }

  exists(): boolean {
    return fs.existsSync(this.dir);
  }
  total(): number {
    return Number(fs.readFileSync(`${this.dir}/nr_hugepages`, 'utf8').trim());
  }
  free(): number {
    return Number(fs.readFileSync(`${this.dir}/free_hugepages`, 'utf8').trim());
  }
  /** Asks the kernel for n pages; it may give fewer (read total() after). */
  reserve(n: number): void {
    fs.writeFileSync(`${this.dir}/nr_hugepages`, String(n));
  }
}

export function isHugetlbfsMounted(p: string): boolean {
  return fs
    .readFileSync('/proc/mounts', 'utf8')
    .split('\n')
    .some((l) => l.split(' ')[1] === p && l.split(' ')[2] === 'hugetlbfs');
}

export function mountHugetlbfs(p: string, pageSize: PageSize): void {
  fs.mkdirSync(p, { recursive: true, mode: 0o755 });
  execFileSync('mount', ['-t', 'hugetlbfs', '-o', `pagesize=${pageSize}`, 'hugetlbfs', p]);
}

export function unmount(p: string): void {
  execFileSync('umount', [p]);
}
