// The exposition format as Prometheus parses it: escaping, histogram buckets, families.
import { strict as assert } from 'node:assert';
import { ApiMetrics, LATENCY_BUCKETS, collect, type MetricsSources } from '../../datapath/agent/metrics';

function sources(over: Partial<MetricsSources> = {}): MetricsSources {
  return {
    ports: () => [],
    pmds: () => [],
    bridges: () => [],
    guests: async () => [],
    api: new ApiMetrics(),
    build: { version: '0.1.0', dpdkVersion: '22.11.4' },
    ...over,
  };
}

describe('80 agent metrics: text exposition', () => {
  it('escapes backslashes, quotes and newlines in label values', async () => {
    const text = await collect(sources({ build: { version: 'a"b\\c\nd', dpdkVersion: 'x' } }));
    assert.ok(text.includes('vhostnet_build_info{version="a\\"b\\\\c\\nd",dpdk_version="x"} 1\n'), text);
  });

  it("an uplink's and a tunnel's device counters: rx/tx errors, and the frames dropped before a PMD saw them", async () => {
    const stats = { rxPackets: 1, rxBytes: 2, txPackets: 3, txBytes: 4, txDrops: 0, drops: { ringFull: 0 } };
    const counters = { rxMissed: 7, rxErrors: 2, rxNoMbuf: 1, txErrors: 3 };
    const text = await collect(
      sources({
        ports: () => [
          { name: 'up0', bridge: 'br0', type: 'dpdk', status: { link: 'up', stats, queues: [], device: { counters } } },
          {
            name: 'vx0',
            bridge: 'br0',
            type: 'vxlan',
            status: { link: 'up', stats, queues: [], underlay: { counters: { ...counters, rxMissed: 9, kernelRxDropped: 11, kernelTxDropped: 0 } } },
          },
        ],
      }),
    );
    assert.match(text, /vhostnet_interface_rx_errors_total\{bridge="br0",port="up0",type="dpdk"\} 2\n/);
    assert.match(text, /vhostnet_interface_tx_errors_total\{bridge="br0",port="up0",type="dpdk"\} 3\n/);
    assert.match(text, /vhostnet_interface_dropped_total\{bridge="br0",port="up0",type="dpdk",reason="device_rx_missed"\} 7\n/);
    assert.match(text, /vhostnet_interface_dropped_total\{bridge="br0",port="up0",type="dpdk",reason="device_rx_nombuf"\} 1\n/);
    assert.match(text, /vhostnet_interface_dropped_total\{bridge="br0",port="vx0",type="vxlan",reason="device_rx_missed"\} 9\n/);
    // over a kernel interface, the kernel's own drops; a PCI NIC (up0 here) has none to show
    assert.match(text, /vhostnet_interface_dropped_total\{bridge="br0",port="vx0",type="vxlan",reason="kernel_rx_dropped"\} 11\n/);
    assert.match(text, /vhostnet_interface_dropped_total\{bridge="br0",port="vx0",type="vxlan",reason="kernel_tx_dropped"\} 0\n/);
    assert.doesNotMatch(text, /port="up0",type="dpdk",reason="kernel_/);
  });

  it('latency buckets are cumulative and end with +Inf = _count', async () => {
    const api = new ApiMetrics();
    for (const s of [0.0005, 0.003, 0.003, 20]) api.observe('PUT', '/v1/ports/:name', 200, s);
    const text = await collect(sources({ api }));
    const bucket = (le: string) =>
      Number(
        new RegExp(`vhostnet_api_request_duration_seconds_bucket\\{route="/v1/ports/:name",method="PUT",le="${le.replace('+', '\\+')}"\\} (\\d+)`).exec(
          text,
        )?.[1],
      );
    assert.equal(bucket('0.001'), 1);
    assert.equal(bucket('0.005'), 3);
    assert.equal(bucket(String(LATENCY_BUCKETS.at(-1))), 3);
    assert.equal(bucket('+Inf'), 4);
    assert.match(text, /vhostnet_api_request_duration_seconds_count\{route="\/v1\/ports\/:name",method="PUT"\} 4\n/);
    assert.match(text, /vhostnet_api_requests_total\{route="\/v1\/ports\/:name",method="PUT",status="200"\} 4\n/);
  });

  it('each family has one HELP and one TYPE line, before its samples', async () => {
    const port = (name: string) => ({
      name,
      bridge: 'br0',
      type: 'dpdkvhostuserclient',
      status: {
        link: 'up',
        stats: { rxPackets: 1, rxBytes: 2, txPackets: 3, txBytes: 4, txDrops: 5 },
        queues: [{ rxPackets: 1, rxBytes: 2, txPackets: 3, txBytes: 4, txDrops: 5 }],
      },
    });
    const text = await collect(sources({ ports: () => [port('p0'), port('p1')] }));
    const types = [...text.matchAll(/^# TYPE (\S+)/gm)].map((m) => m[1]);
    assert.equal(new Set(types).size, types.length, 'no family declared twice');
    for (const line of text.split('\n').filter((l) => l && !l.startsWith('#'))) {
      const name = /^[a-z_]+/.exec(line)![0];
      const family = types.find((t) => name === t || (name.startsWith(t) && /^_(bucket|sum|count)$/.test(name.slice(t.length))));
      assert.ok(family, `${line} belongs to a declared family`);
      assert.ok(text.indexOf(`# TYPE ${family}`) < text.indexOf(line), `${family} is declared before ${line}`);
    }
    assert.match(text, /vhostnet_interface_dropped_total\{bridge="br0",port="p1",type="dpdkvhostuserclient",reason="tx_ring_full"\} 5\n/);
  });
});
