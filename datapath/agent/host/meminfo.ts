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
