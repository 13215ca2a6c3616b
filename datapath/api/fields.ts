// Field types shared by every object of the API. Each refusal says the rule, so the
// caller (agent, vhostctl, or the provider's check) can name the field and the rule.
import { z } from 'zod';

/** The vhost library handles at most this many queue pairs per port in our datapath. */
export const MAX_QUEUE_PAIRS = 16;
/** sockaddr_un.sun_path holds 108 bytes with its NUL: a longer path cannot be bound or connected. */
export const MAX_SOCKET_PATH = 107;

// A name becomes a socket file name (server ports) and a key in the agent's state, so it
// may never contain a path separator nor be "." or "..", as OVS refuses for dpdkvhostuser.
export const Name = z
  .string({ error: 'must be a string' })
  .min(1, { error: 'must not be empty' })
  .max(64, { error: 'must be at most 64 characters' })
  .refine((s) => !/[/\\]/.test(s), { error: "must not contain '/' or '\\' (a name becomes a socket file name)" })
  .refine((s) => !s.includes('\0'), { error: 'must not contain NUL' })
  .regex(/^[A-Za-z0-9][A-Za-z0-9_.-]*$/, {
    error: "must start with a letter or digit and contain only letters, digits, '.', '_' and '-'",
  });

export const Mac = z
  .string({ error: 'must be a string' })
  .regex(/^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}$/, { error: 'must be a MAC address like 02:00:00:00:00:01' })
  .refine((m) => (parseInt(m.slice(0, 2), 16) & 1) === 0, {
    error: 'must be a unicast MAC (the low bit of the first octet is the multicast bit)',
  })
  .refine((m) => !/^00(:00){5}$/.test(m), { error: 'must not be all zeros' })
  .transform((m) => m.toLowerCase());

/**
 * An absolute socket path, canonical once parsed: where it may live (allowed directories,
 * symlinks, one socket per port) is the agent's check, and it must see the path the kernel
 * resolves ("a//b" is "a/b": two spellings of one socket must not pass as two).
 */
export const SocketPath = z
  .string({ error: 'must be a string' })
  .refine((p) => !p.includes('\0'), { error: 'must not contain NUL' })
  .refine((p) => p.startsWith('/'), { error: 'must be an absolute path' })
  .refine((p) => !p.split('/').includes('..') && !p.split('/').includes('.'), {
    error: "must not contain '.' or '..' segments",
  })
  .refine((p) => !p.endsWith('/'), { error: 'must name a file, not a directory' })
  .refine((p) => Buffer.byteLength(p) <= MAX_SOCKET_PATH, {
    error: `must be at most ${MAX_SOCKET_PATH} bytes (the limit of a unix socket address)`,
  })
  // '.', '..' and a trailing '/' are refused above: empty segments are all that is left to fold.
  .transform((p) => p.replace(/\/{2,}/g, '/'));

/** A directory below the agent's run dir, as OVS's vhost-sock-dir: relative, never escaping. */
export const RelativeDir = z
  .string({ error: 'must be a string' })
  .refine((p) => !p.includes('\0'), { error: 'must not contain NUL' })
  .refine((p) => !p.startsWith('/'), { error: 'must be relative to the run directory' })
  .refine((p) => !p.split(/[/\\]/).includes('..'), { error: "must not contain '..' (it would escape the run directory)" })
  .refine((p) => p.length <= 64, { error: 'must be at most 64 characters' });

export const QueuePairs = z
  .int({ error: 'must be a whole number' })
  .min(1, { error: 'must be at least 1' })
  .max(MAX_QUEUE_PAIRS, { error: `must be at most ${MAX_QUEUE_PAIRS} (queue pairs the datapath supports)` });

/** Entries a bridge's MAC table holds at most (the datapath's kFdbCapacity). */
export const MAC_TABLE_MAX = 4096;
/** Learned MACs one port may hold (OVS has one per bridge: mac-table-size); 0: no limit. */
export const MacLimit = z
  .int({ error: 'must be a whole number' })
  .min(0, { error: 'must be at least 0 (0: no limit)' })
  .max(MAC_TABLE_MAX, { error: `must be at most ${MAC_TABLE_MAX} (the entries a bridge's table holds)` });

/** A port's own limit on learned MACs (every port type has it); the bridge's macLimitPerPort when absent. In place. */
export const PortMacLimit = MacLimit.optional();

/**
 * An MTU (OVS mtu_request): the longest IP packet a port's frames carry, Ethernet header not
 * counted. 9710 is the most a vhost-user guest frame may be in the datapath (one 10 KB mbuf).
 */
export const Mtu = z
  .int({ error: 'must be a whole number' })
  .min(68, { error: 'must be at least 68 (the smallest IPv4 MTU)' })
  .max(9710, { error: 'must be at most 9710 (the longest frame the datapath carries)' });

/** Optimistic concurrency: the version the caller last read; a mismatch is refused with 409. */
export const ExpectedVersion = z.int({ error: 'must be a whole number' }).min(1, { error: 'must be at least 1' });

/** Who manages an object (a Pulumi stack's URN prefix); another owner must adopt it on purpose. */
export const Owner = z.string({ error: 'must be a string' }).max(512, { error: 'must be at most 512 characters' });

/** The version field of every PUT body (settings have no owner: there is one per host). */
export const versioned = { expectedVersion: ExpectedVersion.optional() };
/** The owner and version fields of every named object's PUT body, defined once. */
export const owned = { owner: Owner.optional(), ...versioned };

/**
 * What the store keeps of a spec: the version it was checked against is not part of the object.
 * Distributes over a union (a plain Omit of a union keeps only the members' common keys).
 */
export type Stored<T> = T extends unknown ? Omit<T, 'expectedVersion'> : never;
