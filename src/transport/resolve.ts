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

/** A host name the resolver gave no address for; `message` is the resolver's answer, for people. */
export class ResolveError extends Error {
  override readonly name = 'ResolveError';
  constructor(
    readonly host: string,
    readonly code: string,
  ) {
    super(`"${host}" does not resolve: ${ANSWERS[code] ?? 'the resolver failed'} (${code})`);
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

export async function resolveEndpoint(ep: EndpointSpec): Promise<SocketAddress> {
  const literal = isIP(ep.host);
  if (literal === 4 || literal === 6) return { family: literal, address: ep.host, port: ep.port };
  try {
    const { address, family } = await lookup(ep.host);
    return { family: family === 6 ? 6 : 4, address, port: ep.port };
  } catch (err) {
    throw new ResolveError(ep.host, (err as NodeJS.ErrnoException).code ?? 'EAI_FAIL');
  }
}
