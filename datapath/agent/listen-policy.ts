// Whether a listen address may serve the API in clear text. The bearer token travels with every
// request: beyond loopback it must be inside TLS unless the operator says otherwise, out loud.
import * as net from 'node:net';

export interface ListenPolicy {
  listen: string;
  tlsCert?: string;
  tlsKey?: string;
  insecureTcp?: boolean;
}

/** 127.0.0.0/8, ::1 (and ::ffff:127.x), localhost. */
export function isLoopback(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  if (h === 'localhost' || h === '::1') return true;
  const v4 = h.startsWith('::ffff:') ? h.slice(7) : h;
  return net.isIPv4(v4) && v4.startsWith('127.');
}

/**
 * Throws (naming the option) when the policy refuses the address; returns a warning to print
 * when it allows clear text beyond loopback because --insecure-tcp was given.
 */
export function checkListenPolicy(p: ListenPolicy): string | undefined {
  if (!!p.tlsCert !== !!p.tlsKey) throw new Error('--tls-cert and --tls-key must be given together');
  if (!p.listen.startsWith('tcp://') || p.tlsCert) return undefined;
  const host = new URL(p.listen).hostname;
  if (isLoopback(host)) return undefined;
  if (!p.insecureTcp)
    throw new Error(
      `--listen ${p.listen}: a TCP listener beyond loopback needs --tls-cert and --tls-key (the bearer token would cross the network in clear text), or --insecure-tcp`,
    );
  return `warning: --insecure-tcp: serving the API and its bearer token in clear text on ${p.listen}`;
}
