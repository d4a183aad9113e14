// A host-name Endpoint as a link sees it: what the name last resolved to
// (status shows it), and looking it up again when the peer stops answering
// or on reload, as wg's reresolve-dns and OpenVPN's resolv-retry do: a
// server that moves to a new address is found again through its name.
import { ConfigError, type Endpoint } from '../../config/config.js';
import { isHostName, resolveEndpoint, ResolveError, type EndpointSpec } from '../../transport/resolve.js';
import { formatAddress, type SocketAddress } from '../../transport/sockaddr.js';
import type { Logger } from '../../log.js';

export class EndpointName {
  /** What the name last resolved to; null for an IP literal or before the first lookup. */
  private resolved: SocketAddress | null = null;
  private inFlight: Promise<SocketAddress | null> | null = null;
  /** The latest failure, so a resolver that stays down is logged once, not at every retry. */
  private lastError = '';

  constructor(private readonly log: Logger) {}

  /** The Endpoint's address now (an IP literal as it is); throws ResolveError. */
  async resolve(ep: EndpointSpec): Promise<SocketAddress> {
    const a = await resolveEndpoint(ep);
    this.resolved = isHostName(ep) ? a : null;
    return a;
  }

  /**
   * Looks a host name up again, one lookup at a time: its address, or null
   * for an IP literal or a failed lookup (logged, never thrown).
   */
  again(ep: EndpointSpec): Promise<SocketAddress | null> {
    if (!isHostName(ep)) return Promise.resolve(null);
    this.inFlight ??= this.resolve(ep)
      .then(
        (a): SocketAddress | null => {
          this.lastError = '';
          return a;
        },
        (err: Error) => {
          if (err.message !== this.lastError) this.log.warn(`Endpoint: ${err.message}`);
          this.lastError = err.message;
          return null;
        },
      )
      .finally(() => (this.inFlight = null));
    return this.inFlight;
  }

  /** A new Endpoint from a reload: what the old name resolved to no longer applies. */
  forget(): void {
    this.resolved = null;
    this.lastError = '';
  }

  text(): string | null {
    return this.resolved ? formatAddress(this.resolved) : null;
  }
}

/**
 * A host-name Endpoint must resolve for `up` (and a reload) to go on: the
 * resolver's answer as FILE:LINE: Endpoint: ..., found before anything is
 * set up or changed; null when it resolves (or is an IP literal, or absent).
 * Later failures, while running, are logged and retried.
 */
export async function endpointProblem(file: string, ep: Endpoint | null | undefined): Promise<ConfigError | null> {
  if (!ep || !isHostName(ep)) return null;
  try {
    await resolveEndpoint(ep);
    return null;
  } catch (err) {
    if (err instanceof ResolveError) return new ConfigError(file, ep.line ?? 0, 'Endpoint', err.message, { cause: err });
    throw err;
  }
}
