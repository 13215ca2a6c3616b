// HostAgent: vhostnet-agent installed from its Debian package and running on a host, reached
// over SSH and then over TLS. RemoteCopy puts the .deb (`npm run package:deb`) on the host; a
// RemoteCommand makes the host's CA and server certificate with openssl there; another writes
// /etc/vhostnet/agent.conf, runs `apt-get install ./…deb` (which pulls Debian's DPDK libraries)
// and (re)starts the agent: systemd where it runs, else the unit's ExecStart, detached. Its
// endpoint (https://…), caCert and token feed the datapath resources of the same `pulumi up`.
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import * as pulumi from '@pulumi/pulumi';
import { AgentToken } from '../provider/agent-token';
import { RemoteCommand, type SshConnection } from '../provider/remote-command';
import { RemoteCopy } from '../provider/remote-copy';

export const HOST_AGENT_TYPE = 'vhostnet:index:HostAgent';

export interface HostAgentTls {
  /** PEM of a CA to sign the host's server certificate with, instead of one made for the host. */
  caCert: pulumi.Input<string>;
  /** Its private key (PEM, unencrypted): a secret; on the host only while it signs, then removed. */
  caKey: pulumi.Input<string>;
}

export interface HostAgentArgs {
  /** How to reach the host; `hostKey` pinned, or `trustOnFirstUse: true` chosen explicitly. */
  connection: SshConnection;
  /** The vhostnet-agent_<version>_amd64.deb to install (`npm run package:deb` prints its path). */
  package: string;
  /** Names what is installed; a change upgrades in place (state kept). Default: the package's sha256. */
  version?: string;
  /** The agent's sockets and pidfile (--run-dir); default /run/vhostnet. */
  runDir?: string;
  /** The agent's configuration (--state-dir), kept across upgrades and destroy; default /var/lib/vhostnet. */
  stateDir?: string;
  /** tcp://HOST:PORT (default tcp://127.0.0.1:8470), always with TLS, or unix:/path. */
  listen?: string;
  /** The CA to sign the server certificate with; default: one made on the host for the host. */
  tls?: HostAgentTls;
  /** DPDK --file-prefix; default vhostnet. */
  filePrefix?: string;
  /** Directories client ports' sockets may be in (--socket-dir); default: the agent's own list. */
  socketDirs?: string[];
  /** More agent arguments, e.g. --eal-arg=--log-level=lib.eal:error. */
  agentArgs?: string[];
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

// Values that go into shell scripts and agent.conf unquoted-safe: no spaces, quotes or $.
const SAFE_PATH = /^\/[A-Za-z0-9._/+-]*$/;
const SAFE_ARG = /^[A-Za-z0-9._/:=,@+-]+$/;
const DEB_NAME = /^vhostnet-agent_[A-Za-z0-9.+~-]+_amd64\.deb$/;

interface Settings {
  package: string;
  version?: string;
  runDir: string;
  stateDir: string;
  listen: string;
  filePrefix: string;
  socketDirs: string[];
  agentArgs: string[];
}

/** Defaults filled in and every field checked; throws HostAgentArgError naming the field and the rule. */
export function hostAgentSettings(name: string, a: HostAgentArgs): Settings {
  const bad = (field: string, rule: string) => new HostAgentArgError(name, field, rule);
  if (!a || typeof a !== 'object' || !a.connection) throw bad('connection', 'is required: { host, port, user, privateKey, hostKey or trustOnFirstUse }');
  for (const gone of ['installDir', 'packDir'])
    if ((a as unknown as Record<string, unknown>)[gone] !== undefined)
      throw bad(gone, 'is no longer an input: the agent is installed from its Debian package (under /usr/lib/vhostnet); pass `package`');
  const s: Settings = {
    package: a.package,
    version: a.version,
    runDir: a.runDir ?? '/run/vhostnet',
    stateDir: a.stateDir ?? '/var/lib/vhostnet',
    listen: a.listen ?? 'tcp://127.0.0.1:8470',
    filePrefix: a.filePrefix ?? 'vhostnet',
    socketDirs: a.socketDirs ?? [],
    agentArgs: a.agentArgs ?? [],
  };
  if (typeof s.package !== 'string' || !path.isAbsolute(s.package) || !DEB_NAME.test(path.basename(s.package)))
    throw bad('package', 'must be the absolute path of a vhostnet-agent_<version>_amd64.deb (npm run package:deb builds one and prints its path)');
  if (!fs.existsSync(s.package) || !fs.statSync(s.package).isFile()) throw bad('package', `must be an existing file (${s.package} is not)`);
  if (s.version !== undefined && (typeof s.version !== 'string' || !/^[A-Za-z0-9][A-Za-z0-9._+-]{0,63}$/.test(s.version)))
    throw bad('version', 'must be 1-64 letters, digits, . _ + -, starting with a letter or digit');
  for (const k of ['runDir', 'stateDir'] as const)
    if (typeof s[k] !== 'string' || !SAFE_PATH.test(s[k]) || s[k] === '/')
      throw bad(k, 'must be an absolute path other than / of letters, digits and . _ / + -');
  if (typeof s.filePrefix !== 'string' || !/^[A-Za-z0-9_-]{1,32}$/.test(s.filePrefix)) throw bad('filePrefix', 'must be 1-32 letters, digits, _ or -');
  const tcp = /^tcp:\/\/(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/.exec(s.listen);
  if (tcp ? Number(tcp[2]) < 1 || Number(tcp[2]) > 65535 : !(s.listen.startsWith('unix:') && SAFE_PATH.test(s.listen.slice(5))))
    throw bad('listen', 'must be tcp://HOST:PORT (port 1-65535) or unix:/absolute/path');
  if (a.tls !== undefined && (typeof a.tls !== 'object' || a.tls === null || a.tls.caCert === undefined || a.tls.caKey === undefined))
    throw bad('tls', 'must be { caCert, caKey } (PEM), or absent for a CA made for the host');
  if (!Array.isArray(s.socketDirs)) throw bad('socketDirs', 'must be a list of absolute paths');
  s.socketDirs.forEach((d, i) => {
    if (typeof d !== 'string' || !SAFE_PATH.test(d)) throw bad(`socketDirs[${i}]`, 'must be an absolute path of letters, digits and . _ / + -');
  });
  if (!Array.isArray(s.agentArgs)) throw bad('agentArgs', 'must be a list of arguments');
  s.agentArgs.forEach((x, i) => {
    if (typeof x !== 'string' || !SAFE_ARG.test(x)) throw bad(`agentArgs[${i}]`, 'must be letters, digits and . _ / : = , @ + - (no spaces or quotes)');
    if (/^--(run-dir|state-dir|listen|token-file|file-prefix|tls-cert|tls-key|insecure-tcp)(=|$)/.test(x))
      throw bad(`agentArgs[${i}]`, 'must not set what HostAgent sets (run-dir, state-dir, listen, token-file, file-prefix, tls-cert, tls-key, insecure-tcp)');
  });
  return s;
}

/** The host clients reach: the SSH host's name for a wildcard listen address, else that address. */
function reachableHost(listen: string, sshHost: string): string {
  const h = /^tcp:\/\/(.+):(\d+)$/.exec(listen)![1];
  return ['0.0.0.0', '[::]'].includes(h) ? sshHost.replace(/^\[|\]$/g, '') : h.replace(/^\[|\]$/g, '');
}

/**
 * The endpoint clients use: https on TCP. A wildcard listen address is reached at the SSH host's
 * name; a loopback one (the default) only from the host itself, so the program must run there or
 * through a tunnel.
 */
export function agentEndpoint(listen: string, sshHost: string): string {
  if (listen.startsWith('unix:')) return listen;
  const port = /:(\d+)$/.exec(listen)![1];
  const host = reachableHost(listen, sshHost);
  return `https://${net.isIPv6(host) ? `[${host}]` : host}:${port}`;
}

/** subjectAltName of the server certificate: the name clients use, and loopback for the probe. */
export function serverAltNames(listen: string, sshHost: string): string {
  const names = [reachableHost(listen, sshHost), '127.0.0.1', 'localhost'];
  return [...new Set(names)].map((n) => (net.isIP(n) ? `IP:${n}` : `DNS:${n}`)).join(',');
}

/** sha256 of the package file, hex: what names an install when `version` is not given. */
export function packageSha256(file: string): string {
  return crypto.createHash('sha256').update(fs.readFileSync(file)).digest('hex');
}

// The host's CA and the agent's server certificate, made on the host with openssl: the server
// key never leaves it. A CA made here keeps its key in TLS_DIR (0600) so a new server
// certificate (another name, near expiry) keeps the pin; a given CA's key is on disk only while
// it signs. Prints the server certificate's fingerprint and the CA certificate, which the
// resources pin.
const TLS = `set -eu
export DEBIAN_FRONTEND=noninteractive
command -v openssl >/dev/null || { apt-get install -y -q openssl >/dev/null || { apt-get update -q >/dev/null && apt-get install -y -q openssl >/dev/null; }; } >&2
umask 077
mkdir -p "$TLS_DIR"
cd "$TLS_DIR"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
if [ -n "$CA_CERT" ]; then
  printf '%s\\n' "$CA_CERT" >"$work/ca.crt"
  printf '%s\\n' "$CA_KEY" >"$work/ca.key"
  openssl x509 -noout -in "$work/ca.crt" >&2 || { echo "tls.caCert is not a PEM certificate" >&2; exit 1; }
  [ "$(openssl x509 -noout -pubkey -in "$work/ca.crt")" = "$(openssl pkey -pubout -in "$work/ca.key" 2>/dev/null)" ] ||
    { echo "tls.caKey is not the private key of tls.caCert" >&2; exit 1; }
  cmp -s "$work/ca.crt" ca.crt 2>/dev/null || { mv "$work/ca.crt" ca.crt; rm -f ca.key; echo "using the given CA" >&2; }
  cakey=$work/ca.key
elif [ -f ca.key ] && [ -f ca.crt ]; then
  cakey=ca.key
else
  openssl req -x509 -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ca.key -out ca.crt -days 3650 \\
    -subj "/CN=vhostnet-agent CA for $CA_NAME" -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
  cakey=ca.key
  echo "made a CA for $CA_NAME" >&2
fi
# A new server certificate when there is none, or it is not the CA's, names other hosts, or
# expires within 30 days.
if ! { [ -f server.crt ] && [ -f server.key ] && [ "$(cat server.names 2>/dev/null)" = "$ALT_NAMES" ] &&
  openssl verify -CAfile ca.crt server.crt >/dev/null 2>&1 && openssl x509 -noout -checkend 2592000 -in server.crt >/dev/null; }; then
  openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$work/server.key" -out "$work/server.csr" -subj "/CN=vhostnet-agent" 2>/dev/null
  printf 'subjectAltName=%s\\nbasicConstraints=critical,CA:FALSE\\nkeyUsage=critical,digitalSignature\\nextendedKeyUsage=serverAuth\\n' "$ALT_NAMES" >"$work/ext"
  openssl x509 -req -in "$work/server.csr" -CA ca.crt -CAkey "$cakey" -set_serial "0x$(openssl rand -hex 16)" -days 825 -extfile "$work/ext" -out "$work/server.crt" 2>/dev/null
  mv "$work/server.key" server.key
  mv "$work/server.crt" server.crt
  printf '%s\\n' "$ALT_NAMES" >server.names
  echo "made a server certificate for $ALT_NAMES" >&2
fi
# The server certificate's fingerprint first: a new one restarts the agent on it.
echo "# server $(openssl x509 -noout -fingerprint -sha256 -in server.crt)"
cat ca.crt
`;

// Shared by install and uninstall; every value comes from the environment (RemoteCommand sends
// it on stdin). Without systemd the agent runs detached from the unit's ExecStart; its pidfile
// (start-agent writes it) names it, and only a process running the package's files is ours.
const FUNCTIONS = `set -eu
export DEBIAN_FRONTEND=noninteractive
UNIT=vhostnet-agent.service
PIDFILE=$RUN_DIR/agent.pid
has_systemd() { [ -d /run/systemd/system ]; }
stop_detached() {
  pid=$(cat "$PIDFILE" 2>/dev/null || true)
  if [ -n "$pid" ] && tr '\\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF /usr/lib/vhostnet/; then
    kill -TERM "$pid" 2>/dev/null || true
    i=0
    while kill -0 "$pid" 2>/dev/null && [ $i -lt 150 ]; do sleep 0.1; i=$((i + 1)); done
    if kill -0 "$pid" 2>/dev/null; then kill -KILL "$pid" 2>/dev/null || true; sleep 0.5; fi
    echo "stopped agent pid $pid"
  fi
  rm -f "$PIDFILE"
}
`;

const INSTALL = `${FUNCTIONS}
# The configuration first: a first install's postinst then starts the agent as configured, and
# an upgrade keeps it (--force-confold: it is ours, as an admin's edit would be).
mkdir -p /etc/vhostnet
(umask 077 && printf '%s\\n' "$VHOSTNET_TOKEN" >/etc/vhostnet/agent.token.new && mv /etc/vhostnet/agent.token.new /etc/vhostnet/agent.token)
cat >/etc/vhostnet/agent.conf.new <<CONF
# Written by Pulumi (vhostnet HostAgent): changes here are replaced at its next update.
LISTEN=$LISTEN
TOKEN_FILE=/etc/vhostnet/agent.token
TLS_CERT=$TLS_CERT
TLS_KEY=$TLS_KEY
INSECURE_TCP=no
RUN_DIR=$RUN_DIR
STATE_DIR=$STATE_DIR
FILE_PREFIX=$FILE_PREFIX
SOCKET_DIRS="$SOCKET_DIRS"
SOCKET_GROUP=
EXTRA_ARGS="$AGENT_ARGS"
CONF
mv /etc/vhostnet/agent.conf.new /etc/vhostnet/agent.conf
# apt-get resolves the package's Depends (Debian's DPDK libraries) from the host's archive.
install_pkg() { apt-get install -y -q --allow-downgrades -o Dpkg::Options::=--force-confold -o Dpkg::Options::=--force-confdef "$PACKAGE" >"$RUN_LOG" 2>&1; }
RUN_LOG=$(mktemp)
install_pkg || { apt-get update -q >/dev/null 2>&1 && install_pkg; } || { tail -n 20 "$RUN_LOG" >&2; rm -f "$RUN_LOG"; exit 1; }
rm -f "$RUN_LOG"
echo "installed $(dpkg-query -W -f '\${Package} \${Version}' vhostnet-agent)"
if has_systemd; then
  systemctl restart "$UNIT"
else
  stop_detached
  # No systemd (containers, CI): the unit's own command, in its own session, so the end of the
  # SSH session does not reach it.
  cmd=$(sed -n 's/^ExecStart=//p' /lib/systemd/system/$UNIT)
  mkdir -p "$RUN_DIR" /var/log/vhostnet
  setsid nohup $cmd </dev/null >>/var/log/vhostnet/agent.log 2>&1 &
fi
# Ready when the API answers over TLS (the CA pinned), token and all.
i=0
until /usr/lib/vhostnet/bin/node -e "$PROBE" "$LISTEN" /etc/vhostnet/agent.token "$TLS_CA"; do
  i=$((i + 1))
  if [ $i -ge 120 ]; then
    echo "vhostnet-agent $VERSION did not become ready:" >&2
    if has_systemd; then journalctl -u "$UNIT" -n 30 --no-pager >&2 || true; else tail -n 30 /var/log/vhostnet/agent.log >&2 || true; fi
    exit 1
  fi
  sleep 0.5
done
echo "vhostnet-agent $VERSION running, listening on $LISTEN"
`;

// apt-get remove: prerm stops the agent (systemd, or the pidfile); configuration and state stay.
const UNINSTALL = `${FUNCTIONS}
apt-get remove -y -q vhostnet-agent >/dev/null
has_systemd || stop_detached
echo "vhostnet-agent removed; configuration kept in /etc/vhostnet, state in $STATE_DIR"
`;

/** GET /v1/health with the token, over TLS with the CA when given; exit 0 on 200. Run by the packaged node. */
const PROBE = `const fs=require("node:fs");const [l,t,ca]=process.argv.slice(1);const o={path:"/v1/health",timeout:2000,headers:{authorization:"Bearer "+fs.readFileSync(t,"utf8").trim()}};let m=require("node:http");if(l.startsWith("unix:"))o.socketPath=l.slice(5);else{const x=/^tcp:\\/\\/(.+):(\\d+)$/.exec(l);o.host=x[1].replace(/^\\[|\\]$/g,"");if(o.host==="0.0.0.0"||o.host==="::")o.host="127.0.0.1";o.port=Number(x[2]);if(ca){m=require("node:https");o.ca=fs.readFileSync(ca);}}m.get(o,(r)=>process.exit(r.statusCode===200?0:1)).on("error",()=>process.exit(1)).on("timeout",function(){this.destroy();});`;

const TLS_DIR = '/etc/vhostnet/tls';

/** The CA certificate in what the TLS step printed. */
export function caCertOf(stdout: string): string {
  const pem = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/.exec(stdout);
  if (!pem) throw new Error(`HostAgent: the TLS step printed no CA certificate: ${stdout.slice(0, 200)}`);
  return `${pem[0]}\n`;
}

export class HostAgent extends pulumi.ComponentResource {
  /** https://HOST:PORT or unix:/path: known at preview, resolved once the agent answers. */
  readonly endpoint: pulumi.Output<string>;
  /** PEM of the CA the agent's certificate is signed by: pin it (connection.caCert). '' for unix. */
  readonly caCert: pulumi.Output<string>;
  /** The agent's bearer token (secret). */
  readonly token: pulumi.Output<string>;
  /** The installed version: `version`, else the package's sha256. */
  readonly version: pulumi.Output<string>;
  /** What the install step printed. */
  readonly installLog: pulumi.Output<string>;

  constructor(name: string, args: HostAgentArgs, opts?: pulumi.ComponentResourceOptions) {
    super(HOST_AGENT_TYPE, name, {}, opts);
    const s = hostAgentSettings(name, args);
    const sha256 = packageSha256(s.package);
    const version = s.version ?? sha256;
    const tcp = s.listen.startsWith('tcp://');
    const token = new AgentToken(`${name}-token`, { parent: this });
    const copy = new RemoteCopy(
      `${name}-package`,
      {
        connection: args.connection,
        localPath: s.package,
        remotePath: path.posix.join('/var/cache/vhostnet', path.basename(s.package)),
        triggers: [sha256],
        removeOnDelete: true,
      },
      { parent: this },
    );
    const host = pulumi.output(args.connection.host);
    const tls = tcp
      ? new RemoteCommand(
          `${name}-tls`,
          {
            connection: args.connection,
            create: TLS,
            update: TLS,
            environment: {
              TLS_DIR,
              ALT_NAMES: host.apply((h) => serverAltNames(s.listen, h)),
              CA_NAME: host,
              CA_CERT: args.tls?.caCert ?? '',
              CA_KEY: args.tls ? pulumi.secret(args.tls.caKey) : '',
            },
          },
          { parent: this },
        )
      : undefined;
    const install = new RemoteCommand(
      `${name}-install`,
      {
        connection: args.connection,
        // The same script installs and upgrades: a new version (or package) changes the
        // environment, which runs it again in place: apt upgrades, the agent restarts, state stays.
        create: INSTALL,
        update: INSTALL,
        delete: UNINSTALL,
        environment: {
          VERSION: version,
          PACKAGE: copy.remotePath,
          RUN_DIR: s.runDir,
          STATE_DIR: s.stateDir,
          LISTEN: s.listen,
          FILE_PREFIX: s.filePrefix,
          SOCKET_DIRS: s.socketDirs.join(' '),
          AGENT_ARGS: s.agentArgs.join(' '),
          TLS_CERT: tcp ? `${TLS_DIR}/server.crt` : '',
          TLS_KEY: tcp ? `${TLS_DIR}/server.key` : '',
          TLS_CA: tcp ? `${TLS_DIR}/ca.crt` : '',
          // A new server certificate (another name) restarts the agent on it.
          TLS_SERVER: tls ? tls.stdout.apply((o) => /^# server (.*)$/m.exec(o)?.[1] ?? '') : '',
          PROBE,
          VHOSTNET_TOKEN: token.token,
        },
      },
      { parent: this, dependsOn: tls ? [copy, tls] : [copy] },
    );
    // Taken from the install's id, which an in-place upgrade keeps: resources using the
    // endpoint wait for the first install but are not touched by an upgrade.
    this.endpoint = pulumi.all([install.id, host]).apply(([, h]) => agentEndpoint(s.listen, h));
    this.caCert = tls ? pulumi.all([install.id, tls.stdout]).apply(([, o]) => caCertOf(o)) : pulumi.output('');
    this.token = pulumi.all([install.id, token.token]).apply(([, t]) => t);
    this.version = pulumi.all([install.id]).apply(() => version);
    this.installLog = install.stdout;
    this.registerOutputs({ endpoint: this.endpoint, caCert: this.caCert, version: this.version });
  }
}
