// One peer's sessions on the main thread: when to start a handshake, what
// to do with its handshake messages, which keypairs the workers use for it,
// and the timers that keep its keys fresh and its path alive (see
// timers.ts). The interface's peers (peer-set.ts) hand it the handshake
// messages that are its own, once they passed the interface's DoS checks.
//
// Keypairs, as in WireGuard: `current` sends; `previous` still receives
// in-flight packets after a rekey; a responder's new keypair waits as `next`
// until the initiator has sent with it (key confirmation), so the responder
// never sends on a key the initiator might not have. The transmit worker
// holds that key too, and takes it up itself the moment the receive worker
// sees the initiator use it (tx-loop.ts), so the first reply is not lost
// while this thread hears of it.
import { encodeKey } from '../../crypto/keys.js';
import { CookieJar, type MacFields } from './cookie.js';
import type { Handshake, HandshakeResult, OpenedInitiation } from './handshake.js';
import { INITIATION, MESSAGE_INITIATION, MESSAGE_RESPONSE, RESPONSE } from '../messages.js';
import type { Datapath } from '../datapath/datapath.js';
import type { Link } from '../link/link.js';
import type { Logger } from '../../log.js';
import { PEER, PEER_SLOTS } from '../stats.js';
import { TIMERS } from '../timers.js';

interface Keypair {
  localIndex: number;
  remoteIndex: number;
  createdAt: number;
  isInitiator: boolean;
  /** The peer's tx packets when this keypair started sending (bounds a stale tx counter, see onTick). */
  packetsAtStart: number;
}

interface PendingInitiation {
  localIndex: number;
  firstSentAt: number;
  lastSentAt: number;
  retryAfterMs: number;
}

/** What a peer needs of the interface that carries it (peer-set.ts). */
export interface PeerHost {
  /** A fresh index (ours, for a handshake or session), unused by any peer, now this peer's. */
  newIndex(peer: Peer): number;
  /** The index is no longer this peer's. */
  dropIndex(index: number): void;
  /** Counts a handshake message dropped, by reason (status shows the interface's counts). */
  dropHandshake(reason: string): void;
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
  private readonly jar: CookieJar;
  /** Where this peer's counters start in the peer counters (stats.ts PEER). */
  private readonly base: number;
  /**
   * Wall-clock time of the latest completed handshake, for status. As in
   * WireGuard, a responder's handshake completes with the first authenticated
   * data or keepalive under its keys (key confirmation), not with the response.
   */
  lastHandshakeAt: number | null = null;
  /** Handshakes completed (as initiator or responder; see lastHandshakeAt). */
  handshakeCount = 0;

  /**
   * `slot`: the peer's number in the data path (worker-messages.ts);
   * `counters`: the peer counters (stats.ts PEER), this peer's at `slot`.
   */
  constructor(
    readonly slot: number,
    private readonly handshake: Handshake,
    readonly link: Link,
    private readonly datapath: Datapath,
    private readonly counters: Float64Array,
    private readonly host: PeerHost,
    private readonly options: PeerOptions,
    private readonly log: Logger,
  ) {
    this.jar = new CookieJar(options.peerPublic);
    this.base = slot * PEER_SLOTS;
  }

  /** The newest initiation timestamp accepted from the peer, kept by the tunnel when the peer is removed. */
  get newestTimestamp(): Uint8Array {
    return this.handshake.newestTimestamp;
  }

  /** A counter of this peer's (stats.ts PEER). */
  private counter(field: number): number {
    return this.counters[this.base + field]!;
  }

