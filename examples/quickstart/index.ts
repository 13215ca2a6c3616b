// The OVS-DPDK "vHost User Ports" quick example, declared instead of typed:
//   ovs-vsctl add-br br0 -- set bridge br0 datapath_type=netdev
//   ovs-vsctl add-port br0 dpdkvhostclient0 -- set Interface dpdkvhostclient0 type=dpdkvhostuserclient \
//       options:vhost-server-path=/tmp/dpdkvhostclient0
//   (and dpdkvhostclient1 likewise)
import * as pulumi from '@pulumi/pulumi';
import { Bridge, VhostUserClientPort } from 'vhostnet';

const cfg = new pulumi.Config();
const socketDir = cfg.get('socketDir') ?? '/run/vhostnet-qemu';

const br0 = new Bridge('br0');
const ports = [0, 1].map(
  (i) =>
    new VhostUserClientPort(`dpdkvhostclient${i}`, {
      bridge: br0.name,
      vhostServerPath: `${socketDir}/dpdkvhostclient${i}`,
    }),
);

export const bridge = br0.name;
export const sockets = ports.map((p) => p.socketPath);
export const macs = ports.map((p) => p.macAddress);
/** Paste into each guest's QEMU command line. */
export const qemuArgs = ports.map((p) => p.qemuArgs);
export const links = ports.map((p) => p.link);
