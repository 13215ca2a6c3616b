// A local file copied to a host over SSH, as @pulumi/command's remote.CopyToRemote.
import * as pulumi from '@pulumi/pulumi';
import { REMOTE_SECRETS, remoteProvider, sshInputs, type SshConnection } from './remote-command';

export interface RemoteCopyArgs {
  connection: SshConnection;
  /** An absolute path of a file on the machine running `pulumi up`. */
  localPath: pulumi.Input<string>;
  /** An absolute file path on the host; its directory is made. Another path replaces. */
  remotePath: pulumi.Input<string>;
  /** Any change copies the file again (pass the file's hash: the content is not compared). */
  triggers?: pulumi.Input<unknown[]>;
  /**
   * Delete removes the remote file (and its directory if then empty). Default false, as
   * @pulumi/command leaves copies behind.
   */
  removeOnDelete?: pulumi.Input<boolean>;
}

export class RemoteCopy extends pulumi.dynamic.Resource {
  declare readonly remotePath: pulumi.Output<string>;

  constructor(name: string, args: RemoteCopyArgs, opts?: pulumi.CustomResourceOptions) {
    super(
      remoteProvider('copy'),
      name,
      {
        ...sshInputs(args.connection),
        localPath: args.localPath,
        remotePath: args.remotePath,
        triggers: args.triggers,
        removeOnDelete: args.removeOnDelete ?? false,
      },
      { ...opts, additionalSecretOutputs: [...(opts?.additionalSecretOutputs ?? []), ...REMOTE_SECRETS] },
      'vhostnet',
      'RemoteCopy',
    );
  }
}
