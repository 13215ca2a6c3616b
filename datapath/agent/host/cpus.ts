// The host's CPUs as the agent may use them.
import * as fs from 'node:fs';
import * as os from 'node:os';

/** CPUs of the host, 0..n-1, as Node counts them. */
export function cpuCount(): number {
  return os.cpus().length;
}

/** The CPU numbers the kernel has online ("0-3,6" in /sys/devices/system/cpu/online). */
export function onlineCpus(): number[] {
  let text: string;
  try {
    text = fs.readFileSync('/sys/devices/system/cpu/online', 'utf8').trim();
  } catch {
    return [...Array(cpuCount()).keys()];
  }
  const out: number[] = [];
  for (const part of text.split(',').filter(Boolean)) {
    const [a, b] = part.split('-').map(Number);
    for (let c = a; c <= (b ?? a); c++) out.push(c);
  }
  return out;
}
