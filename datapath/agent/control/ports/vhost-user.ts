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
import type { AppliedPort, AppliedVhostUser } from '../../datapath';
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

  state(version: number, live: boolean): VhostUserPortState {
    const socketPath = this.socketPath();
    const mac = this.spec.mac ?? derivedMac(this.name);
    const state: VhostUserPortState = {
      ...this.spec,
      mac,
      version,
      socketPath,
      qemuArgs: qemuNicArgs({ id: this.name, socketPath, qemuIsServer: this.mode === 'client', mac, queues: this.spec.queues }),
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
      });
    return state;
  }

  guestEnd(): PortEnd {
    return { name: this.name, socketPath: this.socketPath(), mode: this.mode, queues: this.spec.queues, mac: this.spec.mac ?? derivedMac(this.name) };
  }

  protected wanted(): AppliedVhostUser {
    return { bridge: this.spec.bridge, mode: this.mode, path: this.socketPath() };
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
    // Where the socket is now, whether or not the datapath had it (a stale one from a killed agent).
    if (this.spec.type === 'dpdkvhostuser') fs.rmSync(this.socketPath(), { force: true });
  }
}
