// HugepageConfig on the agent: reserves pages through sysfs, checks the kernel really gave them
// (a shortfall is an error and the old reservation is put back), mounts hugetlbfs where asked,
// and on delete restores the reservation it found.
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import { ApiError, HugepageSpec, parse, type ChangeResult, type HugepageState, type PlannedChange } from '../api';
import type { Store } from './store';

interface Stored extends Omit<HugepageSpec, 'expectedVersion'> {
  found: number;
  mounted: boolean;
}

const KB = { '2M': 2048, '1G': 1048576 } as const;

export class Hugepages {
  constructor(
    private readonly store: Store,
    /** The sysfs root; tests of the agent's own logic never point it elsewhere on a real host. */
    private readonly sysfs = '/sys',
    private readonly log: (m: string) => void = (m) => process.stderr.write(`vhostnet-agent: ${m}\n`),
  ) {}

  private dir(s: Pick<HugepageSpec, 'pageSize' | 'node'>): string {
    const leaf = `hugepages/hugepages-${KB[s.pageSize]}kB`;
    return s.node === undefined ? `${this.sysfs}/kernel/mm/${leaf}` : `${this.sysfs}/devices/system/node/node${s.node}/${leaf}`;
  }

  private read(dir: string, f: 'nr_hugepages' | 'free_hugepages'): number {
    return Number(fs.readFileSync(`${dir}/${f}`, 'utf8').trim());
  }

  private state(name: string, s: Stored, version: number): HugepageState {
    const dir = this.dir(s);
    return { ...s, name, version, status: { total: this.read(dir, 'nr_hugepages'), free: this.read(dir, 'free_hugepages'), pageSizeKb: KB[s.pageSize] } };
  }

  get(name: string): HugepageState {
    const h = this.store.get<Stored>('hugepages', name);
    if (!h) throw new ApiError('not_found', `hugepage config ${name} does not exist`);
    return this.state(name, h.spec, h.version);
  }

  /** Stored specs only, for /state. */
  specs(): (Stored & { name: string; version: number })[] {
    return this.store.list<Stored>('hugepages').map((h) => ({ ...h.spec, name: h.name, version: h.version }));
  }

  list(): HugepageState[] {
    return this.store.list<Stored>('hugepages').map((h) => this.state(h.name, h.spec, h.version));
  }

