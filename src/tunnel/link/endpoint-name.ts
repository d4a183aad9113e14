// A host-name Endpoint as a link sees it: what the name last resolved to
// (status shows it), and looking it up again when the peer stops answering
// or on reload, as wg's reresolve-dns and OpenVPN's resolv-retry do: a
// server that moves to a new address is found again through its name.
import { ConfigError, type Endpoint } from '../../config/config.js';
import { isHostName, resolveEndpoint, resolveEndpointAll, ResolveError, type EndpointSpec, type Lookup } from '../../transport/resolve.js';
import { formatAddress, type SocketAddress } from '../../transport/sockaddr.js';
import type { Logger } from '../../log.js';

export class EndpointName {
  /** What the name last resolved to; null for an IP literal or before the first lookup. */
  private resolved: SocketAddress | null = null;
  /** The lookup under way, and the Endpoint generation it was started for. */
  private inFlight: { generation: number; answers: Promise<SocketAddress[] | null> } | null = null;
  /** Bumped by forget(): a lookup started for an earlier Endpoint applies nothing. */
  private generation = 0;
  /** The latest failure, so a resolver that stays down is logged once, not at every retry. */
  private lastError = '';

  constructor(
    private readonly log: Logger,
    private readonly lookup?: Lookup,
  ) {}

  /** The Endpoint's address now (an IP literal as it is); throws ResolveError. */
  async resolve(ep: EndpointSpec): Promise<SocketAddress> {
    const generation = this.generation;
    const a = await resolveEndpoint(ep, this.lookup);
    if (generation === this.generation) this.resolved = isHostName(ep) ? a : null;
    return a;
  }

  /**
   * Looks a host name up again, one lookup at a time per Endpoint: the
   * address to use, which is the one in use when it is still among the
   * answers (round-robin DNS is no move), else the first answer. Null for an
   * IP literal, a failed lookup (logged, never thrown), or a lookup that a
   * new Endpoint (forget) overtook.
   */
  async again(ep: EndpointSpec, inUse: (a: SocketAddress) => boolean): Promise<SocketAddress | null> {
    if (!isHostName(ep)) return null;
    const generation = this.generation;
    let mine = this.inFlight;
    if (mine?.generation !== generation) {
      const started = { generation, answers: this.lookUp(ep) };
      void started.answers.finally(() => {
        if (this.inFlight === started) this.inFlight = null;
      });
      this.inFlight = mine = started;
    }
    const answers = await mine.answers;
    if (!answers || generation !== this.generation) return null;
    const a = answers.find(inUse) ?? answers[0]!;
    this.resolved = a;
    return a;
  }

  private lookUp(ep: EndpointSpec): Promise<SocketAddress[] | null> {
    return resolveEndpointAll(ep, this.lookup).then(
      (answers): SocketAddress[] | null => {
        this.lastError = '';
        return answers;
      },
      (err: Error) => {
        if (err.message !== this.lastError) this.log.warn(`Endpoint: ${err.message}`);
        this.lastError = err.message;
        return null;
      },
    );
  }

  /** A new Endpoint from a reload: what the old name resolved to, or will resolve to, no longer applies. */
  forget(): void {
    this.generation++;
    this.inFlight = null;
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
 * At `up` only a name with no address (ENOTFOUND, ENODATA) is refused: a
 * resolver that cannot answer yet (EAI_AGAIN, as at boot before the network
 * is up) leaves the link retrying (udp-link.ts seek, tcp-link.ts dial). A
 * reload keeps the running configuration on any failure; it can be repeated.
 * Later failures, while running, are logged and retried.
 */
export async function endpointProblem(file: string, ep: Endpoint | null | undefined, at: 'up' | 'reload', lookup?: Lookup): Promise<ConfigError | null> {
  if (!ep || !isHostName(ep)) return null;
  try {
    await resolveEndpoint(ep, lookup);
    return null;
  } catch (err) {
    if (!(err instanceof ResolveError)) throw err;
    if (at === 'up' && !err.permanent) return null;
    return new ConfigError(file, ep.line ?? 0, 'Endpoint', err.message, { cause: err });
  }
}
