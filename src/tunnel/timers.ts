// Every protocol time and limit in one place, with WireGuard's values and
// reasons (whitepaper §6). SEALTUN_TIME_SCALE (e.g. 0.05) shrinks them all
// for tests that exercise rekeys and timeouts in seconds instead of minutes.

const scale = (() => {
  const v = Number(process.env['SEALTUN_TIME_SCALE'] ?? '1');
  return Number.isFinite(v) && v > 0 ? v : 1;
})();

const s = (seconds: number): number => seconds * 1000 * scale;

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
  /** How often the main thread looks at the counters to drive the timers above. */
  tickMs: Math.max(50, s(0.25)),
  /** A TCP connection must complete a handshake within this long or is closed. */
  tcpHandshakeTimeoutMs: s(5),
  /** Backoff between TCP connection attempts: first, cap. */
  tcpBackoffFirstMs: s(0.5),
  tcpBackoffMaxMs: s(30),
  /** connect() gives up after this long. */
  tcpConnectTimeoutMs: s(10),
} as const;

/** Unauthenticated TCP connections held at once; a new one replaces the oldest. */
export const MAX_PENDING_TCP = 8;
/** The same, per source address. */
export const MAX_PENDING_TCP_PER_SOURCE = 2;
