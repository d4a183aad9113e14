// Counters shared between the data-path workers and the main thread.
//
// One SharedArrayBuffer of float64 slots; every slot has exactly one writer
// (the worker that owns that direction), so plain stores suffice and the main
// thread reads them for `status` and the timers. float64 counts exactly up
// to 2^53, far beyond any packet or byte count a tunnel will reach.

export const TX = {
  packets: 0,
  bytes: 1,
  lastDataMs: 2,
  counter: 3,
  dropNoSession: 4,
  dropNoRoute: 5,
  dropSendFailed: 6,
  /** Keepalives among `packets`, so the timers can tell data sent from keepalives sent. */
  keepalives: 7,
} as const;

export const RX = {
  packets: 8,
  bytes: 9,
  lastAuthMs: 10,
  lastDataMs: 11,
  dropShort: 12,
  dropUnknownType: 13,
  dropUnknownIndex: 14,
  dropForged: 15,
  dropReplay: 16,
  dropSourceNotAllowed: 17,
  dropHandshakeBacklog: 18,
  dropBadFrame: 19,
  dropBadVnetHeader: 20,
  // Handshake messages the receive worker refuses before queuing them for the main thread (handshake-filter.ts).
  dropHandshakeBadSize: 21,
  dropHandshakeBadMac1: 22,
  /** Datagrams the kernel dropped on the UDP socket, its receive buffer full (SO_RXQ_OVFL; the count as of the latest datagram read). */
  dropSocketOverflow: 23,
  /** Cookie replies that answer no handshake message we sent (receiver index), or one already answered. */
  dropHandshakeCookieUnexpected: 24,
} as const;

const SLOTS = 25;
/** Int32 slot (after the float64s) counting handshake messages queued for the main thread. */
export const HANDSHAKE_BACKLOG_SLOT = 0;

export interface Stats {
  sab: SharedArrayBuffer;
  f64: Float64Array;
  i32: Int32Array;
}

export function createStats(): Stats {
  const sab = new SharedArrayBuffer(SLOTS * 8 + 16);
  return wrapStats(sab);
}

export function wrapStats(sab: SharedArrayBuffer): Stats {
  return { sab, f64: new Float64Array(sab, 0, SLOTS), i32: new Int32Array(sab, SLOTS * 8, 4) };
}

/** Drop reasons as `status` names them, with the slot holding each count. */
export const DROP_REASONS: ReadonlyArray<[string, number]> = [
  ['no-session', TX.dropNoSession],
  ['no-route', TX.dropNoRoute],
  ['send-failed', TX.dropSendFailed],
  ['short', RX.dropShort],
  ['unknown-type', RX.dropUnknownType],
  ['unknown-index', RX.dropUnknownIndex],
  ['forged', RX.dropForged],
  ['replay', RX.dropReplay],
  ['source-not-allowed', RX.dropSourceNotAllowed],
  ['handshake-backlog', RX.dropHandshakeBacklog],
  ['bad-frame', RX.dropBadFrame],
  ['bad-vnet-header', RX.dropBadVnetHeader],
  // Named as the main thread names the same checks (peer.ts): status adds the two counts.
  ['handshake-bad-size', RX.dropHandshakeBadSize],
  ['handshake-bad-mac1', RX.dropHandshakeBadMac1],
  ['handshake-cookie-unexpected-index', RX.dropHandshakeCookieUnexpected],
  ['socket-overflow', RX.dropSocketOverflow],
];
