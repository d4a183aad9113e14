// TCP: one peer's link over the interface's connections (tcp-conns.ts). A
// peer with an Endpoint gets one connection of ours to it, reconnected with
// capped exponential backoff (the host name re-resolved each attempt) — or,
// on standby (Transport = auto), only between connect() and disconnect().
// A connection the peer made to us becomes this link's once an initiation
// on it authenticates as this peer's (confirmPeer). Whichever is current
// carries the peer's data; a newer one replaces it.
import { EventEmitter } from 'node:events';
import * as libc from '../../sys/libc.js';
import type { EndpointSpec } from '../../transport/resolve.js';
import { formatAddress } from '../../transport/sockaddr.js';
import { connectTcp } from '../../transport/tcp.js';
import type { Datapath } from '../datapath/datapath.js';
import { EndpointName } from './endpoint-name.js';
import type { Link, LinkEvents } from './link.js';
import type { Logger } from '../../log.js';
import type { Conn, ConnOwner, TcpConns } from './tcp-conns.js';
import { TIMERS } from '../timers.js';
import type { FromWorker } from '../datapath/worker-messages.js';

export class TcpLink extends EventEmitter<LinkEvents> implements Link, ConnOwner {
  readonly kind = 'tcp' as const;
  private datapath: Datapath | null = null;
  private current: Conn | null = null;
  private backoffMs: number = TIMERS.tcpBackoffFirstMs;
  private reconnectTimer: NodeJS.Timeout | null = null;
  /** The descriptor of a connect() in progress, so close() can abort it. */
  private connecting: number | null = null;
  private closed = false;
  /** Whether a connection to the Endpoint is wanted: always, unless on standby and not asked for. */
  private wanted: boolean;
  private readonly name: EndpointName;

  /**
   * `peer`: the peer's slot in the data path. `standby`: make no connection
   * to the Endpoint until connect() (Transport = auto starts on UDP).
   */
  constructor(
    readonly conns: TcpConns,
    private endpoint: EndpointSpec | null,
    private readonly log: Logger,
    readonly peer: number,
    opts: { standby?: boolean } = {},
  ) {
    super();
    this.wanted = !opts.standby;
    this.name = new EndpointName(log);
  }

  async attach(datapath: Datapath): Promise<void> {
    this.datapath = datapath;
    if (this.endpoint && this.wanted) void this.dial();
  }

  /** Starts keeping a connection to the Endpoint (a standby link's fallback); 'up' once it is made. */
  connect(): void {
    this.wanted = true;
    if (this.current || this.connecting !== null) return;
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    this.reconnectTimer = null;
    this.backoffMs = TIMERS.tcpBackoffFirstMs;
    void this.dial();
  }

  /** Stops keeping a connection to the Endpoint: closes ours (an accepted one stays) and makes no new one. */
  disconnect(reason: string): void {
    this.wanted = false;
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    this.reconnectTimer = null;
    // Aborts a connect() in progress; it then closes its descriptor.
    if (this.connecting !== null && this.connecting >= 0) libc.shutdown(this.connecting, libc.SHUT_RDWR);
    if (this.current && !this.current.accepted) this.conns.retire(this.current, reason, 'closed');
  }

  async setEndpoint(endpoint: EndpointSpec | null): Promise<void> {
    this.endpoint = endpoint;
    this.name.forget();
    if (!endpoint) return;
    // Our own connection goes to the new place; one the peer made to us stays.
    const cur = this.current;
    if (cur && !cur.accepted) this.conns.retire(cur, 'endpoint changed');
    else if (!cur && this.wanted) this.connect();
  }

  /**
   * Looks a host-name Endpoint up again (handshakes unanswered, or a reload);
   * when it now points away from our connection, that connection is closed
   * and the next one goes to the new address. True when that happened.
   */
  async reresolve(): Promise<boolean> {
    const ep = this.endpoint;
    const cur = this.current;
    const ours = cur?.remote ? formatAddress(cur.remote) : null;
    // Round-robin DNS: still among the answers is no move.
    const peer = ep ? await this.name.again(ep, (a) => formatAddress(a) === ours) : null;
    // Without a connection of ours the next attempt resolves anyway; one the peer made to us stays.
    if (!ep || !peer || ep !== this.endpoint || !cur || cur !== this.current || cur.accepted || !cur.remote) return false;
    if (formatAddress(peer) === formatAddress(cur.remote)) return false;
    this.log.info(`Endpoint ${ep.host} now resolves to ${formatAddress(peer)}; reconnecting`);
    this.conns.retire(cur, 'the Endpoint name resolves elsewhere', 'closed');
    return true;
  }

