// Endpoint resolution: literals as they are, host names through the system
// resolver each time (so a changed DNS record is picked up on reconnect, on
// unanswered handshakes and on reload).
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import type { SocketAddress } from './sockaddr.js';

export interface EndpointSpec {
  host: string;
  port: number;
}

/** A resolver: every address a name has, in the resolver's order. Tests pass a stand-in. */
export type Lookup = (host: string) => Promise<Array<{ address: string; family: number }>>;

const systemLookup: Lookup = (host) => lookup(host, { all: true });

/** A host name the resolver gave no address for; `message` is the resolver's answer, for people. */
export class ResolveError extends Error {
  override readonly name = 'ResolveError';
  constructor(
    readonly host: string,
    readonly code: string,
  ) {
    super(`"${host}" does not resolve: ${ANSWERS[code] ?? 'the resolver failed'} (${code})`);
  }

  /**
   * The resolver said the name has no address (not that it could not find
   * out): worth refusing a config for. Anything else (EAI_AGAIN: no DNS
   * server reachable yet, as at boot) may pass, so it is retried.
   */
  get permanent(): boolean {
    return this.code === 'ENOTFOUND' || this.code === 'ENODATA';
  }
}

/** getaddrinfo's answers (as Node names them) in words. */
const ANSWERS: Record<string, string> = {
  ENOTFOUND: 'no such host',
  ENODATA: 'the name has no address',
  EAI_AGAIN: 'temporary failure in name resolution (no DNS server reachable?)',
  EAI_FAIL: 'the DNS server failed',
};

/** Whether the Endpoint names a host (resolved through DNS) rather than an IP literal. */
export function isHostName(ep: EndpointSpec): boolean {
  return isIP(ep.host) === 0;
}

/** Every address of the Endpoint (an IP literal: itself), at its port; throws ResolveError. */
export async function resolveEndpointAll(ep: EndpointSpec, resolver: Lookup = systemLookup): Promise<SocketAddress[]> {
  const literal = isIP(ep.host);
  if (literal === 4 || literal === 6) return [{ family: literal, address: ep.host, port: ep.port }];
  let answers: Array<{ address: string; family: number }>;
  try {
    answers = await resolver(ep.host);
  } catch (err) {
    throw new ResolveError(ep.host, (err as NodeJS.ErrnoException).code ?? 'EAI_FAIL');
  }
  if (answers.length === 0) throw new ResolveError(ep.host, 'ENODATA');
  return answers.map(({ address, family }) => ({ family: family === 6 ? 6 : 4, address, port: ep.port }));
}

/** The Endpoint's first address; throws ResolveError. */
export async function resolveEndpoint(ep: EndpointSpec, resolver: Lookup = systemLookup): Promise<SocketAddress> {
  return (await resolveEndpointAll(ep, resolver))[0]!;
}
