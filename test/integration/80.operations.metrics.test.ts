// Operators read the datapath in their own Prometheus: a real Prometheus server (Debian's
// package) scrapes the agent's --metrics-listen endpoint and loads the alert rules from docs/;
// what it reports agrees with what a testpmd guest sent.
import { strict as assert } from 'node:assert';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import type { PortState, VhostUserPortState } from '../../datapath/api';
import { AgentProcess, waitFor } from '../helpers/agent-process';
import { TestpmdGuest } from '../helpers/testpmd';

const DOCS = path.resolve(__dirname, '../../../docs/monitoring');
const MAC = ['02:00:00:00:80:00', '02:00:00:00:80:01'];

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

interface PromSample {
  metric: Record<string, string>;
  value: [number, string];
}

describe('80 operations: Prometheus metrics scraped by a real Prometheus', function () {
  this.timeout(240000);
  let agent: AgentProcess;
  let guest: TestpmdGuest;
  let prom: ChildProcess;
  let promUrl: string;
  let metricsUrl: string;

  const query = async (q: string, time?: number): Promise<PromSample[]> => {
    const u = new URL('/api/v1/query', promUrl);
    u.searchParams.set('query', q);
    if (time !== undefined) u.searchParams.set('time', String(time));
    const body = (await (await fetch(u)).json()) as { status: string; data: { result: PromSample[] }; error?: string };
    if (body.status !== 'success') throw new Error(`prometheus query ${q}: ${body.error}`);
    return body.data.result;
  };
  const scrape = async () => (await fetch(metricsUrl)).text();
  /** The value of one series in our own scrape, by exact label set. */
  const sampleOf = (text: string, name: string, labels: Record<string, string>) => {
    const want = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
    const line = text.split('\n').find((l) => l.startsWith(`${name}{`) && want.every((w) => l.includes(w)));
    return line === undefined ? undefined : Number(line.slice(line.lastIndexOf(' ') + 1));
  };

  before(async () => {
    agent = await AgentProcess.start({ name: 'metrics', args: ['--metrics-listen', 'tcp://127.0.0.1:0'] });
    const m = /metrics on (http:\/\/\S+)/.exec(agent.log);
    assert.ok(m, `the agent says where its metrics are: ${agent.log}`);
    metricsUrl = m[1];
    const starting = TestpmdGuest.start({
      name: `g-metrics-${process.pid}`,
      logDir: agent.dir,
      ports: MAC.map((mac, i) => ({ path: path.join(agent.dir, `guest-${i}.sock`), server: true, mac })),
    });
    await agent.client.put('/bridges/br0', {});
    for (let i = 0; i < MAC.length; i++)
      await agent.client.put(`/ports/p${i}`, { bridge: 'br0', type: 'dpdkvhostuserclient', vhostServerPath: path.join(agent.dir, `guest-${i}.sock`) });
    guest = await starting;
    await waitFor('both ports up', async () => (await agent.client.get<PortState[]>('/ports')).every((p) => p.status!.link === 'up'));

    const port = await freePort();
    promUrl = `http://127.0.0.1:${port}`;
    const target = new URL(metricsUrl).host;
    const cfg = path.join(agent.dir, 'prometheus.yml');
    fs.writeFileSync(
      cfg,
      [
        'global: { scrape_interval: 1s, evaluation_interval: 1s }',
        `rule_files: [${JSON.stringify(path.join(DOCS, 'alerts.yml'))}]`,
        'scrape_configs:',
        '  - job_name: vhostnet',
        `    static_configs: [{ targets: [${JSON.stringify(target)}] }]`,
        '',
      ].join('\n'),
    );
    const log = fs.openSync(path.join(agent.dir, 'prometheus.log'), 'a');
    prom = spawn('prometheus', [`--config.file=${cfg}`, `--storage.tsdb.path=${path.join(agent.dir, 'tsdb')}`, `--web.listen-address=127.0.0.1:${port}`], {
      stdio: ['ignore', log, log],
    });
    fs.closeSync(log);
    await waitFor('prometheus ready', async () => (await fetch(`${promUrl}/-/ready`)).ok, 60000, 500);
    await waitFor('the agent target up', async () => (await query('up{job="vhostnet"}')).some((s) => s.value[1] === '1'), 30000, 500);
  });

  let failed = false;
  afterEach(function () {
    if (this.currentTest?.state === 'failed') failed = true;
  });

  after(async () => {
    prom?.kill('SIGTERM');
    await guest?.stop();
    await agent?.stop();
    // Kept, with prometheus.log and agent.log, when something failed.
    if (agent && !failed) fs.rmSync(agent.dir, { recursive: true, force: true });
  });

  it('the alert rules in docs/ pass promtool and are loaded by Prometheus', async () => {
    const check = spawnSync('promtool', ['check', 'rules', path.join(DOCS, 'alerts.yml')], { encoding: 'utf8' });
    assert.equal(check.status, 0, check.stdout + check.stderr);
    const rules = (await (await fetch(`${promUrl}/api/v1/rules`)).json()) as { data: { groups: { rules: { name: string; health: string }[] }[] } };
    const loaded = rules.data.groups.flatMap((g) => g.rules);
    assert.deepEqual(loaded.map((r) => r.name).sort(), [
      'VhostnetAgentDown',
      'VhostnetDropsRising',
      'VhostnetFdbFull',
      'VhostnetLinkDown',
      'VhostnetPmdSaturated',
    ]);
    await waitFor('every rule evaluated without error', async () => {
      const r = (await (await fetch(`${promUrl}/api/v1/rules`)).json()) as typeof rules;
      return r.data.groups.flatMap((g) => g.rules).every((x) => x.health === 'ok');
    });
  });

  it('build info, link state and negotiated features are there by their OVS-exporter names', async () => {
    const build = await query('vhostnet_build_info');
    assert.equal(build.length, 1);
    assert.equal(build[0].metric.version, '0.1.0');
    assert.match(build[0].metric.dpdk_version, /^22\.11/);
    const link = await query('vhostnet_interface_link_state');
    assert.deepEqual(link.map((s) => `${s.metric.bridge}/${s.metric.port}/${s.metric.type}=${s.value[1]}`).sort(), [
      'br0/p0/dpdkvhostuserclient=1',
      'br0/p1/dpdkvhostuserclient=1',
    ]);
    const api = await agent.client.get<VhostUserPortState>('/ports/p0');
    const features = await query('vhostnet_interface_features_info{port="p0"}');
    assert.equal(features[0].metric.negotiated, api.status!.features.negotiated);
  });

  it("the rate of a port's rx packets agrees with what the testpmd guest sent", async () => {
    await guest.startForwarding('txonly');
    await new Promise((r) => setTimeout(r, 2000)); // steady before the window
    // The guest's counter read every half second, so its rate can be taken over exactly the
    // window Prometheus's rate() covers: on a loaded machine the send rate moves, and two
    // different windows disagree by more than any counting error would.
    const polls: { t: number; tx: number }[] = [];
    const until = Date.now() + 9000;
    while (Date.now() < until) {
      const tx = (await guest.counters())[0].txPackets;
      polls.push({ t: Date.now() / 1000, tx });
      await new Promise((r) => setTimeout(r, 500));
    }
    await guest.stopForwarding();
    const at = (t: number) => {
      const j = polls.findIndex((p) => p.t >= t);
      assert.ok(j > 0, `no guest reading either side of ${t}`);
      const [a, b] = [polls[j - 1], polls[j]];
      return a.tx + ((b.tx - a.tx) * (t - a.t)) / (b.t - a.t);
    };
    const WINDOW = 6;
    const tEnd = polls[polls.length - 1].t - 0.5;
    const sent = (at(tEnd) - at(tEnd - WINDOW)) / WINDOW;
    assert.ok(sent > 10000, `the guest sent at ${sent} packets/s`);
    await new Promise((r) => setTimeout(r, 2500)); // the scrapes of the window's end are in
    const [rate] = await query(`rate(vhostnet_interface_rx_packets_total{port="p0"}[${WINDOW}s])`, tEnd);
    const seen = Number(rate.value[1]);
    assert.ok(Math.abs(seen - sent) / sent < 0.2, `Prometheus rate ${seen.toFixed(0)}/s vs the guest's ${sent.toFixed(0)}/s`);
  });

  it("once traffic stops, the scraped counters equal the guest's and the API's, drops included", async () => {
    await guest.settle();
    const sentTotal = (await guest.counters())[0].txPackets;
    const api = await agent.client.get<PortState[]>('/ports');
    const text = await scrape();
    assert.equal(sampleOf(text, 'vhostnet_interface_rx_packets_total', { port: 'p0' }), sentTotal);
    for (const p of api) {
      assert.equal(sampleOf(text, 'vhostnet_interface_rx_packets_total', { port: p.name }), p.status!.stats.rxPackets);
      assert.equal(sampleOf(text, 'vhostnet_interface_tx_packets_total', { port: p.name }), p.status!.stats.txPackets);
      assert.equal(sampleOf(text, 'vhostnet_interface_dropped_total', { port: p.name, reason: 'tx_ring_full' }), p.status!.stats.txDrops);
      assert.equal(sampleOf(text, 'vhostnet_interface_queue_rx_packets_total', { port: p.name, queue: '0' }), p.status!.queues[0].rxPackets);
    }
    // Prometheus's last sample is the same figure (nothing moves any more).
    await waitFor(
      'Prometheus has the final count',
      async () => Number((await query('vhostnet_interface_rx_packets_total{port="p0"}'))[0]?.value[1]) === sentTotal,
      10000,
      500,
    );
  });

  it("the bridge's MAC table counters are the API's, entries the MACs it shows", async () => {
    const text = await scrape();
    const stats = await agent.client.get<{ entries: number; capacity: number; learned: number; evicted: number }>('/bridges/br0/fdb/stats');
    const rows = await agent.client.get<unknown[]>('/bridges/br0/fdb');
    assert.equal(stats.entries, rows.length);
    assert.ok(stats.learned >= rows.length && rows.length >= 1, JSON.stringify(stats));
    assert.equal(sampleOf(text, 'vhostnet_bridge_fdb_entries', { bridge: 'br0' }), stats.entries);
    assert.equal(sampleOf(text, 'vhostnet_bridge_fdb_capacity', { bridge: 'br0' }), stats.capacity);
    assert.equal(sampleOf(text, 'vhostnet_bridge_fdb_learned_total', { bridge: 'br0' }), stats.learned);
    const ctl = await agent.vhostctl('fdb', 'stats', 'br0');
    assert.equal(ctl.code, 0, ctl.stderr);
    assert.match(ctl.stdout, new RegExp(`Current/maximum MAC entries in the table: ${stats.entries}/${stats.capacity.toLocaleString('en-US')}`));
  });

  it('PMD cycles, rx queues and context switches are per CPU', async () => {
    const text = await scrape();
    const pmds = await agent.client.get<{ cpu: number; busyCycles: number }[]>('/pmd');
    for (const p of pmds) {
      assert.ok(sampleOf(text, 'vhostnet_pmd_busy_cycles_total', { cpu: String(p.cpu) })! >= p.busyCycles, 'busy cycles only grow');
      assert.ok(sampleOf(text, 'vhostnet_pmd_context_switches_total', { cpu: String(p.cpu) })! > 0, 'an idle PMD sleeps, so it switches');
    }
    assert.equal(sampleOf(text, 'vhostnet_pmd_rxq_assigned', { interface: 'p0', rxq: '0' }), 1);
  });

  it('API requests are counted by route pattern and status, with latencies', async () => {
    await assert.rejects(agent.client.put('/ports/bad', { bridge: 'br0', type: 'dpdkvhostuserclient' }));
    const text = await scrape();
    assert.equal(sampleOf(text, 'vhostnet_api_requests_total', { route: '/v1/ports/:name', method: 'PUT', status: '200' }), 2);
    assert.equal(sampleOf(text, 'vhostnet_api_requests_total', { route: '/v1/ports/:name', method: 'PUT', status: '400' }), 1);
    assert.equal(sampleOf(text, 'vhostnet_api_request_duration_seconds_count', { route: '/v1/ports/:name', method: 'PUT' }), 3);
    assert.ok(!text.includes('/v1/ports/p0'), 'raw paths never become labels');
  });

  it('the metrics listener serves nothing else: no API, no state change', async () => {
    const base = new URL(metricsUrl).origin;
    const before = await agent.client.get('/state');
    assert.equal((await fetch(`${base}/v1/show`)).status, 404);
    assert.equal((await fetch(`${base}/v1/bridges/br9`, { method: 'PUT', body: '{}' })).status, 404);
    assert.equal((await fetch(`${base}/metrics`, { method: 'POST', body: '{}' })).status, 405);
    assert.deepEqual(await agent.client.get('/state'), before);
  });

  it('every metric the Grafana dashboard in docs/ reads is one the agent exports', async () => {
    const dash = JSON.parse(fs.readFileSync(path.join(DOCS, 'grafana-dashboard.json'), 'utf8')) as { panels: { targets: { expr: string }[] }[] };
    const used = new Set(dash.panels.flatMap((p) => p.targets.flatMap((t) => t.expr.match(/vhostnet_[a-z_]+/g) ?? [])));
    const exported = new Set(
      [...(await scrape()).matchAll(/^# TYPE (\S+) (\S+)/gm)].flatMap(([, n, t]) => (t === 'histogram' ? [`${n}_bucket`, `${n}_sum`, `${n}_count`] : [n])),
    );
    assert.ok(used.size >= 10, `the dashboard reads ${used.size} metrics`);
    assert.deepEqual(
      [...used].filter((n) => !exported.has(n)),
      [],
    );
  });
});
