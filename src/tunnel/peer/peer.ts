// The peer's sessions on the main thread: when to start a handshake, what
// to do with handshake messages, which keypairs the workers use, and the
// timers that keep keys fresh and the path alive (see timers.ts).
//
// Keypairs, as in WireGuard: `current` sends; `previous` still receives
// in-flight packets after a rekey; a responder's new keypair waits as `next`
// until the initiator has sent with it (key confirmation), so the responder
// never sends on a key the initiator might not have.
//
// Handshake messages pass the DoS checks of whitepaper §5.4.7 first: mac1
// (no reply at all without it), and while under load a cookie reply instead
// of a DH unless mac2 proves the source address, then a per-address rate limit.
import { randomBytes } from 'node:crypto';
import { addressOf, CookieChecker, CookieJar, sourceBytes, type MacFields } from './cookie.js';
import type { Handshake, HandshakeResult } from './handshake.js';
import {
  INITIATION,
  MESSAGE_COOKIE_REPLY,
  MESSAGE_INITIATION,
  MESSAGE_INITIATION_BYTES,
  MESSAGE_RESPONSE,
  MESSAGE_RESPONSE_BYTES,
  RESPONSE,
  readU32,
} from '../messages.js';
import { RateLimiter } from './ratelimiter.js';
import type { Datapath } from '../datapath/datapath.js';
import type { Link } from '../link/link.js';
import type { Logger } from '../../log.js';
import { HANDSHAKE_BACKLOG_SLOT, RX, TX, type Stats } from '../stats.js';
import { TIMERS, UNDER_LOAD_BACKLOG } from '../timers.js';
import type { FromWorker } from '../datapath/worker-messages.js';

interface Keypair {
  localIndex: number;
  remoteIndex: number;
  createdAt: number;
  isInitiator: boolean;
  /** Held only while a responder's keypair waits for confirmation. */
  sendKey: Uint8Array | null;
  /** TX.packets when this keypair started sending (bounds a stale TX.counter, see onTick). */
  packetsAtStart: number;
}

interface PendingInitiation {
  localIndex: number;
  firstSentAt: number;
  lastSentAt: number;
  retryAfterMs: number;
}

export interface PeerOptions {
  /** This side knows the peer's endpoint and starts handshakes. */
  initiates: boolean;
  /** The peer's static public key (keys the cookies it sends us). */
  readonly peerPublic: Uint8Array;
  /** Seconds between keepalives sent regardless of traffic (0: off). */
  persistentKeepalive: number;
  /** Called when a session is established, with the features the peer announced. */
  onSession?: (peerFeatures: number) => void;
}

export class Peer {
  private current: Keypair | null = null;
  private previous: Keypair | null = null;
  private next: Keypair | null = null;
  private pending: PendingInitiation | null = null;
  private tick: NodeJS.Timeout | null = null;
  private stopped = false;
  private lastKeepaliveFor = 0;
  private lastPersistentKeepalive = 0;
  /** When a handshake message from the peer last authenticated (counts as hearing from it, as data does). */
  private lastHandshakeHeard = 0;
  /** Data (not keepalives) sent and nothing authenticated heard since: when that began (WireGuard's new_handshake timer). */
  private unansweredSince: number | null = null;
  private seenPackets = 0;
  private seenKeepalives = 0;
  /** The keypair whose message-count rekey was already asked for (once per keypair). */
  private countRekeyFor: Keypair | null = null;
  /** Last time the handshake backlog was high; "under load" lasts TIMERS.underLoadMs after it. */
  private lastUnderLoad = -Infinity;
  private readonly cookies: CookieChecker;
  private readonly jar: CookieJar;
  private readonly limiter = new RateLimiter();
  /**
   * Wall-clock time of the latest completed handshake, for status. As in
   * WireGuard, a responder's handshake completes with the first authenticated
   * data or keepalive under its keys (key confirmation), not with the response.
   */
  lastHandshakeAt: number | null = null;
  /** Handshakes completed (as initiator or responder; see lastHandshakeAt). */
  handshakeCount = 0;
  /** Handshake messages rejected, by reason. */
  readonly handshakeDrops = new Map<string, number>();

  constructor(
    private readonly handshake: Handshake,
    private readonly link: Link,
    private readonly datapath: Datapath,
    private readonly stats: Stats,
    private readonly options: PeerOptions,
    private readonly log: Logger,
  ) {
    this.cookies = new CookieChecker(handshake.localPublic);
    this.jar = new CookieJar(options.peerPublic);
  }

