// Reading the tail of a guest's serial console log (for crash reports and tests).
import * as fs from 'node:fs';

/** Last `lines` non-empty lines of a log, without terminal escapes or CRs. Missing file: []. */
export function tailLines(file: string, lines = 20, maxBytes = 64 * 1024): string[] {
  let fd: number;
  try {
    fd = fs.openSync(file, 'r');
  } catch {
    return [];
  }
  try {
    const size = fs.fstatSync(fd).size;
    const len = Math.min(size, maxBytes);
    const buf = Buffer.alloc(len);
    fs.readSync(fd, buf, 0, len, size - len);
    return stripTerminal(buf.toString('utf8'))
      .split('\n')
      .map((l) => l.trimEnd())
      .filter((l) => l.length > 0)
      .slice(-lines);
  } finally {
    fs.closeSync(fd);
  }
}

/** Removes ANSI/VT escape sequences and CRs the firmware/kernel write to the serial port. */
export function stripTerminal(s: string): string {
  /* eslint-disable no-control-regex -- ESC is exactly what these strip */
  return s
    .replace(/\x1b\[[0-9;?]*[A-Za-z]/g, '')
    .replace(/\x1b[()][A-Za-z0-9]/g, '')
    .replace(/\x1b[A-Za-z=>]/g, '')
    .replace(/\r/g, '');
  /* eslint-enable no-control-regex */
}
