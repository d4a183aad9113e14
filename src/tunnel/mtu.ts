// The default tunnel MTU, derived from what each transport adds:
//
//   MTU = 1500 − 40 (outer IPv6 header, the worst case) − transport − 32
//
// where transport is 8 for UDP and 20 + 2 for TCP (header + length prefix)
// and 32 is the data message header (16) plus the AEAD tag (16). That gives
// 1420 over UDP — the same as WireGuard, so inner packets never fragment on
// a 1500-byte underlay — and 1406 over TCP.
import { DATA_OVERHEAD } from '../crypto/data-packet.js';
import type { TransportKind } from '../transport/transport.js';

export const UNDERLAY_MTU = 1500;
const OUTER_IP_WORST_CASE = 40;
const TRANSPORT_HEADER: Record<TransportKind, number> = { udp: 8, tcp: 20 + 2 };

export function defaultMtu(kind: TransportKind): number {
  return UNDERLAY_MTU - OUTER_IP_WORST_CASE - TRANSPORT_HEADER[kind] - DATA_OVERHEAD;
}
