// The transports sealtun carries its messages over.
//
// udp: one sealed message per datagram — no head-of-line blocking, the
//      inner TCP sees loss as loss (the recommended default).
// tcp: messages framed by a 2-byte length on one stream — passes firewalls
//      that only allow TCP, at the cost of TCP-over-TCP under loss.
export type TransportKind = 'udp' | 'tcp';

export { FRAME_HEADER_BYTES } from './framing.js';

/** Bytes each transport adds around a sealed message on the wire (IP + L4 + framing), per address family. */
export function transportOverhead(kind: TransportKind, family: 4 | 6): number {
  const ip = family === 6 ? 40 : 20;
  return kind === 'udp' ? ip + 8 : ip + 20 + 2;
}