  start(): void {
    this.link.on('up', () => {
      if (this.options.initiates) this.initiate('link up');
    });
    this.link.on('down', () => {
      if (this.pending) this.host.dropIndex(this.pending.localIndex);
      this.pending = null;
    });
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

  /** Ends the peer: its keys are wiped and its indices freed (the data path forgets it on 'peer-remove'). */
  stop(): void {
    this.stopped = true;
    for (const kp of [this.current, this.previous, this.next]) if (kp) this.host.dropIndex(kp.localIndex);
    if (this.pending) this.host.dropIndex(this.pending.localIndex);
    this.current = this.previous = this.next = null;
    this.pending = null;
    this.jar.destroy();
    this.handshake.destroy();
  }

  /**
   * The data path has packets for this peer and no session to seal them
   * with. The request may have been queued before a handshake that just
   * completed installed its keys: a session younger than the retransmission
   * timeout answers it already (no second handshake right after the first).
   */
  needHandshake(): void {
    if (this.current && Date.now() - this.current.createdAt < TIMERS.rekeyTimeoutMs) return;
    if (this.options.initiates) this.initiate('packets waiting');
  }

  /** A log line about this peer: on a server with many, the operator must tell whose it is. */
  private named(text: string): string {
    return `peer ${encodeKey(this.options.peerPublic).slice(0, 8)}…: ${text}`;
  }

  private initiate(why: string): void {
    const now = Date.now();
    if (this.stopped || !this.link.canSend()) return;
    if (this.pending && now - this.pending.lastSentAt < this.pending.retryAfterMs) return;
    if (this.pending) this.host.dropIndex(this.pending.localIndex);
    const localIndex = this.host.newIndex(this);
    const message = this.handshake.createInitiation(localIndex);
    this.stamp(message, INITIATION, localIndex);
    this.link.send(message);
    this.pending = {
      localIndex,
      firstSentAt: this.pending?.firstSentAt ?? now,
      lastSentAt: now,
      retryAfterMs: TIMERS.rekeyTimeoutMs + Math.random() * TIMERS.rekeyJitterMs,
    };
    this.log.debug(this.named(`handshake initiation sent (${why})`));
  }

  /**
   * mac2 (a cookie, if held) on a handshake message about to be sent, and
   * the receive worker told its sender index: the one cookie reply it lets
   * through is one to this message (handshake-filter.ts).
   */
  private stamp(message: Uint8Array, fields: MacFields, senderIndex: number): void {
    this.jar.stamp(message, fields, senderIndex);
    this.datapath.toRx({ t: 'handshake-sent', peer: this.slot, senderIndex });
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

  /** A cookie reply that names one of our handshake messages to this peer (peer-set.ts found it by index). */
  onCookieReply(message: Uint8Array, source: Uint8Array | null, fd: number): void {
    const err = this.jar.consumeReply(message);
    if (err) return this.host.dropHandshake(`cookie-${err.reason}`);
    this.link.heardFrom?.(source, fd);
    this.log.debug(this.named('cookie reply taken: the peer is under load; mac2 on our next handshake'));
  }

  /** An initiation that opened under our key and names this peer as its sender (peer-set.ts admitted it). */
  onInitiation(opened: OpenedInitiation, source: Uint8Array | null, fd: number): void {
    const r = this.handshake.acceptInitiation(opened);
    if (!r.ok) return this.failedHandshake(r.reason, source, fd);
    this.lastHandshakeHeard = Date.now();
    this.link.confirmPeer(source, fd, MESSAGE_INITIATION);
    const localIndex = this.host.newIndex(this);
    const { message: response, result } = this.handshake.createResponse(localIndex);
    this.options.onSession?.(result.peerFeatures);
    this.stamp(response, RESPONSE, localIndex);
    // The receive key is in place before the response can bring the first data.
    this.installResponder(result);
    this.link.send(response);
  }

  /** A response whose receiver index is this peer's pending initiation (peer-set.ts admitted it). */
  onResponse(message: Uint8Array, source: Uint8Array | null, fd: number): void {
    const r = this.handshake.consumeResponse(message);
    if (!r.ok) return this.failedHandshake(r.reason, source, fd);
    this.lastHandshakeHeard = Date.now();
    this.link.confirmPeer(source, fd, MESSAGE_RESPONSE);
    this.pending = null;
    this.options.onSession?.(r.result.peerFeatures);
    this.installInitiator(r.result);
    // Confirms the new key to the responder at once, even with no data to send.
    this.datapath.toTx({ t: 'keepalive', peer: this.slot });
  }

  /** A message that passed mac1 (admit) failed the Noise handshake: its sender knows no more than our public key. */
  private failedHandshake(reason: string, source: Uint8Array | null, fd: number): void {
    this.host.dropHandshake(reason);
    this.link.failedHandshake?.(source, fd);
  }

  private installInitiator(r: HandshakeResult): void {
    this.retire(this.previous);
    if (this.next) {
      // Both sides initiated at once and the peer's key has not been used yet:
      // as WireGuard's add_new_keypair, it only receives from now on (the
      // transmit worker drops it as superseded), and is never promoted.
      this.retire(this.current);
      this.previous = this.next;
      this.next = null;
    } else this.previous = this.current;
    this.current = { localIndex: r.localIndex, remoteIndex: r.remoteIndex, createdAt: Date.now(), isInitiator: true, packetsAtStart: this.counter(PEER.txPackets) };
    this.datapath.toRx({ t: 'receive-key-add', peer: this.slot, keypair: { localIndex: r.localIndex, key: r.recvKey } });
    this.datapath.toTx({ t: 'send-key', peer: this.slot, keypair: { remoteIndex: r.remoteIndex, key: r.sendKey } });
    r.recvKey.fill(0);
    r.sendKey.fill(0);
    this.handshakeDone();
  }

  private installResponder(r: HandshakeResult): void {
    this.retire(this.next);
    this.next = { localIndex: r.localIndex, remoteIndex: r.remoteIndex, createdAt: Date.now(), isInitiator: false, packetsAtStart: 0 };
    this.datapath.toRx({ t: 'receive-key-add', peer: this.slot, keypair: { localIndex: r.localIndex, key: r.recvKey } });
    // The transmit worker holds the send key back until the receive worker sees
    // the initiator use it, then seals with it at once: a reply to the first
    // packet under the new session is not dropped while this thread hears of it.
    this.datapath.toTx({ t: 'send-key', peer: this.slot, keypair: { remoteIndex: r.remoteIndex, key: r.sendKey, confirmIndex: r.localIndex } });
    r.recvKey.fill(0);
    r.sendKey.fill(0);
    // Not a handshake yet: an initiator with another PresharedKey gets this
    // far and no further. It counts once the initiator uses the keys (onFirstData).
  }

  /** The first authenticated data under one of our keys (the workers report it once per key). */
  onFirstData(localIndex: number): void {
    const kp = this.next;
    if (!kp || kp.localIndex !== localIndex) return;
    // The transmit worker has usually taken the key up already; this covers the case where it has not.
    this.datapath.toTx({ t: 'key-confirmed', peer: this.slot, localIndex });
    this.retire(this.previous);
    this.previous = this.current;
    this.current = kp;
    kp.packetsAtStart = this.counter(PEER.txPackets);
    this.next = null;
    this.handshakeDone();
  }

  private handshakeDone(): void {
    const first = this.lastHandshakeAt === null;
    this.lastHandshakeAt = Date.now();
    this.handshakeCount++;
    this.log[first ? 'info' : 'debug'](this.named('handshake completed'));
  }

  /** Forgets a keypair: the RX worker drops its key. */
  private retire(kp: Keypair | null): void {
    if (!kp) return;
    this.host.dropIndex(kp.localIndex);
    this.datapath.toRx({ t: 'receive-key-remove', localIndex: kp.localIndex });
  }

  /** Whether an initiation of ours waits for its response (the interface then ticks every TIMERS.tickMs, for its retransmission). */
  get awaitingHandshake(): boolean {
    return this.pending !== null;
  }

  /** The interface's tick (peer-set.ts): every TIMERS.tickMs while a handshake is outstanding, else every TIMERS.idleTickMs. */
  onTick(now: number = Date.now()): void {
    if (this.stopped) return;
    // Retransmit an unanswered initiation; give up after rekeyAttemptMs.
    if (this.pending) {
      if (now - this.pending.firstSentAt > TIMERS.rekeyAttemptMs) {
        this.log.warn(this.named('no handshake response; giving up until there is traffic to send'));
        this.host.dropIndex(this.pending.localIndex);
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
    const sealed = cur ? Math.min(this.counter(PEER.txCounter), this.counter(PEER.txPackets) - cur.packetsAtStart) : 0;
    if (cur && cur === this.current && this.countRekeyFor !== cur && sealed >= TIMERS.rekeyAfterMessages && !this.pending) {
      this.countRekeyFor = cur;
      this.initiate('rekey: message limit');
    }
    if (!cur) return;
    // Passive keepalive: data came in, nothing went out since.
    const rxData = this.counter(PEER.rxLastDataMs);
    const txData = this.counter(PEER.txLastDataMs);
    if (rxData > this.lastKeepaliveFor && txData < rxData && now - rxData >= TIMERS.keepaliveMs) {
      this.lastKeepaliveFor = rxData;
      this.datapath.toTx({ t: 'keepalive', peer: this.slot });
    }
    const pk = this.options.persistentKeepalive * 1000;
    if (pk > 0 && now - Math.max(txData, this.lastPersistentKeepalive) >= pk) {
      this.lastPersistentKeepalive = now;
      this.datapath.toTx({ t: 'keepalive', peer: this.slot });
    }
  }

  /**
   * WireGuard's new_handshake timer, from the shared counters: armed when
   * data (not a keepalive) is sent while nothing is outstanding, disarmed by
   * any authenticated message from the peer; true once it has run for
   * newHandshakeMs (then it is disarmed, to re-arm on the next data sent).
   */
  private trackUnanswered(now: number): boolean {
    const packets = this.counter(PEER.txPackets);
    const keepalives = this.counter(PEER.txKeepalives);
    const dataSent = packets - this.seenPackets > keepalives - this.seenKeepalives;
    this.seenPackets = packets;
    this.seenKeepalives = keepalives;
    const heard = Math.max(this.counter(PEER.rxLastAuthMs), this.lastHandshakeHeard);
    if (this.unansweredSince !== null && heard >= this.unansweredSince) this.unansweredSince = null;
    if (this.unansweredSince === null && dataSent && this.counter(PEER.txLastDataMs) > heard) {
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
      // Named: a newer key the transmit worker took up meanwhile stays.
      this.datapath.toTx({ t: 'send-key-expired', peer: this.slot, remoteIndex: kp.remoteIndex });
      this.log.info(this.named('session expired'));
    } else if (kp === this.previous) this.previous = null;
    else if (kp === this.next) this.next = null;
  }
}
