// vhost-user ports (dpdkvhostuserclient, dpdkvhostuser): the datapath's end of a guest NIC's
// unix socket. A client port connects to the socket QEMU creates; a (deprecated) server port
// creates its socket at <run dir>/<vhostSockDir>/<name>. Where a socket may be, and that no two
// ports share one, is checked here and only here.
import * as fs from 'node:fs';
import * as path from 'node:path';
import {
  ApiError,
  SERVER_PORT_DEPRECATION,
  derivedMac,
  portMode,
  qemuNicArgs,
  type PortEnd,
  type PortSpec,
  type Stored,
  type VhostUserPortSpec,
  type VhostUserPortState,
} from '../../../api';
import { DEFAULT_MTU, sameApplied, type AppliedPort, type AppliedVhostUser, type MtuChoice } from '../../datapath';
import { inInsecureDir, socketDirProblem, socketFileCheck, socketPolicy, type SocketPolicy } from '../../socket-policy';
import { Port, type ControlOptions } from './port';
import { portStatus } from './vhost-user-status';

/** Where a server port's socket is: <run dir>/<vhostSockDir>/<name>. */
export function serverSocketPath(runDir: string, sockDir: string, name: string): string {
  return path.join(runDir, sockDir, name);
}

/** Whether p is one of the agent's own files (its API socket). */
export function ownSocket(opts: ControlOptions, p: string): boolean {
  return (opts.ownFiles ?? []).some((f) => path.resolve(f) === p);
}

export class VhostUserPort extends Port<Stored<VhostUserPortSpec>> {
  private get mode() {
    return portMode(this.spec.type);
  }

  private get policy(): SocketPolicy {
    return this.ctx.opts.socketPolicy ?? socketPolicy({ socketGid: this.ctx.opts.socketGid });
  }

  /** The allowed directory a client port's socket is in. */
  private allowedDir(p: string): string | undefined {
    return this.ctx.opts.allowedSocketDirs.find((d) => p.startsWith(path.resolve(d) + path.sep));
  }

  /**
   * Why the datapath must not connect to this client port's socket now, or undefined when it may:
   * its directories let someone else bind it, or the file there is not a trusted socket.
   */
  private connectRefusal(): { missing: boolean; why: string } | undefined {
    const p = this.socketPath();
    const dir = this.allowedDir(p);
    const dirWhy = dir === undefined ? `${p} is outside the allowed socket directories` : socketDirProblem(this.policy, dir, p);
    if (dirWhy) return { missing: false, why: `socket refused: ${dirWhy}` };
    const f = socketFileCheck(this.policy, p);
    if (f.ok) return undefined;
    return f.missing
      ? {
          missing: true,
          why: `socket missing: ${p} does not exist yet (QEMU creates it with server=on when the guest starts); the port connects when it appears`,
        }
      : { missing: false, why: `socket refused: ${f.why}` };
  }

  /** Whether the socket's directory is one the operator allowed although other users may write it (--insecure-socket-dir). */
  private inInsecureDir(): boolean {
    return inInsecureDir(this.policy, this.socketPath());
  }

  /**
   * A client port enters the datapath only when its socket may be connected to: DPDK connects to
   * whatever is bound there. A missing socket is waited for only in an insecure directory: in the
   * others no one but root, the agent or QEMU's user can create it, so DPDK may wait for it itself.
   * Until then the port waits, with the reason as its status.
   */
  apply(): void {
    if (this.mode !== 'client') return super.apply();
    const { dp, waiting } = this.ctx;
    const want = this.wanted();
    const have = dp.applied(this.name);
    const admit = (r: { missing: boolean } | undefined) => !r || (r.missing && !this.inInsecureDir());
    if (sameApplied(have, want)) {
      // In the datapath already: let go of it while disconnected from a socket it must not connect to.
      const r = have && !dp.portInfo(this.name)?.connected ? this.connectRefusal() : undefined;
      if (admit(r)) return this.applyInPlace(want); // the MAC limit and MTU, as Port.apply
      this.remove();
      waiting.set(this.name, r!.why);
      return;
    }
    const r = this.connectRefusal();
    if (admit(r)) {
      waiting.delete(this.name);
      return super.apply();
    }
    if (have) this.remove();
    waiting.set(this.name, r!.why);
  }

  /** The socket the datapath uses: vhostServerPath, or the one it creates under the run dir. */
  socketPath(): string {
    return this.spec.type === 'dpdkvhostuserclient' ? this.spec.vhostServerPath : serverSocketPath(this.ctx.opts.runDir, this.ctx.sockDir(), this.name);
  }

  socket(): string | undefined {
    return this.spec.vhostServerPath;
  }

