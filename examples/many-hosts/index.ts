// One stack managing the datapath of several hosts. Every resource carries its own host's
// connection, so nothing depends on another host: the engine applies the hosts in parallel,
// and one host that fails does not hold back (or roll back) the others.
//
// Config:
//   hosts:           [{ name, endpoint, socketDir }]  (endpoint: unix:/... or https://host:port)
//   tokens:          (secret) { <host name>: <bearer token> } for TCP endpoints
//   portsPerHost:    client ports per host (default 2)
//   queues:          queue pairs of every port (default 1)
//   macAgingSeconds: bridge MAC aging on every host (default 300)
import * as pulumi from '@pulumi/pulumi';
import { Bridge, VhostUserClientPort } from 'vhostnet';

interface Host {
  name: string;
  endpoint: string;
  socketDir: string;
}

const cfg = new pulumi.Config();
const hosts = cfg.requireObject<Host[]>('hosts');
const tokens = cfg.getSecretObject<Record<string, string>>('tokens');
const portsPerHost = cfg.getNumber('portsPerHost') ?? 2;
const queues = cfg.getNumber('queues') ?? 1;
const macAgingSeconds = cfg.getNumber('macAgingSeconds') ?? 300;

hosts.forEach((h, i) => {
  for (const [field, v] of Object.entries({ name: h?.name, endpoint: h?.endpoint, socketDir: h?.socketDir }))
    if (typeof v !== 'string' || v === '') throw new Error(`config hosts[${i}].${field} must be a non-empty string`);
});
const dup = hosts.find((h, i) => hosts.findIndex((o) => o.name === h.name) !== i);
if (dup) throw new Error(`config hosts: name '${dup.name}' must be unique (it prefixes the resource names)`);

export const perHost = Object.fromEntries(
  hosts.map((h) => {
    const connection = { endpoint: h.endpoint, token: tokens?.apply((t) => t[h.name] ?? '') };
    // Resource names carry the host: the same bridge name exists once per host.
    const br0 = new Bridge(`${h.name}-br0`, { connection, name: 'br0', macAgingSeconds });
    const ports = Array.from(
      { length: portsPerHost },
      (_, i) =>
        new VhostUserClientPort(
          `${h.name}-dpdkvhostclient${i}`,
          { connection, name: `dpdkvhostclient${i}`, bridge: br0.name, vhostServerPath: `${h.socketDir}/dpdkvhostclient${i}`, queues },
          { dependsOn: [br0] },
        ),
    );
    return [h.name, { endpoint: h.endpoint, sockets: pulumi.all(ports.map((p) => p.socketPath)), macs: pulumi.all(ports.map((p) => p.macAddress)) }];
  }),
);
