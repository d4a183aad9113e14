// One peer of the handshake storm, speaking sealtun's wire protocol with the
// project's own code: Handshake (Noise IKpsk2 initiation/response), CookieJar
// (a server under load answers with a cookie reply; mac2 then proves our
// address), DataSealer/DataOpener (data messages). Its life:
//
//   initiation ──→            (cookie reply ──→ initiation again, with mac2)
//   ←── response: handshake done; send a keepalive (an empty data message,
//                 which confirms the session to the responder) and one ICMP
//                 echo request from our inner address to the server's
//   ←── data: the echo reply, opened under the new session: done (an
//                 unanswered echo is sent again every second, as ping does).
//
// An attempt unanswered within attemptMs is retried with a fresh initiation,
// as a real initiator would; after `attempts` it gives up.
import type { Socket } from 'node:dgram';
import { randomInt } from 'node:crypto';
import type { Aead } from '../src/crypto/aead/aead.js';
import { TAG_BYTES } from '../src/crypto/aead/aead.js';
import { DATA_HEADER_BYTES, DataOpener, DataSealer } from '../src/crypto/data-packet.js';
import { decodeKey } from '../src/crypto/keys.js';
import { CookieJar } from '../src/tunnel/peer/cookie.js';
import { Handshake } from '../src/tunnel/peer/handshake.js';
import { INITIATION, MESSAGE_COOKIE_REPLY, MESSAGE_DATA, MESSAGE_RESPONSE } from '../src/tunnel/messages.js';
import { echoRequest, isEchoReply } from './storm-icmp.js';

export interface StormServer {
  host: string;
  port: number;
  /** base64 */
  publicKey: string;
  inner: string;
}

export interface StormCounters {
  initiations: number;
  cookieReplies: number;
  /** Initiations sent again because an attempt went unanswered for attemptMs. */
  retries: number;
  handshakes: number;
  keepalives: number;
  echoesSent: number;
  /** Echo requests sent again because the one before went unanswered for ECHO_RESEND_MS. */
  echoResends: number;
  echoReplies: number;
  /** Handshake messages rejected, by reason (handshake.ts / cookie.ts). */
  rejected: Record<string, number>;
}

export function newCounters(): StormCounters {
  return { initiations: 0, cookieReplies: 0, retries: 0, handshakes: 0, keepalives: 0, echoesSent: 0, echoResends: 0, echoReplies: 0, rejected: {} };
}

export type PeerOutcome = 'echoed' | 'no-echo' | 'no-handshake';

export interface PeerTiming {
  outcome: PeerOutcome;
  /** ms from the first initiation to the response taken, or null. */
  handshakeMs: number | null;
  /** performance.now() when the response was taken, or null. */
  handshakeAt: number | null;
}

/**
 * An unanswered echo is sent again after this long, as ping would: a reply
 * can be lost while the responder's new session is still being confirmed.
 */
const ECHO_RESEND_MS = 1000;

/** What a storm peer tells its driver. */
export interface PeerEvents {
  /** Once: the handshake completed, or was given up; the peer no longer counts as mid-handshake. */
  handshakeSettled: () => void;
  /** Once, last: how it went. */
  done: (t: PeerTiming) => void;
}

export interface PeerOptions {
  attemptMs: number;
  attempts: number;
}

export class StormPeer {
  private readonly handshake: Handshake;
  private readonly jar: CookieJar;
  private readonly echoId: number;
  private sealer: DataSealer | null = null;
  private opener: DataOpener | null = null;
  private timer: NodeJS.Timeout | null = null;
  private resender: NodeJS.Timeout | null = null;
  private echoSeq = 0;
  private attempt = 0;
  private startedAt = 0;
  private handshakeAt: number | null = null;
  private settled = false;

