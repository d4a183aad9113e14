// Admission of unauthenticated TCP connections: how many the listener holds
// while they have not yet brought an authenticated initiation, and which one
// gives way when a new one arrives and there is no room.
//
// Oldest-first eviction let a flood of connections push out the real peer's
// connection milliseconds after it was accepted (before its initiation was
// read), and the peer's reconnect backoff (up to 30 s) turned that into an
// outage. So room is made at the expense of whoever holds the most: a source
// (an IPv4 address or IPv6 /64, source-key.ts) at its own cap gives up its
// oldest connection, otherwise the source holding the most slots does. When
// several sources hold equally many (a flood from many addresses, one slot
// each), the one whose network (IPv4 /24, IPv6 /48) holds the most goes, and
// only among equals there the oldest: oldest-first alone let 8 addresses of
// one /56 push out the real peer's connection before its initiation arrived.
// (Sources in 8 networks or more, connecting faster than the peer's round
// trip, still can: nothing about an unauthenticated connection tells it
// from the peer's.) A
// connection that has delivered a message with a valid mac1 (its sender
// knows our public key; one such connection per source, tcp-link.ts) is
// never evicted: when nothing else can go, the newcomer is refused. It keeps
// that slot only while it waits for its next message after a cookie reply:
// a message that then fails the Noise handshake closes it, and the handshake
// timeout ends the wait.
import { MAX_PENDING_TCP, MAX_PENDING_TCP_PER_SOURCE } from '../timers.js';

/** Where a connection comes from: source-key.ts sourceKey() and networkKey() of the remote address. */
export interface ConnOrigin {
  readonly source: string;
  readonly network: string;
}

export interface PendingConn extends ConnOrigin {
  /** A message with a valid mac1 came over this connection. */
  readonly vouched: boolean;
}

/** A newcomer is refused, or admitted after `evict` (if not null) is closed. */
export type Admission<T> = { admit: false } | { admit: true; evict: T | null };

/**
 * Decides on a new connection from `source`, given the pending ones in the
 * order they were accepted (oldest first).
 */
export function admitPending<T extends PendingConn>(
  pending: readonly T[],
  newcomer: ConnOrigin,
  limits: { total: number; perSource: number } = { total: MAX_PENDING_TCP, perSource: MAX_PENDING_TCP_PER_SOURCE },
): Admission<T> {
  const held = new Map<string, number>();
  const heldByNetwork = new Map<string, number>();
  for (const c of pending) {
    held.set(c.source, (held.get(c.source) ?? 0) + 1);
    heldByNetwork.set(c.network, (heldByNetwork.get(c.network) ?? 0) + 1);
  }
  let evict: T | null = null;
  if ((held.get(newcomer.source) ?? 0) >= limits.perSource) {
    // The newcomer's own source is at its cap: its oldest evictable one goes.
    evict = pending.find((c) => c.source === newcomer.source && !c.vouched) ?? null;
  } else if (pending.length >= limits.total) {
    // The first in order of: slots its source holds, slots its network
    // holds; then the oldest connection of all.
    const rank = (c: T) => [held.get(c.source)!, heldByNetwork.get(c.network)!];
    let best: number[] = [];
    for (const c of pending) {
      if (c.vouched) continue;
      const r = rank(c);
      if (evict === null || before(r, best)) [evict, best] = [c, r];
    }
  } else {
    return { admit: true, evict: null };
  }
  return evict ? { admit: true, evict } : { admit: false };
}

/** Whether rank `a` goes before `b` (compared field by field, the larger first). */
function before(a: number[], b: number[]): boolean {
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return a[i]! > b[i]!;
  return false;
}
