// The guest (GuestVM) module's public surface, for the agent to import from one place.
export * from './accel';
export * from './backend';
export * from './argv';
export * from './console';
export * from './libvirt-xml';
export * from './paths';
export * from './pinning';
export * from './qmp';
export * from './supervisor';
export * from './version';
