// HostAgent: vhostnet-agent installed and running on a host, reached over SSH. The program packs
// the built agent (scripts/pack-agent.sh), RemoteCopy puts the tarball on the host and a
// RemoteCommand installs and starts it (systemd when the host runs it, else a detached process
// with a pidfile). Its endpoint and token feed the datapath resources of the same `pulumi up`.
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as pulumi from '@pulumi/pulumi';
import { RemoteCommand, remoteProvider, type SshConnection } from '../provider/remote-command';
import { RemoteCopy } from '../provider/remote-copy';

export const HOST_AGENT_TYPE = 'vhostnet:index:HostAgent';

export interface HostAgentArgs {
  connection: SshConnection;
  /** Names the install (installDir/<version>); a change upgrades in place. Default: the packed build's version. */
  version?: string;
  /** The agent's sockets (--run-dir); default /run/vhostnet. */
  runDir?: string;
  /** The agent's configuration (--state-dir), kept across upgrades and destroy; default /var/lib/vhostnet. */
  stateDir?: string;
  /** tcp://HOST:PORT (default tcp://127.0.0.1:8470) or unix:/path. */
  listen?: string;
  /** DPDK --file-prefix, one per agent on a host; default vhostnet. */
  filePrefix?: string;
  /** Where versions are unpacked; default /opt/vhostnet. */
  installDir?: string;
  /** Directories client ports' sockets may be in (--socket-dir); default: the agent's own list. */
  socketDirs?: string[];
  /** More agent arguments, e.g. --eal-arg=--log-level=lib.eal:error. */
  agentArgs?: string[];
  /** Where the tarball is packed on this machine; default ~/.cache/vhostnet/agent-packs. */
  packDir?: string;
}

export class HostAgentArgError extends Error {
  constructor(
    readonly component: string,
    readonly field: string,
    readonly rule: string,
  ) {
    super(`HostAgent '${component}': ${field} ${rule}`);
    this.name = 'HostAgentArgError';
  }
}

// Values that go into shell scripts and a systemd unit unquoted-safe: no spaces, quotes or $.
const SAFE_PATH = /^\/[A-Za-z0-9._\/+-]*$/;
const SAFE_ARG = /^[A-Za-z0-9._\/:=,@+-]+$/;

interface Settings {
  version?: string;
  runDir: string;
  stateDir: string;
  listen: string;
  filePrefix: string;
  installDir: string;
  socketDirs: string[];
  agentArgs: string[];
  packDir: string;
}

