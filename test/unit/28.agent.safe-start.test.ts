// A start DPDK's EAL refused (agent.ts): which settings a safe start takes, what it reports as
// refused, and when startAgent asks main.ts to re-execute the agent rather than exit.
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { SettingsSpec } from '../../datapath/api';
import { SafeStartNeeded, safeRunningSettings, startAgent } from '../../datapath/agent/agent';
import type { EalOptions } from '../../datapath/native/addon';
import { Store } from '../../datapath/agent/store';
import { FakeNative } from '../helpers/fake-native';

const defaults = (): SettingsSpec => ({ vhostSockDir: '.', vhostIommuSupport: false, pmdCpus: [], memoryMb: 256, hugepages: 'auto', pmdMaxSleepUs: 200 });
const host = { hugeFreeMb: 512, memAvailableMb: 4096 };

/** The fake addon, but its EAL refuses more than limitMb of memory, as a real one short of hugepages. */
class RefusingNative extends FakeNative {
  inits: EalOptions[] = [];
  constructor(private readonly limitMb: number) {
    super();
  }
  override init(o: EalOptions) {
    this.inits.push(o);
    if (o.memoryMb > this.limitMb) throw new Error('init: rte_eal_init failed: Cannot allocate memory');
    return super.init(o);
  }
}

describe('28 agent safe start (own logic, fake addon)', () => {
  it('takes the last good settings and refuses every stored restart setting that differs, with the EAL error', () => {
    const lastGood = { pmdCpus: [0], memoryMb: 128, hugepages: 'auto' as const, vhostIommuSupport: false };
    const { running, taken } = safeRunningSettings({ ...defaults(), hugepages: 'on', memoryMb: 400 }, 'init: boom', [0, 1], lastGood, host);
    assert.deepEqual(taken, lastGood);
    assert.deepEqual(running.pmdCpus, [0]);
    assert.equal(running.memoryMb, 128);
    assert.deepEqual(
      running.refused!.map((r) => r.field),
      ['pmdCpus', 'memoryMb', 'hugepages'],
    );
    assert.ok(
      running.refused!.every(
        (r) => r.rule === 'the datapath could not start with the stored settings (init: boom); the last settings the datapath started with are used',
      ),
    );
  });

  it('without last good settings (or ones the host cannot run): the defaults', () => {
    const { running } = safeRunningSettings(
      { ...defaults(), memoryMb: 400 },
      'x',
      [0, 1],
      { pmdCpus: [7], memoryMb: 128, hugepages: 'auto', vhostIommuSupport: false },
      host,
    );
    assert.equal(running.memoryMb, 256);
    assert.deepEqual(
      running.refused!.map((r) => r.field),
      ['memoryMb'],
    );
    assert.match(running.refused![0].rule, /; the defaults are used$/);
  });

  describe('startAgent', () => {
    let dir: string;
    beforeEach(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vhostnet-safe-'))));
    afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));
    const cfg = () => ({ runDir: path.join(dir, 'run'), stateDir: path.join(dir, 'state'), filePrefix: 'x', allowedSocketDirs: [dir] });
    const storeSettings = (s: Partial<SettingsSpec>) => {
      const store = new Store(path.join(dir, 'state'), { log: () => {} });
      store.put('settings', 'global', { ...defaults(), ...s });
      store.close();
    };

    it('an EAL refusal of stored settings other than the safe ones asks for a safe start; the safe start serves with the defaults', async () => {
      storeSettings({ memoryMb: 300, hugepages: 'off' });
      const native = new RefusingNative(256);
      await assert.rejects(startAgent(cfg(), native), (e: Error) => e instanceof SafeStartNeeded && /Cannot allocate memory/.test(e.message));
      const safe = new RefusingNative(256);
      const agent = await startAgent({ ...cfg(), safeStart: { reason: 'init: rte_eal_init failed: Cannot allocate memory' } }, safe);
      try {
        assert.equal(safe.inits[0].memoryMb, 256);
        const running = agent.control.settings.get().running;
        assert.deepEqual(
          running.refused!.map((r) => r.field),
          ['memoryMb', 'hugepages'],
        );
      } finally {
        await agent.stop();
      }
    });

    it('an EAL refusal of the safe settings themselves is no reason to start again: the error as it is', async () => {
      await assert.rejects(startAgent(cfg(), new RefusingNative(100)), (e: Error) => !(e instanceof SafeStartNeeded) && /rte_eal_init failed/.test(e.message));
    });
  });
});
