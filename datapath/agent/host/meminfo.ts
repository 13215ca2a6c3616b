// Hugepage memory of the default page size, from /proc/meminfo.
import * as fs from 'node:fs';

export interface HugepageMemory {
  freeMb: number;
  totalMb: number;
  pageMb: number;
}

export function hugepageMemory(): HugepageMemory {
  const m = fs.readFileSync('/proc/meminfo', 'utf8');
  const num = (k: string) => Number(new RegExp(`${k}:\\s+(\\d+)`).exec(m)?.[1] ?? 0);
  const pageMb = num('Hugepagesize') / 1024;
  return { freeMb: num('HugePages_Free') * pageMb, totalMb: num('HugePages_Total') * pageMb, pageMb };
}

/** MemAvailable of /proc/meminfo, MiB: what ordinary memory (--no-huge) can have. */
export function memAvailableMb(): number {
  const m = /MemAvailable:\s+(\d+)/.exec(fs.readFileSync('/proc/meminfo', 'utf8'));
  return m ? Math.floor(Number(m[1]) / 1024) : 0;
}

/**
 * Hugepage memory, MiB, still held by files of a DPDK file prefix in a hugetlbfs (a killed
 * agent's rtemap files): the next EAL of that prefix removes and so gets them back.
 */
export function hugepageFilesMb(filePrefix: string, dir = '/dev/hugepages'): number {
  let bytes = 0;
  try {
    for (const f of fs.readdirSync(dir)) if (f.startsWith(`${filePrefix}map_`)) bytes += fs.statSync(`${dir}/${f}`).size;
  } catch {
    /* no hugetlbfs there */
  }
  return Math.floor(bytes / (1024 * 1024));
}
