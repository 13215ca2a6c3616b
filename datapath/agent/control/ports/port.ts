// What every port class shares: the context it works in, and the one way a port is (re)applied
// to the datapath, as OVS netdev-dpdk has one reconfigure for every class. A class says what
// the datapath should have (wanted), what it checks first, and what its state looks like.
import { ApiError, type FieldIssue, type PortEnd, type PortSpec, type PortState, type RunningSettings, type Stored } from '../../../api';
import { sameApplied, type AppliedPort, type Datapath } from '../../datapath';
import type { Store } from '../../store';
import type { SocketPolicy } from '../../socket-policy';

export interface ControlOptions {
  /** Server ports' sockets live under runDir/vhostSockDir. */
  runDir: string;
  /** Where client ports' vhostServerPath may be (QEMU's side). */
  allowedSocketDirs: string[];
  /** The agent's own files (its API socket): no port's socket may be one of them. */
  ownFiles?: string[];
  /** Group that QEMU runs as: socket directories and server sockets get it, mode 0770/0660. */
  socketGid?: number;
  /** Who may own client ports' sockets and the directories on their way (socket-policy.ts); default: root and the agent. */
  socketPolicy?: SocketPolicy;
  /** Where change records go (stderr by default). */
  log?: (msg: string) => void;
}

/** What a port class may read and touch. */
export interface PortContext {
  readonly dp: Datapath;
  readonly store: Store;
  readonly opts: ControlOptions;
  readonly running: RunningSettings;
  /** The stored settings' vhostSockDir (server ports' sockets are below it). */
  sockDir(): string;
  /** Why a stored port is not in the datapath (its last apply failed), by name. */
  readonly applyErrors: Map<string, string>;
  /** Client ports held out of the datapath until their socket may be connected to, with why (vhost-user.ts). */
  readonly waiting: Map<string, string>;
}

/** One port of a given class: constructed from its stored spec, as OVS constructs a netdev. */
export abstract class Port<S extends Stored<PortSpec> = Stored<PortSpec>> {
  constructor(
    protected readonly ctx: PortContext,
    readonly name: string,
    readonly spec: S,
  ) {}

  /** Refuses a spec that cannot work on this host, naming the field (dry runs too). */
  abstract check(): void;
  /** A socket path this port owns, for the store's one-socket-per-port index. */
  abstract socket(): string | undefined;
  /** Warnings to answer with the change. */
  abstract warnings(): string[];
  /** Why changing these (replace) fields disrupts traffic. */
  abstract replaceWhy(fields: string[]): string;
  /** For the log: "dpdkvhostuserclient, bridge br0". */
  abstract summary(): string;
  abstract state(version: number, live: boolean): PortState;
  /** The guest's end of this port, or undefined when no guest can plug into it. */
  abstract guestEnd(): PortEnd | undefined;
  /** What the datapath should have; throws an ApiError naming the field when it cannot be worked out. */
  protected abstract wanted(): AppliedPort;
  /** The field a datapath refusal is reported on, if any. */
  protected refusedOn(): FieldIssue[] | undefined {
    return undefined;
  }
  /** Before the datapath creates the port (a server socket's directory). */
  protected beforeAdd(_want: AppliedPort): void {}
  /** After it did (a server socket's owner and mode). */
  protected afterAdd(_want: AppliedPort): void {}
  /** After the datapath let go of a form of this port (a server socket file is removed). */
  protected released(_have: AppliedPort): void {}

  /** What changes without re-creating the port: its own MAC limit and MTU. */
  protected applyInPlace(want: AppliedPort): void {
    this.ctx.dp.setPortMacLimit(this.name, this.spec.macLimit);
    this.ctx.dp.update(this.name, want);
  }

  /** Makes the datapath's port match the spec; on failure puts back what was there and throws. */
  apply(): void {
    const { dp } = this.ctx;
    const want = this.wanted();
    const have = dp.applied(this.name);
    if (sameApplied(have, want)) return this.applyInPlace(want);
    if (have) {
      dp.removePort(this.name);
      this.released(have);
    }
    try {
      this.beforeAdd(want);
      dp.addPort(this.name, want);
      dp.setPortMacLimit(this.name, this.spec.macLimit);
      this.afterAdd(want);
      this.ctx.applyErrors.delete(this.name);
    } catch (e) {
      if (dp.applied(this.name)) dp.removePort(this.name);
      if (have) {
        try {
          dp.addPort(this.name, have);
        } catch {
          /* the previous port stays recorded as failed by the caller */
        }
      }
      throw new ApiError('datapath', `port ${this.name}: the datapath refused it: ${(e as Error).message}`, this.refusedOn());
    }
  }

  /** Takes the port out of the datapath (delete). */
  remove(): void {
    const have = this.ctx.dp.applied(this.name);
    this.ctx.dp.removePort(this.name);
    if (have) this.released(have);
    this.ctx.applyErrors.delete(this.name);
  }
}
