// HugepageConfig on the agent: reserves pages through sysfs, checks the kernel really gave them
// (a shortfall is an error and the old reservation is put back), mounts hugetlbfs where asked,
// and on delete restores the reservation it found.
import { ApiError, HugepageSpec, type ChangeOptions, type ChangeResult, type HugepageState, type Stored } from '../../api';
import { defaultFilePolicy, filePathIssue, type FilePolicy } from '../file-policy';
import { HugepagePool, PAGE_KB, isHugetlbfsMounted, mountHugetlbfs, unmount } from '../host';
import type { Store, StoredObject } from '../store';
import { ChangeSequence, type ObjectClass, type Plan, type Removal } from './change';

/** What the store keeps: the spec, the reservation found before it, and whether the agent mounted mountPath. */
interface StoredHugepages extends Stored<HugepageSpec> {
  found: number;
  mounted: boolean;
}

export class Hugepages implements ObjectClass<HugepageSpec, StoredHugepages, HugepageState> {
  readonly kind = 'hugepages';
  readonly what = 'hugepage config';
  readonly schema = HugepageSpec;
  readonly named = true;
  private readonly changes: ChangeSequence;

  constructor(
    private readonly store: Store,
    /** The sysfs root; tests of the agent's own logic never point it elsewhere on a real host. */
    private readonly sysfs = '/sys',
    log: (m: string) => void = (m) => process.stderr.write(`vhostnet-agent: ${m}\n`),
    /** Where mountPath may be (--hugepages-dir): a hugetlbfs over /etc would hide the host's configuration. */
    private readonly files: FilePolicy = defaultFilePolicy(),
  ) {
    this.changes = new ChangeSequence(store, log);
  }

  private pool(s: Pick<HugepageSpec, 'pageSize' | 'node'>): HugepagePool {
    return new HugepagePool(this.sysfs, s.pageSize, s.node);
  }

  private state(name: string, s: StoredHugepages, version: number): HugepageState {
    const pool = this.pool(s);
    return { ...s, name, version, status: { total: pool.total(), free: pool.free(), pageSizeKb: PAGE_KB[s.pageSize] } };
  }

  current(name: string): StoredObject<StoredHugepages> | undefined {
    return this.store.get<StoredHugepages>('hugepages', name);
  }

  get(name: string): HugepageState {
    const h = this.current(name);
    if (!h) throw new ApiError('not_found', `hugepage config ${name} does not exist`);
    return this.state(name, h.spec, h.version);
  }

  /** Stored specs only, for /state. */
  specs(): (StoredHugepages & { name: string; version: number })[] {
    return this.store.list<StoredHugepages>('hugepages').map((h) => ({ ...h.spec, name: h.name, version: h.version }));
  }

  list(): HugepageState[] {
    return this.store.list<StoredHugepages>('hugepages').map((h) => this.state(h.name, h.spec, h.version));
  }

  put(name: string, input: unknown, o: ChangeOptions = {}): ChangeResult<HugepageState> {
    return this.changes.put(this, name, input, o);
  }

  delete(name: string, o: ChangeOptions = {}): ChangeResult<HugepageState> {
    return this.changes.remove(this, name, o);
  }

  plan(name: string, spec: Stored<HugepageSpec>, cur: StoredObject<StoredHugepages> | undefined): Plan<HugepageState> {
    const where = `${spec.pageSize} pages${spec.node === undefined ? '' : ` on node ${spec.node}`}`;
    for (const other of this.store.list<StoredHugepages>('hugepages'))
      if (other.name !== name && other.spec.pageSize === spec.pageSize && other.spec.node === spec.node)
        throw new ApiError('conflict', `hugepage config ${other.name} already manages ${where}`, [
          { field: 'pageSize', rule: 'must not be managed by two configs' },
        ]);
    const mountIssue = spec.mountPath === undefined ? undefined : filePathIssue('mountPath', spec.mountPath, this.files.hugepageDirs, 'dir', '--hugepages-dir');
    if (mountIssue) throw new ApiError('invalid', `invalid hugepage config: ${mountIssue.field} ${mountIssue.rule}`, [mountIssue]);
    const pool = this.pool(spec);
    if (!pool.exists())
      throw new ApiError(
        'invalid',
        `this host has no ${spec.pageSize} hugepages${spec.node === undefined ? '' : ` on node ${spec.node}`} (${pool.dir} is missing)`,
        [{ field: spec.node === undefined ? 'pageSize' : 'node', rule: 'must be a page size (and node) this host supports' }],
      );
    const total = pool.total();
    const inUse = total - pool.free();
    if (spec.pages < inUse)
      throw new ApiError('invalid', `invalid hugepage config: pages ${spec.pages} is below the ${inUse} pages in use`, [
        { field: 'pages', rule: `must be at least the pages in use (${inUse})` },
      ]);
    const found = cur?.spec.found ?? total;
    const wasMounted = cur?.spec.mounted ?? false;
    const mount = !!spec.mountPath && !isHugetlbfsMounted(spec.mountPath);
    const same =
      !!cur &&
      total === spec.pages &&
      JSON.stringify({ ...cur.spec, found: undefined, mounted: undefined }) === JSON.stringify({ ...spec, found: undefined, mounted: undefined });
    const stored: StoredHugepages = { ...spec, found, mounted: wasMounted || mount };
    let applied = false;
    return {
      changes: [
        {
          op: !cur ? 'create' : same ? 'none' : 'update',
          kind: 'hugepages',
          name,
          diff: total === spec.pages ? [] : [{ field: 'pages', from: total, to: spec.pages }],
          disruptive: false,
        },
      ],
      stored,
      object: (version, live) => {
        if (applied) return this.state(name, stored, version);
        const preview = this.state(name, { ...spec, found, mounted: wasMounted }, cur?.version ?? 0);
        // A dry run answers the reservation as it would be.
        return live ? preview : { ...preview, status: { total: spec.pages, free: spec.pages - inUse, pageSizeKb: PAGE_KB[spec.pageSize] } };
      },
      apply: () => {
        pool.reserve(spec.pages);
        const got = pool.total();
        if (got < spec.pages) {
          pool.reserve(total);
          throw new ApiError(
            'datapath',
            `the kernel gave ${got} of the ${spec.pages} ${spec.pageSize} pages asked for (not enough free contiguous memory); the reservation is back at ${total}`,
            [{ field: 'pages', rule: `must fit the host's free memory (got ${got})` }],
          );
        }
        if (mount) mountHugetlbfs(spec.mountPath!, spec.pageSize);
        applied = true;
      },
      done: `hugepages ${name}: ${spec.pages} x ${spec.pageSize} reserved (found ${found})`,
    };
  }

  planDelete(name: string, cur: StoredObject<StoredHugepages>): Removal {
    const pool = this.pool(cur.spec);
    const { found, mounted, mountPath } = cur.spec;
    return {
      change: {
        op: 'delete',
        kind: 'hugepages',
        name,
        diff: [{ field: 'pages', from: pool.total(), to: found }],
        disruptive: false,
        why: 'restores the reservation found before',
      },
      apply: () => {
        pool.reserve(found);
        if (mounted && mountPath && isHugetlbfsMounted(mountPath)) unmount(mountPath);
      },
      done: `hugepages ${name} deleted: reservation back at ${found}`,
    };
  }
}
