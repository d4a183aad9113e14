// A Linux TUN device opened through /dev/net/tun with koffi.
//
// The device is non-persistent: it exists while its file descriptor is open,
// so a crashed daemon leaves no interface behind.
import * as libc from '../sys/libc.js';

const TUNSETIFF = 0x400454ca;
const IFF_TUN = 0x0001;
const IFF_NO_PI = 0x1000;
/** struct ifreq: char ifr_name[16] @0, short ifr_flags @16, union padding to 40. */
const IFREQ_BYTES = 40;
const IFNAMSIZ = 16;

export interface TunDevice {
  /** The kernel's name for the interface (the requested one). */
  readonly name: string;
  /** Non-blocking file descriptor: one read() returns one IP packet. */
  readonly fd: number;
  close(): void;
}

export class TunError extends Error {
  override readonly name = 'TunError';
}

/** Creates (or attaches to) the TUN interface `name` in the caller's network namespace. */
export function openTun(name: string): TunDevice {
  if (Buffer.byteLength(name) >= IFNAMSIZ) throw new TunError(`${name}: interface names are at most 15 bytes`);
  const fd = libc.open('/dev/net/tun', libc.O_RDWR | libc.O_CLOEXEC | libc.O_NONBLOCK);
  if (fd < 0) throw new TunError(`/dev/net/tun: cannot open: ${libc.errnoName(libc.errno())} (root or CAP_NET_ADMIN needed)`);
  const ifr = Buffer.alloc(IFREQ_BYTES);
  ifr.write(name, 0, 'utf8');
  ifr.writeUInt16LE(IFF_TUN | IFF_NO_PI, IFNAMSIZ);
  if (libc.ioctlPtr(fd, TUNSETIFF, ifr) < 0) {
    const e = libc.errnoName(libc.errno());
    libc.close(fd);
    const hint = e === 'EBUSY' ? ' (an interface of that name is already in use)' : '';
    throw new TunError(`${name}: TUNSETIFF failed: ${e}${hint}`);
  }
  const actual = ifr.subarray(0, IFNAMSIZ).toString('utf8').replace(/\0.*$/s, '');
  let open = true;
  return {
    name: actual,
    fd,
    close() {
      if (open) libc.close(fd);
      open = false;
    },
  };
}
