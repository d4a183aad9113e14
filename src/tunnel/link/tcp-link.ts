// TCP: the initiator keeps one connection to the Endpoint, reconnecting with
// capped exponential backoff (the host name re-resolved each attempt) — or,
// on standby (Transport = auto), only between connect() and disconnect(); the
// listener accepts connections, which stay "pending" until an initiation on
// them authenticates. A pending connection is read like any other (its data
// counts only if it authenticates under a session key), but nothing is sent
// on it except cookie replies; the current connection carries our data.
//
// A descriptor is closed only after both workers have let go of it, so its
// number cannot be reused while a worker still polls or sends on it. Once
// closed, the number is reused by the next connection at once, while reports
// about the old one may still be on their way (the receive worker reports
// both 'tcp-closed' and 'tcp-removed' when it sees the end of a connection
// the main thread is retiring too): every message about a connection carries
// its id, never reused, and a report whose id is not the current holder's
// of that number is ignored. Handshake messages carry the descriptor alone:
// the receive worker posts them before it lets go of the connection, so they
// always arrive while the descriptor still names it.
import { EventEmitter } from 'node:events';
import * as libc from '../../sys/libc.js';
import type { EndpointSpec } from '../../transport/resolve.js';
import { FRAME_HEADER_BYTES, writeFrameHeader } from '../../transport/framing.js';
import { encodeSockaddr, formatAddress, SOCKADDR_IN6_BYTES, type SocketAddress } from '../../transport/sockaddr.js';
import { connectTcp, TcpListener, type TcpConnection } from '../../transport/tcp.js';
import type { BindSpec } from '../../transport/socket.js';
import type { Datapath } from '../datapath/datapath.js';
import { EndpointName } from './endpoint-name.js';
import type { Link, LinkEvents } from './link.js';
import type { Logger } from '../../log.js';
import { admitPending, type ConnOrigin } from './pending-conns.js';
import { sourceKeysOf } from '../../transport/source-key.js';
import { TIMERS } from '../timers.js';
import type { FromWorker } from '../datapath/worker-messages.js';

interface Conn {
  fd: number;
  /** Names this connection in worker messages: unlike `fd`, never reused. */
  id: number;
  /** sourceKey() of `remote` (an IPv4 address or IPv6 /64): what the pending caps count by. */
  source: string;
  /** networkKey() of `remote` (IPv4 /24, IPv6 /48): breaks ties between sources when one must give way. */
  network: string;
  /**
   * A handshake message with a valid mac1 came over it (and, while not under
   * load, went on to pass the Noise handshake, else the connection is
   * closed): never evicted for a newcomer. At most one per source.
   */
  vouched: boolean;
  remote: SocketAddress | null;
  /** `remote` as a sockaddr, made when first needed (cookies, rate limit). */
  sockaddr?: Uint8Array;
  inRx: boolean;
  inTx: boolean;
  closing: boolean;
  timer: NodeJS.Timeout | null;
  /** The peer connected to us (false: we connected to its Endpoint). */
  accepted: boolean;
}

export class TcpLink extends EventEmitter<LinkEvents> implements Link {
  readonly kind = 'tcp' as const;
  /** The peer's slot in the data path: over TCP an interface carries one peer, slot 0. */
  readonly peer = 0;
  private datapath: Datapath | null = null;
  private listener: TcpListener | null = null;
  /** By descriptor, in the order accepted (pending-conns.ts evicts by age). */
  private readonly conns = new Map<number, Conn>();
  private nextId = 1;
  private current: Conn | null = null;
  private backoffMs: number = TIMERS.tcpBackoffFirstMs;
  private reconnectTimer: NodeJS.Timeout | null = null;
  /** The descriptor of a connect() in progress, so close() can abort it. */
  private connecting: number | null = null;
  private closed = false;
  /** Whether a connection to the Endpoint is wanted: always, unless on standby and not asked for. */
  private wanted: boolean;
  private readonly name: EndpointName;

  /** `standby`: make no connection to the Endpoint until connect() (Transport = auto starts on UDP). */
  constructor(
    private readonly listen: BindSpec | null,
    private endpoint: EndpointSpec | null,
    private readonly log: Logger,
    opts: { standby?: boolean } = {},
  ) {
    super();
    this.wanted = !opts.standby;
    this.name = new EndpointName(log);
  }

