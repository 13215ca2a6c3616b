// The "MAC limit hit" event: one per port when it starts refusing source MACs, then at most one
// a minute while it goes on, however many MACs the datapath refuses (its counter counts each).
// The watcher's own logic, fed port states as the agent reports them and a clock of the test's.
import { strict as assert } from 'node:assert';
import { EventLog, EventWatcher, MAC_LIMIT_EVENT_EVERY_MS } from '../../datapath/agent/events';
import type { MacLimitEvent } from '../../datapath/api';

describe('22 agent events: a port at its MAC limit', () => {
  const refused: Record<string, number> = {};
  let now = 1_000_000;
  const log = new EventLog(() => undefined);
  const port = (name: string) => ({
    name,
    bridge: 'br0',
    type: 'dpdkvhostuserclient',
    status: { link: 'up', stats: { drops: { macLimit: refused[name] ?? 0 } } },
  });
  const names = ['p1', 'p2'];
  const w = new EventWatcher(
    log,
    { ports: () => names.map(port), guests: () => Promise.resolve([]), restartRequired: () => [], macLimit: (p) => (p.name === 'p1' ? 16 : 2048) },
    () => now,
  );
  const limits = () => log.since(0).events.filter((e): e is MacLimitEvent => e.type === 'macLimit');
  const look = async (advanceMs = 1000) => {
    now += advanceMs;
    await w.check();
  };

  it('says nothing at the first look about what was counted before', async () => {
    refused.p1 = 5;
    await look();
    assert.equal(limits().length, 0);
  });
  it('one event when a port starts refusing, with its bridge, port, limit and the count', async () => {
    refused.p1 = 5 + 10000; // a guest spraying 10,000 source MACs
    await look();
    assert.deepEqual(
      limits().map((e) => [e.bridge, e.port, e.limit, e.refused, e.refusedTotal]),
      [['br0', 'p1', 16, 10000, 10005]],
    );
    assert.match(limits()[0].reason, /p1.*limit of 16 learned MACs.*br0/);
  });
  it('no second event while the port keeps refusing within the interval', async () => {
    for (let i = 0; i < 30; i++) {
      refused.p1 += 1000;
      await look();
    }
    assert.equal(limits().length, 1);
  });
  it('another port at its limit is its own event', async () => {
    refused.p2 = 1;
    await look();
    assert.deepEqual(
      limits().map((e) => e.port),
      ['p1', 'p2'],
    );
  });
  it('after the interval, one more event with what was refused since the last', async () => {
    const before = refused.p1;
    refused.p1 += 7;
    await look(MAC_LIMIT_EVENT_EVERY_MS);
    const last = limits().at(-1)!;
    assert.equal(last.port, 'p1');
    assert.equal(last.refusedTotal, before + 7);
    assert.equal(last.refused, before + 7 - 10005);
  });
  it('a port that stopped refusing stays quiet', async () => {
    const n = limits().length;
    await look(2 * MAC_LIMIT_EVENT_EVERY_MS);
    assert.equal(limits().length, n);
  });
});
