// Every resource's type token and the kind its serialized provider names, in one place. Both are
// written into stacks' state: a token or kind renamed here would orphan every deployed resource.
export const MODULE = 'vhostnet';

/** Kinds whose operations talk to a host's agent. */
export const AGENT_KINDS = ['bridge', 'clientPort', 'serverPort', 'settings', 'guest', 'hugepages', 'vxlanPort', 'dpdkPort'] as const;
export type Kind = (typeof AGENT_KINDS)[number];

/** Kinds whose operations run over SSH (./remote-impl.ts). */
export const REMOTE_KINDS = ['command', 'copy'] as const;

/** The HostAgent's token, made by the provider itself (./agent-token.ops.ts). */
export const TOKEN_KIND = 'token';

/** The type token of each kind's resource: `vhostnet:<type>`. */
export const RESOURCE_TYPES = {
  bridge: 'Bridge',
  clientPort: 'VhostUserClientPort',
  serverPort: 'VhostUserPort',
  settings: 'DatapathSettings',
  guest: 'GuestVM',
  hugepages: 'HugepageConfig',
  vxlanPort: 'VxlanPort',
  dpdkPort: 'DpdkPort',
  command: 'RemoteCommand',
  copy: 'RemoteCopy',
  token: 'AgentToken',
} as const satisfies Record<Kind | (typeof REMOTE_KINDS)[number] | typeof TOKEN_KIND, string>;
