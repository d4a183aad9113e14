// MSS clamping as the workers apply it: to every packet entering or leaving
// the tunnel, with the limit for its IP version (mss.ts has the packet logic).
import { clampMss, maxMssForMtu } from './mss.js';

const VIRTIO_NET_HDR_F_NEEDS_CSUM = 1;

export class MssClamp {
  private readonly mss4: number;
  private readonly mss6: number;

  constructor(mtu: number) {
    this.mss4 = maxMssForMtu(mtu, 4);
    this.mss6 = maxMssForMtu(mtu, 6);
  }

  /**
   * Clamps the packet at buf[ip .. ip+len). `vnetFlags` is the flags byte of
   * its virtio_net_hdr (0 without one): with NEEDS_CSUM the checksum field
   * holds a partial sum that the kernel completes, so it is left alone.
   */
  apply(buf: Uint8Array, ip: number, len: number, vnetFlags: number): void {
    if (len < 40) return;
    const max = buf[ip]! >> 4 === 6 ? this.mss6 : this.mss4;
    clampMss(buf, ip, len, max, (vnetFlags & VIRTIO_NET_HDR_F_NEEDS_CSUM) !== 0);
  }
}
