// The peer's sessions on the main thread: when to start a handshake, what
// to do with handshake messages, which keypairs the workers use, and the
// timers that keep keys fresh and the path alive (see timers.ts).
//
// Keypairs, as in WireGuard: `current` sends; `previous` still receives
// in-flight packets after a rekey; a responder's new keypair waits as `next`
// until the initiator has sent with it (key confirmation), so the responder
// never sends on a key the initiator might not have.
import { randomBytes } from 'node:crypto';
import type { Handshake, HandshakeResult } from './handshake.js';
import { MESSAGE_INITIATION, MESSAGE_RESPONSE } from './messages.js';
import type { Datapath } from './datapath.js';
import type { Link } from './link.js';
import type { Logger } from './log.js';
import { HANDSHAKE_BACKLOG_SLOT, RX, TX, type Stats } from './stats.js';
import { TIMERS } from './timers.js';
import type { FromWorker } from './worker-messages.js';

interface Keypair {
  localIndex: number;
  remoteIndex: number;
  createdAt: number;
  isInitiator: boolean;
  /** Held only while a responder's keypair waits for confirmation. */
  sendKey: Uint8Array | null;
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
  private lastKeepaliveFor = 0;
  private lastPersistentKeepalive = 0;
  /** Wall-clock time of the latest completed handshake, for status. */
  lastHandshakeAt: number | null = null;
  /** Handshake messages rejected, by reason. */
  readonly handshakeDrops = new Map<string, number>();

  constructor(
    private readonly handshake: Handshake,
    private readonly link: Link,
    private readonly datapath: Datapath,
    private readonly stats: Stats,
    private readonly options: PeerOptions,
    private readonly log: Logger,
  ) {}

  start(): void {
    this.link.on('up', () => {
      if (this.options.initiates) this.initiate('link up');
    });
    this.link.on('down', () => {
      this.pending = null;
    });
    this.tick = setInterval(() => this.onTick(), TIMERS.tickMs);
  }

  stop(): void {
    if (this.tick) clearInterval(this.tick);
    for (const kp of [this.current, this.previous, this.next]) kp?.sendKey?.fill(0);
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
    this.link.send(message);
    this.pending = {
      localIndex,
      firstSentAt: this.pending?.firstSentAt ?? now,
      lastSentAt: now,
      retryAfterMs: TIMERS.rekeyTimeoutMs + Math.random() * TIMERS.rekeyJitterMs,
    };
    this.log.debug(`handshake initiation sent (${why})`);
  }

  private onHandshake(message: Uint8Array, source: Uint8Array | null, fd: number): void {
    const type = message[0];
    if (type === MESSAGE_INITIATION) {
      const r = this.handshake.consumeInitiation(message);
      if (!r.ok) return this.dropHandshake(r.reason);
      this.link.confirmPeer(source, fd);
      const localIndex = randomIndex();
      const { message: response, result } = this.handshake.createResponse(localIndex);
      this.options.onSession?.(result.peerFeatures);
      // The receive key is in place before the response can bring the first data.
      this.installResponder(result);
      this.link.send(response);
    } else if (type === MESSAGE_RESPONSE) {
      const r = this.handshake.consumeResponse(message);
      if (!r.ok) return this.dropHandshake(r.reason);
      this.link.confirmPeer(source, fd);
      this.pending = null;
      this.options.onSession?.(r.result.peerFeatures);
      this.installInitiator(r.result);
      // Confirms the new key to the responder at once, even with no data to send.
      this.datapath.toTx({ t: 'keepalive' });
    } else {
      this.dropHandshake('unexpected-type');
    }
  }

  private dropHandshake(reason: string): void {
    this.handshakeDrops.set(reason, (this.handshakeDrops.get(reason) ?? 0) + 1);
    this.log.debug(`handshake message dropped: ${reason}`);
  }

  private installInitiator(r: HandshakeResult): void {
    this.retire(this.previous);
    this.previous = this.current;
    this.current = { localIndex: r.localIndex, remoteIndex: r.remoteIndex, createdAt: Date.now(), isInitiator: true, sendKey: null };
    this.datapath.toRx({ t: 'receive-key-add', keypair: { localIndex: r.localIndex, key: r.recvKey } });
    this.datapath.toTx({ t: 'send-key', keypair: { remoteIndex: r.remoteIndex, key: r.sendKey } });
    r.recvKey.fill(0);
    r.sendKey.fill(0);
    this.handshakeDone();
  }

  private installResponder(r: HandshakeResult): void {
    this.retire(this.next);
    this.next = { localIndex: r.localIndex, remoteIndex: r.remoteIndex, createdAt: Date.now(), isInitiator: false, sendKey: r.sendKey };
    this.datapath.toRx({ t: 'receive-key-add', keypair: { localIndex: r.localIndex, key: r.recvKey } });
    r.recvKey.fill(0);
    this.handshakeDone();
  }

  private onFirstData(localIndex: number): void {
    const kp = this.next;
    if (!kp || kp.localIndex !== localIndex || !kp.sendKey) return;
    this.retire(this.previous);
    this.previous = this.current;
    this.current = kp;
    this.next = null;
    this.datapath.toTx({ t: 'send-key', keypair: { remoteIndex: kp.remoteIndex, key: kp.sendKey } });
    kp.sendKey.fill(0);
    kp.sendKey = null;
  }

  private handshakeDone(): void {
    const first = this.lastHandshakeAt === null;
    this.lastHandshakeAt = Date.now();
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
      } else if (now - this.pending.lastSentAt >= this.pending.retryAfterMs) {
        this.initiate('retransmit');
      }
    }
    // Keys expire: never send or accept on a key past its lifetime.
    for (const kp of [this.previous, this.next, this.current]) {
      if (kp && now - kp.createdAt > TIMERS.rejectAfterMs) this.expire(kp);
    }
    const cur = this.current;
    if (this.options.initiates && !this.pending) {
      // Keep keys fresh: the side that started this session starts the next.
      if (cur && cur.isInitiator && now - cur.createdAt > TIMERS.rekeyAfterMs) this.initiate('rekey');
      // We sent, nothing authenticated came back for a while: the session may be dead.
      const sent = f[TX.lastDataMs]!;
      const heard = f[RX.lastAuthMs]!;
      if (cur && sent - heard > TIMERS.newHandshakeMs && now - sent < TIMERS.keepaliveMs) this.initiate('no reply');
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
