// The plugin's gRPC face: the engine's ResourceProvider service, served directly rather than
// through @pulumi/pulumi/provider's main(), which can send no detailedDiff and drops the provider
// configuration. Every resource call goes to the kind's operation (./operations), with the
// agent's connection taken from the provider's configuration.
import { createRequire } from 'node:module';
import type * as grpcT from '@grpc/grpc-js';
import type { Struct as StructT } from 'google-protobuf/google/protobuf/struct_pb';
import type * as providerPbT from '@pulumi/pulumi/proto/provider_pb';
import { CONNECTION_INPUTS, OWNER_INPUT, RESOURCES, ops, type Props, type ResourceKind } from './operations';
import { PACKAGE, buildSchema, inputFields, packageVersion } from './schema';

// The SDK's own gRPC and protobuf copies: its generated service definitions are built on them.
const sdkRequire = createRequire(require.resolve('@pulumi/pulumi'));
const grpc: typeof grpcT = sdkRequire('@grpc/grpc-js');
const { Struct } = sdkRequire('google-protobuf/google/protobuf/struct_pb') as { Struct: typeof StructT };
const { Empty } = sdkRequire('google-protobuf/google/protobuf/empty_pb');
const pb: typeof providerPbT = require('@pulumi/pulumi/proto/provider_pb');
const { ResourceProviderService } = require('@pulumi/pulumi/proto/provider_grpc_pb');
const { PluginInfo } = require('@pulumi/pulumi/proto/plugin_pb');

/** How the engine marks a secret inside a Struct (when a provider accepts secrets). */
const SECRET_SIG = '4dabf18193072939515e22adb298388d';

type Call<Req> = { request: Req };
type Callback = (err: grpcT.ServiceError | { code: number; details: string } | null, value?: unknown) => void;

export interface Connection {
  endpoint?: string;
  token?: string;
  caCert?: string;
}

/** "urn:pulumi:<stack>::<project>::<type>::<name>" */
function parseUrn(urn: string): { stack: string; project: string; type: string; name: string } {
  const [head, project, qualified, ...name] = urn.split('::');
  return { stack: head.replace(/^urn:pulumi:/, ''), project, type: qualified.split('$').pop()!, name: name.join('::') };
}

function resourceOf(type: string): ResourceKind {
  const [pkg, mod, name] = type.split(':');
  const r = pkg === PACKAGE && mod === 'index' ? RESOURCES[name] : undefined;
  if (!r)
    throw new Error(
      `unknown resource type ${type}: this provider has ${Object.keys(RESOURCES)
        .map((n) => `${PACKAGE}:index:${n}`)
        .join(', ')}`,
    );
  return r;
}

const js = (s: StructT | undefined): Props => (s ? (s.toJavaScript() as Props) : {});
const unsecret = (v: unknown): unknown => (v && typeof v === 'object' && SECRET_SIG in v ? (v as unknown as { value: unknown }).value : v);
/** Structs hold no `undefined`: drop those (deeply), as JSON does. */
const struct = (p: Props): StructT => Struct.fromJavaScript(JSON.parse(JSON.stringify(p ?? {})));

const fail = (cb: Callback, e: unknown) => {
  const message = e instanceof Error ? e.message : String(e);
  cb({ code: grpc.status.UNKNOWN, details: message });
};

export class VhostnetProvider {
  conn: Connection = {};
  private schema?: Promise<string>;

  /** The operations' props: the resource's own, plus the connection from the provider's config. */
  private withConnection(p: Props): Props {
    return { ...p, [CONNECTION_INPUTS.endpoint]: this.conn.endpoint, [CONNECTION_INPUTS.token]: this.conn.token, [CONNECTION_INPUTS.caCert]: this.conn.caCert };
  }

  /** What goes into the state: never the connection (the provider's config holds it, the token as a secret). */
  private stateOf(r: ResourceKind, p: Props | undefined): Props {
    const out: Props = { ...(p ?? {}) };
    for (const k of [...Object.values(CONNECTION_INPUTS), OWNER_INPUT, ...r.hidden]) delete out[k];
    return out;
  }

  private owner(urn: string): Props {
    const u = parseUrn(urn);
    return { [OWNER_INPUT]: `${u.project}/${u.stack}` };
  }

  getPluginInfo(_call: Call<unknown>, cb: Callback) {
    const info = new PluginInfo();
    info.setVersion(packageVersion());
    cb(null, info);
  }

  getSchema(call: Call<providerPbT.GetSchemaRequest>, cb: Callback) {
    if (call.request.getVersion() !== 0) return cb({ code: grpc.status.INVALID_ARGUMENT, details: `unsupported schema version ${call.request.getVersion()}` });
    this.schema ??= buildSchema().then((s) => JSON.stringify(s));
    this.schema.then(
      (s) => {
        const resp = new pb.GetSchemaResponse();
        resp.setSchema(s);
        cb(null, resp);
      },
      (e) => fail(cb, e),
    );
  }