  resolvedText(): string | null {
    return this.name.text();
  }

  private async dial(): Promise<void> {
    if (this.closed || !this.wanted || this.connecting !== null || !this.endpoint) return;
    this.connecting = -1;
    try {
      const peer = await this.name.resolve(this.endpoint);
      // disconnect() may have come while the name was resolving.
      if (this.closed || !this.wanted) return;
      const attempt = connectTcp(peer, TIMERS.tcpConnectTimeoutMs, this.conns.mark);
      this.connecting = attempt.fd;
      const c = await attempt.done;
      if (this.closed || !this.wanted || this.conns.isClosed) {
        libc.close(c.fd);
        return;
      }
      this.log.info(`connected to ${formatAddress(peer)} over TCP`);
      this.makeCurrent(this.conns.track(c, false, { source: '', network: '' }));
      this.emit('up');
    } catch (err) {
      this.log.debug(`${(err as Error).message}; retrying in ${Math.round(this.backoffMs)} ms`);
      this.scheduleReconnect();
    } finally {
      this.connecting = null;
    }
  }

  private scheduleReconnect(): void {
    if (this.closed || !this.wanted || !this.endpoint || this.reconnectTimer) return;
    const delay = this.backoffMs;
    this.backoffMs = Math.min(this.backoffMs * 2, TIMERS.tcpBackoffMaxMs);
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = null;
      void this.dial();
    }, delay);
  }

  private makeCurrent(conn: Conn): void {
    const old = this.current;
    this.current = conn;
    // The old one is no longer ours before it goes: its retirement must not
    // take the new one from the transmit worker, which releases the old
    // descriptor itself ('tcp-released') when told of the new one.
    if (old && old !== conn) old.owner = null;
    this.conns.claim(conn, this);
    if (old && old !== conn) this.conns.retire(old, 'replaced by a newer connection');
  }

  /** Our current connection went (tcp-conns.ts retire). */
  lost(conn: Conn, reason: string, how: 'lost' | 'closed'): void {
    if (conn !== this.current) return;
    this.current = null;
    this.log.info(`TCP connection ${how}: ${reason}`);
    this.emit('down', reason);
    this.scheduleReconnect();
  }

  send(message: Uint8Array): void {
    if (this.current) this.datapath?.toTx({ t: 'send', peer: this.peer, message, via: 'tcp' });
  }

  reply(message: Uint8Array, source: Uint8Array | null, fd: number): void {
    this.conns.reply(message, source, fd);
  }

  sourceOf(source: Uint8Array | null, fd: number): Uint8Array | null {
    return this.conns.sourceOf(source, fd);
  }

  canSend(): boolean {
    return this.current !== null;
  }

  passedMac1(source: Uint8Array | null, fd: number): void {
    this.conns.passedMac1(source, fd);
  }

  failedHandshake(source: Uint8Array | null, fd: number): void {
    this.conns.failedHandshake(source, fd);
  }

  /** A handshake message of this peer's authenticated on connection `fd`: it carries the peer's data from now on. */
  confirmPeer(_source: Uint8Array | null, fd: number): void {
    const conn = this.conns.open(fd);
    // Another peer's connection is not ours to take (a peer cannot authenticate as another).
    if (!conn || (conn.owner !== null && conn.owner !== this)) return;
    if (conn !== this.current) this.makeCurrent(conn);
    this.backoffMs = TIMERS.tcpBackoffFirstMs;
  }

  onWorkerMessage(msg: FromWorker): boolean {
    return this.conns.onWorkerMessage(msg);
  }

  listenText(): string | null {
    return this.conns.listenText();
  }

  endpointText(): string | null {
    const r = this.current?.remote;
    return r ? formatAddress(r) : null;
  }

  /** The peer is removed (or the tunnel stops): no more connections of its; its current one closes. */
  async close(): Promise<void> {
    this.closed = true;
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    // Aborts a connect() blocked in the threadpool; it then closes its descriptor.
    if (this.connecting !== null && this.connecting >= 0) libc.shutdown(this.connecting, libc.SHUT_RDWR);
    if (this.current && !this.conns.isClosed) this.conns.retire(this.current, 'peer removed', 'closed');
  }
}