  /** Opens the listener at once, so a bind error surfaces before the daemon reports ready. */
  bind(): void {
    if (this.listen) this.listener = new TcpListener(this.listen, (c) => this.accepted(c));
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
    if (this.current && !this.current.accepted) this.retire(this.current, reason, 'closed');
  }

  async setEndpoint(endpoint: EndpointSpec | null): Promise<void> {
    this.endpoint = endpoint;
    this.name.forget();
    if (!endpoint) return;
    // Our own connection goes to the new place; one the peer made to us stays.
    const cur = this.current;
    if (cur && !cur.accepted) this.retire(cur, 'endpoint changed');
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
    this.retire(cur, 'the Endpoint name resolves elsewhere', 'closed');
    return true;
  }

  resolvedText(): string | null {
    return this.name.text();
  }

  private accepted(c: TcpConnection): void {
    if (this.closed || !this.datapath) {
      libc.close(c.fd);
      return;
    }
    // Unauthenticated connections are capped, in all and per source; which
    // one gives way is pending-conns.ts's choice.
    const origin = c.remote ? sourceKeysOf(c.remote) : { source: '', network: '' };
    const pending = [...this.conns.values()].filter((x) => x !== this.current && !x.closing);
    const room = admitPending(pending, origin);
    const from = c.remote ? formatAddress(c.remote) : '?';
    if (!room.admit) {
      this.log.debug(`refused TCP connection from ${from}: every unauthenticated slot it could take holds a connection that showed a valid mac1`);
      libc.close(c.fd);
      return;
    }
    if (room.evict) this.retire(room.evict, `too many unauthenticated connections (${room.evict.source === origin.source ? 'from one source' : 'in all'})`);
    const conn = this.track(c, true, origin);
    // An unauthenticated connection gets a few seconds to prove itself.
    conn.timer = setTimeout(() => {
      if (conn !== this.current) this.retire(conn, 'no handshake in time');
    }, TIMERS.tcpHandshakeTimeoutMs);
    this.log.debug(`accepted TCP connection from ${from}`);
  }

  private track(c: TcpConnection, accepted: boolean, origin: ConnOrigin): Conn {
    const conn: Conn = { fd: c.fd, id: this.nextId++, ...origin, vouched: false, remote: c.remote, inRx: true, inTx: false, closing: false, timer: null, accepted };
    this.conns.set(c.fd, conn);
    this.datapath!.toRx({ t: 'tcp-add', fd: c.fd, conn: conn.id });
    return conn;
  }