  checkConfig(call: Call<providerPbT.CheckRequest>, cb: Callback) {
    const news = js(call.request.getNews());
    const failures: providerPbT.CheckFailure[] = [];
    for (const key of Object.keys(CONNECTION_INPUTS)) {
      const v = unsecret(news[key]);
      if (v !== undefined && typeof v !== 'string') {
        const f = new pb.CheckFailure();
        f.setProperty(key);
        f.setReason(`must be a string (vhostnet:${key})`);
        failures.push(f);
      }
    }
    const endpoint = unsecret(news.endpoint);
    if (typeof endpoint === 'string' && endpoint !== '' && !/^(unix:\/|\/|https?:\/\/)/.test(endpoint)) {
      const f = new pb.CheckFailure();
      f.setProperty('endpoint');
      f.setReason('must be "unix:/path/to/agent.sock", "http://host:port" or "https://host:port"');
      failures.push(f);
    }
    const resp = new pb.CheckResponse();
    resp.setInputs(call.request.getNews());
    resp.setFailuresList(failures);
    cb(null, resp);
  }

  diffConfig(call: Call<providerPbT.DiffRequest>, cb: Callback) {
    const olds = js(call.request.getOlds());
    const news = js(call.request.getNews());
    const changed = Object.keys(CONNECTION_INPUTS).filter((k) => JSON.stringify(unsecret(olds[k]) ?? null) !== JSON.stringify(unsecret(news[k]) ?? null));
    const resp = new pb.DiffResponse();
    resp.setChanges(changed.length ? pb.DiffResponse.DiffChanges.DIFF_SOME : pb.DiffResponse.DiffChanges.DIFF_NONE);
    // Another endpoint is another agent: the objects live on the old one, so they are replaced.
    if (changed.includes('endpoint')) resp.setReplacesList(['endpoint']);
    cb(null, resp);
  }

  configure(call: Call<providerPbT.ConfigureRequest>, cb: Callback) {
    const req = call.request;
    const args = req.hasArgs() ? js(req.getArgs()) : {};
    const vars = req.getVariablesMap();
    const get = (k: string): string | undefined => {
      const v = unsecret(args[k]) ?? vars.get(`${PACKAGE}:config:${k}`) ?? vars.get(`${PACKAGE}:${k}`);
      return typeof v === 'string' && v !== '' ? v : undefined;
    };
    this.conn = { endpoint: get('endpoint'), token: get('token'), caCert: get('caCert') };
    const resp = new pb.ConfigureResponse();
    // Plain values in, and the engine keeps secrets secret in the state by itself.
    resp.setAcceptsecrets(false);
    resp.setSupportspreview(false);
    cb(null, resp);
  }

  async check(call: Call<providerPbT.CheckRequest>, cb: Callback) {
    try {
      const req = call.request;
      const r = resourceOf(req.getType() || parseUrn(req.getUrn()).type);
      const news = js(req.getNews());
      // As in the TypeScript face, an object is named after its resource unless told otherwise.
      if (r.kind !== 'settings' && news.name === undefined) news.name = req.getName() || parseUrn(req.getUrn()).name;
      const result = await ops.check(r.kind, this.withConnection(news));
      const resp = new pb.CheckResponse();
      resp.setInputs(struct(this.stateOf(r, (result.inputs as Props | undefined) ?? news)));
      resp.setFailuresList(
        (result.failures ?? []).map((f) => {
          const cf = new pb.CheckFailure();
          cf.setProperty(f.property);
          cf.setReason(f.reason);
          return cf;
        }),
      );
      cb(null, resp);
    } catch (e) {
      fail(cb, e);
    }
  }

  async diff(call: Call<providerPbT.DiffRequest>, cb: Callback) {
    try {
      const req = call.request;
      const r = resourceOf(req.getType() || parseUrn(req.getUrn()).type);
      const olds = js(req.getOlds());
      const news = js(req.getNews());
      const d = await ops.diff(r.kind, this.withConnection(olds), this.withConnection(news));
      const resp = new pb.DiffResponse();
      resp.setChanges(
        d.changes
          ? pb.DiffResponse.DiffChanges.DIFF_SOME
          : d.changes === false
            ? pb.DiffResponse.DiffChanges.DIFF_NONE
            : pb.DiffResponse.DiffChanges.DIFF_UNKNOWN,
      );
      const replaces = d.replaces ?? [];
      resp.setReplacesList(replaces);
      resp.setStablesList(d.stables ?? []);
      resp.setDeletebeforereplace(!!d.deleteBeforeReplace);
      // Which input changed, and whether that change replaces: the preview shows it per field.
      const K = pb.PropertyDiff.Kind;
      const detailed = resp.getDetaileddiffMap();
      if (d.changes) {
        for (const f of inputFields(r).fields) {
          if (d.stables?.includes(f) || (!(f in olds) && !(f in news))) continue;
          const replace = replaces.includes(f);
          const pd = new pb.PropertyDiff();
          pd.setKind(
            !(f in olds) ? (replace ? K.ADD_REPLACE : K.ADD) : !(f in news) ? (replace ? K.DELETE_REPLACE : K.DELETE) : replace ? K.UPDATE_REPLACE : K.UPDATE,
          );
          pd.setInputdiff(true);
          detailed.set(f, pd);
        }
        resp.setHasdetaileddiff(detailed.getLength() > 0);
      } else {
        resp.setHasdetaileddiff(true);
      }
      cb(null, resp);
    } catch (e) {
      fail(cb, e);
    }
  }