  put(name: string, input: unknown, o: { dryRun?: boolean } = {}): ChangeResult<HugepageState> {
    const body = input && typeof input === 'object' && !Array.isArray(input) ? { ...(input as object), name } : input;
    const { expectedVersion, ...spec } = parse(HugepageSpec, body, 'hugepage config');
    const cur = this.store.get<Stored>('hugepages', name);
    if (expectedVersion !== undefined && expectedVersion !== (cur?.version ?? 0))
      throw new ApiError('conflict', `hugepage config ${name} is at version ${cur?.version ?? 0}, not ${expectedVersion}`, [{ field: 'expectedVersion', rule: `must be the current version (${cur?.version ?? 0})` }]);
    for (const other of this.store.list<Stored>('hugepages'))
      if (other.name !== name && other.spec.pageSize === spec.pageSize && other.spec.node === spec.node)
        throw new ApiError('conflict', `hugepage config ${other.name} already manages ${spec.pageSize} pages${spec.node === undefined ? '' : ` on node ${spec.node}`}`, [{ field: 'pageSize', rule: 'must not be managed by two configs' }]);
    const dir = this.dir(spec);
    if (!fs.existsSync(dir))
      throw new ApiError('invalid', `this host has no ${spec.pageSize} hugepages${spec.node === undefined ? '' : ` on node ${spec.node}`} (${dir} is missing)`, [{ field: spec.node === undefined ? 'pageSize' : 'node', rule: 'must be a page size (and node) this host supports' }]);
    const total = this.read(dir, 'nr_hugepages');
    const inUse = total - this.read(dir, 'free_hugepages');
    if (spec.pages < inUse)
      throw new ApiError('invalid', `invalid hugepage config: pages ${spec.pages} is below the ${inUse} pages in use`, [{ field: 'pages', rule: `must be at least the pages in use (${inUse})` }]);
    const found = cur?.spec.found ?? total;
    const change: PlannedChange = {
      op: !cur ? 'create' : total === spec.pages && JSON.stringify({ ...cur.spec, found: undefined, mounted: undefined }) === JSON.stringify({ ...spec, found: undefined, mounted: undefined }) ? 'none' : 'update',
      kind: 'hugepages',
      name,
      diff: total === spec.pages ? [] : [{ field: 'pages', from: total, to: spec.pages }],
      disruptive: false,
    };
    const wasMounted = cur?.spec.mounted ?? false;
    if (o.dryRun || change.op === 'none') {
      const preview: Stored = { ...spec, found, mounted: wasMounted };
      return { dryRun: !!o.dryRun, changes: [change], object: { ...this.state(name, preview, cur?.version ?? 0), ...(o.dryRun ? { status: { total: spec.pages, free: spec.pages - inUse, pageSizeKb: KB[spec.pageSize] } } : {}) }, warnings: [] };
    }
    fs.writeFileSync(`${dir}/nr_hugepages`, String(spec.pages));
    const got = this.read(dir, 'nr_hugepages');
    if (got < spec.pages) {
      fs.writeFileSync(`${dir}/nr_hugepages`, String(total));
      throw new ApiError('datapath', `the kernel gave ${got} of the ${spec.pages} ${spec.pageSize} pages asked for (not enough free contiguous memory); the reservation is back at ${total}`, [{ field: 'pages', rule: `must fit the host's free memory (got ${got})` }]);
    }
    let mounted = wasMounted;
    if (spec.mountPath && !this.isMounted(spec.mountPath)) {
      fs.mkdirSync(spec.mountPath, { recursive: true, mode: 0o755 });
      execFileSync('mount', ['-t', 'hugetlbfs', '-o', `pagesize=${spec.pageSize}`, 'hugetlbfs', spec.mountPath]);
      mounted = true;
    }
    const stored: Stored = { ...spec, found, mounted };
    const version = this.store.transaction(() => this.store.put('hugepages', name, stored));
    this.log(`hugepages ${name}: ${spec.pages} x ${spec.pageSize} reserved (found ${found})`);
    return { dryRun: false, changes: [change], object: this.state(name, stored, version), warnings: [] };
  }

  delete(name: string, o: { dryRun?: boolean } = {}): ChangeResult<HugepageState> {
    const cur = this.store.get<Stored>('hugepages', name);
    if (!cur) return { dryRun: !!o.dryRun, changes: [{ op: 'none', kind: 'hugepages', name, diff: [], disruptive: false }], warnings: [] };
    const dir = this.dir(cur.spec);
    const change: PlannedChange = { op: 'delete', kind: 'hugepages', name, diff: [{ field: 'pages', from: this.read(dir, 'nr_hugepages'), to: cur.spec.found }], disruptive: false, why: 'restores the reservation found before' };
    if (o.dryRun) return { dryRun: true, changes: [change], warnings: [] };
    fs.writeFileSync(`${dir}/nr_hugepages`, String(cur.spec.found));
    if (cur.spec.mounted && cur.spec.mountPath && this.isMounted(cur.spec.mountPath)) execFileSync('umount', [cur.spec.mountPath]);
    this.store.transaction(() => this.store.delete('hugepages', name));
    this.log(`hugepages ${name} deleted: reservation back at ${cur.spec.found}`);
    return { dryRun: false, changes: [change], warnings: [] };
  }

  private isMounted(p: string): boolean {
    return fs.readFileSync('/proc/mounts', 'utf8').split('\n').some((l) => l.split(' ')[1] === p && l.split(' ')[2] === 'hugetlbfs');
  }
}
