// A command run on a host over SSH at create, update and delete, as @pulumi/command's
// remote.Command (whose plugin cannot be fetched here): the system's OpenSSH client does the work.
import * as pulumi from '@pulumi/pulumi';
import type * as dynamic from '@pulumi/pulumi/dynamic';
import { makeProvider } from './load';
import type { RemoteKind } from './remote-impl';

/** How to reach the host. The private key is stored only as a secret. */
export interface SshConnection {
  host: pulumi.Input<string>;
  /** Default 22. */
  port?: pulumi.Input<number>;
  /** Default root. */
  user?: pulumi.Input<string>;
  /** An unencrypted private key (OpenSSH or PEM). Always made a secret. */
  privateKey: pulumi.Input<string>;
  /**
   * The host's public key ("ssh-ed25519 AAAA...", as in its /etc/ssh/ssh_host_*_key.pub): only
   * that key is accepted. Required unless `trustOnFirstUse` is true.
   */
  hostKey?: pulumi.Input<string>;
  /**
   * Without a `hostKey`: accept the first key the host shows and remember it (accept-new) in
   * vhostnet's own known_hosts (~/.cache/vhostnet/ssh_known_hosts, or $VHOSTNET_KNOWN_HOSTS).
   * A fresh CI runner starts with that file empty, so it trusts whoever answers: choose it
   * explicitly, never by default.
   */
  trustOnFirstUse?: pulumi.Input<boolean>;
}

export interface RemoteCommandArgs {
  connection: SshConnection;
  /** Runs on create (and on update when `update` is absent), by /bin/sh. */
  create: pulumi.Input<string>;
  /** Runs when create, update or environment change; $PULUMI_COMMAND_STDOUT/STDERR hold the last run's output. */
  update?: pulumi.Input<string>;
  /** Runs on delete (and on the old resource of a replacement); $PULUMI_COMMAND_STDOUT/STDERR as for update. */
  delete?: pulumi.Input<string>;
  /** Exported to the commands; sent on ssh's stdin, never on a command line. Stored as a secret. */
  environment?: pulumi.Input<Record<string, pulumi.Input<string>>>;
  /** Any change replaces the resource (create runs again, then the old one's delete). */
  triggers?: pulumi.Input<unknown[]>;
}

/** Inputs and outputs that are secrets in the state: the key, and the environment (it may hold tokens). */
export const REMOTE_SECRETS = ['privateKey', 'environment'];

/** The serialized provider of a remote kind: portable, as ./load.ts makes every kind's. */
export function remoteProvider(kind: RemoteKind): dynamic.ResourceProvider {
  return makeProvider(kind);
}

/** The connection as resource inputs: the key apart, so it alone is a secret. */
export function sshInputs(c: SshConnection): Record<string, pulumi.Input<unknown>> {
  return {
    connection: { host: c.host, port: c.port ?? 22, user: c.user ?? 'root', hostKey: c.hostKey, trustOnFirstUse: c.trustOnFirstUse },
    privateKey: pulumi.secret(c.privateKey),
  };
}

export class RemoteCommand extends pulumi.dynamic.Resource {
  declare readonly stdout: pulumi.Output<string>;
  declare readonly stderr: pulumi.Output<string>;

  constructor(name: string, args: RemoteCommandArgs, opts?: pulumi.CustomResourceOptions) {
    super(
      remoteProvider('command'),
      name,
      {
        ...sshInputs(args.connection),
        create: args.create,
        update: args.update,
        delete: args.delete,
        environment: args.environment === undefined ? undefined : pulumi.secret(args.environment),
        triggers: args.triggers,
        stdout: undefined,
        stderr: undefined,
      },
      { ...opts, additionalSecretOutputs: [...(opts?.additionalSecretOutputs ?? []), ...REMOTE_SECRETS] },
      'vhostnet',
      'RemoteCommand',
    );
  }
}
