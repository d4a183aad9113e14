// TCP: the interface's listener and every connection it holds, accepted or
// dialed, whichever peer they carry. An accepted connection stays "pending"
// (no peer's) until an initiation on it authenticates; then that peer's link
// claims it (tcp-link.ts). A pending connection is read like any other (its
// data counts only if it authenticates under a session key), but nothing is
// sent on it except cookie replies; a peer's current connection carries its
// data.
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
import * as libc from '../../sys/libc.js';
import { FRAME_HEADER_BYTES, writeFrameHeader } from '../../transport/framing.js';
import { encodeSockaddr, formatAddress, SOCKADDR_IN6_BYTES, type SocketAddress } from '../../transport/sockaddr.js';
import { sourceKeysOf } from '../../transport/source-key.js';
import { TcpListener, type TcpConnection } from '../../transport/tcp.js';
import type { BindSpec } from '../../transport/socket.js';
import type { Datapath } from '../datapath/datapath.js';
import type { FromWorker } from '../datapath/worker-messages.js';
import type { Logger } from '../../log.js';
import type { Ingress } from '../peer/peer-set.js';
import { admitPending, type ConnOrigin } from './pending-conns.js';
import { MAX_PENDING_TCP, MAX_PENDING_TCP_PER_SOURCE, TIMERS } from '../timers.js';

/** The peer link a connection carries, as the connections see it (tcp-link.ts). */
export interface ConnOwner {
  readonly peer: number;
  /** The connection it sends on went away (`how`: lost, or closed on purpose). */
  lost(conn: Conn, reason: string, how: 'lost' | 'closed'): void;
}

export interface Conn {
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
  /** The peer link whose current connection this is; null while pending. */
  owner: ConnOwner | null;
}

export class TcpConns implements Ingress {
  private datapath: Datapath | null = null;
  private listener: TcpListener | null = null;
  /** By descriptor, in the order accepted (pending-conns.ts evicts by age). */
  private readonly conns = new Map<number, Conn>();
  private nextId = 1;
  private closed = false;

  /**
   * How many peers the interface has now: the room for unauthenticated
   * connections grows with it, so that many clients reconnecting at once (a
   * server restart) do not push each other out.
   */
  peerCount: () => number = () => 1;

  /**
   * `listen`: null when this side accepts no connections (TCP without
   * ListenPort). `mark`: SO_MARK on our outgoing connections (FwMark); the
   * listener's is in `listen`, and accepted connections inherit it.
   */
  constructor(
    private readonly listen: BindSpec | null,
    private readonly log: Logger,
    readonly mark?: number,
  ) {}

  /** Opens the listener at once, so a bind error surfaces before the daemon reports ready. */
  bind(): void {
    if (this.listen) this.listener = new TcpListener(this.listen, (c) => this.accepted(c));
  }

  attach(datapath: Datapath): void {
    this.datapath = datapath;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  private accepted(c: TcpConnection): void {
    if (this.closed || !this.datapath) {
      libc.close(c.fd);
      return;
    }
    // Unauthenticated connections are capped, in all and per source; which
    // one gives way is pending-conns.ts's choice.
    const origin = c.remote ? sourceKeysOf(c.remote) : { source: '', network: '' };
    const pending = [...this.conns.values()].filter((x) => x.owner === null && !x.closing);
    const room = admitPending(pending, origin, { total: Math.max(MAX_PENDING_TCP, 2 * this.peerCount()), perSource: MAX_PENDING_TCP_PER_SOURCE });
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
      if (conn.owner === null) this.retire(conn, 'no handshake in time');
    }, TIMERS.tcpHandshakeTimeoutMs);
    this.log.debug(`accepted TCP connection from ${from}`);
  }

  /** A connection starts being read (accepted, or dialed by a peer's link). */
  track(c: TcpConnection, accepted: boolean, origin: ConnOrigin): Conn {
    const conn: Conn = { fd: c.fd, id: this.nextId++, ...origin, vouched: false, remote: c.remote, inRx: true, inTx: false, closing: false, timer: null, accepted, owner: null };
    this.conns.set(c.fd, conn);
    this.datapath!.toRx({ t: 'tcp-add', fd: c.fd, conn: conn.id });
    return conn;
  }

  /** The connection of descriptor `fd`, if it is open and not closing. */
  open(fd: number): Conn | null {
    const conn = this.conns.get(fd);
    return conn && !conn.closing ? conn : null;
  }

  /** `owner`'s current connection from now on: the transmit worker sends its data there. */
  claim(conn: Conn, owner: ConnOwner): void {
    if (conn.timer) clearTimeout(conn.timer);
    conn.timer = null;
    conn.owner = owner;
    conn.inTx = true;
    this.datapath!.toTx({ t: 'tcp-connection', peer: owner.peer, fd: conn.fd, conn: conn.id });
  }

  reply(message: Uint8Array, _source: Uint8Array | null, fd: number): void {
    const conn = this.open(fd);
    if (!conn) return;
    // The TX worker owns a peer's connection; writing there from this thread could split its frames.
    if (conn.owner) {
      this.datapath?.toTx({ t: 'send', peer: conn.owner.peer, message, via: 'tcp' });
      return;
    }
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

  passedMac1(_source: Uint8Array | null, fd: number): void {
    const conn = this.open(fd);
    if (!conn || conn.vouched) return;
    // One protected slot per source: more would let a few addresses that
    // know our public key hold every slot (the real peer needs one).
    for (const c of this.conns.values()) if (c.vouched && !c.closing && c.owner === null && c.source === conn.source) return;
    conn.vouched = true;
  }

  failedHandshake(_source: Uint8Array | null, fd: number): void {
    const conn = this.conns.get(fd);
    // A peer's current connection carries its session; a stray message on it does not end that.
    if (conn && conn.owner === null) this.retire(conn, 'handshake failed');
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

  /** Starts closing a connection: wakes any blocked call on it, asks the workers to let go, tells its owner. */
  retire(conn: Conn, reason: string, how: 'lost' | 'closed' = 'lost'): void {
    if (conn.closing) return;
    conn.closing = true;
    if (conn.timer) clearTimeout(conn.timer);
    libc.shutdown(conn.fd, libc.SHUT_RDWR);
    if (conn.inRx) this.datapath?.toRx({ t: 'tcp-remove', fd: conn.fd, conn: conn.id });
    const owner = conn.owner;
    if (owner) {
      this.datapath?.toTx({ t: 'tcp-connection', peer: owner.peer, fd: -1, conn: 0 });
      owner.lost(conn, reason, how);
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

  /** Called after the workers stopped: closes every descriptor. */
  close(): void {
    this.closed = true;
    this.listener?.close();
    for (const c of this.conns.values()) {
      if (c.timer) clearTimeout(c.timer);
      libc.close(c.fd);
    }
    this.conns.clear();
  }
}