  start(): void {
    this.link.on('up', () => {
      if (this.options.initiates) this.initiate('link up');
    });
    this.link.on('down', () => {
      this.pending = null;
    });
    this.tick = setInterval(() => this.onTick(), TIMERS.tickMs);
  }

  /** Starts a handshake once although this side has no Endpoint (the link remembered where the peer was). */
  resume(): void {
    this.initiate('resuming with the last known peer address');
  }

  /** Applies a reloaded config's Endpoint presence and PersistentKeepalive. */
  reconfigure(changes: { initiates: boolean; persistentKeepalive: number }): void {
    this.options.initiates = changes.initiates;
    this.options.persistentKeepalive = changes.persistentKeepalive;
  }

  stop(): void {
    this.stopped = true;
    if (this.tick) clearInterval(this.tick);
    for (const kp of [this.current, this.previous, this.next]) kp?.sendKey?.fill(0);
    this.cookies.destroy();
    this.jar.destroy();
    this.handshake.destroy();
  }

  /** Worker reports that concern sessions; true if handled. */
  onWorkerMessage(msg: FromWorker): boolean {
    switch (msg.t) {
      case 'handshake':
        Atomics.sub(this.stats.i32, HANDSHAKE_BACKLOG_SLOT, 1);
        this.onHandshake(msg.message, msg.source, msg.fd);
        return true;
      case 'first-data':
        this.onFirstData(msg.localIndex);
        return true;
      case 'need-handshake':
        if (this.options.initiates) this.initiate('packets waiting');
        return true;
      default:
        return false;
    }
  }

  private initiate(why: string): void {
    const now = Date.now();
    if (!this.link.canSend()) return;
    if (this.pending && now - this.pending.lastSentAt < this.pending.retryAfterMs) return;
    const localIndex = randomIndex();
    const message = this.handshake.createInitiation(localIndex);
    this.stamp(message, INITIATION, localIndex);
    this.link.send(message);
    this.pending = {
      localIndex,
      firstSentAt: this.pending?.firstSentAt ?? now,
      lastSentAt: now,
      retryAfterMs: TIMERS.rekeyTimeoutMs + Math.random() * TIMERS.rekeyJitterMs,
    };
    this.log.debug(`handshake initiation sent (${why})`);
  }

  /**
   * mac2 (a cookie, if held) on a handshake message about to be sent, and
   * the receive worker told its sender index: the one cookie reply it lets
   * through is one to this message (handshake-filter.ts).
   */
  private stamp(message: Uint8Array, fields: MacFields, senderIndex: number): void {
    this.jar.stamp(message, fields, senderIndex);
    this.datapath.toRx({ t: 'handshake-sent', senderIndex });
  }

  /**
   * Handshakes go unanswered: sends may go to a learned address that is not
   * the peer (a spoofed response won the race), or the Endpoint's host name
   * may point elsewhere now (the server moved). The link goes back to the
   * configured Endpoint, and if that moved it, a handshake goes there at
   * once instead of waiting out the retransmission timer.
   */
  private reresolve(): void {
    void this.link.reresolve().then((moved) => {
      if (moved) this.endpointMoved();
    });
  }

  /** The link now seeks the peer at another address (re-resolved, or reloaded): start over there. */
  endpointMoved(): void {
    if (this.stopped || !this.options.initiates) return;
    // At once, but as part of the attempt under way: its give-up (rekeyAttemptMs)
    // still counts from the first initiation, however often the address changes.
    if (this.pending) this.pending.lastSentAt = -Infinity;
    this.initiate('endpoint moved');
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
    const raw = this.link.sourceOf(source, fd);
    const from = raw ? sourceBytes(raw) : null;
    const state = this.cookies.validate(message, fields, from, underLoad);
    if (state === 'invalid-mac') {
      this.dropHandshake('bad-mac1');
      return false;
    }
    this.link.passedMac1?.(source, fd);
    if (!underLoad) return true;
    if (from === null) {
      this.dropHandshake('no-source');
      return false;
    }
    if (state === 'valid-mac-no-cookie') {
      // INITIATION.senderIndex and RESPONSE.senderIndex are the same field.
      this.link.reply(this.cookies.createReply(message, fields, readU32(message, INITIATION.senderIndex), from), source, fd);
      this.dropHandshake('cookie-sent');
      return false;
    }
    if (!this.limiter.allow(addressOf(from))) {
      this.dropHandshake('rate-limited');
      return false;
    }
    return true;
  }

