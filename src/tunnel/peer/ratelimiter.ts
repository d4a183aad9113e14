// Per-source rate limit for handshakes while under load (WireGuard's
// ratelimiter.c): a token bucket per IPv4 address or IPv6 /64 (the port is
// ignored, so one host cannot multiply its share by using many ports, nor by
// using many addresses of its /64: see source-key.ts). The table is bounded:
// entries idle for a second are swept, and a new address that finds the
// table full is refused, so a spoofed-source flood costs bounded memory.
import { sourceKey } from '../../transport/source-key.js';
import { RATE_LIMIT } from '../timers.js';

interface Bucket {
  tokens: number;
  last: number;
}

/** Idle entries older than this are swept: a full bucket is the same as no entry. */
const SWEEP_AFTER_MS = 1000;

export class RateLimiter {
  private readonly buckets = new Map<string, Bucket>();
  private lastSweep = 0;

  constructor(
    private readonly perSecond: number = RATE_LIMIT.perSecond,
    private readonly burst: number = RATE_LIMIT.burst,
    private readonly maxEntries: number = RATE_LIMIT.maxEntries,
    private readonly now: () => number = Date.now,
  ) {}

  /** Takes a token for `address` (IP bytes; IPv6 counts by /64); false when its bucket is empty or the table is full. */
  allow(address: Uint8Array): boolean {
    const t = this.now();
    if (t - this.lastSweep >= SWEEP_AFTER_MS) this.sweep(t);
    const key = sourceKey(address);
    let b = this.buckets.get(key);
    if (!b) {
      if (this.buckets.size >= this.maxEntries) return false;
      b = { tokens: this.burst, last: t };
      this.buckets.set(key, b);
    } else {
      b.tokens = Math.min(this.burst, b.tokens + ((t - b.last) / 1000) * this.perSecond);
      b.last = t;
    }
    if (b.tokens < 1) return false;
    b.tokens -= 1;
    return true;
  }

  /** Addresses tracked now (for tests). */
  get size(): number {
    return this.buckets.size;
  }

  private sweep(t: number): void {
    this.lastSweep = t;
    for (const [k, b] of this.buckets) if (t - b.last >= SWEEP_AFTER_MS) this.buckets.delete(k);
  }
}
