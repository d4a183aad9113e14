// Socket creation with koffi: the data-path workers need raw descriptors for
// sendmmsg/recvmmsg/sendmsg, which Node's dgram and net do not expose.
import * as libc from '../sys/libc.js';
import { encodeSockaddr, SOCKADDR_IN6_BYTES, type SocketAddress } from './sockaddr.js';

export class SocketError extends Error {
  override readonly name = 'SocketError';
  constructor(
    message: string,
    /** For a failed bind: the errno name, the protocol and the port asked for. */
    readonly bind?: { code: string; type: 'udp' | 'tcp'; port: number },
  ) {
    super(message);
  }
}

function fail(fd: number, what: string): never {
  const e = libc.errnoName(libc.errno());
  if (fd >= 0) libc.close(fd);
  throw new SocketError(`${what}: ${e}`);
}

function setInt(fd: number, level: number, name: number, value: number): boolean {
  const v = Buffer.alloc(4);
  v.writeInt32LE(value);
  return libc.setsockopt(fd, level, name, v, 4) === 0;
}

/** Linux SO_MARK (asm-generic/socket.h). */
const SO_MARK = 36;

/**
 * Marks every packet the socket sends, before its first bind, connect or
 * send, so no packet of it ever goes unmarked (a full tunnel routes the
 * unmarked ones into the tunnel itself). Needs CAP_NET_ADMIN; closes `fd`
 * and throws a SocketError when refused.
 */
export function setMark(fd: number, mark: number): void {
  const v = Buffer.alloc(4);
  v.writeUInt32LE(mark >>> 0);
  if (libc.setsockopt(fd, libc.SOL_SOCKET, SO_MARK, v, 4) < 0) {
    const e = libc.errnoName(libc.errno());
    libc.close(fd);
    throw new SocketError(`SO_MARK ${mark}: ${e}${e === 'EPERM' ? ' (marking the tunnel\'s packets for FwMark needs CAP_NET_ADMIN)' : ''}`);
  }
}

export interface BoundSocket {
  fd: number;
  family: 4 | 6;
  /** The port actually bound (an ephemeral one when none was asked for). */
  port: number;
}

/** Where to bind: an address (null: all of them) and a port (0: any free one). */
export interface BindSpec {
  address: SocketAddress | null;
  port: number;
  /** With no address: the family the peer needs, if known (an IPv4-only host has no IPv6 wildcard). */
  family?: 4 | 6;
  /** SO_MARK for every packet the socket sends (FwMark: a full tunnel's own packets, src/host/policy-routing.ts). */
  mark?: number;
}

/**
 * A socket of `type` bound as `spec` says. With no address it binds the IPv6
 * wildcard as dual stack (reaching IPv4 peers too), falling back to IPv4 on
 * hosts without IPv6.
 */
