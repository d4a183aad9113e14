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
import type { TransportKind } from '../transport/transport.js';

export const UNDERLAY_MTU = 1500;
const OUTER_IP_WORST_CASE = 40;
const TRANSPORT_HEADER: Record<TransportKind, number> = { udp: 8, tcp: 20 + 2 };

/** The transport whose overhead sets the default MTU: under auto, the costlier of the two. */
export function mtuTransport(setting: TransportKind | 'auto'): TransportKind {
  if (setting !== 'auto') return setting;
  return defaultMtu('udp') < defaultMtu('tcp') ? 'udp' : 'tcp';
}

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
