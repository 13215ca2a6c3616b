// AgentToken: the bearer token a HostAgent's agent is installed with, made once by the provider
// on create (32 random bytes, hex) and kept in the stack's state as a secret output. Never an
// input, so no program text or config ever holds it; replacing the resource rotates it.
import * as pulumi from '@pulumi/pulumi';
import { makeProvider } from './load';
import { MODULE, RESOURCE_TYPES } from './tokens';

export class AgentToken extends pulumi.dynamic.Resource {
  declare readonly token: pulumi.Output<string>;
  constructor(name: string, opts?: pulumi.CustomResourceOptions) {
    super(makeProvider('token'), name, { token: undefined }, { ...opts, additionalSecretOutputs: ['token'] }, MODULE, RESOURCE_TYPES.token);
  }
}
