// GuestVMs with backend 'libvirt': the domain XML renderLibvirtXml makes is defined and started
// through libvirtd (virsh, argument arrays only, never a shell), so libvirt owns the QEMU process.
// Each guest keeps a directory under the supervisor's state dir (domain.xml, console.log,
// libvirt.json); libvirt.json marks it as ours, so a restarted agent finds its domains again
// (virsh domstate) and undefines the ones no longer stored. It is the GuestBackend 'libvirt'.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { execFile } from 'node:child_process';
import type { GuestSpec } from '../../api/guest';
import { chooseAccel, type AccelChoice } from './accel';
import type { BackendGuestStatus, GuestBackend } from './backend';
import { renderLibvirtXml, xmlEscape } from './libvirt-xml';
import type { GuestState } from './supervisor';

export interface LibvirtBackendOptions {
  /** Default: $LIBVIRT_DEFAULT_URI, else qemu:///system. */
  uri?: string;
  virsh?: string;
  /** How long `virsh` may take (start blocks while QEMU waits on vhost-user peers). Default 60 s. */
  timeoutMs?: number;
  /** Where each guest's directory goes: the supervisor's state dir. Default /var/lib/vhostnet/guests. */
  stateDir?: string;
  /** The QEMU version the status reports (libvirt runs the same binary). */
  qemuVersion?: () => Promise<string>;
}

export interface LibvirtGuestStatus {
  name: string;
  /** virsh domstate: running, paused, shut off, crashed... */
  state: string;
  pid?: number;
  consoleLog: string;
  domainXml: string;
}

/**
 * What libvirtd needs beyond renderLibvirtXml's guide-shaped XML under TCG: libvirt 9.0 knows no
 * CPU model 'max' (mode='maximum' is its -cpu max), and its <interface> has no 'vectors', which
 * QEMU 7.2 needs at 0 (see argv.ts): that is set through qemu:override.
 */
export function withTcgVectorsOverride(xml: string, spec: GuestSpec, accel: AccelChoice): string {
  if (accel.accel !== 'tcg') return xml;
  xml = xml.replace("<cpu mode='custom' match='exact'>\n    <model fallback='allow'>max</model>\n", "<cpu mode='maximum' check='none'>\n");
  if (spec.nics.length === 0) return xml;
  // User aliases (ua-*) name the devices for <qemu:device alias=...>.
  let i = 0;
  const aliased = xml.replace(/(<interface type='vhostuser'>\n)/g, (m) => `${m}      <alias name='ua-${xmlEscape(spec.nics[i++].name)}'/>\n`);
  const override = [
    '  <qemu:override>',
    ...spec.nics.flatMap((n) => [
      `    <qemu:device alias='ua-${xmlEscape(n.name)}'>`,
      '      <qemu:frontend>',
      "        <qemu:property name='vectors' type='unsigned' value='0'/>",
      '      </qemu:frontend>',
      '    </qemu:device>',
    ]),
    '  </qemu:override>',
  ];
  return aliased
    .replace(/^<domain type='(\w+)'>/, "<domain type='$1' xmlns:qemu='http://libvirt.org/schemas/domain/qemu/1.0'>")
    .replace(/<\/domain>\n?$/, `${override.join('\n')}\n</domain>\n`);
}

/** virsh domstate, as the supervisor's states. */
function libvirtState(state: string): GuestState {
  if (state === 'running' || state === 'paused' || state === 'idle' || state === 'in shutdown') return 'running';
  return state === 'crashed' ? 'crashed' : 'stopped';
}

export class LibvirtBackend implements GuestBackend {
  readonly name = 'libvirt' as const;
  private readonly uri: string;
  private readonly virshBin: string;
  private readonly timeoutMs: number;
  private readonly stateDir: string;
  private readonly qemuVersion: () => Promise<string>;
  /** Guests found running by adopt() rather than started by this agent. */
  private readonly adopted = new Set<string>();

  constructor(opts: LibvirtBackendOptions = {}) {
    // libvirt's own variable for the default connection, then the system instance.
    this.uri = opts.uri ?? process.env.LIBVIRT_DEFAULT_URI ?? 'qemu:///system';
    this.virshBin = opts.virsh ?? 'virsh';
    this.timeoutMs = opts.timeoutMs ?? 60_000;
    this.stateDir = opts.stateDir ?? '/var/lib/vhostnet/guests';
    this.qemuVersion = opts.qemuVersion ?? (async () => 'unknown');
  }

  private virsh(...args: string[]): Promise<string> {
    return new Promise((resolve, reject) =>
      execFile(this.virshBin, ['-q', '-c', this.uri, ...args], { timeout: this.timeoutMs }, (err, stdout, stderr) => {
        if (err) reject(new Error(`virsh ${args[0]}: ${(stderr || err.message).trim()}`));
        else resolve(stdout.trim());
      }),
    );
  }

  /** Undefined when libvirtd answers; otherwise why not (for the 'backend' field's rule). */
  async unavailable(): Promise<{ missing: string; why: string } | undefined> {
    try {
      await this.virsh('version', '--daemon');
      return undefined;
    } catch (e) {
      return { missing: 'no libvirtd answers', why: `no libvirtd answers at ${this.uri} (${(e as Error).message.split('\n')[0]})` };
    }
  }

