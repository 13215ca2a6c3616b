// Users and groups of the host, and what a given user may do to a directory: the agent runs as
// root, but QEMU may not (libvirt runs it as qemu.conf's user), and root's access() says yes to all.
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

/** A user as the kernel checks permissions: uid and every group (primary and supplementary). */
export interface Identity {
  user: string;
  uid: number;
  gids: number[];
}

/** This process's identity. */
export function selfIdentity(): Identity {
  const uid = process.getuid?.() ?? 0;
  return { user: String(uid), uid, gids: [...new Set([process.getgid?.() ?? 0, ...(process.getgroups?.() ?? [])])] };
}

/** A user by name or uid ("libvirt-qemu", "+0", "64055"), or undefined if the host has none. */
export function userIdentity(user: string): Identity | undefined {
  const u = user.replace(/^\+/, '');
  try {
    const uid = Number(execFileSync('id', ['-u', u], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim());
    const gids = execFileSync('id', ['-G', u], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] })
      .trim()
      .split(/\s+/)
      .map(Number);
    return { user: u, uid, gids };
  } catch {
    return /^\d+$/.test(u) ? { user: u, uid: Number(u), gids: [] } : undefined;
  }
}

/** The user libvirtd runs QEMU as: qemu.conf's `user =` (Debian's default: libvirt-qemu). */
export function libvirtQemuUser(conf = '/etc/libvirt/qemu.conf'): string {
  let text = '';
  try {
    text = fs.readFileSync(conf, 'utf8');
  } catch {
    /* libvirt not installed: its default */
  }
  let user = 'libvirt-qemu';
  for (const line of text.split('\n')) {
    const m = /^\s*user\s*=\s*"([^"]*)"/.exec(line);
    if (m) user = m[1];
  }
  return user;
}

/** Whether who may use st for the access bits given (octal 0-7 of rwx), as the kernel decides. */
export function permits(st: { uid: number; gid: number; mode: number }, who: Identity, bits: number): boolean {
  if (who.uid === 0) return true;
  const shift = st.uid === who.uid ? 6 : who.gids.includes(st.gid) ? 3 : 0;
  return ((st.mode >> shift) & bits) === bits;
}

/**
 * Why who cannot create a file in dir, or undefined when it can. A directory that does not
 * exist yet is judged as the agent will create it (owner root, group `created.gid`, mode
 * `created.mode`), below the nearest one that does.
 */
export function cannotCreateIn(dir: string, who: Identity, created: { gid: number; mode: number }): string | undefined {
  const chain: string[] = [];
  for (let d = path.resolve(dir); ; d = path.dirname(d)) {
    chain.unshift(d);
    if (d === '/') break;
  }
  for (let i = 0; i < chain.length; i++) {
    const d = chain[i];
    let st: { uid: number; gid: number; mode: number };
    try {
      st = fs.statSync(d);
    } catch {
      st = { uid: process.getuid?.() ?? 0, gid: created.gid, mode: created.mode };
    }
    const last = i === chain.length - 1;
    if (!permits(st, who, last ? 0o3 : 0o1))
      return `${d} is not ${last ? 'writable' : 'searchable'} by ${who.user} (uid ${who.uid}), who runs QEMU (owner ${st.uid}:${st.gid}, mode ${(st.mode & 0o7777).toString(8)})`;
  }
  return undefined;
}
