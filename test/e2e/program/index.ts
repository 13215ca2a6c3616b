// One program for the end-to-end tests: the stack's config says what to declare, so a test
// changes the config and runs the real engine again.
import * as pulumi from '@pulumi/pulumi';
import { Bridge, DatapathSettings, GuestVM, VhostUserClientPort, VhostUserPort, VxlanPort } from '../../../provider';

interface PortDecl {
  name: string;
  bridge: string;
  type?: 'client' | 'server';
  path?: string;
  queues?: number;
  mac?: string;
  adopt?: boolean;
}

const cfg = new pulumi.Config();
const bridges = cfg.getObject<{ name: string; macAgingSeconds?: number }[]>('bridges') ?? [];
const ports = cfg.getObject<PortDecl[]>('ports') ?? [];
const settings = cfg.getObject<Record<string, unknown>>('settings');

const made = new Map(bridges.map((b) => [b.name, new Bridge(b.name, { macAgingSeconds: b.macAgingSeconds })]));
const outs: Record<string, pulumi.Output<unknown>> = {};
const portResources = new Map<string, VhostUserClientPort | VhostUserPort>();
for (const p of ports) {
  const bridge = made.get(p.bridge)?.name ?? p.bridge;
  const opts = made.get(p.bridge) ? { dependsOn: [made.get(p.bridge)!] } : {};
  const port =
    p.type === 'server'
      ? new VhostUserPort(p.name, { bridge, queues: p.queues, mac: p.mac, adopt: p.adopt }, opts)
      : new VhostUserClientPort(p.name, { bridge, vhostServerPath: p.path!, queues: p.queues, mac: p.mac, adopt: p.adopt }, opts);
  outs[p.name] = port.socketPath;
  portResources.set(p.name, port);
}
const guests = cfg.getObject<{ name: string; memoryMb?: number; kernel: string; initrd: string; nics: { port: string; queues?: number }[] }[]>('guests') ?? [];
for (const g of guests)
  new GuestVM(g.name, {
    memoryMb: g.memoryMb,
    boot: { kind: 'kernel', kernel: g.kernel, initrd: g.initrd, append: 'console=ttyS0 quiet' },
    nics: g.nics.map((n) => ({ port: portResources.get(n.port) ?? n.port, queues: n.queues })),
  });
if (settings) new DatapathSettings('settings', settings);
const tunnels = cfg.getObject<{ name: string; bridge: string; vni: number; underlay: { iface: string; localIp: string; remoteIp: string } }[]>('tunnels') ?? [];
for (const t of tunnels) new VxlanPort(t.name, { bridge: made.get(t.bridge)?.name ?? t.bridge, vni: t.vni, underlay: t.underlay });

export const sockets = outs;
