// koffi bindings to the few libc calls the data path makes directly.
//
// The packet path calls these synchronously from worker threads: measured on
// this machine, a blocking koffi read() moves ~1M packets/s where fs.read or
// koffi's .async (one libuv threadpool hop per packet) manage 30k–90k.
// Declarations are the ones proven in docs/dataplane notes; ioctl is declared
// non-variadic twice (pointer and value argument), which is correct on x86-64
// and aarch64 Linux.
import koffi from 'koffi';

const libc = koffi.load('libc.so.6');

/** A native pointer (koffi 3 represents pointers as BigInt). */
export type Pointer = bigint;
/** What a `void *` parameter accepts: Node memory or a native pointer. */
export type Mem = Uint8Array | Pointer | null;

type Fn<A extends unknown[], R> = ((...args: A) => R) & {
  async: (...args: [...A, (err: unknown, res: R) => void]) => void;
};

export const open = libc.func('int open(const char *path, int flags)') as Fn<[string, number], number>;
export const close = libc.func('int close(int fd)') as Fn<[number], number>;
export const read = libc.func('intptr_t read(int fd, void *buf, uintptr_t count)') as Fn<[number, Mem, number], number>;
export const write = libc.func('intptr_t write(int fd, const void *buf, uintptr_t count)') as Fn<[number, Mem, number], number>;
/**
 * write() to an address given as a plain number (exact: user-space addresses
 * fit in 47 bits), which koffi converts for less than a BigInt or a typed
 * array: the data path's per-packet TUN writes.
 */
export const writeAt = libc.func('intptr_t write(int fd, uintptr_t buf, uintptr_t count)') as Fn<[number, number, number], number>;
export const fcntl = libc.func('int fcntl(int fd, int cmd, int arg)') as Fn<[number, number, number], number>;
export const ioctlPtr = libc.func('int ioctl(int fd, unsigned long req, void *arg)') as Fn<[number, number, Mem], number>;
export const ioctlInt = libc.func('int ioctl(int fd, unsigned long req, unsigned long arg)') as Fn<[number, number, number], number>;
export const poll = libc.func('int poll(void *fds, unsigned long nfds, int timeout)') as Fn<[Mem, number, number], number>;
export const dup2 = libc.func('int dup2(int oldfd, int newfd)') as Fn<[number, number], number>;
export const flock = libc.func('int flock(int fd, int operation)') as Fn<[number, number], number>;
export const mallopt = libc.func('int mallopt(int param, int value)') as Fn<[number, number], number>;
export const eventfd = libc.func('int eventfd(unsigned int initval, int flags)') as Fn<[number, number], number>;

export const socket = libc.func('int socket(int domain, int type, int protocol)') as Fn<[number, number, number], number>;
export const socketpair = libc.func('int socketpair(int domain, int type, int protocol, void *sv)') as Fn<[number, number, number, Mem], number>;
export const bind = libc.func('int bind(int fd, const void *addr, uint32_t len)') as Fn<[number, Mem, number], number>;
export const connect = libc.func('int connect(int fd, const void *addr, uint32_t len)') as Fn<[number, Mem, number], number>;
export const listen = libc.func('int listen(int fd, int backlog)') as Fn<[number, number], number>;
export const accept4 = libc.func('int accept4(int fd, void *addr, void *len, int flags)') as Fn<[number, Mem, Mem, number], number>;
export const shutdown = libc.func('int shutdown(int fd, int how)') as Fn<[number, number], number>;
export const setsockopt = libc.func('int setsockopt(int fd, int level, int name, const void *val, uint32_t len)') as Fn<
  [number, number, number, Mem, number],
  number
>;
export const getsockname = libc.func('int getsockname(int fd, void *addr, void *len)') as Fn<[number, Mem, Mem], number>;
export const send = libc.func('intptr_t send(int fd, const void *buf, uintptr_t len, int flags)') as Fn<
  [number, Mem, number, number],
  number
>;
export const sendto = libc.func('intptr_t sendto(int fd, const void *buf, uintptr_t len, int flags, const void *addr, uint32_t alen)') as Fn<
  [number, Mem, number, number, Mem, number],
  number
>;
export const recv = libc.func('intptr_t recv(int fd, void *buf, uintptr_t len, int flags)') as Fn<[number, Mem, number, number], number>;
export const sendmsg = libc.func('intptr_t sendmsg(int fd, const void *msg, int flags)') as Fn<[number, Mem, number], number>;
export const sendmmsg = libc.func('int sendmmsg(int fd, void *vec, unsigned int vlen, int flags)') as Fn<[number, Mem, number, number], number>;
export const recvmmsg = libc.func('int recvmmsg(int fd, void *vec, unsigned int vlen, int flags, void *timeout)') as Fn<
  [number, Mem, number, number, Mem],
  number
