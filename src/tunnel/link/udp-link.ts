// UDP: one socket, shared by both workers. The peer's address is the
// configured Endpoint until an authenticated message arrives from elsewhere
// (roaming, WireGuard semantics: only authenticated packets move it).
import { EventEmitter } from 'node:events';
import * as libc from '../../sys/libc.js';
import type { EndpointSpec } from '../../transport/resolve.js';
import { decodeSockaddr, formatAddress, sameSockaddr } from '../../transport/sockaddr.js';
import { openBoundSocket, peerSockaddr, type BindSpec, type BoundSocket } from '../../transport/socket.js';
import type { Datapath } from '../datapath/datapath.js';
import { recall, remember, type EndpointMemory } from './endpoint-memory.js';
import { EndpointName } from './endpoint-name.js';
import type { Link, LinkEvents } from './link.js';
import type { Logger } from '../../log.js';
import type { FromWorker } from '../datapath/worker-messages.js';

export class UdpLink extends EventEmitter<LinkEvents> implements Link {
  readonly kind = 'udp' as const;
  private datapath: Datapath | null = null;
  private readonly current = Buffer.alloc(libc.SIZEOF_SOCKADDR_STORAGE);
  private hasPeer = false;
  /** Where a listener keeps its peer's last authenticated address across restarts. */
  memory: EndpointMemory | null = null;
  /** The destination came from that memory, not from the config or the peer: worth a handshake of our own. */
  resumed = false;
  private readonly name: EndpointName;

  private constructor(
    readonly socket: BoundSocket,
    private readonly listen: BindSpec,
    private endpoint: EndpointSpec | null,
    private readonly log: Logger,
  ) {
    super();
    this.name = new EndpointName(log);
  }

  /** `listen.port` 0 (no ListenPort): an ephemeral port, as an initiator needs. */
  static open(listen: BindSpec, endpoint: EndpointSpec | null, log: Logger): UdpLink {
    return new UdpLink(openBoundSocket('udp', listen), listen, endpoint, log);
  }

  async setEndpoint(endpoint: EndpointSpec | null): Promise<void> {
    this.endpoint = endpoint;
    this.name.forget();
    if (!endpoint) return;
    const { bytes, len } = peerSockaddr(await this.name.resolve(endpoint), this.socket.family);
    this.setPeer(bytes, len);
    this.emit('up');
  }

  /**
   * Looks a host-name Endpoint up again (handshakes unanswered, or a reload);
   * true when it now points elsewhere: sends go there from now on.
   */
  async reresolve(): Promise<boolean> {
    const ep = this.endpoint;
    const peer = ep ? await this.name.again(ep) : null;
    if (!ep || !peer || ep !== this.endpoint) return false;
    let moved: boolean;
    try {
      const { bytes, len } = peerSockaddr(peer, this.socket.family);
      moved = this.setPeer(bytes, len);
    } catch (err) {
      this.log.warn(`Endpoint: ${(err as Error).message}`);
      return false;
    }
    if (moved) this.log.info(`Endpoint ${ep.host} now resolves to ${formatAddress(peer)}`);
    return moved;
  }

  resolvedText(): string | null {
    return this.name.text();
  }

  /** Connects the link to the workers and, for an initiator, resolves the endpoint. */
  async attach(datapath: Datapath): Promise<void> {
    this.datapath = datapath;
    if (this.endpoint) {
      const { bytes, len } = peerSockaddr(await this.name.resolve(this.endpoint), this.socket.family);
      this.setPeer(bytes, len);
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
   * `authenticated`: the address comes from the config or a verified message
   * (then it is remembered). True when the destination changed.
   */
  private setPeer(sockaddr: Uint8Array, len: number, authenticated = true): boolean {
    if (this.hasPeer && sameSockaddr(sockaddr, this.current)) return false;
    const first = !this.hasPeer;
    this.current.fill(0);
    this.current.set(sockaddr.subarray(0, len));
    this.hasPeer = true;
    this.datapath?.toTx({ t: 'udp-destination', sockaddr: Uint8Array.from(this.current), len });
    // The receive side compares each authenticated datagram's source with this, not with what it saw last.
    this.datapath?.toRx({ t: 'udp-peer', sockaddr: Uint8Array.from(this.current) });
    if (!first) this.log.info(`peer endpoint is now ${this.endpointText()}`);
    if (authenticated && this.memory && !this.endpoint) remember(this.memory, this.current.subarray(0, len));
    return true;
  }

  send(message: Uint8Array): void {
    this.datapath?.toTx({ t: 'send', message, via: 'udp' });
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
    const a = decodeSockaddr(this.current);
    return a ? formatAddress(a) : null;
  }

  async close(): Promise<void> {
    libc.close(this.socket.fd);
  }
}