  private onHandshake(message: Uint8Array, source: Uint8Array | null, fd: number): void {
    const type = message[0];
    if (type === MESSAGE_COOKIE_REPLY) {
      const err = this.jar.consumeReply(message);
      if (err) return this.dropHandshake(`cookie-${err.reason}`);
      this.link.heardFrom?.(source, fd);
      this.log.debug('cookie reply taken: the peer is under load; mac2 on our next handshake');
      return;
    }
    if (type === MESSAGE_INITIATION) {
      if (!this.admit(message, INITIATION, MESSAGE_INITIATION_BYTES, source, fd)) return;
      const r = this.handshake.consumeInitiation(message);
      if (!r.ok) return this.failedHandshake(r.reason, source, fd);
      this.lastHandshakeHeard = Date.now();
      this.link.confirmPeer(source, fd, type);
      const localIndex = randomIndex();
      const { message: response, result } = this.handshake.createResponse(localIndex);
      this.options.onSession?.(result.peerFeatures);
      this.stamp(response, RESPONSE, localIndex);
      // The receive key is in place before the response can bring the first data.
      this.installResponder(result);
      this.link.send(response);
    } else if (type === MESSAGE_RESPONSE) {
      if (!this.admit(message, RESPONSE, MESSAGE_RESPONSE_BYTES, source, fd)) return;
      const r = this.handshake.consumeResponse(message);
      if (!r.ok) return this.failedHandshake(r.reason, source, fd);
      this.lastHandshakeHeard = Date.now();
      this.link.confirmPeer(source, fd, type);
      this.pending = null;
      this.options.onSession?.(r.result.peerFeatures);
      this.installInitiator(r.result);
      // Confirms the new key to the responder at once, even with no data to send.
      this.datapath.toTx({ t: 'keepalive' });
    } else {
      this.dropHandshake('unexpected-type');
    }
  }

  /** A message that passed mac1 (admit) failed the Noise handshake: its sender knows no more than our public key. */
  private failedHandshake(reason: string, source: Uint8Array | null, fd: number): void {
    this.dropHandshake(reason);
    this.link.failedHandshake?.(source, fd);
  }

  private dropHandshake(reason: string): void {
    this.handshakeDrops.set(reason, (this.handshakeDrops.get(reason) ?? 0) + 1);
    this.log.debug(`handshake message dropped: ${reason}`);
  }

  private installInitiator(r: HandshakeResult): void {
    this.retire(this.previous);
    this.previous = this.current;
    this.current = { localIndex: r.localIndex, remoteIndex: r.remoteIndex, createdAt: Date.now(), isInitiator: true, sendKey: null, packetsAtStart: this.stats.f64[TX.packets]! };
    this.datapath.toRx({ t: 'receive-key-add', keypair: { localIndex: r.localIndex, key: r.recvKey } });
    this.datapath.toTx({ t: 'send-key', keypair: { remoteIndex: r.remoteIndex, key: r.sendKey } });
    r.recvKey.fill(0);
    r.sendKey.fill(0);
    this.handshakeDone();
  }

  private installResponder(r: HandshakeResult): void {
    this.retire(this.next);
    this.next = { localIndex: r.localIndex, remoteIndex: r.remoteIndex, createdAt: Date.now(), isInitiator: false, sendKey: r.sendKey, packetsAtStart: 0 };
    this.datapath.toRx({ t: 'receive-key-add', keypair: { localIndex: r.localIndex, key: r.recvKey } });
    r.recvKey.fill(0);
    // Not a handshake yet: an initiator with another PresharedKey gets this
    // far and no further. It counts once the initiator uses the keys (onFirstData).
  }

  private onFirstData(localIndex: number): void {
    const kp = this.next;
    if (!kp || kp.localIndex !== localIndex || !kp.sendKey) return;
    this.retire(this.previous);
    this.previous = this.current;
    this.current = kp;
    kp.packetsAtStart = this.stats.f64[TX.packets]!;
    this.next = null;
    this.datapath.toTx({ t: 'send-key', keypair: { remoteIndex: kp.remoteIndex, key: kp.sendKey } });
    kp.sendKey.fill(0);
    kp.sendKey = null;
    this.handshakeDone();
  }

  private handshakeDone(): void {
    const first = this.lastHandshakeAt === null;
    this.lastHandshakeAt = Date.now();
    this.handshakeCount++;
    this.log[first ? 'info' : 'debug']('handshake completed');
  }

  /** Forgets a keypair: the RX worker drops its key. */
  private retire(kp: Keypair | null): void {
    if (!kp) return;
    kp.sendKey?.fill(0);
    this.datapath.toRx({ t: 'receive-key-remove', localIndex: kp.localIndex });
  }