  async create(call: Call<providerPbT.CreateRequest>, cb: Callback) {
    try {
      const req = call.request;
      const r = resourceOf(req.getType() || parseUrn(req.getUrn()).type);
      const result = await ops.create(r.kind, { ...this.withConnection(js(req.getProperties())), ...this.owner(req.getUrn()) });
      const resp = new pb.CreateResponse();
      resp.setId(result.id);
      resp.setProperties(struct(this.stateOf(r, result.outs as Props)));
      cb(null, resp);
    } catch (e) {
      fail(cb, e);
    }
  }

  /** From an ID alone too: `pulumi import vhostnet:index:Bridge br0 br0` sends no properties. */
  async read(call: Call<providerPbT.ReadRequest>, cb: Callback) {
    try {
      const req = call.request;
      const r = resourceOf(req.getType() || parseUrn(req.getUrn()).type);
      const state = js(req.getProperties());
      const result = await ops.read(r.kind, req.getId(), this.withConnection(state));
      const resp = new pb.ReadResponse();
      if (result.id === undefined) return cb(null, resp); // gone: no ID, the engine drops it
      // The ID names an object, not its kind: a port of another type is another resource type.
      const want = inputFields(r).js.properties?.type?.const;
      const live = (result.props as Props).type;
      if (want !== undefined && live !== undefined && live !== want) {
        const other = Object.entries(RESOURCES).find(([, k]) => inputFields(k).js.properties?.type?.const === live)?.[0];
        throw new Error(`${req.getId()} is a ${String(live)} port, not ${String(want)}${other ? `: import it as ${PACKAGE}:index:${other}` : ''}`);
      }
      const props = this.stateOf(r, result.props as Props);
      const inputs: Props = {};
      const oldInputs = js(req.getInputs());
      for (const f of inputFields(r).fields) if (props[f] !== undefined) inputs[f] = props[f];
      if (oldInputs.adopt !== undefined) inputs.adopt = oldInputs.adopt;
      resp.setId(result.id);
      resp.setProperties(struct(props));
      resp.setInputs(struct(inputs));
      cb(null, resp);
    } catch (e) {
      fail(cb, e);
    }
  }

  async update(call: Call<providerPbT.UpdateRequest>, cb: Callback) {
    try {
      const req = call.request;
      const r = resourceOf(req.getType() || parseUrn(req.getUrn()).type);
      const result = await ops.update(r.kind, this.withConnection(js(req.getOlds())), {
        ...this.withConnection(js(req.getNews())),
        ...this.owner(req.getUrn()),
      });
      const resp = new pb.UpdateResponse();
      resp.setProperties(struct(this.stateOf(r, result.outs as Props)));
      cb(null, resp);
    } catch (e) {
      fail(cb, e);
    }
  }

  async delete(call: Call<providerPbT.DeleteRequest>, cb: Callback) {
    try {
      const req = call.request;
      const r = resourceOf(req.getType() || parseUrn(req.getUrn()).type);
      await ops.remove(r.kind, this.withConnection(js(req.getProperties())));
      cb(null, new Empty());
    } catch (e) {
      fail(cb, e);
    }
  }

  cancel(_call: unknown, cb: Callback) {
    cb(null, new Empty());
  }
}

/** Serves on a free loopback port and prints it: the engine reads the port from the first line of stdout. */
export async function serve(): Promise<void> {
  const server = new grpc.Server({ 'grpc.max_receive_message_length': 400 * 1024 * 1024 });
  const impl = new VhostnetProvider();
  const methods: Record<string, unknown> = {};
  for (const name of [
    'getPluginInfo',
    'getSchema',
    'checkConfig',
    'diffConfig',
    'configure',
    'check',
    'diff',
    'create',
    'read',
    'update',
    'delete',
    'cancel',
  ] as const)
    methods[name] = (impl[name] as (...a: unknown[]) => unknown).bind(impl);
  server.addService(ResourceProviderService, methods as grpcT.UntypedServiceImplementation);
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
  );
  process.stdout.write(`${port}\n`);
}
