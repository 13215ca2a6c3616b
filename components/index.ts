// Higher-level building blocks made of the provider's resources.
export {
  VhostNetwork,
  VhostNetworkArgError,
  VHOST_NETWORK_TYPE,
  nicList,
  planNetwork,
  type GuestNetworkOutputs,
  type NetworkPlan,
  type VhostNetworkArgs,
  type VhostNetworkGuest,
  type VhostNetworkNic,
} from './vhost-network';
export { HostAgent, HostAgentArgError, HOST_AGENT_TYPE, agentEndpoint, hostAgentSettings, type HostAgentArgs } from './host-agent';