  private async dial(): Promise<void> {
    if (this.closed || !this.wanted || this.connecting !== null || !this.endpoint) return;
    this.connecting = -1;
    try {
      const peer = await this.name.resolve(this.endpoint);
      // disconnect() may have come while the name was resolving.
      if (this.closed || !this.wanted) return;
      const attempt = connectTcp(peer, TIMERS.tcpConnectTimeoutMs);
      this.connecting = attempt.fd;
      const c = await attempt.done;
      if (this.closed || !this.wanted) {
        libc.close(c.fd);
        return;
      }
      this.log.info(`connected to ${formatAddress(peer)} over TCP`);
      this.makeCurrent(this.track(c, false, { source: '', network: '' }));
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
    if (conn.timer) clearTimeout(conn.timer);
    conn.timer = null;
    const old = this.current;
    this.current = conn;
    conn.inTx = true;
    this.datapath!.toTx({ t: 'tcp-connection', peer: this.peer, fd: conn.fd, conn: conn.id });
    // The TX worker acknowledges the old descriptor with 'tcp-released'.
    if (old && old !== conn) this.retire(old, 'replaced by a newer connection');
  }

  send(message: Uint8Array): void {
    if (this.current) this.datapath?.toTx({ t: 'send', peer: this.peer, message, via: 'tcp' });
  }

  reply(message: Uint8Array, _source: Uint8Array | null, fd: number): void {
    const conn = this.conns.get(fd);
    if (!conn || conn.closing) return;
    // The TX worker owns the peer's connection; writing there from this thread could split its frames.
    if (conn === this.current) return this.send(message);
    // A pending connection is never written by the workers. Non-blocking: a
    // peer that does not read gets no reply rather than stalling this thread.
    const framed = new Uint8Array(FRAME_HEADER_BYTES + message.length);
    writeFrameHeader(framed, 0, message.length);
    framed.set(message, FRAME_HEADER_BYTES);
    libc.send(fd, framed, framed.length, libc.MSG_DONTWAIT | libc.MSG_NOSIGNAL);
  }

  sourceOf(_source: Uint8Array | null, fd: number): Uint8Array | null {
    const conn = this.conns.get(fd);
    if (!conn?.remote) return null;
    if (!conn.sockaddr) {
      // Port 0: a TCP peer reconnects from a new port each time, and TCP's own
      // handshake already proved it receives at this address, so a cookie is
      // bound to the address alone and outlives the connection.
      conn.sockaddr = new Uint8Array(SOCKADDR_IN6_BYTES);
      encodeSockaddr({ ...conn.remote, port: 0 }, conn.sockaddr);
    }
    return conn.sockaddr;
  }

  canSend(): boolean {
    return this.current !== null;
  }

  passedMac1(_source: Uint8Array | null, fd: number): void {
    const conn = this.conns.get(fd);
    if (!conn || conn.closing || conn.vouched) return;
    // One protected slot per source: more would let a few addresses that
    // know our public key hold every slot (the real peer needs one).
    for (const c of this.conns.values()) if (c.vouched && !c.closing && c !== this.current && c.source === conn.source) return;
    conn.vouched = true;
  }

  failedHandshake(_source: Uint8Array | null, fd: number): void {
    const conn = this.conns.get(fd);
    // The current connection carries the peer's session; a stray message on it does not end that.
    if (conn && conn !== this.current) this.retire(conn, 'handshake failed');
  }

  confirmPeer(_source: Uint8Array | null, fd: number): void {
    const conn = this.conns.get(fd);
    if (!conn || conn.closing) return;
    if (conn !== this.current) this.makeCurrent(conn);
    this.backoffMs = TIMERS.tcpBackoffFirstMs;
  }

  onWorkerMessage(msg: FromWorker): boolean {
    switch (msg.t) {
      case 'tcp-closed': {
        const conn = this.connection(msg);
        if (conn) {
          conn.inRx = false;
          this.retire(conn, msg.reason === 'eof' ? 'closed by the peer' : msg.reason);
        }
        return true;
      }
      case 'tcp-removed':
      case 'tcp-released': {
        const conn = this.connection(msg);
        if (conn) {
          if (msg.t === 'tcp-removed') conn.inRx = false;
          else conn.inTx = false;
          this.release(conn);
        }
        return true;
      }
      case 'send-failed': {
        const conn = this.connection(msg);
        if (conn) this.retire(conn, 'send failed');
        return true;
      }
      default:
        return false;
    }
  }

  /** The connection a worker's report is about: null if that one is gone (its descriptor may be another's now). */
  private connection(msg: { fd: number; conn: number }): Conn | null {
    const conn = this.conns.get(msg.fd);
    return conn?.id === msg.conn ? conn : null;
  }

  /** Starts closing a connection: wakes any blocked call on it, asks the workers to let go. */
  private retire(conn: Conn, reason: string, how: 'lost' | 'closed' = 'lost'): void {
    if (conn.closing) return;
    conn.closing = true;
    if (conn.timer) clearTimeout(conn.timer);
    libc.shutdown(conn.fd, libc.SHUT_RDWR);
    if (conn.inRx) this.datapath?.toRx({ t: 'tcp-remove', fd: conn.fd, conn: conn.id });
    if (conn === this.current) {
      this.current = null;
      this.datapath?.toTx({ t: 'tcp-connection', peer: this.peer, fd: -1, conn: 0 });
      this.log.info(`TCP connection ${how}: ${reason}`);
      this.emit('down', reason);
      this.scheduleReconnect();
    }
    this.release(conn);
  }

  private release(conn: Conn): void {
    if (!conn.closing || conn.inRx || conn.inTx) return;
    this.conns.delete(conn.fd);
    libc.close(conn.fd);
  }

  listenText(): string | null {
    if (!this.listener) return null;
    const a = this.listen?.address;
    return a ? formatAddress({ ...a, port: this.listener.port }) : `*:${this.listener.port}`;
  }

  endpointText(): string | null {
    const r = this.current?.remote;
    return r ? formatAddress(r) : null;
  }

  /** Called after the workers stopped: closes every descriptor. */
  async close(): Promise<void> {
    this.closed = true;
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    // Aborts a connect() blocked in the threadpool; it then closes its descriptor.
    if (this.connecting !== null && this.connecting >= 0) libc.shutdown(this.connecting, libc.SHUT_RDWR);
    this.listener?.close();
    for (const c of this.conns.values()) {
      if (c.timer) clearTimeout(c.timer);
      libc.close(c.fd);
    }
    this.conns.clear();
  }
}
