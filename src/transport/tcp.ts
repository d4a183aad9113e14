// The TCP transport's connection management, on the main thread.
//
// connect() and accept() block, so they run through koffi's .async (the libuv
// threadpool): they happen once per connection, never per packet. Established
// descriptors are handed to the data-path workers.
import * as libc from '../sys/libc.js';
import { decodeSockaddr, SOCKADDR_IN6_BYTES, type SocketAddress } from './sockaddr.js';
import { listenOn, openBoundSocket, peerSockaddr, setMark, setNoDelay, setSendTimeout, setTcpUserTimeout, SocketError, type BindSpec } from './socket.js';

export interface TcpConnection {
  fd: number;
  remote: SocketAddress | null;
}

export interface PendingConnect {
  /** The connecting descriptor: shutdown() on it aborts the attempt. */
  fd: number;
  done: Promise<TcpConnection>;
}

/**
 * Connects to `peer`, failing after `timeoutMs`. Resolves with a TCP_NODELAY
 * descriptor. `mark`: SO_MARK, set before the SYN (FwMark).
 */
export function connectTcp(peer: SocketAddress, timeoutMs: number, mark?: number): PendingConnect {
  const family: 4 | 6 = peer.family;
  const fd = libc.socket(family === 6 ? libc.AF_INET6 : libc.AF_INET, libc.SOCK_STREAM | libc.SOCK_CLOEXEC, 0);
  if (fd < 0) return { fd, done: Promise.reject(new SocketError(`socket: ${libc.errnoName(libc.errno())}`)) };
  if (mark !== undefined) {
    try {
      setMark(fd, mark);
    } catch (err) {
      return { fd: -1, done: Promise.reject(err as Error) };
    }
  }
  const { bytes, len } = peerSockaddr(peer, family);
  // SO_SNDTIMEO bounds a blocking connect() on Linux.
  setSendTimeout(fd, timeoutMs);
  const done = new Promise<TcpConnection>((resolve, reject) => {
    // `bytes` is referenced in the callback so it outlives the blocking call.
    libc.connect.async(fd, bytes, len, (err: unknown, ret: number) => {
      bytes.fill(0);
      // errno is per thread: the threadpool thread's value is lost, so report plainly.
      if (err || ret < 0) {
        libc.close(fd);
        reject(new SocketError(`connect ${peer.address} port ${peer.port}: failed`));
        return;
      }
      setSendTimeout(fd, 0);
      tuneConnection(fd);
      resolve({ fd, remote: peer });
    });
  });
  return { fd, done };
}

/**
 * Every established connection: no Nagle delay (each frame is a packet
 * someone waits for), and a peer that stops acknowledging for 30 s is given
 * up on by the kernel, so a dead path ends in a reconnect rather than a hang.
 */
function tuneConnection(fd: number): void {
  setNoDelay(fd);
  setTcpUserTimeout(fd, 30_000);
}

/** Accepts connections until closed, calling `onConnection` for each. */
export class TcpListener {
  readonly fd: number;
  readonly port: number;
  private closed = false;
  private accepting = false;
  // The kernel writes these while accept() blocks on a threadpool thread, so
  // they must live as long as the listener, not just as long as a closure.
  private readonly peerAddr = Buffer.alloc(SOCKADDR_IN6_BYTES);
  private readonly peerAddrLen = Buffer.alloc(4);

  constructor(
    spec: BindSpec,
    private readonly onConnection: (c: TcpConnection) => void,
  ) {
    const s = openBoundSocket('tcp', spec);
    listenOn(s.fd, 64);
    this.fd = s.fd;
    this.port = s.port;
    this.acceptNext();
  }

  private acceptNext(): void {
    if (this.closed) return;
    const sa = this.peerAddr;
    this.peerAddrLen.writeUInt32LE(SOCKADDR_IN6_BYTES);
    this.accepting = true;
    libc.accept4.async(this.fd, sa, this.peerAddrLen, libc.SOCK_CLOEXEC, (err: unknown, fd: number) => {
      this.accepting = false;
      if (this.closed) {
        if (!err && fd >= 0) libc.close(fd);
        libc.close(this.fd);
        return;
      }
      if (!err && fd >= 0) {
        tuneConnection(fd);
        this.onConnection({ fd, remote: decodeSockaddr(sa) });
        this.acceptNext();
      } else {
        // EMFILE and the like: try again shortly instead of spinning.
        setTimeout(() => this.acceptNext(), 100).unref();
      }
    });
  }

  /**
   * Stops accepting. shutdown() wakes the blocked accept(); the descriptor is
   * closed once that call has returned, so its number cannot be reused under it.
   */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    libc.shutdown(this.fd, libc.SHUT_RDWR);
    if (!this.accepting) libc.close(this.fd);
  }
}
