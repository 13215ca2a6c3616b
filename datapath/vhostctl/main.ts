#!/usr/bin/env node
// vhostctl: the agent's command line, in the spirit of ovs-vsctl / ovs-appctl.
import * as fs from 'node:fs';
import { parseArgs } from 'node:util';
import {
  AgentClient,
  AgentError,
  ApiError,
  BridgeSpec,
  DEFAULT_SOCKET,
  DROP_REASONS,
  PortSpec,
  SettingsSpec,
  parse,
  type ChangeResult,
  type DropCounters,
  type PortState,
  type VhostnetEvent,
} from '../api';

const USAGE = `usage: vhostctl [--endpoint E] [--token-file F] [--ca-cert F] [--json] COMMAND
  show                              bridges, ports, link state and counters
  port stats [PORT]                 per-port and per-queue counters, drops by reason
  fdb show BRIDGE                   learned MAC addresses
  fdb stats BRIDGE                  MAC table counters: entries, learned, expired, evicted, moved, limited
  pmd stats                         PMD threads: busy/idle cycles, packets, queues
  events [--since ID] [--follow]    link changes, tunnels, guests, settings, each with its reason
  add-br BRIDGE [--mac-aging S] [--mac-table-size N] [--mac-limit N]   (--mac-limit: learned MACs per port, 0: none)
  del-br BRIDGE
  add-port BRIDGE PORT [--type dpdkvhostuserclient|dpdkvhostuser] [--vhost-server-path P] [--queues N] [--mac M]
  add-port BRIDGE PORT --type dpdk --devargs D [--mtu N]   an uplink: D is 0000:01:00.0 or net_af_xdp0,iface=eth1
  add-port BRIDGE PORT --type vxlan --iface IF --local-ip A --remote-ip B --vni N [--udp-port P]
           [--remote-mac M] [--local-mac M] [--underlay-driver af_packet|af_xdp] [--split-horizon true|false]
  (add-port also takes --mac-limit N: this port's own limit of learned MACs, else the bridge's)
  del-port PORT
  set SETTING=VALUE...              e.g. pmdMaxSleepUs=500 vhostIommuSupport=true pmdCpus=1
  get settings
  --dry-run                         with a change: say what would change, change nothing
Endpoint: --endpoint, else $VHOSTNET_AGENT, else unix:${DEFAULT_SOCKET}. Token: --token-file, else $VHOSTNET_TOKEN.
https:// endpoints: --ca-cert (PEM of the agent's CA or certificate, trusted alone), else $VHOSTNET_CA_CERT (a file)`;

type Values = Record<string, string | boolean | undefined>;

function n(x: number): string {
  return x.toLocaleString('en-US');
}

function showPort(p: PortState, indent: string): string[] {
  if (p.type === 'vxlan') {
    const t = p;
    const u = t.status!.underlay;
    return [
      `${indent}Port ${t.name}`,
      `${indent}    type: vxlan, vni ${t.vni}, udp ${t.udpPort}: ${t.underlay.localIp} -> ${t.underlay.remoteIp} over ${u.iface} (${u.operstate ?? 'missing'}${u.remoteMac ? `, next hop ${u.remoteMac}` : ''})${t.splitHorizon === false ? ', split horizon off' : ''}`,
      `${indent}    link: ${t.status!.link}${t.status!.reason ? ` (${t.status!.reason})` : ''}`,
      `${indent}    rx: ${n(t.status!.stats.rxPackets)} pkts ${n(t.status!.stats.rxBytes)} bytes  tx: ${n(t.status!.stats.txPackets)} pkts ${n(t.status!.stats.txBytes)} bytes  tx drops: ${n(t.status!.stats.txDrops)}`,
    ];
  }
  if (p.type === 'dpdk') {
    const s = p.status!;
    const d = s.device;
    return [
      `${indent}Port ${p.name}`,
      `${indent}    type: dpdk, devargs ${p.devargs}: ${d.driver}${d.iface ? ` over ${d.iface} (${d.operstate ?? 'missing'})` : ''}, ${d.queuePairs} queue pair(s)`,
      `${indent}    link: ${s.link}${s.reason ? ` (${s.reason})` : ''}`,
      `${indent}    rx: ${n(s.stats.rxPackets)} pkts ${n(s.stats.rxBytes)} bytes  tx: ${n(s.stats.txPackets)} pkts ${n(s.stats.txBytes)} bytes  tx drops: ${n(s.stats.txDrops)}`,
      ...s.warnings.map((w) => `${indent}    warning: ${w}`),
    ];
  }
  const s = p.status!;
  const lines = [
    `${indent}Port ${p.name}`,
    `${indent}    type: ${p.type}${p.deprecated ? ' (deprecated)' : ''}`,
    `${indent}    socket: ${p.socketPath} (${s.mode})`,
  ];
  lines.push(`${indent}    link: ${s.link}${s.reason ? ` (${s.reason})` : ''}`);
  lines.push(`${indent}    mtu: ${s.mtu} (${s.mtuSource})${s.guestMtu ? `, guest ${s.guestMtu}` : ''}`);
  if (s.connected)
    lines.push(
      `${indent}    vrings: ${s.vringsEnabled}/${s.vringsTotal} enabled, queue pairs: ${s.queuePairs} (expected ${p.queues})`,
      `${indent}    features: ${s.features.negotiatedNames.join(' ')}`,
    );
  lines.push(
    `${indent}    rx: ${n(s.stats.rxPackets)} pkts ${n(s.stats.rxBytes)} bytes  tx: ${n(s.stats.txPackets)} pkts ${n(s.stats.txBytes)} bytes  tx drops: ${n(s.stats.txDrops)}`,
  );
  for (const w of s.warnings) lines.push(`${indent}    warning: ${w}`);
  return lines;
}

