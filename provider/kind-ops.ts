// What a kind of agent object is to the provider: its schema, how its properties become the
// agent's spec and its answer becomes outputs, which fields replace. Each resource's table sits
// beside it (<resource>.ops.ts); ./impl.ts runs the one change sequence over them.
import type * as dynamic from '@pulumi/pulumi/dynamic';
import type { AgentClient, ChangeOptions, ChangeResult } from '../datapath/api';
import type { z } from 'zod';

/** Inputs every resource carries besides its own fields. */
export interface Common {
  agentEndpoint?: string;
  agentToken?: string;
  agentCaCert?: string;
  owner?: string;
  adopt?: boolean;
}

export type Props = Record<string, unknown> & Common;

/** The agent's operations on one object of a kind, from the typed client. */
export interface Objects {
  get(name: string): Promise<Record<string, unknown>>;
  put(name: string, spec: Record<string, unknown>, o?: ChangeOptions): Promise<ChangeResult<Record<string, unknown>>>;
  delete(name: string): Promise<unknown>;
}

export interface KindOps {
  schema: z.ZodType;
  /** The typed client's operations for this kind. */
  objects(c: AgentClient): Objects;
  /** The spec sent to the agent, from the resource's properties. */
  spec(p: Props): Record<string, unknown>;
  /** Properties that cannot change in place. */
  replaceOn: readonly string[];
  /** Outputs from the agent's answer. */
  outputs(obj: Record<string, unknown>): Record<string, unknown>;
  /** A kind that exists once per agent is never created or deleted, only set. */
  singleton?: boolean;
  /** A check beyond the schema (the guest's NIC pairing and the agent's dry run). */
  check?(news: Props, c: AgentClient): Promise<dynamic.CheckResult | undefined>;
  /** Properties the agent derived that are outputs, not inputs the program gave (refresh). */
  derived?: readonly string[];
}

export function pick(p: Props, keys: readonly string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const k of keys) if (p[k] !== undefined) out[k] = p[k];
  return out;
}

/** The typed client's object operations, as the sequence in ./impl.ts calls them. */
export const objectsOf = (o: {
  get(n: string): Promise<unknown>;
  put(n: string, s: never, o?: ChangeOptions): Promise<unknown>;
  delete(n: string): Promise<unknown>;
}): Objects => o as unknown as Objects;
