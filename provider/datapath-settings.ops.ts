// The DatapathSettings resource's operations table (./datapath-settings.ts is the resource).
import { SettingsSpec, type SettingsState } from '../datapath/api';
import { pick, type KindOps } from './kind-ops';

export const settingsOps: KindOps = {
  schema: SettingsSpec,
  // One settings object per agent, read and set: the name is not the agent's.
  objects: (c) => ({
    get: () => c.settings.get() as unknown as Promise<Record<string, unknown>>,
    put: (_name, spec, o) => c.settings.put(spec, o) as unknown as ReturnType<ReturnType<KindOps['objects']>['put']>,
    delete: () => Promise.reject(new Error('the agent settings cannot be deleted, only set')),
  }),
  spec: (p) => pick(p, ['vhostSockDir', 'vhostIommuSupport', 'pmdCpus', 'memoryMb', 'hugepages', 'pmdMaxSleepUs']),
  replaceOn: [],
  outputs: (o) => ({ version: o.version, restartRequired: (o as unknown as SettingsState).restartRequired }),
  singleton: true,
};
