// Who may have put a vhost-user socket where the datapath (a root DPDK process) connects. A
// client port's socket is created by QEMU; whoever binds that path first becomes the guest's
// frontend, with the datapath's memory mapped to it. So the directories on the way must be ones
// only root, the agent or QEMU's user can write (as OpenSSH's StrictModes), unless the operator
// named a directory insecure on purpose (--insecure-socket-dir), and the socket itself must be
// owned by one of them.
import * as fs from 'node:fs';
import * as path from 'node:path';

export interface SocketPolicy {
  /** Owners a socket or a directory on its way may have: root, the agent, QEMU's user. */
  trustedUids: number[];
  /** Groups that may write a socket directory: root, the socket group, QEMU's group. */
  trustedGids: number[];
  /** Allowed directories other users may write (e.g. /tmp), named so by the operator: their directory checks are skipped. */
  insecureDirs: string[];
}

/** The policy of an agent running as this process, with its socket group and QEMU's user. */
export function socketPolicy(o: { socketGid?: number; qemu?: { uid: number; gids: number[] }; insecureDirs?: string[] }): SocketPolicy {
  const uid = process.getuid?.() ?? 0;
  const gid = process.getgid?.() ?? 0;
  return {
    trustedUids: [...new Set([0, uid, ...(o.qemu ? [o.qemu.uid] : [])])],
    trustedGids: [...new Set([0, gid, ...(o.socketGid === undefined ? [] : [o.socketGid]), ...(o.qemu?.gids ?? [])])],
    insecureDirs: (o.insecureDirs ?? []).map((d) => path.resolve(d)),
  };
}

const within = (p: string, dir: string) => p === dir || p.startsWith(dir === '/' ? '/' : dir + path.sep);

/** Whether the socket p is in a directory the operator allowed although other users may write it. */
export function inInsecureDir(policy: SocketPolicy, p: string): boolean {
  return policy.insecureDirs.some((d) => within(path.dirname(p), d));
}

/**
 * Why the directories from / down to the socket's own let someone else choose what is at p, or
 * undefined. At and below the allowed directory no one else may write at all (a new name is
 * enough to bind a socket first); above it a directory others may write must be sticky (/tmp),
 * so they cannot rename what root put there.
 */
export function socketDirProblem(policy: SocketPolicy, allowedDir: string, p: string): string | undefined {
  const allowed = path.resolve(allowedDir);
  if (inInsecureDir(policy, p)) return undefined;
  const dirs: string[] = [];
  for (let d = path.dirname(p); ; d = path.dirname(d)) {
    dirs.unshift(d);
    if (d === '/') break;
  }
  for (const d of dirs) {
    let st: fs.Stats;
    try {
      st = fs.statSync(d);
    } catch {
      break; // the agent creates the rest, root-owned (guests.ts)
    }
    const below = within(d, allowed);
    if (!policy.trustedUids.includes(st.uid)) return `${d} is owned by uid ${st.uid} (a socket directory must be owned by root, the agent or QEMU's user)`;
    const otherWrite = (st.mode & 0o002) !== 0;
    const groupWrite = (st.mode & 0o020) !== 0 && !policy.trustedGids.includes(st.gid);
    const sticky = (st.mode & 0o1000) !== 0;
    if (below && otherWrite) return `${d} is writable by every user (mode ${(st.mode & 0o7777).toString(8)}): another user could bind the socket first`;
    if (below && groupWrite) return `${d} is writable by group ${st.gid} (mode ${(st.mode & 0o7777).toString(8)}): another user could bind the socket first`;
    if (!below && (otherWrite || groupWrite) && !sticky)
      return `${d} is writable by other users and not sticky (mode ${(st.mode & 0o7777).toString(8)}): they could move the socket directory`;
  }
  return undefined;
}

export type SocketFileCheck = { ok: true } | { ok: false; missing: boolean; why: string };

/** Whether the file at p is a socket the datapath may connect to: a socket, of a trusted owner, not writable by every user. */
export function socketFileCheck(policy: SocketPolicy, p: string): SocketFileCheck {
  let st: fs.Stats;
  try {
    st = fs.lstatSync(p);
  } catch {
    return { ok: false, missing: true, why: `${p} does not exist yet` };
  }
  if (!st.isSocket()) return { ok: false, missing: false, why: `${p} is not a socket` };
  if (!policy.trustedUids.includes(st.uid))
    return { ok: false, missing: false, why: `${p} is owned by uid ${st.uid}: the socket must be owned by root, the agent or QEMU's user` };
  if ((st.mode & 0o002) !== 0)
    return { ok: false, missing: false, why: `${p} is writable by every user (mode ${(st.mode & 0o777).toString(8)}): any local user could be its frontend` };
  return { ok: true };
}