export function openBoundSocket(type: 'udp' | 'tcp', spec: BindSpec): BoundSocket {
  const sockType = (type === 'udp' ? libc.SOCK_DGRAM : libc.SOCK_STREAM) | libc.SOCK_CLOEXEC;
  const address = spec.address;
  const candidates: SocketAddress[] = address
    ? [{ ...address, port: spec.port }]
    : [
        { family: 6 as const, address: '::', port: spec.port },
        { family: 4 as const, address: '0.0.0.0', port: spec.port },
      ].filter((c) => spec.family !== 6 || c.family === 6);
  let lastError: SocketError | null = null;
  for (const want of candidates) {
    const bindTo = want;
    const fd = libc.socket(want.family === 6 ? libc.AF_INET6 : libc.AF_INET, sockType, 0);
    if (fd < 0) {
      lastError = new SocketError(`socket: ${libc.errnoName(libc.errno())}`);
      continue;
    }
    // Only the TCP listener may rebind over connections still in TIME_WAIT.
    // On UDP, SO_REUSEADDR would let any local user (nobody included) bind
    // the same port and take the tunnel's datagrams, and let a second tunnel
    // on the same port start silently.
    if (type === 'tcp') setInt(fd, libc.SOL_SOCKET, libc.SO_REUSEADDR, 1);
    if (want.family === 6 && !address) setInt(fd, libc.IPPROTO_IPV6, libc.IPV6_V6ONLY, 0);
    // Datagrams the kernel drops on a full receive buffer are otherwise seen
    // only in `ss` and /proc/net/snmp: with this the receive side reads the
    // socket's count with each datagram and status shows it (udp-batch.ts).
    if (type === 'udp') setInt(fd, libc.SOL_SOCKET, libc.SO_RXQ_OVFL, 1);
    if (spec.mark !== undefined) setMark(fd, spec.mark);
    // UDP socket buffers stay at the kernel's default (~208 KB): when the
    // receiver is the bottleneck, packets wait in its receive buffer, FIFO,
    // ahead of everyone's pings. Measured here at 0% loss: 4 MB buffers gave
    // 6.0 ms round trips during a transfer, the default 1.4 ms (OpenVPN's
    // 1.45 ms), for 1154 instead of 1322 Mbit/s.
    const sa = Buffer.alloc(SOCKADDR_IN6_BYTES);
    const len = encodeSockaddr(bindTo, sa);
    if (libc.bind(fd, sa, len) < 0) {
      const e = libc.errnoName(libc.errno());
      libc.close(fd);
      lastError = new SocketError(`bind ${bindTo.address} port ${bindTo.port}: ${e}`, { code: e, type, port: bindTo.port });
      // The IPv4 fallback is for hosts without IPv6, not for a port someone
      // holds: binding 0.0.0.0 beside their [::] would split the traffic.
      if (address || e === 'EADDRINUSE') break;
      continue;
    }
    return { fd, family: want.family, port: boundPort(fd) };
  }
  throw lastError ?? new SocketError('no socket could be opened');
}

function boundPort(fd: number): number {
  const sa = Buffer.alloc(SOCKADDR_IN6_BYTES);
  const len = Buffer.alloc(4);
  len.writeUInt32LE(SOCKADDR_IN6_BYTES);
  if (libc.getsockname(fd, sa, len) < 0) return 0;
  return sa.readUInt16BE(2);
}

/** The sockaddr to reach `peer` from a socket of `family` (IPv4 peers map into a dual-stack socket). */
export function peerSockaddr(peer: SocketAddress, family: 4 | 6): { bytes: Buffer; len: number } {
  const bytes = Buffer.alloc(SOCKADDR_IN6_BYTES);
  const target: SocketAddress = family === 6 && peer.family === 4 ? { family: 6, address: `::ffff:${peer.address}`, port: peer.port } : peer;
  if (family === 4 && peer.family === 6) throw new SocketError(`cannot reach IPv6 endpoint ${peer.address} from an IPv4 socket`);
  return { bytes, len: encodeSockaddr(target, bytes) };
}

export function setNoDelay(fd: number): void {
  setInt(fd, libc.IPPROTO_TCP, libc.TCP_NODELAY, 1);
}

/** TCP_USER_TIMEOUT: how long sent data may stay unacknowledged before the connection is dropped. */
export function setTcpUserTimeout(fd: number, ms: number): void {
  const TCP_USER_TIMEOUT = 18;
  setInt(fd, libc.IPPROTO_TCP, TCP_USER_TIMEOUT, ms);
}

export function listenOn(fd: number, backlog: number): void {
  if (libc.listen(fd, backlog) < 0) fail(fd, 'listen');
}

/** Sets SO_SNDTIMEO/SO_RCVTIMEO-style timeouts (struct timeval: i64 sec, i64 usec). */
export function setSendTimeout(fd: number, ms: number): void {
  const tv = Buffer.alloc(16);
  tv.writeBigInt64LE(BigInt(Math.floor(ms / 1000)), 0);
  tv.writeBigInt64LE(BigInt((ms % 1000) * 1000), 8);
  const SO_SNDTIMEO = 21;
  libc.setsockopt(fd, libc.SOL_SOCKET, SO_SNDTIMEO, tv, 16);
}