  private dirOf(name: string): string {
    return path.join(this.stateDir, name);
  }

  /** Defines and starts the domain; its console goes to <dir>/console.log. */
  async start(spec: GuestSpec): Promise<void> {
    const accel = chooseAccel(spec.accel);
    const dir = this.dirOf(spec.name);
    const st = await this.domstate(spec.name);
    if (st && !fs.existsSync(path.join(dir, 'libvirt.json')))
      throw new Error(`name: libvirt already has a domain '${spec.name}' this agent did not define (state ${st})`);
    if (st) await this.stop(spec.name);
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
    const consoleLog = path.join(dir, 'console.log');
    if (fs.existsSync(consoleLog)) fs.renameSync(consoleLog, consoleLog + '.prev');
    const xml = withTcgVectorsOverride(renderLibvirtXml(spec, { accel, consoleLog }).xml, spec, accel);
    const domainXml = path.join(dir, 'domain.xml');
    fs.writeFileSync(domainXml, xml);
    fs.writeFileSync(path.join(dir, 'libvirt.json'), JSON.stringify({ name: spec.name, uri: this.uri }) + '\n');
    await this.virsh('define', domainXml);
    try {
      await this.virsh('start', spec.name);
    } catch (e) {
      await this.virsh('undefine', spec.name).catch(() => undefined);
      fs.rmSync(dir, { recursive: true, force: true });
      throw e;
    }
  }

  /** virsh domstate; undefined when libvirt has no such domain. */
  async domstate(name: string): Promise<string | undefined> {
    try {
      return await this.virsh('domstate', name);
    } catch (e) {
      if (/failed to get domain|Domain not found/i.test((e as Error).message)) return undefined;
      throw e;
    }
  }

  /** The domain's state and its QEMU's pid (libvirt's pidfile); undefined for a guest this agent did not define. */
  async domain(name: string): Promise<LibvirtGuestStatus | undefined> {
    const dir = this.dirOf(name);
    if (!fs.existsSync(path.join(dir, 'libvirt.json'))) return undefined;
    const state = (await this.domstate(name).catch(() => undefined)) ?? 'undefined';
    let pid: number | undefined;
    if (state === 'running' || state === 'paused') {
      // libvirt's own pidfile for the domain's QEMU.
      const n = parseInt(fs.readFileSync(`/run/libvirt/qemu/${name}.pid`, 'utf8').trim(), 10);
      if (Number.isInteger(n) && n > 0) pid = n;
    }
    return { name, state, pid, consoleLog: path.join(dir, 'console.log'), domainXml: path.join(dir, 'domain.xml') };
  }

  async status(spec: GuestSpec): Promise<BackendGuestStatus | undefined> {
    const lv = await this.domain(spec.name);
    if (!lv) return undefined;
    return {
      name: spec.name,
      state: libvirtState(lv.state),
      pid: lv.pid,
      accel: chooseAccel(spec.accel).accel,
      qemuVersion: await this.qemuVersion(),
      notes: [`libvirt domain state: ${lv.state}`],
      restarts: 0,
      adopted: this.adopted.has(spec.name),
      consoleLog: lv.consoleLog,
    };
  }

  /** Domains this agent defined that still run: found again through virsh domstate. */
  async adopt(): Promise<string[]> {
    for (const name of await this.list()) if ((await this.domain(name).catch(() => undefined))?.pid) this.adopted.add(name);
    return [...this.adopted];
  }

  /** Names of the guests this agent defined (their directories carry libvirt.json). */
  async list(): Promise<string[]> {
    if (!fs.existsSync(this.stateDir)) return [];
    return fs.readdirSync(this.stateDir).filter((n) => fs.existsSync(path.join(this.stateDir, n, 'libvirt.json')));
  }

  /** virsh destroy (hard stop, as QEMU quit), then undefine; removes the guest's directory. */
  async stop(name: string): Promise<void> {
    this.adopted.delete(name);
    if (!fs.existsSync(path.join(this.dirOf(name), 'libvirt.json'))) return;
    const st = await this.domstate(name);
    if (st && st !== 'shut off')
      await this.virsh('destroy', name).catch((e: Error) => {
        if (!/not running/i.test(e.message)) throw e;
      });
    if (st) await this.virsh('undefine', name);
    fs.rmSync(this.dirOf(name), { recursive: true, force: true });
  }

  /** What libvirtd is given: vectors=0 through qemu:override under TCG, the console to a file. */
  definition(spec: GuestSpec, commandNotes: string[]): { libvirtXml: string; notes: string[] } {
    const accel = chooseAccel(spec.accel);
    const consoleLog = path.join(this.dirOf(spec.name), 'console.log');
    return {
      libvirtXml: withTcgVectorsOverride(renderLibvirtXml(spec, { accel, consoleLog }).xml, spec, accel),
      notes: [
        ...commandNotes,
        ...(accel.accel === 'tcg' && spec.nics.length ? ['libvirt: vectors=0 set through <qemu:override> (libvirt has no interface vectors attribute)'] : []),
      ],
    };
  }

  /** libvirtd owns its QEMU processes: nothing to let go of. */
  detach(): void {}
}