>;

/**
 * syscall(2), for calls that older glibc has no wrapper for (pidfd_open,
 * pidfd_send_signal). Variadic: each argument after the number is preceded
 * by its C type, e.g. syscall(SYS_pidfd_open, 'int', pid, 'unsigned int', 0).
 */
export const syscall = libc.func('long syscall(long number, ...)') as (nr: number, ...typedArgs: unknown[]) => number;
/** The same number on every architecture but alpha (the unified syscall table of Linux 5.1+). */
export const SYS_pidfd_send_signal = 424;
export const SYS_pidfd_open = 434;

/** errno of the last failed call on this thread. */
export function errno(): number {
  return koffi.errno();
}

/** Native memory that lives as long as the process (freed only on exit). */
export function allocNative(bytes: number): { ptr: Pointer; view: Buffer } {
  const ptr = koffi.alloc('uint8_t', bytes) as unknown as Pointer;
  const view = Buffer.from(koffi.view(ptr as never, bytes) as ArrayBuffer);
  view.fill(0);
  return { ptr, view };
}

/** flock(2) operations: exclusive, and fail (EWOULDBLOCK = EAGAIN) rather than wait. */
export const LOCK_EX = 2;
export const LOCK_NB = 4;

/** mallopt(): most malloc arenas shared by all threads. */
export const M_ARENA_MAX = -8;
export const O_RDWR = 0x2;
export const O_NONBLOCK = 0x800;
export const O_CLOEXEC = 0x80000;
export const F_GETFL = 3;
export const F_SETFL = 4;
export const EFD_CLOEXEC = 0x80000;
export const EFD_NONBLOCK = 0x800;

export const POLLIN = 0x1;
export const POLLOUT = 0x4;
export const POLLERR = 0x8;
export const POLLHUP = 0x10;

export const AF_UNIX = 1;
export const AF_INET = 2;
export const AF_INET6 = 10;
export const SOCK_STREAM = 1;
export const SOCK_DGRAM = 2;
export const SOCK_NONBLOCK = 0x800;
export const SOCK_CLOEXEC = 0x80000;
export const SOL_SOCKET = 1;
export const SO_REUSEADDR = 2;
export const SO_SNDBUF = 7;
export const SO_RCVBUF = 8;
export const SO_SNDBUFFORCE = 32;
export const SO_RCVBUFFORCE = 33;
/** Each datagram read carries the socket's count of datagrams dropped so far (a cmsg of this type). */
export const SO_RXQ_OVFL = 40;
export const IPPROTO_TCP = 6;
export const TCP_NODELAY = 1;
export const IPPROTO_IPV6 = 41;
export const IPV6_V6ONLY = 26;
export const SHUT_RDWR = 2;

export const MSG_DONTWAIT = 0x40;
export const MSG_NOSIGNAL = 0x4000;
export const MSG_WAITFORONE = 0x10000;

export const EINTR = 4;
export const EAGAIN = 11;
export const ESRCH = 3;
export const ECONNREFUSED = 111;
export const EINPROGRESS = 115;

/** Sizes and offsets of the kernel structs built by hand (x86-64 / aarch64 LP64). */
export const SIZEOF_SOCKADDR_STORAGE = 28; // sockaddr_in6, the largest we use
export const SIZEOF_IOVEC = 16; // base @0, len @8
export const SIZEOF_MSGHDR = 56; // name @0, namelen @8, iov @16, iovlen @24, control @32, controllen @40, flags @48
export const SIZEOF_MMSGHDR = 64; // msghdr + msg_len u32 @56 + pad
export const SIZEOF_POLLFD = 8; // fd i32 @0, events i16 @4, revents i16 @6

/** Throws an Error naming the call and errno when `ret` is negative. */
export function check(ret: number, what: string): number {
  if (ret < 0) {
    const e = errno();
    const err = new Error(`${what}: ${errnoName(e)}`) as NodeJS.ErrnoException;
    err.errno = e;
    err.code = errnoName(e);
    throw err;
  }
  return ret;
}

const ERRNO_NAMES: Record<number, string> = Object.fromEntries(
  Object.entries(koffi.os.errno as Record<string, number>).map(([k, v]) => [v, k]),
);

export function errnoName(e: number): string {
  return ERRNO_NAMES[e] ?? `errno ${e}`;
}
