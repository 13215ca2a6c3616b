// Where a guest's runtime files live: one directory per guest under the agent's state dir.
// The layout is the adoption contract: a restarted agent finds running guests by it.
import * as path from 'node:path';

export interface GuestPaths {
  dir: string;
  /** QMP control socket (QEMU listens). */
  qmpSocket: string;
  /** Written by QEMU (-pidfile). */
  pidFile: string;
  /** Guest serial console (-serial file:). */
  consoleLog: string;
  /** QEMU's own stdout/stderr. */
  stderrLog: string;
  /** The spec and launch facts the supervisor saved (JSON), for adoption. */
  stateFile: string;
}

export function guestPaths(stateDir: string, name: string): GuestPaths {
  const dir = path.join(stateDir, name);
  return {
    dir,
    qmpSocket: path.join(dir, 'qmp.sock'),
    pidFile: path.join(dir, 'qemu.pid'),
    consoleLog: path.join(dir, 'console.log'),
    stderrLog: path.join(dir, 'qemu.stderr.log'),
    stateFile: path.join(dir, 'guest.json'),
  };
}

/** Problems with a state dir: its paths go into QEMU option strings and a unix socket path. */
export function stateDirProblems(stateDir: string): string[] {
  const out: string[] = [];
  if (!path.isAbsolute(stateDir)) out.push('stateDir: must be an absolute path');
  if (/[,\0\n\r]/.test(stateDir)) out.push("stateDir: must not contain ',', NUL or newlines");
  // Longest name (31) + "/qmp.sock" must fit sun_path (107 bytes).
  if (Buffer.byteLength(stateDir) + 1 + 31 + '/qmp.sock'.length > 107) {
    out.push('stateDir: must be short enough that <stateDir>/<31-char name>/qmp.sock fits 107 bytes (unix socket limit)');
  }
  return out;
}