/** Defaults filled in and every field checked; throws HostAgentArgError naming the field and the rule. */
export function hostAgentSettings(name: string, a: HostAgentArgs): Settings {
  const bad = (field: string, rule: string) => new HostAgentArgError(name, field, rule);
  if (!a || typeof a !== 'object' || !a.connection) throw bad('connection', 'is required: { host, port, user, privateKey }');
  const s: Settings = {
    version: a.version,
    runDir: a.runDir ?? '/run/vhostnet',
    stateDir: a.stateDir ?? '/var/lib/vhostnet',
    listen: a.listen ?? 'tcp://127.0.0.1:8470',
    filePrefix: a.filePrefix ?? 'vhostnet',
    installDir: a.installDir ?? '/opt/vhostnet',
    socketDirs: a.socketDirs ?? [],
    agentArgs: a.agentArgs ?? [],
    packDir: a.packDir ?? path.join(process.env.VHOSTNET_CACHE ?? path.join(os.homedir(), '.cache', 'vhostnet'), 'agent-packs'),
  };
  if (s.version !== undefined && (typeof s.version !== 'string' || !/^[A-Za-z0-9][A-Za-z0-9._+-]{0,63}$/.test(s.version)))
    throw bad('version', 'must be 1-64 letters, digits, . _ + - (it names a directory), starting with a letter or digit');
  for (const k of ['runDir', 'stateDir', 'installDir'] as const)
    if (typeof s[k] !== 'string' || !SAFE_PATH.test(s[k]) || s[k] === '/') throw bad(k, 'must be an absolute path other than / of letters, digits and . _ / + -');
  if (!path.isAbsolute(s.packDir)) throw bad('packDir', 'must be an absolute path');
  if (typeof s.filePrefix !== 'string' || !/^[A-Za-z0-9_-]{1,32}$/.test(s.filePrefix)) throw bad('filePrefix', 'must be 1-32 letters, digits, _ or -');
  const tcp = /^tcp:\/\/(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/.exec(s.listen);
  if (tcp ? Number(tcp[2]) < 1 || Number(tcp[2]) > 65535 : !(s.listen.startsWith('unix:') && SAFE_PATH.test(s.listen.slice(5))))
    throw bad('listen', 'must be tcp://HOST:PORT (port 1-65535) or unix:/absolute/path');
  if (!Array.isArray(s.socketDirs)) throw bad('socketDirs', 'must be a list of absolute paths');
  s.socketDirs.forEach((d, i) => {
    if (typeof d !== 'string' || !SAFE_PATH.test(d)) throw bad(`socketDirs[${i}]`, 'must be an absolute path of letters, digits and . _ / + -');
  });
  if (!Array.isArray(s.agentArgs)) throw bad('agentArgs', 'must be a list of arguments');
  s.agentArgs.forEach((x, i) => {
    if (typeof x !== 'string' || !SAFE_ARG.test(x)) throw bad(`agentArgs[${i}]`, 'must be letters, digits and . _ / : = , @ + - (no spaces or quotes)');
    if (/^--(run-dir|state-dir|listen|token-file|file-prefix)(=|$)/.test(x)) throw bad(`agentArgs[${i}]`, 'must not set what HostAgent sets (run-dir, state-dir, listen, token-file, file-prefix)');
  });
  return s;
}

/**
 * The endpoint clients use. A wildcard listen address is reached at the SSH host's name; a
 * loopback one (the default) only from the host itself, so the program must run there or
 * through a tunnel.
 */
export function agentEndpoint(listen: string, sshHost: string): string {
  if (listen.startsWith('unix:')) return listen;
  const m = /^tcp:\/\/(.+):(\d+)$/.exec(listen)!;
  const host = ['0.0.0.0', '[::]'].includes(m[1]) ? (sshHost.includes(':') && !sshHost.startsWith('[') ? `[${sshHost}]` : sshHost) : m[1];
  return `http://${host}:${m[2]}`;
}

export interface AgentPack {
  version: string;
  path: string;
  hash: string;
}

/** Runs scripts/pack-agent.sh (a no-op but for hashing when the tarball of this build exists). */
export function packAgent(outDir: string): AgentPack {
  let dir = __dirname;
  while (!fs.existsSync(path.join(dir, 'scripts', 'pack-agent.sh'))) {
    if (path.dirname(dir) === dir) throw new Error('HostAgent: scripts/pack-agent.sh not found above ' + __dirname);
    dir = path.dirname(dir);
  }
  const out = execFileSync('bash', [path.join(dir, 'scripts', 'pack-agent.sh'), outDir], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  return JSON.parse(out.trim().split('\n').pop()!) as AgentPack;
}

/** A random bearer token made once, on create, by the provider: a secret output, never an input. */
class AgentToken extends pulumi.dynamic.Resource {
  declare readonly token: pulumi.Output<string>;
  constructor(name: string, opts?: pulumi.CustomResourceOptions) {
    super(remoteProvider('token'), name, { token: undefined }, { ...opts, additionalSecretOutputs: ['token'] }, 'vhostnet', 'AgentToken');
  }
}

// Shared by install and uninstall. Every value comes from the environment (RemoteCommand sends
// it on stdin); `stop_agent` stops what this install started, however it was started.
const FUNCTIONS = `set -eu
UNIT_FILE=/etc/systemd/system/$UNIT.service
PIDFILE=$INSTALL_DIR/agent.pid
has_systemd() { [ -d /run/systemd/system ]; }
stop_agent() {
  if has_systemd && [ -f "$UNIT_FILE" ]; then systemctl stop "$UNIT" || true; fi
  if [ -f "$PIDFILE" ]; then
    pid=$(cat "$PIDFILE")
    # A stale pidfile may name a pid now reused: only a node running our install is ours.
    if [ -n "$pid" ] && tr '\\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$INSTALL_DIR/"; then
      kill -TERM "$pid" 2>/dev/null || true
      i=0
      while kill -0 "$pid" 2>/dev/null && [ $i -lt 150 ]; do sleep 0.1; i=$((i + 1)); done
      if kill -0 "$pid" 2>/dev/null; then kill -KILL "$pid" 2>/dev/null || true; sleep 0.5; fi
      echo "stopped agent pid $pid"
    fi
    rm -f "$PIDFILE"
  fi
}
`;

// Runtime libraries of the addon (ldd: librte_vhost, _mbuf, _eal and libnuma) and DPDK's drivers.
const PACKAGES = 'dpdk librte-vhost23 librte-mbuf23 librte-eal23 libnuma1';

const INSTALL = `${FUNCTIONS}
missing=
for p in ${PACKAGES}; do dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"; done
if [ -n "$missing" ]; then
  echo "installing$missing"
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -q $missing >/dev/null || { apt-get update -q >/dev/null && apt-get install -y -q $missing >/dev/null; }
fi
dir=$INSTALL_DIR/$VERSION
# Unpacked beside, then swapped in: a half-unpacked version never runs.
rm -rf "$dir.new"
mkdir -p "$dir.new"
tar -xzf "$PACK" -C "$dir.new"
(umask 077 && printf '%s\\n' "$VHOSTNET_TOKEN" >"$dir.new/agent.token")
mkdir -p "$RUN_DIR" "$STATE_DIR"
stop_agent
rm -rf "$dir"
mv "$dir.new" "$dir"
set -- "$dir/bin/node" "$dir/dist/datapath/agent/main.js" --run-dir "$RUN_DIR" --state-dir "$STATE_DIR" --listen "$LISTEN" --token-file "$dir/agent.token" --file-prefix "$FILE_PREFIX" $AGENT_ARGS
if has_systemd; then
  # KillMode=process: QEMU guests the agent supervises outlive an agent restart or upgrade.
  cat >"$UNIT_FILE" <<UNIT
[Unit]
Description=vhostnet agent $VERSION
After=network.target

[Service]
ExecStart=$*
Restart=on-failure
KillMode=process
LimitMEMLOCK=infinity

[Install]
WantedBy=multi-user.target
UNIT
  systemctl daemon-reload
  systemctl enable "$UNIT" >/dev/null 2>&1
  systemctl restart "$UNIT"
else
  # No systemd (containers, CI): its own session, so the SSH session's end does not reach it.
  setsid nohup "$@" </dev/null >"$dir/agent.log" 2>&1 &
  echo $! >"$PIDFILE"
fi
# Ready when the API answers, token and all.
i=0
until "$dir/bin/node" -e "$PROBE" "$LISTEN" "$dir/agent.token"; do
  i=$((i + 1))
  if [ $i -ge 120 ] || { [ -f "$PIDFILE" ] && ! kill -0 "$(cat "$PIDFILE")" 2>/dev/null; }; then
    echo "vhostnet-agent $VERSION did not become ready:" >&2
    if has_systemd; then journalctl -u "$UNIT" -n 30 --no-pager >&2 || true; else tail -n 30 "$dir/agent.log" >&2 || true; fi
    exit 1
  fi
  sleep 0.5
done
# Older versions (a directory with our VERSION file) go once the new one answers.
for old in "$INSTALL_DIR"/*/VERSION; do
  [ -f "$old" ] || continue
  d=$(dirname "$old")
  [ "$d" = "$dir" ] || { rm -rf "$d"; echo "removed $d"; }
done
echo "vhostnet-agent $VERSION running, listening on $LISTEN"
`;

const UNINSTALL = `${FUNCTIONS}
stop_agent
if has_systemd && [ -f "$UNIT_FILE" ]; then
  systemctl disable "$UNIT" >/dev/null 2>&1 || true
  rm -f "$UNIT_FILE"
  systemctl daemon-reload
fi
rm -rf "$INSTALL_DIR/$VERSION" "$INSTALL_DIR/$VERSION.new"
# The directory goes when nothing else is in it (the tarball's copy removes itself after us).
rmdir "$INSTALL_DIR" 2>/dev/null || true
echo "vhostnet-agent $VERSION removed; state kept in $STATE_DIR"
`;

/** GET /v1/health with the token; exit 0 on 200. Run by the packed node on the host. */
const PROBE = `const http=require("node:http"),fs=require("node:fs");const l=process.argv[1];const o={path:"/v1/health",timeout:2000,headers:{authorization:"Bearer "+fs.readFileSync(process.argv[2],"utf8").trim()}};if(l.startsWith("unix:"))o.socketPath=l.slice(5);else{const m=/^tcp:\\/\\/(.+):(\\d+)$/.exec(l);o.host=m[1].replace(/^\\[|\\]$/g,"");if(o.host==="0.0.0.0"||o.host==="::")o.host="localhost";o.port=Number(m[2]);}http.get(o,(r)=>process.exit(r.statusCode===200?0:1)).on("error",()=>process.exit(1)).on("timeout",function(){this.destroy();});`;

export class HostAgent extends pulumi.ComponentResource {
  /** http://HOST:PORT or unix:/path: known at preview, resolved once the agent answers. */
  readonly endpoint: pulumi.Output<string>;
  /** The agent's bearer token (secret). */
  readonly token: pulumi.Output<string>;
  /** The installed version. */
  readonly version: pulumi.Output<string>;
  /** What the install step printed. */
  readonly installLog: pulumi.Output<string>;

  constructor(name: string, args: HostAgentArgs, opts?: pulumi.ComponentResourceOptions) {
    super(HOST_AGENT_TYPE, name, {}, opts);
    const s = hostAgentSettings(name, args);
    const pack = packAgent(s.packDir);
    const version = s.version ?? pack.version;
    const token = new AgentToken(`${name}-token`, { parent: this });
    const copy = new RemoteCopy(
      `${name}-pack`,
      {
        connection: args.connection,
        localPath: pack.path,
        remotePath: path.posix.join(s.installDir, path.basename(pack.path)),
        triggers: [pack.hash],
        removeOnDelete: true,
      },
      { parent: this },
    );
    const unit = s.filePrefix === 'vhostnet' ? 'vhostnet-agent' : `vhostnet-agent-${s.filePrefix}`;
    const agentArgs = [...s.socketDirs.map((d) => `--socket-dir=${d}`), ...s.agentArgs].join(' ');
    const install = new RemoteCommand(
      `${name}-install`,
      {
        connection: args.connection,
        // The same script installs and upgrades: a new version (or pack) changes the environment,
        // which runs it again in place: the old process stops, the new one starts, state stays.
        create: INSTALL,
        update: INSTALL,
        delete: UNINSTALL,
        environment: {
          VERSION: version,
          PACK: copy.remotePath,
          INSTALL_DIR: s.installDir,
          RUN_DIR: s.runDir,
          STATE_DIR: s.stateDir,
          LISTEN: s.listen,
          FILE_PREFIX: s.filePrefix,
          UNIT: unit,
          AGENT_ARGS: agentArgs,
          PROBE,
          VHOSTNET_TOKEN: token.token,
        },
      },
      { parent: this, dependsOn: [copy] },
    );
    // Taken from the install's id, which an in-place upgrade keeps: resources using the
    // endpoint wait for the first install but are not touched by an upgrade.
    const endpoint = pulumi.output(args.connection.host).apply((h) => agentEndpoint(s.listen, h));
    this.endpoint = pulumi.all([install.id, endpoint]).apply(([, e]) => e);
    this.token = pulumi.all([install.id, token.token]).apply(([, t]) => t);
    this.version = pulumi.all([install.id]).apply(() => version);
    this.installLog = install.stdout;
    this.registerOutputs({ endpoint: this.endpoint, version: this.version });
  }
}
