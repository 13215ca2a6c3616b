// QEMU version detection and the version gates of the OVS-DPDK "vHost User Ports" guide.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const execFileP = promisify(execFile);

export interface QemuVersion {
  major: number;
  minor: number;
  micro: number;
  /** The first line of `--version`, for status and errors. */
  text: string;
}

/** Parses `qemu-system-x86_64 --version` output ("QEMU emulator version 7.2.22 (Debian ...)"). */
export function parseQemuVersion(output: string): QemuVersion {
  const m = /QEMU emulator version (\d+)\.(\d+)(?:\.(\d+))?/.exec(output);
  if (!m) throw new Error(`qemu --version: no "QEMU emulator version X.Y.Z" in output: ${JSON.stringify(output.slice(0, 200))}`);
  return { major: +m[1], minor: +m[2], micro: m[3] === undefined ? 0 : +m[3], text: output.split('\n')[0].trim() };
}

/** Runs `<binary> --version` (no shell) and parses it. */
export async function detectQemuVersion(binary = 'qemu-system-x86_64'): Promise<QemuVersion> {
  const { stdout } = await execFileP(binary, ['--version'], { timeout: 10_000 });
  return parseQemuVersion(stdout);
}

export function compareVersion(v: Pick<QemuVersion, 'major' | 'minor' | 'micro'>, major: number, minor: number, micro = 0): number {
  return v.major - major || v.minor - minor || v.micro - micro;
}

export function formatVersion(v: Pick<QemuVersion, 'major' | 'minor' | 'micro'>): string {
  return `${v.major}.${v.minor}.${v.micro}`;
}

/** What a guest asks of QEMU; derived from its spec by requirementsOf(). */
export interface QemuRequirements {
  vhostUser: boolean;
  /** Some NIC plugs into a datapath client port, so QEMU must be the socket server. */
  clientPorts: boolean;
  iommu: boolean;
}

export function requirementsOf(spec: { nics: { portMode: 'client' | 'server'; iommu: boolean }[] }): QemuRequirements {
  return {
    vhostUser: spec.nics.length > 0,
    clientPorts: spec.nics.some((n) => n.portMode === 'client'),
    iommu: spec.nics.some((n) => n.iommu),
  };
}

/**
 * The guide's gates: vhost-user needs QEMU >= 2.2; client ports (QEMU as server) >= 2.7;
 * vhost IOMMU is refused on 2.7.0-2.9.0 (buggy reply-ack) and allowed from 2.9.1.
 * Returns the reasons the guest cannot run (empty: it can).
 */
export function versionProblems(v: QemuVersion, req: QemuRequirements): string[] {
  const have = formatVersion(v);
  const out: string[] = [];
  if (req.vhostUser && compareVersion(v, 2, 2) < 0) {
    out.push(`nics: vhost-user needs QEMU >= 2.2.0, found ${have}`);
  }
  if (req.clientPorts && compareVersion(v, 2, 7) < 0) {
    out.push(`nics[].portMode: client ports (QEMU as vhost-user socket server) need QEMU >= 2.7.0, found ${have}`);
  }
  if (req.iommu) {
    if (compareVersion(v, 2, 7) >= 0 && compareVersion(v, 2, 9, 0) <= 0) {
      out.push(`nics[].iommu: vhost IOMMU is refused on QEMU 2.7.0-2.9.0 (buggy vhost-user reply-ack), found ${have}; needs >= 2.9.1`);
    } else if (compareVersion(v, 2, 9, 1) < 0) {
      out.push(`nics[].iommu: vhost IOMMU needs QEMU >= 2.9.1, found ${have}`);
    }
  }
  return out;
}

/** Throws with every reason when the version cannot run the guest. */
export function assertQemuSupports(v: QemuVersion, req: QemuRequirements): void {
  const p = versionProblems(v, req);
  if (p.length) throw new Error(`QEMU ${formatVersion(v)} cannot run this guest: ${p.join('; ')}`);
}
