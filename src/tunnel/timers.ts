// Every protocol time and limit in one place, with WireGuard's values and
// reasons (whitepaper §6). SEALTUN_TIME_SCALE (e.g. 0.05) shrinks them all
// for tests that exercise rekeys and timeouts in seconds instead of minutes;
// SEALTUN_REKEY_AFTER_MESSAGES does the same for the message-count rekey.
import { REJECT_AFTER_MESSAGES } from '../crypto/data-packet.js';

const scale = (() => {
  const v = Number(process.env['SEALTUN_TIME_SCALE'] ?? '1');
  return Number.isFinite(v) && v > 0 ? v : 1;
})();

const s = (seconds: number): number => seconds * 1000 * scale;

/**
 * WireGuard rekeys after 2^60 messages and refuses a key at 2^64 - 2^13 - 1.
 * Our counters are JS numbers, exact only below 2^53, so the sealer's hard
 * stop is 2^53 - 1 (REJECT_AFTER_MESSAGES in data-packet.ts) and the rekey
 * comes at 2^49: the same 1/16 of the hard limit as WireGuard's 2^60 of 2^64.
 * Either is decades of traffic; time-based rekeys come first in practice.
 */
const rekeyAfterMessages = (() => {
  const v = Number(process.env['SEALTUN_REKEY_AFTER_MESSAGES'] ?? String(2 ** 49));
  return Number.isSafeInteger(v) && v > 0 && v < REJECT_AFTER_MESSAGES ? v : 2 ** 49;
})();

export const TIMERS = {
  /** The initiator starts a new handshake when its current key is this old. */
  rekeyAfterMs: s(120),
  /** No key is used, to send or to receive, after this long. */
  rejectAfterMs: s(180),
  /** A handshake initiation unanswered for this long is sent again (plus jitter). */
  rekeyTimeoutMs: s(5),
  /** Random extra delay on retransmission so both ends do not collide. */
  rekeyJitterMs: s(0.333),
  /** Give up retransmitting after this long; the next packet to send tries again. */
  rekeyAttemptMs: s(90),
  /** Send an empty (keepalive) message when we received data but sent nothing for this long. */
  keepaliveMs: s(10),
  /** Start a new handshake when we sent data but got nothing authenticated back for this long. */
  newHandshakeMs: s(15),
  /** A sender starts a new handshake once its key has sealed this many messages (either side, as WireGuard). */
  rekeyAfterMessages,
  /** The sealer never seals with a counter at or beyond this (nonce reuse is impossible by construction). */
  rejectAfterMessages: REJECT_AFTER_MESSAGES,
  /** How often the main thread looks at the counters to drive the timers above while a handshake is outstanding. */
  tickMs: Math.max(50, s(0.25)),
  /**
   * How often otherwise: every timer left then (keepalive 10 s, new
   * handshake 15 s, rekey 120 s) is seconds long, and each tick wakes the
   * main thread (~100 µs here): 4 a second were a third of what light
   * traffic costs both daemons (docs/performance.md, light traffic).
   */
  idleTickMs: Math.max(50, s(1)),
  /** Drops are summarised in the log this often (never per packet). */
  dropLogMs: s(60),
  /** A TCP connection must complete a handshake within this long or is closed. */
  tcpHandshakeTimeoutMs: s(5),
  /** Backoff between TCP connection attempts: first, cap. */
  tcpBackoffFirstMs: s(0.5),
  tcpBackoffMaxMs: s(30),
  /** connect() gives up after this long. */
  tcpConnectTimeoutMs: s(10),
  /** The responder's cookie secret is replaced this often (whitepaper §5.4.7). */
  cookieSecretMaxAgeMs: s(120),
  /** A cookie received is used for mac2 this long: the secret's age less a margin for latency (WireGuard: 120 − 5 s). */
  cookieValidMs: s(115),
  /** "Under load" lasts this long after the handshake backlog was last seen high (WireGuard: 1 s). */
  underLoadMs: s(1),
  /**
   * Transport = auto: an initiator falls back to TCP once two handshake
   * initiations over UDP (the first and its retransmission, one
   * Rekey-Timeout later) went unanswered, the first at least this long ago
   * and the latest at least autoAnswerMs ago: about 7 s of a blocked UDP.
   */
  autoFallbackMs: s(5),
  autoAnswerMs: s(2),
  /** Transport = auto, on TCP: a handshake initiation goes over UDP this often, to find out whether UDP works again. */
  autoProbeMs: s(30),
  /** Transport = auto, back on UDP: the TCP connection is closed this long after the move, once what was in flight on it has arrived. */
  autoTcpLingerMs: s(2),
} as const;

/** Unauthenticated TCP connections held at once (which one gives way to a new one: pending-conns.ts). */
export const MAX_PENDING_TCP = 8;
/** The same, per source (an IPv4 address or IPv6 /64, source-key.ts). */
export const MAX_PENDING_TCP_PER_SOURCE = 2;

/**
 * The responder is "under load" (answers handshakes that lack a valid mac2
 * with a cookie reply instead of a DH) while at least this many handshake
 * messages wait for the main thread: 1/8 of the RX worker's backlog limit
 * (64), as WireGuard uses 1/8 of MAX_QUEUED_INCOMING_HANDSHAKES.
 * SEALTUN_UNDER_LOAD_BACKLOG=0 keeps it under load always (tests of the cookie path).
 */
export const UNDER_LOAD_BACKLOG = (() => {
  const v = Number(process.env['SEALTUN_UNDER_LOAD_BACKLOG'] ?? '8');
  return Number.isInteger(v) && v >= 0 ? v : 8;
})();

/** Per source (IPv4 address, IPv6 /64), while under load: handshakes per second, and the burst allowed (WireGuard's ratelimiter.c). */
export const RATE_LIMIT = {
  perSecond: 20,
  burst: 5,
  /** Addresses tracked at once; a new address beyond this is refused (the table never grows without bound). */
  maxEntries: 4096,
} as const;
