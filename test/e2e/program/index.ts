// One program for the end-to-end tests: the stack's config says what to declare, so a test
// changes the config and runs the real engine again.
import * as pulumi from '@pulumi/pulumi';
import { Bridge, DatapathSettings, VhostUserClientPort, VhostUserPort } from '../../../provider';

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
for (const p of ports) {
  const bridge = made.get(p.bridge)?.name ?? p.bridge;
  const opts = made.get(p.bridge) ? { dependsOn: [made.get(p.bridge)!] } : {};
  const port =
    p.type === 'server'
      ? new VhostUserPort(p.name, { bridge, queues: p.queues, mac: p.mac, adopt: p.adopt }, opts)
      : new VhostUserClientPort(p.name, { bridge, vhostServerPath: p.path!, queues: p.queues, mac: p.mac, adopt: p.adopt }, opts);
  outs[p.name] = port.socketPath;
}
if (settings) new DatapathSettings('settings', settings);

export const sockets = outs;