  /** Refuses socket paths outside the allowed directories, through symlinks, or already used. */
  check(): void {
    const { opts, store } = this.ctx;
    const client = this.spec.type === 'dpdkvhostuserclient';
    const field = client ? 'vhostServerPath' : 'name';
    const p = this.socketPath();
    const bad = (rule: string) => new ApiError('invalid', `invalid port: ${field} ${rule}`, [{ field, rule }]);
    // The run dir holds the agent's own sockets (its API, server ports): never QEMU's.
    if (client && (p + path.sep).startsWith(path.resolve(opts.runDir) + path.sep))
      throw bad(`must not be in the agent's run directory ${opts.runDir}: it holds the agent's own sockets`);
    // A server port named after the agent's API socket would replace it, and the API would stop answering.
    if (ownSocket(opts, p)) throw bad(`must not name the agent's own socket ${p}`);
    const dirs = client ? opts.allowedSocketDirs : [opts.runDir];
    const inside = dirs.find((d) => p.startsWith(path.resolve(d) + path.sep));
    if (!inside) throw bad(`must be inside ${dirs.join(' or ')} (the allowed socket directories)`);
    if (client) {
      const dirWhy = socketDirProblem(this.policy, inside, p);
      if (dirWhy)
        throw bad(
          `must be in a directory only root, the agent or QEMU's user can write: ${dirWhy} (an operator may allow such a directory with --insecure-socket-dir)`,
        );
      const f = socketFileCheck(this.policy, p);
      if (!f.ok && !f.missing) throw bad(`must be a socket owned by root, the agent or QEMU's user, not writable by every user: ${f.why}`);
    }
    // Walk from the allowed directory down: a symlink could point the datapath anywhere.
    let at = path.resolve(inside);
    for (const part of path.relative(inside, p).split(path.sep)) {
      at = path.join(at, part);
      let st: fs.Stats;
      try {
        st = fs.lstatSync(at);
      } catch {
        break;
      }
      if (st.isSymbolicLink()) throw bad(`must not pass through a symlink (${at})`);
    }
    // Client ports' paths are indexed by the store; a server port's path is <server dir>/<its name>.
    const serverDir = path.dirname(serverSocketPath(opts.runDir, this.ctx.sockDir(), 'x'));
    const sibling = path.dirname(p) === serverDir && path.basename(p) !== this.name ? store.get<Stored<PortSpec>>('port', path.basename(p)) : undefined;
    const other = store.socketOwner('port', p, this.name) ?? (sibling?.spec.type === 'dpdkvhostuser' ? sibling.name : undefined);
    if (other)
      throw new ApiError('conflict', `port ${other} already uses the socket ${p}: two ports cannot share one socket`, [
        { field, rule: 'must be a socket no other port uses' },
      ]);
  }

  warnings(): string[] {
    const w = this.spec.type === 'dpdkvhostuser' ? [SERVER_PORT_DEPRECATION] : [];
    const pmds = this.ctx.running.pmdCpus;
    if (this.spec.queues > 1 && pmds.length < 2)
      w.push(`multiqueue with a single PMD thread: the guide asks for at least 2 PMD cores so queues are spread (pmdCpus has ${pmds.length})`);
    return w;
  }

  replaceWhy(fields: string[]): string {
    return `changing ${fields.join(', ')} re-creates the socket: the guest's link drops until it reconnects`;
  }

  summary(): string {
    return `${this.spec.type}, bridge ${this.spec.bridge}`;
  }

  /** The MTU the datapath enforces on this port and its guest is told: the port's own, else its bridge's. */
  mtu(): MtuChoice {
    return this.ctx.dp.guestPortMtu(this.spec.bridge, this.spec.mtu);
  }

  /** host_mtu for the guest: none at 1500, virtio-net's own default, so those command lines stay as they were. */
  private hostMtu(): number | undefined {
    const { mtu } = this.mtu();
    return mtu === DEFAULT_MTU ? undefined : mtu;
  }

  state(version: number, live: boolean): VhostUserPortState {
    const socketPath = this.socketPath();
    const mac = this.spec.mac ?? derivedMac(this.name);
    const mtu = this.mtu();
    const state: VhostUserPortState = {
      ...this.spec,
      mac,
      version,
      socketPath,
      qemuArgs: qemuNicArgs({ id: this.name, socketPath, qemuIsServer: this.mode === 'client', mac, queues: this.spec.queues, mtu: this.hostMtu() }),
    };
    if (this.spec.type === 'dpdkvhostuser') state.deprecated = SERVER_PORT_DEPRECATION;
    if (live)
      state.status = portStatus({
        mode: this.mode,
        socketPath,
        info: this.ctx.dp.portInfo(this.name),
        expectedQueues: this.spec.queues,
        iommu: this.ctx.running.vhostIommuSupport,
        applyError: this.ctx.applyErrors.get(this.name),
        waiting: this.ctx.waiting.get(this.name),
        mtu,
      });
    return state;
  }

  guestEnd(): PortEnd {
    return {
      name: this.name,
      socketPath: this.socketPath(),
      mode: this.mode,
      queues: this.spec.queues,
      mac: this.spec.mac ?? derivedMac(this.name),
      mtu: this.hostMtu(),
    };
  }

  protected wanted(): AppliedVhostUser {
    return { bridge: this.spec.bridge, mode: this.mode, path: this.socketPath(), ...(this.spec.mtu === undefined ? {} : { mtu: this.spec.mtu }) };
  }

  protected beforeAdd(want: AppliedPort): void {
    if (want.mode !== 'server') return;
    const dir = path.dirname(want.path);
    fs.mkdirSync(dir, { recursive: true, mode: 0o750 });
    if (this.ctx.opts.socketGid !== undefined) {
      fs.chownSync(dir, process.getuid!(), this.ctx.opts.socketGid);
      fs.chmodSync(dir, 0o770);
    }
    fs.rmSync(want.path, { force: true }); // a stale socket from a killed agent would make bind() fail
  }

  protected afterAdd(want: AppliedPort): void {
    if (want.mode !== 'server' || !fs.existsSync(want.path)) return;
    const gid = this.ctx.opts.socketGid;
    if (gid !== undefined) {
      fs.chownSync(want.path, process.getuid!(), gid);
      fs.chmodSync(want.path, 0o660);
    } else fs.chmodSync(want.path, 0o600);
  }

  protected released(have: AppliedPort): void {
    if (have.mode === 'server') fs.rmSync(have.path, { force: true });
  }

  remove(): void {
    super.remove();
    this.ctx.waiting.delete(this.name);
    // Where the socket is now, whether or not the datapath had it (a stale one from a killed agent).
    if (this.spec.type === 'dpdkvhostuser') fs.rmSync(this.socketPath(), { force: true });
  }
}
