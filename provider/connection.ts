// Which agent a resource talks to: its `connection` input, else stack config (vhostnet:endpoint,
// vhostnet:token as a secret, vhostnet:caCert), else $VHOSTNET_AGENT / $VHOSTNET_TOKEN at deploy
// time, else the local agent's unix socket. The token is always a Pulumi secret.
import * as pulumi from '@pulumi/pulumi';

export interface AgentConnection {
  /** "unix:/run/vhostnet/agent.sock", "http://host:port" or "https://host:port". */
  endpoint?: pulumi.Input<string>;
  /** Bearer token for TCP endpoints; stored only as a secret. */
  token?: pulumi.Input<string>;
  /** PEM certificate the agent must present (pinning), for https endpoints. */
  caCert?: pulumi.Input<string>;
}

export interface ConnectionArgs {
  connection?: AgentConnection;
  /**
   * Adopt an object that already exists on the agent (made by hand or by another stack) instead
   * of refusing to take it over: create then checks that the declared fields match the live
   * object. This is `pulumi import` for these resources: the engine cannot import through a
   * dynamic provider (pulumi/pulumi#16175).
   */
  adopt?: pulumi.Input<boolean>;
}

/** Secret outputs every resource has: the token must never be in the state in plain text. */
export const SECRET_OUTPUTS = ['agentToken'];

export function connectionInputs(args: ConnectionArgs): Record<string, pulumi.Input<string | boolean> | undefined> {
  const cfg = new pulumi.Config('vhostnet');
  const token = args.connection?.token ?? cfg.getSecret('token');
  return {
    agentEndpoint: args.connection?.endpoint ?? cfg.get('endpoint'),
    agentToken: token === undefined ? undefined : pulumi.secret(token),
    agentCaCert: args.connection?.caCert ?? cfg.get('caCert'),
    owner: `${pulumi.getProject()}/${pulumi.getStack()}`,
    adopt: args.adopt,
  };
}

export function withSecrets(opts: pulumi.CustomResourceOptions | undefined): pulumi.CustomResourceOptions {
  return { ...opts, additionalSecretOutputs: [...(opts?.additionalSecretOutputs ?? []), ...SECRET_OUTPUTS] };
}