/** " (ringFull 3, mtuExceeded 1)": the reasons with drops, in DROP_REASONS' order; "" when none. */
function reasons(d: DropCounters | undefined): string {
  const nz = DROP_REASONS.filter((r) => (d?.[r] ?? 0) > 0);
  return nz.length ? ` (${nz.map((r) => `${r} ${n(d![r])}`).join(', ')})` : '';
}

function describeEvent(e: VhostnetEvent): string {
  const what =
    e.type === 'guest'
      ? `guest ${e.guest} ${e.from} -> ${e.state}`
      : e.type === 'settings'
        ? `settings wait for a restart: ${e.restartRequired.join(', ')}`
        : e.type === 'macLimit'
          ? `port ${e.bridge}/${e.port} at its MAC limit ${e.limit}`
          : `${e.type === 'tunnel' ? 'tunnel' : 'port'} ${e.bridge ? `${e.bridge}/` : ''}${e.port} ${e.from ? `${e.from} -> ` : ''}${e.link}`;
  return `${e.time} #${e.id} ${what}: ${e.reason}`;
}

async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      endpoint: { type: 'string' },
      'token-file': { type: 'string' },
      'ca-cert': { type: 'string' },
      json: { type: 'boolean' },
      'dry-run': { type: 'boolean' },
      type: { type: 'string' },
      'vhost-server-path': { type: 'string' },
      queues: { type: 'string' },
      mac: { type: 'string' },
      'mac-aging': { type: 'string' },
      'mac-table-size': { type: 'string' },
      'mac-limit': { type: 'string' },
      devargs: { type: 'string' },
      mtu: { type: 'string' },
      iface: { type: 'string' },
      'local-ip': { type: 'string' },
      'remote-ip': { type: 'string' },
      'remote-mac': { type: 'string' },
      'local-mac': { type: 'string' },
      'underlay-driver': { type: 'string' },
      vni: { type: 'string' },
      'udp-port': { type: 'string' },
      'split-horizon': { type: 'string' },
      since: { type: 'string' },
      follow: { type: 'boolean', short: 'f' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  const v = values as Values;
  if (v.help || !positionals.length) {
    console.log(USAGE);
    return v.help ? 0 : 2;
  }
  // An https agent's certificate is pinned to the CA given (HostAgent's caCert output), never the system's.
  const caCertFile = (v['ca-cert'] as string | undefined) ?? process.env.VHOSTNET_CA_CERT;
  const client = new AgentClient({
    endpoint: (v.endpoint as string) ?? process.env.VHOSTNET_AGENT ?? `unix:${DEFAULT_SOCKET}`,
    token: v['token-file'] ? fs.readFileSync(v['token-file'] as string, 'utf8').trim() : process.env.VHOSTNET_TOKEN,
    caCert: caCertFile ? fs.readFileSync(caCertFile, 'utf8') : undefined,
  });
  const json = !!v.json;
  const out = (data: unknown, text: () => string[]) => console.log(json ? JSON.stringify(data, null, 2) : text().join('\n'));
  const dry = { dryRun: !!v['dry-run'] };
  const change = (r: ChangeResult<unknown>) =>
    out(r, () => [
      ...r.changes
        .filter((c) => c.op !== 'none')
        .map(
          (c) =>
            `${r.dryRun ? 'would ' : ''}${c.op} ${c.kind} ${c.name}${c.diff.length ? `: ${c.diff.map((d) => d.field).join(', ')}` : ''}${c.disruptive ? ' (disrupts traffic)' : ''}${c.why ? ` - ${c.why}` : ''}`,
        ),
      ...(r.changes.every((c) => c.op === 'none') ? ['no change'] : []),
      ...r.warnings.map((w) => `warning: ${w}`),
    ]);
  const int = (field: string, s: string | boolean | undefined) => (s === undefined ? undefined : /^-?\d+$/.test(String(s)) ? Number(s) : s);
  const [cmd, ...rest] = positionals;
  const need = (k: number, what: string) => {
    if (rest.length < k) throw new ApiError('invalid', `${cmd} needs ${what}`, [{ field: what, rule: 'is required' }]);
  };

  switch (cmd) {
    case 'show': {
      const s = await client.show();
      out(s, () => {
        const lines = [`vhostnet-agent ${s.version} (pid ${s.pid}, lcores ${s.lcores}, ${s.pmds.length} PMD thread(s))`];
        if (s.settings.restartRequired.length) lines.push(`    restart required for: ${s.settings.restartRequired.join(', ')}`);
        for (const r of s.running.refused ?? []) lines.push(`    refused at start: ${r.field} ${r.rule}`);
        for (const b of s.bridges) {
          lines.push(`    Bridge ${b.name}`);
          for (const p of s.ports.filter((p) => p.bridge === b.name)) lines.push(...showPort(p, '        '));
          const f = b.status?.fdb;
          if (f)
            lines.push(
              `        MAC table: ${n(f.entries)}/${n(f.capacity)} entries, aging ${f.macAgingSeconds} s, limit per port ${f.macLimitPerPort || 'none'}` +
                Object.entries(f.portLimits)
                  .map(([p, l]) => `, ${p}: ${l || 'none'}`)
                  .join(''),
            );
        }
        return lines;
      });
      return 0;
    }
    case 'events': {
      const since = int('since', v.since);
      if (since !== undefined && (typeof since !== 'number' || since < 0))
        throw new ApiError('invalid', '--since must be an event id (a whole number)', [{ field: 'since', rule: 'must be a whole number ≥ 0' }]);
      let next = since ?? 0;
      for (;;) {
        const page = await client.events(next, v.follow ? 25 : 0);
        if (next && page.oldest > next + 1) console.error(`vhostctl: events ${next + 1}..${page.oldest - 1} are no longer kept`);
        for (const e of page.events) console.log(json ? JSON.stringify(e) : describeEvent(e));
        next = page.next;
        if (!v.follow) return 0;
      }
    }
    case 'port': {
      if (rest[0] !== 'stats') throw new ApiError('invalid', `unknown command: port ${rest[0] ?? ''}`);
      const ports = rest[1] ? [await client.ports.get(rest[1])] : await client.ports.list();
      out(
        ports.map((p) => ({ name: p.name, link: p.status!.link, stats: p.status!.stats, queues: p.status!.queues })),
        () =>
          ports.flatMap((p) => [
            `${p.name}: link ${p.status!.link}  rx ${n(p.status!.stats.rxPackets)} pkts ${n(p.status!.stats.rxBytes)} B  tx ${n(p.status!.stats.txPackets)} pkts ${n(p.status!.stats.txBytes)} B  drops ${n(p.status!.stats.txDrops)}${reasons(p.status!.stats.drops)}`,
            ...p.status!.queues.map((q, i) => `    queue ${i}: rx ${n(q.rxPackets)}  tx ${n(q.txPackets)}  drops ${n(q.txDrops)}${reasons(q.drops)}`),
          ]),
      );
      return 0;
    }
    case 'fdb': {
      if (rest[0] === 'stats') {
        need(2, 'BRIDGE');
        const s = await client.fdbStats(rest[1]);
        out(s, () => [
          `Statistics for bridge "${rest[1]}":`,
          `  Current/maximum MAC entries in the table: ${n(s.entries)}/${n(s.capacity)}`,
          `  Total number of learned MAC entries     : ${n(s.learned)}`,
          `  Total number of expired MAC entries     : ${n(s.expired)}`,
          `  Total number of evicted MAC entries     : ${n(s.evicted)}`,
          `  Total number of port moved MAC entries  : ${n(s.moved)}`,
          `  Source MACs not learned (port limit)    : ${n(s.limited)}`,
        ]);
        return 0;
      }
      if (rest[0] !== 'show') throw new ApiError('invalid', `unknown command: fdb ${rest[0] ?? ''}`);
      need(2, 'BRIDGE');
      const rows = await client.fdb(rest[1]);
      out(rows, () => [' port              MAC               Age', ...rows.map((r) => ` ${r.port.padEnd(17)} ${r.mac} ${String(r.ageSeconds).padStart(5)}`)]);
      return 0;
    }
    case 'pmd': {
      const pmds = await client.pmd();
      out(pmds, () =>
        pmds.flatMap((p) => {
          const total = p.busyCycles + p.idleCycles || 1;
          return [
            `pmd thread on cpu ${p.cpu} (lcore ${p.lcore}):`,
            `    packets received: ${n(p.packets)}`,
            `    busy cycles: ${n(p.busyCycles)} (${((100 * p.busyCycles) / total).toFixed(1)} %)  idle cycles: ${n(p.idleCycles)} (${((100 * p.idleCycles) / total).toFixed(1)} %)`,
            `    rx queues: ${p.rxQueueNames.join(' ') || '(none)'}`,
          ];
        }),
      );
      return 0;
    }
    case 'add-br': {
      need(1, 'BRIDGE');
      const spec = parse(
        BridgeSpec,
        {
          name: rest[0],
          ...(v['mac-aging'] !== undefined ? { macAgingSeconds: int('mac-aging', v['mac-aging']) } : {}),
          ...(v['mac-table-size'] !== undefined ? { macTableSize: int('mac-table-size', v['mac-table-size']) } : {}),
          ...(v['mac-limit'] !== undefined ? { macLimitPerPort: int('mac-limit', v['mac-limit']) } : {}),
        },
        'bridge',
      );
      change(await client.bridges.put(rest[0], spec, dry));
      return 0;
    }
    case 'del-br':
      need(1, 'BRIDGE');
      change(await client.bridges.delete(rest[0], dry));
      return 0;
    case 'add-port': {
      need(2, 'BRIDGE PORT');
      const body: Record<string, unknown> = { bridge: rest[0], name: rest[1], type: v.type ?? 'dpdkvhostuserclient' };
      if (v['vhost-server-path'] !== undefined) body.vhostServerPath = v['vhost-server-path'];
      if (v.queues !== undefined) body.queues = int('queues', v.queues);
      if (v.mac !== undefined) body.mac = v.mac;
      if (v.devargs !== undefined) body.devargs = v.devargs;
      if (v.mtu !== undefined) body.mtu = int('mtu', v.mtu);
      if (v['mac-limit'] !== undefined) body.macLimit = int('mac-limit', v['mac-limit']);
      if (body.type === 'vxlan') {
        // ovs-vsctl's options:remote_ip, local_ip, key, dst_port, as the API's underlay and fields
        const underlay: Record<string, unknown> = { iface: v.iface, localIp: v['local-ip'], remoteIp: v['remote-ip'] };
        if (v['remote-mac'] !== undefined) underlay.remoteMac = v['remote-mac'];
        if (v['local-mac'] !== undefined) underlay.localMac = v['local-mac'];
        if (v['underlay-driver'] !== undefined) underlay.driver = v['underlay-driver'];
        body.underlay = underlay;
        if (v.vni !== undefined) body.vni = int('vni', v.vni);
        if (v['udp-port'] !== undefined) body.udpPort = int('udp-port', v['udp-port']);
        const sh = v['split-horizon'];
        if (sh !== undefined) body.splitHorizon = sh === 'true' ? true : sh === 'false' ? false : sh;
      }
      // Refused here, before anything reaches the agent.
      change(await client.ports.put(rest[1], parse(PortSpec, body, 'port'), dry));
      return 0;
    }
    case 'del-port':
      need(1, 'PORT');
      change(await client.ports.delete(rest[0], dry));
      return 0;
    case 'get': {
      const s = await client.settings.get();
      out(s, () => Object.entries(s).map(([k, val]) => `${k}: ${JSON.stringify(val)}`));
      return 0;
    }
    case 'set': {
      need(1, 'SETTING=VALUE');
      const cur = await client.settings.get();
      const { version, restartRequired: _r, running: _u, ...spec } = cur;
      const next: Record<string, unknown> = { ...spec };
      for (const kv of rest) {
        const m = /^([A-Za-z]+)=(.*)$/.exec(kv);
        if (!m) throw new ApiError('invalid', `invalid setting ${JSON.stringify(kv)}: write NAME=VALUE`, [{ field: kv, rule: 'must be NAME=VALUE' }]);
        const [, k, raw] = m;
        next[k] = k === 'pmdCpus' ? (raw ? raw.split(',').map((x) => int(k, x)) : []) : raw === 'true' ? true : raw === 'false' ? false : int(k, raw);
      }
      const want = parse(SettingsSpec, next, 'settings');
      change(await client.settings.put({ ...want, expectedVersion: version || undefined }, dry));
      return 0;
    }
    default:
      throw new ApiError('invalid', `unknown command: ${cmd}\n${USAGE}`);
  }
}

run(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (e) => {
    const issues = (e as AgentError | ApiError).issues;
    process.stderr.write(`vhostctl: ${(e as Error).message}\n`);
    if (issues?.length && !(e as Error).message.includes(issues[0].rule)) for (const i of issues) process.stderr.write(`  ${i.field}: ${i.rule}\n`);
    process.exit(e instanceof AgentError && e.code === 'unreachable' ? 3 : 2);
  },
);
