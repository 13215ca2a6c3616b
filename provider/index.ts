// vhostnet's Pulumi resources. Nothing here loads native code: previews run on a laptop.
export { Bridge, type BridgeArgs } from './bridge';
export { VhostUserClientPort, type VhostUserClientPortArgs } from './vhost-user-client-port';
export { VhostUserPort, type VhostUserPortArgs } from './vhost-user-port';
export { DatapathSettings, type DatapathSettingsArgs } from './datapath-settings';
export type { AgentConnection } from './connection';
export { GuestVM, type GuestVMArgs, type GuestNicArgs } from './guest-vm';
export { HugepageConfig, type HugepageConfigArgs } from './hugepage-config';
export { RemoteCommand, type RemoteCommandArgs, type SshConnection } from './remote-command';
export { RemoteCopy, type RemoteCopyArgs } from './remote-copy';
export { DpdkPort, type DpdkPortArgs } from './dpdk-port';
export { VxlanPort, type VxlanPortArgs, type VxlanUnderlayArgs } from './vxlan-port';