  constructor(
    privateKey: string,
    private readonly addr: string,
    private readonly server: StormServer,
    private readonly socket: Socket,
    private readonly aead: Aead,
    private readonly counters: StormCounters,
    private readonly opts: PeerOptions,
    private readonly events: PeerEvents,
  ) {
    const serverPublic = decodeKey(server.publicKey, 'storm input', 'public key');
    const staticPrivate = decodeKey(privateKey, 'storm input', 'private key');
    this.handshake = new Handshake({ staticPrivate, peerPublic: serverPublic });
    staticPrivate.fill(0);
    this.jar = new CookieJar(serverPublic);
    this.echoId = randomInt(1, 0xffff);
    socket.on('message', (msg) => this.receive(msg));
  }

  start(): void {
    this.startedAt = performance.now();
    this.initiate();
  }

  private initiate(): void {
    if (this.attempt++ >= this.opts.attempts) return this.finish('no-handshake');
    const index = randomInt(0, 2 ** 32 - 1);
    const msg = this.handshake.createInitiation(index);
    this.jar.stamp(msg, INITIATION, index);
    this.counters.initiations++;
    this.send(msg);
    this.arm(() => {
      this.counters.retries++;
      this.initiate();
    });
  }

  private receive(msg: Buffer): void {
    if (this.settled) return;
    switch (msg[0]) {
      case MESSAGE_COOKIE_REPLY: {
        const err = this.jar.consumeReply(msg);
        if (err) return this.reject(`cookie-${err.reason}`);
        this.counters.cookieReplies++;
        return this.initiate(); // at once, now with mac2; the attempt counts
      }
      case MESSAGE_RESPONSE:
        return this.takeResponse(msg);
      case MESSAGE_DATA:
        return this.takeData(msg);
    }
  }

  private takeResponse(msg: Buffer): void {
    if (this.sealer) return; // a late response to an earlier attempt
    const r = this.handshake.consumeResponse(msg);
    if (!r.ok) return this.reject(r.reason);
    this.handshakeAt = performance.now();
    this.counters.handshakes++;
    this.sealer = new DataSealer(this.aead, r.result.sendKey, r.result.remoteIndex);
    this.opener = new DataOpener(this.aead, r.result.recvKey);
    r.result.sendKey.fill(0);
    r.result.recvKey.fill(0);
    this.sendData(new Uint8Array(0));
    this.counters.keepalives++;
    this.sendEcho();
    this.resender = setInterval(() => {
      this.counters.echoResends++;
      this.sendEcho();
    }, ECHO_RESEND_MS);
    this.arm(() => this.finish('no-echo'));
    this.events.handshakeSettled();
  }

  private takeData(msg: Buffer): void {
    if (!this.opener) return;
    const n = this.opener.open(msg, msg.length);
    if (n <= 0) return;
    if (!isEchoReply(msg.subarray(DATA_HEADER_BYTES, DATA_HEADER_BYTES + n), this.echoId)) return;
    this.counters.echoReplies++;
    this.finish('echoed');
  }

  private sendEcho(): void {
    this.sendData(echoRequest(this.addr, this.server.inner, this.echoId, ++this.echoSeq));
    this.counters.echoesSent++;
  }

  private sendData(packet: Uint8Array): void {
    const buf = new Uint8Array(DATA_HEADER_BYTES + packet.length + TAG_BYTES);
    buf.set(packet, DATA_HEADER_BYTES);
    this.send(buf.subarray(0, this.sealer!.seal(buf, packet.length)));
  }

  private send(msg: Uint8Array): void {
    this.socket.send(msg, this.server.port, this.server.host);
  }

  private arm(then: () => void): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(then, this.opts.attemptMs);
  }

  private reject(reason: string): void {
    this.counters.rejected[reason] = (this.counters.rejected[reason] ?? 0) + 1;
  }

  private finish(outcome: PeerOutcome): void {
    if (this.settled) return;
    this.settled = true;
    if (this.timer) clearTimeout(this.timer);
    if (this.resender) clearInterval(this.resender);
    this.handshake.destroy();
    this.jar.destroy();
    this.sealer?.destroy();
    this.opener?.destroy();
    const at = this.handshakeAt;
    if (at === null) this.events.handshakeSettled();
    this.events.done({ outcome, handshakeAt: at, handshakeMs: at === null ? null : at - this.startedAt });
  }
}
