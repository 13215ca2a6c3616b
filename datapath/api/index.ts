// The API contract: every request the agent takes, validated by these schemas in the agent,
// in vhostctl and in the provider's check, and the one typed client of it. This module must
// never load native code.
export * from './fields';
export * from './counters';
export * from './bridge';
export * from './vhost-user';
export * from './tunnel';
export * from './dpdk-port';
export * from './port';
export * from './settings';
export * from './errors';
export * from './plan';
export * from './events';

export const API_PREFIX = '/v1';
export const DEFAULT_SOCKET = '/run/vhostnet/agent.sock';
export * from './qemu-nic';
export * from './client';
export * from './guest';
export * from './guest-vm';
export * from './hugepages';
