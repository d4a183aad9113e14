// The interface's peers, as WireGuard's device keeps them: found by static
// key when an initiation names its sender, by our index when a response, a
// cookie reply or data names a session, by slot when the data path reports.
// Handshake messages pass the DoS checks of whitepaper §5.4.7 here, before
// any peer sees them, since they are the interface's (one public key, one
// port): mac1 (no reply at all without it), and while under load a cookie
// reply instead of a DH unless mac2 proves the source address, then a
// per-address rate limit. One tick drives every peer's timers.
import { randomBytes } from 'node:crypto';
import { encodeKey } from '../../crypto/keys.js';
import type { Logger } from '../../log.js';
import type { FromWorker } from '../datapath/worker-messages.js';
import {
  COOKIE_REPLY,
  INITIATION,
  MESSAGE_COOKIE_REPLY,
  MESSAGE_INITIATION,
  MESSAGE_INITIATION_BYTES,
  MESSAGE_RESPONSE,
  MESSAGE_RESPONSE_BYTES,
  RESPONSE,
  readU32,
} from '../messages.js';
import { HANDSHAKE_BACKLOG_SLOT, type Stats } from '../stats.js';
import { TIMERS, UNDER_LOAD_BACKLOG } from '../timers.js';
import { addressOf, CookieChecker, sourceBytes, type MacFields } from './cookie.js';
import { openInitiation, type LocalIdentity } from './handshake.js';
import type { Peer, PeerHost } from './peer.js';
import { RateLimiter } from './ratelimiter.js';

/**
 * Where handshake messages come in, seen from the interface: the UDP socket
 * or the TCP listener's connections. The same calls as a peer's Link has
 * for a message not yet known to be any peer's.
 */
export interface Ingress {
  /** The raw sockaddr a handshake message came from (UDP source, TCP connection's remote), or null. */
  sourceOf(source: Uint8Array | null, fd: number): Uint8Array | null;
  /** Sends a message back where a handshake message came from (a cookie reply). */
  reply(message: Uint8Array, source: Uint8Array | null, fd: number): void;
  passedMac1?(source: Uint8Array | null, fd: number): void;
  failedHandshake?(source: Uint8Array | null, fd: number): void;
}

/** How long a removed peer's slot rests before another peer takes it (worker reports take milliseconds). */
const SLOT_REST_MS = 5000;

export class PeerSet implements PeerHost {
  private readonly byKey = new Map<string, Peer>();
  private readonly bySlot: Array<Peer | undefined> = [];
  /** Our indices (sessions and handshakes in flight) to the peer that owns each. */
  private readonly byIndex = new Map<number, Peer>();
  /**
   * Slots of removed peers, oldest first, reused once SLOT_REST_MS have
   * passed (so the data path's tables stay dense): a worker report about the
   * removed peer still on its way then finds no peer rather than the next.
   */
  private readonly freeSlots: Array<{ slot: number; since: number }> = [];
  private readonly cookies: CookieChecker;
  private readonly limiter = new RateLimiter();
  /** Last time the handshake backlog was high; "under load" lasts TIMERS.underLoadMs after it. */
  private lastUnderLoad = -Infinity;
  private tick: NodeJS.Timeout;
  private stopped = false;
  /** Handshake messages rejected, by reason. */
  readonly handshakeDrops = new Map<string, number>();

  constructor(
    private readonly local: LocalIdentity,
    private readonly ingress: Ingress,
    private readonly stats: Stats,
    private readonly log: Logger,
  ) {
    this.cookies = new CookieChecker(local.keyPair.publicKey);
    this.tick = this.nextTick();
  }

  get size(): number {
    return this.byKey.size;
  }

  /** In the order added. */
  all(): IterableIterator<Peer> {
    return this.byKey.values();
  }

  get(publicKey: Uint8Array): Peer | undefined {
    return this.byKey.get(encodeKey(publicKey));
  }

  /** The slot the next peer gets. */
  nextSlot(): number {
    const free = this.freeSlots[0];
    return free && Date.now() - free.since >= SLOT_REST_MS ? free.slot : this.bySlot.length;
  }

  /** `key`: the peer's public key in base64 (the tunnel's own string, not another per peer). */
  add(key: string, peer: Peer): void {
    if (peer.slot === this.freeSlots[0]?.slot) this.freeSlots.shift();
    this.byKey.set(key, peer);
    this.bySlot[peer.slot] = peer;
  }

  /** Forgets a stopped peer; its slot is free for the next. */
  remove(publicKey: Uint8Array): void {
    const key = encodeKey(publicKey);
    const peer = this.byKey.get(key);
    if (!peer) return;
    this.byKey.delete(key);
    this.bySlot[peer.slot] = undefined;
    this.freeSlots.push({ slot: peer.slot, since: Date.now() });
    // Its indices went with peer.stop() (each dropped as the peer let go of it): no scan of every peer's.
  }

  newIndex(peer: Peer): number {
    for (;;) {
      const index = randomBytes(4).readUInt32LE(0);
      if (this.byIndex.has(index)) continue;
      this.byIndex.set(index, peer);
      return index;
    }
  }

  dropIndex(index: number): void {
    this.byIndex.delete(index);
  }

