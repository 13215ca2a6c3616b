// Backend 'qemu': the agent's own GuestSupervisor runs QEMU (detached, found again by pidfile
// after an agent restart). This adapts it to GuestBackend; the supervisor stays usable alone.
import type { GuestSpec } from '../../api/guest';
import { chooseAccel } from './accel';
import type { BackendGuestStatus, GuestBackend } from './backend';
import { renderLibvirtXml } from './libvirt-xml';
import type { GuestSupervisor } from './supervisor';

export class QemuBackend implements GuestBackend {
  readonly name = 'qemu' as const;

  constructor(private readonly supervisor: GuestSupervisor) {}

  /** Always there: a QEMU this host lacks fails the plan, naming the version gate. */
  async unavailable(): Promise<undefined> {
    return undefined;
  }

  async start(spec: GuestSpec): Promise<void> {
    await this.supervisor.start(spec);
  }

  async stop(name: string): Promise<void> {
    if (this.supervisor.status(name)) await this.supervisor.remove(name); // stops it first
  }

  async status(spec: GuestSpec): Promise<BackendGuestStatus | undefined> {
    const st = this.supervisor.status(spec.name);
    if (!st) return undefined;
    const { command: _c, paths, ...rest } = st;
    return { ...rest, consoleLog: paths.consoleLog };
  }

  async adopt(): Promise<string[]> {
    await this.supervisor.adopt();
    return this.list();
  }

  async list(): Promise<string[]> {
    return this.supervisor.list().map((s) => s.name);
  }

  /** The guide-shaped equivalent XML, for users who move the guest to libvirt themselves. */
  definition(spec: GuestSpec, commandNotes: string[]): { libvirtXml: string; notes: string[] } {
    const xml = renderLibvirtXml(spec, { accel: chooseAccel(spec.accel) });
    return { libvirtXml: xml.xml, notes: [...commandNotes, ...xml.notes] };
  }

  detach(): void {
    this.supervisor.detach();
  }
}
