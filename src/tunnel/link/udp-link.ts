// UDP: one socket for the interface, shared by both workers and by every
// peer; a UdpLink is one peer's view of it. The peer's address is the
// configured Endpoint until an authenticated message arrives from elsewhere
// (roaming, WireGuard semantics: only authenticated packets move it), and
// again once handshakes sent to that learned address go unanswered.
import { EventEmitter } from 'node:events';
import * as libc from '../../sys/libc.js';
import { isHostName, ResolveError, resolveEndpoint, type EndpointSpec, type Lookup } from '../../transport/resolve.js';
import { decodeSockaddr, formatAddress, sameSockaddr, type SocketAddress } from '../../transport/sockaddr.js';
import { openBoundSocket, peerSockaddr, type BindSpec, type BoundSocket } from '../../transport/socket.js';
import type { Datapath } from '../datapath/datapath.js';
import { recall, remember, type EndpointMemory } from './endpoint-memory.js';
import { EndpointName } from './endpoint-name.js';
import type { Link, LinkEvents } from './link.js';
import type { Logger } from '../../log.js';
import { TIMERS } from '../timers.js';
import type { FromWorker } from '../datapath/worker-messages.js';

export class UdpLink extends EventEmitter<LinkEvents> implements Link {
  readonly kind = 'udp' as const;
  private datapath: Datapath | null = null;
  /**
   * Where sends go; null until known. Made when first needed: a server's
   * configured peers that never connect cost no buffer (memory per idle peer).
   */
  private current: Buffer | null = null;
  private get hasPeer(): boolean {
    return this.current !== null;
  }
  /** Where a listener keeps its peer's last authenticated address across restarts. */
  memory: EndpointMemory | null = null;
  /** The destination came from that memory, not from the config or the peer: worth a handshake of our own. */
  resumed = false;
  /** Made when first needed (an Endpoint to look up): most of a server's peers have none. */
  private nameOf: EndpointName | null = null;
  /** A resolver in place of the system's (tests). */
  private readonly lookup: Lookup | undefined;
  /** The latest Endpoint address this socket cannot send to, so it is logged once, not at every retransmission. */
  private unusable = '';
  /** While the resolver fails for a while (EAI_AGAIN at boot): the next try. */
  private retry: NodeJS.Timeout | null = null;
  /** The peer was removed: a lookup that answers late changes nothing. */
  private closed = false;

  private constructor(
    readonly socket: BoundSocket,
    private readonly listen: BindSpec,
    private endpoint: EndpointSpec | null,
    private readonly log: Logger,
    /** The peer's slot in the data path (worker-messages.ts). */
    readonly peer: number,
    /** The socket is this link's alone, closed with it (false: the interface's, shared by its peers). */
    private readonly ownsSocket: boolean,
    lookup?: Lookup,
  ) {
    super();
    this.lookup = lookup;
  }

  private get name(): EndpointName {
    this.nameOf ??= new EndpointName(this.log, this.lookup);
    return this.nameOf;
  }

  /**
   * A socket of its own for one peer (slot 0). `listen.port` 0 (no
   * ListenPort): an ephemeral port, as an initiator needs. `lookup`: a
   * resolver in place of the system's (tests).
   */
  static open(listen: BindSpec, endpoint: EndpointSpec | null, log: Logger, lookup?: Lookup): UdpLink {
    return new UdpLink(openBoundSocket('udp', listen), listen, endpoint, log, 0, true, lookup);
  }

  /** Peer `peer`'s link on the interface's socket, which outlives it. */
  static onSocket(socket: BoundSocket, listen: BindSpec, endpoint: EndpointSpec | null, log: Logger, peer: number): UdpLink {
    return new UdpLink(socket, listen, endpoint, log, peer, false);
  }

  async setEndpoint(endpoint: EndpointSpec | null): Promise<void> {
    this.endpoint = endpoint;
    this.nameOf?.forget();
    this.unusable = '';
    this.stopRetry();
    if (!endpoint) return;
    const { bytes, len } = peerSockaddr(await this.name.resolve(endpoint), this.socket.family);
    this.setPeer(bytes, len);
    this.emit('up');
  }

  /**
   * Handshakes go unanswered (or a reload): sends go to the configured
   * Endpoint again — an IP literal as it is, a host name looked up again —
   * when they go elsewhere now. Elsewhere is an address learned from an
   * authenticated message: the peer roamed, or an on-path attacker's copy of
   * a handshake response won the race with the real one; a peer with no
   * confirmed key never sends from its real address to move us back, so
   * without this the tunnel would stay pointed at the attacker.
   * True when the destination changed.
   */
  async reresolve(): Promise<boolean> {
    const ep = this.endpoint;
    if (!ep) return false;
    const before = this.name.text();
    const peer = isHostName(ep) ? await this.name.again(ep, (a) => this.isCurrent(a)) : await resolveEndpoint(ep);
    if (!peer || ep !== this.endpoint) return false;
    let moved: boolean;
    try {
      const { bytes, len } = peerSockaddr(peer, this.socket.family);
      moved = this.setPeer(bytes, len);
      this.unusable = '';
    } catch (err) {
      const why = `Endpoint: ${(err as Error).message}`;
      if (why !== this.unusable) this.log.warn(why);
      this.unusable = why;
      return false;
    }
    if (!moved) return false;
    const at = formatAddress(peer);
    if (isHostName(ep) && at !== before) this.log.info(`Endpoint ${ep.host} now resolves to ${at}`);
    else this.log.info(`handshakes went unanswered at the learned address; back to the configured Endpoint ${ep.host}:${ep.port} (${at})`);
    return true;
  }