  dropHandshake(reason: string): void {
    this.handshakeDrops.set(reason, (this.handshakeDrops.get(reason) ?? 0) + 1);
    this.log.debug(`handshake message dropped: ${reason}`);
  }

  /** Worker reports about peers and handshakes; true if handled. */
  onWorkerMessage(msg: FromWorker): boolean {
    switch (msg.t) {
      case 'handshake':
        Atomics.sub(this.stats.i32, HANDSHAKE_BACKLOG_SLOT, 1);
        this.onHandshake(msg.message, msg.source, msg.fd);
        return true;
      case 'first-data':
        this.bySlot[msg.peer]?.onFirstData(msg.localIndex);
        return true;
      case 'need-handshake':
        this.bySlot[msg.peer]?.needHandshake();
        return true;
      case 'endpoint':
      case 'data-path':
        this.bySlot[msg.peer]?.link.onWorkerMessage(msg);
        return true;
      default:
        return false;
    }
  }

  private onHandshake(message: Uint8Array, source: Uint8Array | null, fd: number): void {
    const type = message[0];
    if (type === MESSAGE_COOKIE_REPLY) {
      const peer = this.byIndex.get(readU32(message, COOKIE_REPLY.receiverIndex));
      if (!peer) return this.dropHandshake('cookie-unexpected-index');
      return peer.onCookieReply(message, source, fd);
    }
    if (type === MESSAGE_INITIATION) {
      if (!this.admit(message, INITIATION, MESSAGE_INITIATION_BYTES, source, fd)) return;
      const opened = openInitiation(this.local, message);
      if (!opened.ok) return this.failedHandshake(opened.reason, source, fd);
      const peer = this.get(opened.initiatorStatic);
      if (!peer) {
        opened.state.destroy();
        // Someone with a key we do not know (or no longer know: a removed peer).
        return this.failedHandshake('bad-static', source, fd);
      }
      return peer.onInitiation(opened, source, fd);
    }
    if (type === MESSAGE_RESPONSE) {
      if (!this.admit(message, RESPONSE, MESSAGE_RESPONSE_BYTES, source, fd)) return;
      const peer = this.byIndex.get(readU32(message, RESPONSE.receiverIndex));
      if (!peer) return this.failedHandshake('unexpected-index', source, fd);
      return peer.onResponse(message, source, fd);
    }
    this.dropHandshake('unexpected-type');
  }

  private failedHandshake(reason: string, source: Uint8Array | null, fd: number): void {
    this.dropHandshake(reason);
    this.ingress.failedHandshake?.(source, fd);
  }

  /** Whether the handshake backlog says we are under load now (or were within TIMERS.underLoadMs). */
  private underLoad(now: number): boolean {
    if (Atomics.load(this.stats.i32, HANDSHAKE_BACKLOG_SLOT) >= UNDER_LOAD_BACKLOG) {
      this.lastUnderLoad = now;
      return true;
    }
    return now - this.lastUnderLoad < TIMERS.underLoadMs;
  }

  /**
   * §5.4.7: mac1 must be right (else no reply, one hash spent). Under load,
   * a message without a valid mac2 gets a cookie reply and goes no further,
   * and one with a valid mac2 still passes the per-address rate limit.
   * True when the message may go on to the Noise handshake.
   */
  private admit(message: Uint8Array, fields: MacFields, size: number, source: Uint8Array | null, fd: number): boolean {
    if (message.length !== size) {
      this.dropHandshake('bad-size');
      return false;
    }
    const underLoad = this.underLoad(Date.now());
    const raw = this.ingress.sourceOf(source, fd);
    const from = raw ? sourceBytes(raw) : null;
    const state = this.cookies.validate(message, fields, from, underLoad);
    if (state === 'invalid-mac') {
      this.dropHandshake('bad-mac1');
      return false;
    }
    this.ingress.passedMac1?.(source, fd);
    if (!underLoad) return true;
    if (from === null) {
      this.dropHandshake('no-source');
      return false;
    }
    if (state === 'valid-mac-no-cookie') {
      // INITIATION.senderIndex and RESPONSE.senderIndex are the same field.
      this.ingress.reply(this.cookies.createReply(message, fields, readU32(message, INITIATION.senderIndex), from), source, fd);
      this.dropHandshake('cookie-sent');
      return false;
    }
    if (!this.limiter.allow(addressOf(from))) {
      this.dropHandshake('rate-limited');
      return false;
    }
    return true;
  }

  /** The next tick of every peer's timers: soon while a handshake is outstanding (its retransmission), else TIMERS.idleTickMs. */
  private nextTick(): NodeJS.Timeout {
    let soon = false;
    for (const p of this.byKey.values()) soon ||= p.awaitingHandshake;
    return setTimeout(() => {
      const now = Date.now();
      for (const p of this.byKey.values()) p.onTick(now);
      if (!this.stopped) this.tick = this.nextTick();
    }, soon ? TIMERS.tickMs : TIMERS.idleTickMs);
  }

  /** Stops every peer and the tick. */
  stop(): void {
    this.stopped = true;
    clearTimeout(this.tick);
    for (const p of this.byKey.values()) p.stop();
    this.cookies.destroy();
  }
}
