// Transport = auto, the initiator's decisions: which path (UDP or TCP) its
// handshake initiations and its data take, when to fall back to TCP and when
// to try UDP again. Pure: the time comes in as an argument, so tests drive it
// without sockets or clocks; auto-link.ts carries out what it decides.
//
//   udp ── initiations over UDP unanswered for fallbackMs ──→ tcp
//   tcp ── a probe (an initiation over UDP, every probeMs) answered over UDP ──→ udp
//
// Only a handshake *response* over UDP proves UDP works both ways: our
// initiation reached the peer over UDP and its answer came back the same way.
import type { TransportKind } from '../transport/transport.js';

export interface AutoPathTimers {
  fallbackMs: number;
  probeMs: number;
}

/** What the caller should do now: fall back to TCP, or start a handshake so that it can go over UDP as a probe. */
export type AutoPathAction = 'fall-back' | 'probe' | null;

export class AutoPath {
  private current: TransportKind = 'udp';
  /** On UDP: when the first initiation still unanswered went out (null: none is waiting). */
  private waitingSince: number | null = null;
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
    this.waitingSince = null;
    if (this.current === 'udp') return false;
    this.current = 'udp';
    return true;
  }

  /** Called every tick: falls back to TCP when UDP has had its time, or says a probe is due. */
  tick(now: number): AutoPathAction {
    if (this.current === 'udp') {
      if (this.waitingSince === null || now - this.waitingSince < this.timers.fallbackMs) return null;
      this.current = 'tcp';
      this.waitingSince = null;
      this.lastProbe = now;
      return 'fall-back';
    }
    return this.probeDue(now) ? 'probe' : null;
  }

  /** Starts over on UDP (e.g. a new Endpoint): as if nothing had been tried yet. */
  reset(): void {
    this.current = 'udp';
    this.waitingSince = null;
  }
}
