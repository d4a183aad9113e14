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
  /** Packets for a peer whose TCP connection still holds queued data (tx-loop.ts): dropped, other peers go on. */
  dropPeerBacklog: 25,
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

const SLOTS = 26;
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
  ['peer-backlog', TX.dropPeerBacklog],
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

/**
 * Each peer's own counters, beside the interface's: what the peer's timers
 * read (when data last went out or came in, how much a key has sealed) and
 * what `status` shows per peer. A peer is a slot number (its index in the
 * routing table); its counters are PEER_SLOTS float64s at slot * PEER_SLOTS
 * of one growable SharedArrayBuffer, so adding a peer never hands the
 * workers a new buffer. As with the interface's, the transmit worker writes
 * the TX fields and the receive worker the RX ones.
 */
export const PEER = {
  txPackets: 0,
  txBytes: 1,
  txLastDataMs: 2,
  txCounter: 3,
  txKeepalives: 4,
  rxPackets: 5,
  rxBytes: 6,
  rxLastAuthMs: 7,
  rxLastDataMs: 8,
  /**
   * Our index of the latest key the peer has used (its first authenticated
   * message under it): a responder's sending key waits for this before the
   * transmit worker seals with it (key confirmation, tx-loop.ts).
   */
  rxConfirmedIndex: 9,
} as const;
export const PEER_SLOTS = 10;
const PEER_TX_FIELDS = [PEER.txPackets, PEER.txBytes, PEER.txLastDataMs, PEER.txCounter, PEER.txKeepalives];
const PEER_RX_FIELDS = [PEER.rxPackets, PEER.rxBytes, PEER.rxLastAuthMs, PEER.rxLastDataMs, PEER.rxConfirmedIndex];
/** Address space reserved for peer counters (only what is used is committed): a million peers. */
const MAX_PEER_BYTES = 1_000_000 * PEER_SLOTS * 8;
/** Peers' room added at a time. */
const PEER_GROWTH = 256;

/** ES2024's growable SharedArrayBuffer, which Node 20 has and this project's TypeScript lib (ES2023) does not name yet. */
interface Growable {
  grow(bytes: number): void;
}
const GrowableSharedArrayBuffer = SharedArrayBuffer as unknown as new (bytes: number, options: { maxByteLength: number }) => SharedArrayBuffer;

export function createPeerStats(): SharedArrayBuffer {
  return new GrowableSharedArrayBuffer(PEER_GROWTH * PEER_SLOTS * 8, { maxByteLength: MAX_PEER_BYTES });
}

/** Makes room for peer `slot` (main thread, before the workers hear of it). */
export function reservePeerSlot(sab: SharedArrayBuffer, slot: number): void {
  const need = (slot + 1) * PEER_SLOTS * 8;
  if (sab.byteLength < need) (sab as unknown as Growable).grow(Math.min(MAX_PEER_BYTES, Math.ceil(need / (PEER_GROWTH * PEER_SLOTS * 8)) * PEER_GROWTH * PEER_SLOTS * 8));
}

/** A view that follows the buffer as it grows. */
export function peerCounters(sab: SharedArrayBuffer): Float64Array {
  return new Float64Array(sab);
}

/** A worker zeroes the fields it owns when a slot is (re)used, so a new peer starts from nothing. */
export function clearPeerFields(f: Float64Array, slot: number, direction: 'tx' | 'rx'): void {
  const base = slot * PEER_SLOTS;
  for (const field of direction === 'tx' ? PEER_TX_FIELDS : PEER_RX_FIELDS) f[base + field] = 0;
}
