// Endpoint resolution: literals as they are, host names through the system
// resolver each time (so a changed DNS record is picked up on reconnect).
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import type { SocketAddress } from './sockaddr.js';

export interface EndpointSpec {
  host: string;
  port: number;
}

export async function resolveEndpoint(ep: EndpointSpec): Promise<SocketAddress> {
  const literal = isIP(ep.host);
  if (literal === 4 || literal === 6) return { family: literal, address: ep.host, port: ep.port };
  const { address, family } = await lookup(ep.host);
  return { family: family === 6 ? 6 : 4, address, port: ep.port };
}
