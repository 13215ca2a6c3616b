// vcpupin/emulatorpin without libvirt: QMP query-cpus-fast gives each vCPU's host thread id,
// taskset sets the affinity of that thread; every other QEMU thread is the "emulator".
// (Node has no sched_setaffinity binding; taskset is util-linux and exec'd without a shell.)
import * as fs from 'node:fs';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { QmpClient } from './qmp';
import { cpusetString } from './libvirt-xml';

const execFileP = promisify(execFile);

export interface PinningSpec {
  vcpus: number[][];
  emulator?: number[];
}

export interface PinningResult {
  /** vCPU index -> host thread id and the CPUs it was pinned to. */
  vcpus: { cpuIndex: number; threadId: number; cpus: string }[];
  /** Threads pinned to the emulator set. */
  emulatorThreads: number[];
  emulatorCpus?: string;
}

export async function vcpuThreadIds(qmp: QmpClient): Promise<{ cpuIndex: number; threadId: number }[]> {
  const cpus = await qmp.execute<{ 'cpu-index': number; 'thread-id': number }[]>('query-cpus-fast');
  return cpus.map((c) => ({ cpuIndex: c['cpu-index'], threadId: c['thread-id'] }));
}

export function processThreadIds(pid: number): number[] {
  return fs
    .readdirSync(`/proc/${pid}/task`)
    .map(Number)
    .filter((n) => Number.isInteger(n));
}

export async function setThreadAffinity(tid: number, cpus: number[]): Promise<void> {
  try {
    await execFileP('taskset', ['-p', '-c', cpusetString(cpus), String(tid)], { timeout: 5000 });
  } catch (e) {
    const err = e as { stderr?: string; message: string };
    throw new Error(`pinning: taskset of thread ${tid} to CPUs ${cpusetString(cpus)} failed: ${(err.stderr || err.message).trim()}`, { cause: e });
  }
}

/** Returns the CPUs a thread may run on (from /proc/<pid>/task/<tid>/status). */
export function threadAffinity(pid: number, tid: number): string {
  const status = fs.readFileSync(`/proc/${pid}/task/${tid}/status`, 'utf8');
  const m = /^Cpus_allowed_list:\s*(.+)$/m.exec(status);
  return m ? m[1].trim() : '';
}

export async function applyPinning(pid: number, qmp: QmpClient, spec: PinningSpec): Promise<PinningResult> {
  const vcpus = await vcpuThreadIds(qmp);
  const result: PinningResult = { vcpus: [], emulatorThreads: [] };
  const vcpuTids = new Set(vcpus.map((v) => v.threadId));
  for (const v of vcpus) {
    const cpus = spec.vcpus[v.cpuIndex];
    if (!cpus) continue;
    await setThreadAffinity(v.threadId, cpus);
    result.vcpus.push({ cpuIndex: v.cpuIndex, threadId: v.threadId, cpus: cpusetString(cpus) });
  }
  if (spec.emulator) {
    result.emulatorCpus = cpusetString(spec.emulator);
    for (const tid of processThreadIds(pid)) {
      if (vcpuTids.has(tid)) continue;
      try {
        await setThreadAffinity(tid, spec.emulator);
        result.emulatorThreads.push(tid);
      } catch (e) {
        // Short-lived worker threads may exit between listing and pinning; those are fine.
        if (fs.existsSync(`/proc/${pid}/task/${tid}`)) throw e;
      }
    }
  }
  return result;
}
