// The two vhost-user port resources' operations (./vhost-user-port-base.ts is their resource
// base): one table per port type, the replace fields read from the contract's table.
import { PORT_REPLACE_FIELDS, PortSpec, type VhostUserPortState } from '../datapath/api';
import { objectsOf, pick, type KindOps } from './kind-ops';

const outputs = (o: Record<string, unknown>) => {
  const p = o as unknown as VhostUserPortState;
  return {
    socketPath: p.socketPath,
    macAddress: p.mac,
    qemuArgs: p.qemuArgs,
    link: p.status?.link ?? 'down',
    linkReason: p.status?.reason ?? '',
    version: p.version,
  };
};

// `type` is the resource's own (one resource per type): never a property that changes.
const replaceOn = (type: 'dpdkvhostuserclient' | 'dpdkvhostuser') => PORT_REPLACE_FIELDS[type].filter((f) => f !== 'type');

function vhostUserOps(type: 'dpdkvhostuserclient' | 'dpdkvhostuser', fields: readonly string[]): KindOps {
  return {
    schema: PortSpec,
    objects: (c) => objectsOf(c.ports),
    spec: (p) => ({ ...pick(p, fields), type }),
    replaceOn: replaceOn(type),
    outputs,
    // A MAC the agent derived is an output (macAddress), not an input the program gave.
    derived: ['mac'],
  };
}

export const clientPortOps = vhostUserOps('dpdkvhostuserclient', ['name', 'bridge', 'vhostServerPath', 'queues', 'mac', 'macLimit', 'mtu']);
export const serverPortOps = vhostUserOps('dpdkvhostuser', ['name', 'bridge', 'queues', 'mac', 'macLimit', 'mtu']);
