// A Linux TUN device opened through /dev/net/tun with koffi.
//
// The device is non-persistent: it exists while its file descriptor is open,
// so a crashed daemon leaves no interface behind.
import * as libc from '../sys/libc.js';

const TUNSETIFF = 0x400454ca;
const TUNSETOFFLOAD = 0x400454d0;
const IFF_TUN = 0x0001;
const IFF_NO_PI = 0x1000;
const IFF_VNET_HDR = 0x4000;

/** Bytes of struct virtio_net_hdr in front of every packet on an IFF_VNET_HDR device. */
export const VNET_HDR_BYTES = 10;
/** Offloads that let the kernel hand us TCP super-packets (up to the device's gso_max_size). */
const TUN_F_CSUM = 0x01;
const TUN_F_TSO4 = 0x02;
const TUN_F_TSO6 = 0x04;
export const TSO_OFFLOADS = TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6;
/** struct ifreq: char ifr_name[16] @0, short ifr_flags @16, union padding to 40. */
const IFREQ_BYTES = 40;
const IFNAMSIZ = 16;

export interface TunDevice {
  /** The kernel's name for the interface (the requested one). */
  readonly name: string;
  /** Non-blocking file descriptor: one read() returns one IP packet. */
  readonly fd: number;
  /** Every packet read or written is preceded by a virtio_net_hdr. */
  readonly vnetHdr: boolean;
  close(): void;
}

export interface TunOptions {
  /**
   * Open with IFF_VNET_HDR: each packet carries a 10-byte virtio_net_hdr, and
   * once offloads are switched on (setOffloads) one read can return a whole
   * TSO super-packet — the kernel skips segmenting what the peer's kernel
   * would only reassemble.
   */
  vnetHdr?: boolean;
}

export class TunError extends Error {
  override readonly name = 'TunError';
}

/** Creates (or attaches to) the TUN interface `name` in the caller's network namespace. */
export function openTun(name: string, opts: TunOptions = {}): TunDevice {
  if (Buffer.byteLength(name) >= IFNAMSIZ) throw new TunError(`${name}: interface names are at most 15 bytes`);
  const fd = libc.open('/dev/net/tun', libc.O_RDWR | libc.O_CLOEXEC | libc.O_NONBLOCK);
  if (fd < 0) throw new TunError(`/dev/net/tun: cannot open: ${libc.errnoName(libc.errno())} (root or CAP_NET_ADMIN needed)`);
  const ifr = Buffer.alloc(IFREQ_BYTES);
  ifr.write(name, 0, 'utf8');
  const vnetHdr = opts.vnetHdr === true;
  ifr.writeUInt16LE(IFF_TUN | IFF_NO_PI | (vnetHdr ? IFF_VNET_HDR : 0), IFNAMSIZ);
  if (libc.ioctlPtr(fd, TUNSETIFF, ifr) < 0) {
    const e = libc.errnoName(libc.errno());
    libc.close(fd);
    const hint =
      e === 'EBUSY' ? ' (an interface of that name is already in use)' : e === 'EPERM' ? ' (creating a TUN interface needs root or CAP_NET_ADMIN)' : '';
    throw new TunError(`${name}: TUNSETIFF failed: ${e}${hint}`);
  }
  const actual = ifr.subarray(0, IFNAMSIZ).toString('utf8').replace(/\0.*$/s, '');
  let open = true;
  return {
    name: actual,
    fd,
    vnetHdr,
    close() {
      if (open) libc.close(fd);
      open = false;
    },
  };
}

/** Switches the offloads the kernel may use on packets it hands us (0: plain packets). */
export function setOffloads(tun: TunDevice, offloads: number): void {
  if (!tun.vnetHdr && offloads !== 0) throw new TunError(`${tun.name}: offloads need IFF_VNET_HDR`);
  if (libc.ioctlInt(tun.fd, TUNSETOFFLOAD, offloads) < 0) {
    throw new TunError(`${tun.name}: TUNSETOFFLOAD failed: ${libc.errnoName(libc.errno())}`);
  }
}
