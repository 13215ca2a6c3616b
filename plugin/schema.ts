// The package schema GetSchema answers with, generated from the zod contract (zod 4's
// toJSONSchema), the TypeScript face's field docs and the operations' own replace rules.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { z } from 'zod';
import { interfaceDocs } from './docs';
import { CONNECTION_INPUTS, NESTED_INTERFACES, PACKAGE, RESOURCES, ops, type OutputSpec, type ResourceKind } from './operations';

export { PACKAGE };
const ROOT = path.resolve(__dirname, '..', '..');

export function packageVersion(): string {
  return (JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;
}

interface JsonSchema {
  type?: string;
  properties?: Record<string, JsonSchema>;
  required?: string[];
  items?: JsonSchema;
  anyOf?: JsonSchema[];
  oneOf?: JsonSchema[];
  enum?: unknown[];
  const?: unknown;
  default?: unknown;
  description?: string;
  minimum?: number;
  maximum?: number;
}

export interface PulumiProperty {
  type?: string;
  items?: PulumiProperty;
  $ref?: string;
  description?: string;
  default?: unknown;
  secret?: boolean;
}

interface ObjectType {
  type: 'object';
  description?: string;
  properties: Record<string, PulumiProperty>;
  required?: string[];
}

/** Replace or in place, as the kind's own diff answers for a change of that one field. */
export async function replacingFields(r: ResourceKind, fields: string[]): Promise<Set<string>> {
  const out = new Set<string>();
  for (const f of fields) {
    const d = await ops.diff(r.kind, { [f]: 1 }, { [f]: 2 });
    if (d.replaces?.includes(f)) out.add(f);
  }
  return out;
}

const pascal = (s: string) => s.charAt(0).toUpperCase() + s.slice(1);
const sentence = (s: string) => (s && !/[.!?]$/.test(s) ? `${s}.` : s);

/** Merges a union of objects (GuestVM.boot on `kind`) into one object: its fields, each optional but the shared required ones. */
function mergeUnion(branches: JsonSchema[]): JsonSchema {
  const properties: Record<string, JsonSchema> = {};
  for (const b of branches) for (const [k, v] of Object.entries(b.properties ?? {})) properties[k] ??= v;
  const kinds = branches.map((b) => b.properties?.kind?.const).filter((k) => k !== undefined);
  if (properties.kind && kinds.length)
    properties.kind = { type: 'string', enum: kinds, description: "Which of the shapes this is; the other shapes' fields must be left out" };
  const required = (branches[0]?.required ?? []).filter((k) => branches.every((b) => b.required?.includes(k)));
  return { type: 'object', properties, required };
}

class Builder {
  readonly types: Record<string, ObjectType> = {};
  constructor(readonly docs: Record<string, Record<string, string>>) {}

  /** A contract field as a schema property; nested objects become named types. */
  property(js: JsonSchema, typeName: string, doc: string | undefined, at: string): PulumiProperty {
    const notes: string[] = [];
    if (doc) notes.push(sentence(doc));
    const values = js.enum ?? (js.const !== undefined ? [js.const] : undefined);
    if (values) notes.push(`One of ${values.map((v) => JSON.stringify(v)).join(', ')}.`);
    if (js.type === 'integer' || js.type === 'number') {
      const max = js.maximum !== undefined && js.maximum < Number.MAX_SAFE_INTEGER ? js.maximum : undefined;
      if (js.minimum !== undefined && max !== undefined) notes.push(`From ${js.minimum} to ${max}.`);
      else if (js.minimum !== undefined) notes.push(`At least ${js.minimum}.`);
    }
    if (js.default !== undefined) notes.push(`Default: ${JSON.stringify(js.default)}.`);
    const p: PulumiProperty = this.shape(js, typeName, at);
    if (js.default !== undefined && ['string', 'integer', 'number', 'boolean'].includes(p.type ?? '')) p.default = js.default;
    if (notes.length) p.description = notes.join(' ');
    return p;
  }

  private shape(js: JsonSchema, typeName: string, at: string): PulumiProperty {
    const union = js.anyOf ?? js.oneOf;
    if (union && union.every((b) => b.type === 'object')) return this.object(mergeUnion(union), typeName, at);
    switch (js.type) {
      case 'string':
      case 'integer':
      case 'number':
      case 'boolean':
        return { type: js.type };
      case 'array':
        return { type: 'array', items: js.items ? this.shape(js.items, typeName.replace(/s$/, ''), at) : { $ref: 'pulumi.json#/Any' } };
      case 'object':
        return js.properties ? this.object(js, typeName, at) : { type: 'object', $ref: 'pulumi.json#/Any' };
      default:
        return { $ref: 'pulumi.json#/Any' };
    }
  }

  /** `at`: the field's path from the resource ("VxlanPort.underlay"), which names its docs. */
  private object(js: JsonSchema, typeName: string, at: string): PulumiProperty {
    const token = `${PACKAGE}:index:${typeName}`;
    const docs = this.docs[NESTED_INTERFACES[at] ?? ''] ?? {};
    const properties: Record<string, PulumiProperty> = {};
    for (const [k, v] of Object.entries(js.properties ?? {})) properties[k] = this.property(v, `${typeName}${pascal(k)}`, docs[k], `${at}.${k}`);
    this.types[token] = { type: 'object', properties, ...(js.required?.length ? { required: js.required } : {}) };
    return { $ref: `#/types/${token}` };
  }
}

const OUTPUT_TYPES: Record<OutputSpec['type'], PulumiProperty> = {
  string: { type: 'string' },
  integer: { type: 'integer' },
  boolean: { type: 'boolean' },
  'string[]': { type: 'array', items: { type: 'string' } },
};

const CONFIG: Record<keyof typeof CONNECTION_INPUTS, PulumiProperty> = {
  endpoint: {
    type: 'string',
    description: 'The agent: "unix:/run/vhostnet/agent.sock" (the default), "http://host:port" or "https://host:port". Else $VHOSTNET_AGENT.',
  },
  token: { type: 'string', secret: true, description: 'Bearer token for TCP endpoints; always a secret. Else $VHOSTNET_TOKEN.' },
  caCert: { type: 'string', description: 'PEM certificate the agent must present (pinning), for https endpoints.' },
};

const ADOPT: PulumiProperty = {
  type: 'boolean',
  description:
    'Adopt an object that already exists on the agent instead of refusing to take it over; create then checks that the declared fields match the live object. `pulumi import` (or the import resource option) does the same through Read.',
};

/** Input fields of a resource (contract fields minus the hidden ones), in contract order. */
export function inputFields(r: ResourceKind): { js: JsonSchema; fields: string[] } {
  const js = z.toJSONSchema(r.contract, { io: 'input', unrepresentable: 'any' }) as JsonSchema;
  return { js, fields: Object.keys(js.properties ?? {}).filter((k) => !r.hidden.includes(k)) };
}

export async function buildSchema(): Promise<Record<string, unknown>> {
  const b = new Builder(interfaceDocs(path.join(ROOT, 'provider')));
  const resources: Record<string, unknown> = {};
  for (const [name, r] of Object.entries(RESOURCES)) {
    const { js, fields } = inputFields(r);
    const replacing = await replacingFields(r, fields);
    const docs = b.docs[r.argsInterface] ?? {};
    const inputs: Record<string, PulumiProperty> = {};
    for (const f of fields) {
      // The hand-written note is replaced by what the diff answers.
      const doc = docs[f]?.replace(/\s*\b(Replaces|In place)\.\s*$/, '').replace(/\s*\b(Replaces|In place)\.\s+/, ' ');
      const p = b.property(js.properties![f], `${name}${pascal(f)}`, doc, `${name}.${f}`);
      if (f === 'name' && !/defaults to the resource name/i.test(p.description ?? ''))
        p.description = [p.description, "Defaults to the resource's name."].filter(Boolean).join(' ');
      const note = replacing.has(f) ? 'Changing it replaces the resource.' : 'Changes in place.';
      p.description = [p.description, note].filter(Boolean).join(' ');
      inputs[f] = p;
    }
    if (r.kind !== 'settings') {
      inputs.adopt = ADOPT;
    }
    const requiredInputs = (js.required ?? []).filter((k) => fields.includes(k) && k !== 'name');
    const outputs = Object.fromEntries(Object.entries(r.outputs).map(([k, o]) => [k, { ...OUTPUT_TYPES[o.type], description: o.description }]));
    resources[`${PACKAGE}:index:${name}`] = {
      description: r.description,
      inputProperties: inputs,
      ...(requiredInputs.length ? { requiredInputs } : {}),
      properties: { ...inputs, ...outputs },
      required: [...new Set([...(js.required ?? []).filter((k) => fields.includes(k)), ...Object.keys(r.outputs)])],
    };
  }
  return {
    name: PACKAGE,
    displayName: 'vhostnet',
    version: packageVersion(),
    description: 'Declarative, previewable vhost-user networking on a DPDK datapath: bridges, vhost-user and VXLAN ports, QEMU guests, hugepages.',
    license: 'Apache-2.0',
    keywords: ['vhost-user', 'dpdk', 'qemu', 'category/infrastructure', 'kind/native'],
    config: { variables: CONFIG },
    provider: { description: 'Which agent the resources talk to.', inputProperties: CONFIG, properties: CONFIG },
    resources,
    types: b.types,
    language: {
      python: { packageName: 'pulumi_vhostnet', requires: { pulumi: '>=3.0.0,<4.0.0' }, pyproject: { enabled: true } },
      go: { importBasePath: 'vhostnet.local/sdk/go/vhostnet', generateResourceContainerTypes: false },
      nodejs: { packageName: '@vhostnet/pulumi' },
    },
  };
}