  private onTick(): void {
    const now = Date.now();
    const f = this.stats.f64;
    // Retransmit an unanswered initiation; give up after rekeyAttemptMs.
    if (this.pending) {
      if (now - this.pending.firstSentAt > TIMERS.rekeyAttemptMs) {
        this.log.warn('no handshake response; giving up until there is traffic to send');
        this.pending = null;
        this.handshake.abandon(); // wipes the ephemeral key of the unanswered initiation
      } else if (now - this.pending.lastSentAt >= this.pending.retryAfterMs) {
        this.initiate('retransmit');
        this.reresolve();
      }
    }
    // Keys expire: never send or accept on a key past its lifetime.
    for (const kp of [this.previous, this.next, this.current]) {
      if (kp && now - kp.createdAt > TIMERS.rejectAfterMs) this.expire(kp);
    }
    const cur = this.current;
    const unanswered = this.trackUnanswered(now);
    if (this.options.initiates && !this.pending) {
      // Keep keys fresh: the side that started this session starts the next.
      // Unlike WireGuard this also happens on an idle tunnel: packets are not
      // queued while a handshake runs, so a session is kept ready.
      if (cur && cur.isInitiator && now - cur.createdAt > TIMERS.rekeyAfterMs) this.initiate('rekey');
      // Data went out, nothing authenticated came back for keepalive + rekey
      // timeout (the peer would have sent a keepalive by then): the session may be dead.
      else if (unanswered) {
        this.initiate('no reply');
        this.reresolve();
      }
    }
    // Either side rekeys once its key has sealed rekeyAfterMessages messages (WireGuard's keep_key_fresh on send).
    // TX.counter is published on data sends only, so right after a key change it may still be the old
    // key's; the packets sent since this key took over bound it.
    const sealed = cur ? Math.min(f[TX.counter]!, f[TX.packets]! - cur.packetsAtStart) : 0;
    if (cur && cur === this.current && this.countRekeyFor !== cur && sealed >= TIMERS.rekeyAfterMessages && !this.pending) {
      this.countRekeyFor = cur;
      this.initiate('rekey: message limit');
    }
    if (!cur) return;
    // Passive keepalive: data came in, nothing went out since.
    const rxData = f[RX.lastDataMs]!;
    if (rxData > this.lastKeepaliveFor && f[TX.lastDataMs]! < rxData && now - rxData >= TIMERS.keepaliveMs) {
      this.lastKeepaliveFor = rxData;
      this.datapath.toTx({ t: 'keepalive' });
    }
    const pk = this.options.persistentKeepalive * 1000;
    if (pk > 0 && now - Math.max(f[TX.lastDataMs]!, this.lastPersistentKeepalive) >= pk) {
      this.lastPersistentKeepalive = now;
      this.datapath.toTx({ t: 'keepalive' });
    }
  }

  /**
   * WireGuard's new_handshake timer, from the shared counters: armed when
   * data (not a keepalive) is sent while nothing is outstanding, disarmed by
   * any authenticated message from the peer; true once it has run for
   * newHandshakeMs (then it is disarmed, to re-arm on the next data sent).
   */
  private trackUnanswered(now: number): boolean {
    const f = this.stats.f64;
    const packets = f[TX.packets]!;
    const keepalives = f[TX.keepalives]!;
    const dataSent = packets - this.seenPackets > keepalives - this.seenKeepalives;
    this.seenPackets = packets;
    this.seenKeepalives = keepalives;
    const heard = Math.max(f[RX.lastAuthMs]!, this.lastHandshakeHeard);
    if (this.unansweredSince !== null && heard >= this.unansweredSince) this.unansweredSince = null;
    if (this.unansweredSince === null && dataSent && f[TX.lastDataMs]! > heard) {
      // The first send of this run was within the last tick; its exact time is not published.
      this.unansweredSince = Math.max(heard, now - TIMERS.tickMs);
    }
    if (this.unansweredSince !== null && now - this.unansweredSince > TIMERS.newHandshakeMs) {
      this.unansweredSince = null;
      return true;
    }
    return false;
  }

  private expire(kp: Keypair): void {
    this.retire(kp);
    if (kp === this.current) {
      this.current = null;
      this.datapath.toTx({ t: 'send-key', keypair: null });
      this.log.info('session expired');
    } else if (kp === this.previous) this.previous = null;
    else if (kp === this.next) this.next = null;
  }
}

function randomIndex(): number {
  return randomBytes(4).readUInt32LE(0);
}