  /** Whether sends go to `a` now. */
  private isCurrent(a: SocketAddress): boolean {
    if (!this.hasPeer) return false;
    try {
      return sameSockaddr(peerSockaddr(a, this.socket.family).bytes, this.current!);
    } catch {
      return false; // the other IP version: never the one in use
    }
  }

  resolvedText(): string | null {
    return this.nameOf?.text() ?? null;
  }

  /** Connects the link to the workers and, for an initiator, resolves the endpoint. */
  async attach(datapath: Datapath): Promise<void> {
    this.datapath = datapath;
    if (this.endpoint) {
      await this.seek(this.endpoint);
    } else if (this.memory) {
      const last = recall(this.memory);
      const a = last ? decodeSockaddr(last) : null;
      if (last && a && (a.family === 4 || this.socket.family === 6)) {
        const { bytes, len } = peerSockaddr(a, this.socket.family);
        this.setPeer(bytes, len, false);
        this.resumed = true;
        this.log.info(`peer was last at ${formatAddress(a)}; starting a handshake there`);
      }
    }
    this.emit('up');
  }

  /**
   * Sends go to the Endpoint's address. When the resolver cannot answer for
   * now (EAI_AGAIN: no DNS server reachable yet, as at boot) the link stays
   * without a destination and tries again every rekey timeout, logged once;
   * a name that has no address (refused at `up`) throws.
   */
  private async seek(ep: EndpointSpec, retrying = false): Promise<void> {
    let peer: SocketAddress;
    try {
      peer = await this.name.resolve(ep);
    } catch (err) {
      if (!(err instanceof ResolveError) || (err.permanent && !retrying)) throw err;
      if (!retrying) this.log.warn(`Endpoint: ${err.message}; trying again every ${TIMERS.rekeyTimeoutMs / 1000} s`);
      this.retry = setTimeout(() => {
        this.retry = null;
        if (ep !== this.endpoint) return;
        this.seek(ep, true).then(
          () => this.hasPeer && this.emit('up'),
          (e: Error) => this.log.warn(`Endpoint: ${e.message}`),
        );
      }, TIMERS.rekeyTimeoutMs);
      return;
    }
    if (ep !== this.endpoint) return;
    this.stopRetry();
    const { bytes, len } = peerSockaddr(peer, this.socket.family);
    this.setPeer(bytes, len);
  }

  private stopRetry(): void {
    if (this.retry) clearTimeout(this.retry);
    this.retry = null;
  }

  /**
   * `authenticated`: the address comes from the config or a verified message
   * (then it is remembered). True when the destination changed.
   */
  private setPeer(sockaddr: Uint8Array, len: number, authenticated = true): boolean {
    if (this.closed) return false;
    if (this.current && sameSockaddr(sockaddr, this.current)) return false;
    const first = !this.current;
    this.current ??= Buffer.alloc(libc.SIZEOF_SOCKADDR_STORAGE);
    this.current.fill(0);
    this.current.set(sockaddr.subarray(0, len));
    this.datapath?.toTx({ t: 'udp-destination', peer: this.peer, sockaddr: Uint8Array.from(this.current), len });
    // The receive side compares each authenticated datagram's source with this, not with what it saw last.
    this.datapath?.toRx({ t: 'udp-peer', peer: this.peer, sockaddr: Uint8Array.from(this.current) });
    if (!first) this.log.info(`peer endpoint is now ${this.endpointText()}`);
    if (authenticated && this.memory && !this.endpoint) remember(this.memory, this.current.subarray(0, len));
    return true;
  }

  send(message: Uint8Array): void {
    this.datapath?.toTx({ t: 'send', peer: this.peer, message, via: 'udp' });
  }

  reply(message: Uint8Array, source: Uint8Array | null): void {
    // Straight from the main thread: a datagram is atomic, so this cannot
    // interleave with the data path's sends on the same socket.
    if (source) libc.sendto(this.socket.fd, message, message.length, libc.MSG_DONTWAIT, source, source.length);
  }

  sourceOf(source: Uint8Array | null): Uint8Array | null {
    return source;
  }

  canSend(): boolean {
    return this.hasPeer;
  }

  confirmPeer(source: Uint8Array | null): void {
    if (source) this.setPeer(source, source.length);
  }

  onWorkerMessage(msg: FromWorker): boolean {
    if (msg.t !== 'endpoint') return false;
    this.setPeer(msg.sockaddr, msg.sockaddr.length);
    return true;
  }

  listenText(): string {
    const a = this.listen.address;
    return a ? formatAddress({ ...a, port: this.socket.port }) : `*:${this.socket.port}`;
  }

  endpointText(): string | null {
    if (!this.hasPeer) return null;
    const a = decodeSockaddr(this.current!);
    return a ? formatAddress(a) : null;
  }

  async close(): Promise<void> {
    this.stopRetry();
    this.closed = true;
    if (this.ownsSocket) libc.close(this.socket.fd);
  }
}
