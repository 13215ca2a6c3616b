// The GuestVM resource's operations table (./guest-vm.ts is the resource).
// The provider's own tool for the unknown values of a preview.
import { unknownValue as UNKNOWN } from '@pulumi/pulumi/runtime/rpc';
import { AgentError, GuestVmSpec, pairNics, type GuestNicRequest, type PortEnd } from '../datapath/api';
import { objectsOf, pick, type KindOps, type Props } from './kind-ops';

type NicProps = Record<string, unknown> & { portEnd?: Partial<PortEnd> };

function spec(p: Props): Record<string, unknown> {
  const g = pick(p, ['name', 'vcpus', 'memoryMb', 'hugepagesPath', 'machine', 'accel', 'boot', 'nics', 'dpdkGuest', 'pinning', 'restartPolicy', 'backend']);
  // portEnd is the provider's own (see guest-vm.ts): the agent knows its ports.
  if (Array.isArray(g.nics)) g.nics = (g.nics as NicProps[]).map(({ portEnd: _e, ...n }) => n);
  return g;
}

export const guestOps: KindOps = {
  schema: GuestVmSpec,
  objects: (c) => objectsOf(c.guests),
  spec,
  // Everything else changes by restarting the guest, which the agent does in place.
  replaceOn: ['name'],
  outputs: (o) => {
    const st = o.status as { state?: string; pid?: number; accel?: string } | undefined;
    return { version: o.version, qemuCommand: o.qemuCommand, libvirtXml: o.libvirtXml, notes: o.notes, state: st?.state ?? 'unknown', pid: st?.pid ?? 0 };
  },
  async check(news, c) {
    // The NIC and the port resource it names, paired here already: no host needed.
    const nics = (news.nics ?? []) as NicProps[];
    const local = pairNics(
      nics.map(({ portEnd: _e, ...n }) => n as GuestNicRequest),
      (name) => {
        const e = nics.find((n) => n.port === name)?.portEnd;
        if (!e) return undefined;
        // What preview does not know yet (or a server port's socket, the agent's to name) is taken on the NIC's word.
        const nic = nics.find((n) => n.port === name)!;
        const known = <T>(v: T | undefined, fallback: unknown) => (v === undefined || v === UNKNOWN ? fallback : v) as T;
        return {
          name,
          socketPath: known(e.socketPath, nic.socketPath),
          mode: known(e.mode, nic.portMode ?? 'client'),
          queues: known(e.queues, nic.queues ?? 1),
          mac: '02:00:00:00:00:01',
        };
      },
    );
    const known = local.problems.filter((p) => !/must name an existing port/.test(p.rule));
    if (known.length) return { failures: known.map((i) => ({ property: i.field, reason: i.rule })) };
    // Both ends of every socket, and the host's resources, checked by the agent's dry run before
    // anything runs. A port this same update creates is not there yet: that one check waits for up.
    try {
      await c.guests.put(String(news.name), spec(news) as never, { dryRun: true, adopt: true });
    } catch (e) {
      if (!(e instanceof AgentError) || e.status !== 400) return undefined;
      const failures = e.issues.filter((i) => !/must name an existing port/.test(i.rule)).map((i) => ({ property: i.field, reason: i.rule }));
      if (failures.length) return { failures };
    }
    return undefined;
  },
};
