// The default tunnel MTU, derived from what each transport adds:
//
//   MTU = 1500 − 40 (outer IPv6 header, the worst case) − transport − 32
//
// where transport is 8 for UDP and 20 + 2 for TCP (header + length prefix)
// and 32 is the data message header (16) plus the AEAD tag (16). That gives
// 1420 over UDP — the same as WireGuard, so inner packets never fragment on
// a 1500-byte underlay — and 1406 over TCP. Transport = auto takes the
// smaller (TCP's), so the interface never changes when the path does.
import { DATA_OVERHEAD } from '../crypto/data-packet.js';
import { FRAME_LIMIT } from './framing.js';
import type { TransportKind } from './transport.js';

export const UNDERLAY_MTU = 1500;
const OUTER_IP_WORST_CASE = 40;
const TRANSPORT_HEADER: Record<TransportKind, number> = { udp: 8, tcp: 20 + 2 };

/** The transport whose overhead sets the default MTU: under auto, the costlier of the two. */
export function mtuTransport(setting: TransportKind | 'auto'): TransportKind {
  if (setting !== 'auto') return setting;
  return defaultMtu('udp') < defaultMtu('tcp') ? 'udp' : 'tcp';
}

/**
 * Largest TSO super-packet the TUN may hand us over TCP: with its 10-byte
 * virtio_net_hdr and the 32 bytes of sealing (65042) it fits the 2-byte
 * frame length. Its room is also where a plain packet is read, so over TCP
 * it bounds the MTU too.
 */
export const GSO_MAX_SIZE = 65_000;

/** The largest IPv4 UDP payload: 65535 − 20 (IP header) − 8 (UDP header). */
const UDP_PAYLOAD_LIMIT = 65_535 - 20 - 8;

/**
 * The largest MTU each transport carries, and why (for the config check):
 *   udp   a sealed packet fits one UDP datagram over IPv4: 65507 − 32 = 65475
 *   tcp   a packet is read into the super-packet room: 65000
 *   auto  both paths, without virtio_net_hdr: UDP's 65475 (a frame would take 65535 − 32 = 65503)
 * Beyond them packets could not be sent, or (TCP) a frame's length would not fit its 2 bytes.
 */
export const MTU_LIMITS: Record<TransportKind | 'auto', { max: number; why: string }> = {
  udp: { max: UDP_PAYLOAD_LIMIT - DATA_OVERHEAD, why: `a sealed packet (MTU + ${DATA_OVERHEAD}) must fit one UDP datagram over IPv4 (${UDP_PAYLOAD_LIMIT} bytes)` },
  tcp: { max: GSO_MAX_SIZE, why: `a packet must fit the ${GSO_MAX_SIZE}-byte room a sealed TCP frame carries` },
  auto: {
    max: Math.min(UDP_PAYLOAD_LIMIT, FRAME_LIMIT) - DATA_OVERHEAD,
    why: `a sealed packet (MTU + ${DATA_OVERHEAD}) must fit one UDP datagram over IPv4 (${UDP_PAYLOAD_LIMIT} bytes) and one TCP frame (${FRAME_LIMIT})`,
  },
};

export function defaultMtu(kind: TransportKind): number {
  return UNDERLAY_MTU - OUTER_IP_WORST_CASE - TRANSPORT_HEADER[kind] - DATA_OVERHEAD;
}

/** The terms of defaultMtu(kind), for `sealtun check` to show how the number came about. */
export interface MtuTerms {
  underlay: number;
  outerIp: number;
  transport: number;
  sealing: number;
  mtu: number;
}

export function defaultMtuTerms(kind: TransportKind): MtuTerms {
  return {
    underlay: UNDERLAY_MTU,
    outerIp: OUTER_IP_WORST_CASE,
    transport: TRANSPORT_HEADER[kind],
    sealing: DATA_OVERHEAD,
    mtu: defaultMtu(kind),
  };
}
