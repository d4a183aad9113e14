// Transport = auto, the initiator's decisions: which path (UDP or TCP) its
// handshake initiations and its data take, when to fall back to TCP and when
// to try UDP again. Pure: the time comes in as an argument, so tests drive it
// without sockets or clocks; auto-link.ts carries out what it decides.
//
//   udp ── two initiations over UDP unanswered, the first fallbackMs ago,
//          the last answerMs ago, and nothing heard over UDP since ──→ tcp
//   tcp ── a probe (an initiation over UDP, every probeMs) answered over UDP ──→ udp
//
// One lost initiation (a lossy link, a rekey) is not a blocked UDP: the
// handshake's own retransmission gets its chance first. Anything the peer
// sends that authenticates over UDP (a cookie reply under load, data) shows
// UDP gets through and restarts the wait. Only a handshake *response* over
// UDP moves data back from TCP: it proves UDP works both ways — our
// initiation reached the peer over UDP and its answer came back the same way.
import type { TransportKind } from '../../transport/transport.js';

export interface AutoPathTimers {
  /** At least this long since the first unanswered initiation over UDP. */
  fallbackMs: number;
  /** And at least this long since the latest one (its time to be answered). */
  answerMs: number;
  probeMs: number;
}

/** Initiations over UDP that must go unanswered before falling back: the first and a retransmission. */
export const FALLBACK_ATTEMPTS = 2;

/** What the caller should do now: fall back to TCP, or start a handshake so that it can go over UDP as a probe. */
export type AutoPathAction = 'fall-back' | 'probe' | null;

export class AutoPath {
  private current: TransportKind = 'udp';
  /** On UDP: when the first initiation still unanswered went out (null: none is waiting). */
  private waitingSince: number | null = null;
  /** On UDP: initiations sent since `waitingSince`, and when the latest went. */
  private attempts = 0;
  private lastAttempt = 0;
  /** On TCP: when UDP was last tried (the fallback itself, then each probe). */
  private lastProbe = 0;

  constructor(private readonly timers: AutoPathTimers) {}

  /** The path data takes now. */
  get path(): TransportKind {
    return this.current;
  }

  /** Whether the next initiation would go over UDP as a probe. */
  probeDue(now: number): boolean {
    return this.current === 'tcp' && now - this.lastProbe >= this.timers.probeMs;
  }

  /** An initiation is sent now: the path it takes. On TCP, one that is due to probe goes over UDP. */
  initiationSent(now: number): TransportKind {
    if (this.current === 'udp') {
      this.waitingSince ??= now;
      this.attempts++;
      this.lastAttempt = now;
      return 'udp';
    }
    if (this.probeDue(now)) {
      this.lastProbe = now;
      return 'udp';
    }
    return 'tcp';
  }

  /** A handshake response authenticated, having come over `path`. True when that moves data back to UDP. */
  responseOver(path: TransportKind): boolean {
    if (path !== 'udp') return false;
    this.heardOverUdp();
    if (this.current === 'udp') return false;
    this.current = 'udp';
    return true;
  }

  /** Something from the peer authenticated over UDP (not a response): UDP gets through, the wait starts over. */
  heardOverUdp(): void {
    this.waitingSince = null;
    this.attempts = 0;
  }

  /** Called every tick: falls back to TCP when UDP has had its time, or says a probe is due. */
  tick(now: number): AutoPathAction {
    if (this.current === 'udp') {
      if (this.waitingSince === null || this.attempts < FALLBACK_ATTEMPTS) return null;
      if (now - this.waitingSince < this.timers.fallbackMs || now - this.lastAttempt < this.timers.answerMs) return null;
      this.current = 'tcp';
      this.heardOverUdp();
      this.lastProbe = now;
      return 'fall-back';
    }
    return this.probeDue(now) ? 'probe' : null;
  }

  /** Starts over on UDP (e.g. a new Endpoint): as if nothing had been tried yet. */
  reset(): void {
    this.current = 'udp';
    this.heardOverUdp();
  }
}
