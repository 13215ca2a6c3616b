// One host from bare SSH access to a working datapath in one `pulumi up`: HostAgent copies the
// agent's Debian package over SSH, installs it (apt-get pulls Debian's DPDK libraries), makes the
// host's CA and server certificate, and starts the agent on TLS; the bridge and the port then
// talk to it through its https endpoint, pinning that CA, with its token.
//
// Config:
//   host, port (22), user (root)   the SSH target
//   privateKey                     (secret) an unencrypted private key the host accepts
//   hostKey                        the host's public key line (pinned); or trustOnFirstUse: true
//   package                        the vhostnet-agent_<version>_amd64.deb (npm run package:deb prints it)
//   version                        names what is installed (default: the package's sha256)
//   listen                         tcp://127.0.0.1:8470 by default: the program must run on the host
//   runDir, stateDir, filePrefix   as HostAgentArgs (defaults: /run/vhostnet, /var/lib/vhostnet, vhostnet)
//   socketDir                      where QEMU's socket for the port will be (default /run/vhostnet-qemu, the agent's default socket directory)
//   agentArgs                      extra agent arguments (list)
import * as pulumi from '@pulumi/pulumi';
import { HostAgent } from 'vhostnet/components';
import { Bridge, VhostUserClientPort } from 'vhostnet';

const cfg = new pulumi.Config();
const socketDir = cfg.get('socketDir') ?? '/run/vhostnet-qemu';

const host = new HostAgent('h1', {
  connection: {
    host: cfg.require('host'),
    port: cfg.getNumber('port'),
    user: cfg.get('user'),
    privateKey: cfg.requireSecret('privateKey'),
    hostKey: cfg.get('hostKey'),
    trustOnFirstUse: cfg.getBoolean('trustOnFirstUse'),
  },
  package: cfg.require('package'),
  version: cfg.get('version'),
  listen: cfg.get('listen'),
  runDir: cfg.get('runDir'),
  stateDir: cfg.get('stateDir'),
  filePrefix: cfg.get('filePrefix'),
  socketDirs: [socketDir],
  agentArgs: cfg.getObject<string[]>('agentArgs'),
});

const connection = { endpoint: host.endpoint, token: host.token, caCert: host.caCert };
const br0 = new Bridge('br0', { connection });
const port = new VhostUserClientPort('vm1-eth0', { connection, bridge: br0.name, vhostServerPath: `${socketDir}/vm1-eth0` });

export const endpoint = host.endpoint;
export const caCert = host.caCert;
export const version = host.version;
export const socketPath = port.socketPath;
