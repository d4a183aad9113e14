// The sending half of the data path:
//   TUN read (non-blocking, up to a batch) → seal in place → one batched send.
// It runs on a thread of its own over TCP (tx-worker.ts) and shares one with
// RxLoop over UDP (udp-loop.ts).
// Control messages from the main thread arrive on the port and are pulled
// synchronously when the wake eventfd fires, so the loop never returns to an
// event loop and nothing on the packet path allocates.
import type { Aead } from '../../crypto/aead/aead.js';
import { DataSealer, DATA_HEADER_BYTES } from '../../crypto/data-packet.js';
import * as libc from '../../sys/libc.js';
import { VNET_HDR_BYTES } from '../../tun/device.js';
import { MSG_OFFSET, PacketBatch } from '../../transport/batch.js';
import { TcpBatchSender, type SendResult } from '../../transport/tcp-stream.js';
import type { TransportKind } from '../../transport/transport.js';
import { UdpBatchSender } from '../../transport/udp-batch.js';
import { AllowedIPs } from '../allowed-ips.js';
import { MESSAGE_INITIATION_BYTES } from '../messages.js';
import { MssClamp } from './mss-clamp.js';
import { PollSet } from './poll-set.js';
import { runKeptWarm, type SteppedLoop, type WarmSpell } from './warm-spell.js';
import { wrapStats, TX } from '../stats.js';
import type { DatapathInit, ToTx } from './worker-messages.js';
import { post, takeMessages } from './worker-port.js';

/** The main thread is asked for a handshake at most this often while packets wait for a session. */
const NEED_HANDSHAKE_INTERVAL_MS = 1000;
/** Handshake messages held while a TCP batch waits for the socket; older ones are superseded anyway. */
const MAX_DEFERRED = 4;

/** Sends through one transport, for one batch of slots. */
interface Sender {
  send(count: number): SendResult;
}

/** One transport's senders: data packets, and handshake messages and keepalives. */
interface Path {
  data: Sender;
  ctl: Sender;
}

/** A class, not a closure per loop: one call target for the optimized send path. */
class UdpSender implements Sender {
  constructor(private readonly udp: UdpBatchSender) {}

  send(count: number): SendResult {
    return this.udp.send(count) === count ? 'sent' : 'failed';
  }
}

function controlBatch(): PacketBatch {
  return new PacketBatch(MSG_OFFSET + MESSAGE_INITIATION_BYTES, 1);
}

export class TxLoop implements SteppedLoop {
  /** Data packets. */
  private readonly batch: PacketBatch;
  /**
   * Handshake messages and keepalives, so they never touch a batch still
   * being written; one per transport, so a message sent over UDP never
   * overwrites a frame half written into a full TCP socket (auto).
   */
  private readonly control = { udp: controlBatch(), tcp: controlBatch() };
  private readonly payloadPtrs: libc.Pointer[];
  private readonly maxPayload: number;
  /** Where the IP header starts in a message (after the virtio_net_hdr, if the wire carries it). */
  private readonly ipOffset: number;
  /** virtio_net_hdr bytes read from the TUN that the wire does not carry (read into header room). */
  private readonly stripped: number;
  private readonly udp: [UdpBatchSender, UdpBatchSender] | null = null;
  private readonly tcp: [TcpBatchSender, TcpBatchSender] | null = null;
  /** The transports this worker can send on: one, or both under Transport = auto. */
  private readonly paths: Partial<Record<TransportKind, Path>> = {};
  /** Where data and keepalives go now. */
  private path: TransportKind;
  /** Replaced whole by an 'allowed-ips' message (a reload), never changed in place. */
  private allowed: AllowedIPs;
  private readonly mss: MssClamp;
  private readonly stats: Float64Array;
  private readonly poller: PollSet;
  private sealer: DataSealer | null = null;
  private lastNeedHandshake = 0;
  /** Handshake messages for the TCP connection while a data batch waits for it. */
  private deferred: Uint8Array[] = [];
  private waitingForSocket = false;
  /** The id of the TCP connection sent on (tcp-link.ts), echoed in reports about it. */
  private tcpConn = 0;
  /** The last drain found at most one packet: the next one is sent on its own, at once. */
  private quiet = true;

  constructor(
    private readonly init: DatapathInit,
    readonly aead: Aead,
  ) {
    this.batch = new PacketBatch(MSG_OFFSET + init.maxMessage);
    this.stripped = init.tunVnetHdr && !init.wireVnetHdr ? VNET_HDR_BYTES : 0;
    this.payloadPtrs = this.batch.slotPtrs.map((p) => p + BigInt(MSG_OFFSET + DATA_HEADER_BYTES - this.stripped));
    this.maxPayload = init.maxPlaintext + this.stripped;
    this.ipOffset = DATA_HEADER_BYTES + (init.wireVnetHdr ? VNET_HDR_BYTES : 0);
    if (init.transport !== 'tcp') {
      this.udp = [new UdpBatchSender(init.udpFd, this.batch), new UdpBatchSender(init.udpFd, this.control.udp)];
      this.paths.udp = { data: new UdpSender(this.udp[0]), ctl: new UdpSender(this.udp[1]) };
    }
    if (init.transport !== 'udp') {
      this.tcp = [new TcpBatchSender(this.batch), new TcpBatchSender(this.control.tcp)];
      this.paths.tcp = { data: this.tcp[0], ctl: this.tcp[1] };
    }
    this.path = init.transport === 'tcp' ? 'tcp' : 'udp';
    this.allowed = new AllowedIPs(init.allowedIPs);
    this.mss = new MssClamp(init.mtu);
    this.stats = wrapStats(init.stats).f64;
    this.poller = new PollSet([init.wakeFd, init.tunFd]);
  }

  run(): void {
    runKeptWarm(this.aead, this.init, this);
  }

  /**
   * Waits up to `timeoutMs` (-1: no limit) and handles what is ready; false
   * when the loop must end. `warm`: the running loop's keep-warm state.
   */
  step(timeoutMs: number, warm?: WarmSpell): boolean {
    const poller = this.poller;
    if (poller.wait(timeoutMs) === 0) {
      // Nothing ready: the work a packet would cause, on nothing, to keep that path warm (warm-spell.ts).
      warm?.exercise();
      return this.waitingForSocket || this.drainTun();
    }
    if (poller.ready(0) && !takeMessages(this.init.wakeFd, (m: ToTx) => this.apply(m))) return false;
    if (!poller.ready(1)) return true;
    if (!this.waitingForSocket) return this.drainTun();
    this.resumeTcp();
    return true;
  }


  /** Applies one control message; false when told to stop. */
  apply(msg: ToTx): boolean {
    switch (msg.t) {
      case 'allowed-ips':
        this.allowed = new AllowedIPs(msg.allowedIPs);
        break;
      case 'send-key':
        this.sealer?.destroy();
        this.sealer = msg.keypair ? new DataSealer(this.aead, msg.keypair.key, msg.keypair.remoteIndex) : null;
        msg.keypair?.key.fill(0);
        break;
      case 'udp-destination':
        for (const u of this.udp ?? []) u.setDestination(msg.sockaddr, msg.len);
        break;
      case 'tcp-connection': {
        const old = this.tcp?.[0].connection ?? -1;
        const oldConn = this.tcpConn;
        for (const t of this.tcp ?? []) t.setConnection(msg.fd);
        this.tcpConn = msg.conn;
        this.deferred = [];
        this.waitFor('tun');
        if (old >= 0 && oldConn !== msg.conn) post({ t: 'tcp-released', fd: old, conn: oldConn });
        break;
      }
      case 'path':
        if (!this.paths[msg.kind]) break;
        this.path = msg.kind;
        if (msg.kind === 'udp' && this.waitingForSocket) {
          // A frame half written into the TCP connection cannot be finished
          // on another path: that connection is done; data goes on over UDP.
          this.finish('failed', null, 0, 'tcp');
          this.deferred = [];
          this.waitFor('tun');
        }
        break;
      case 'send': {
        const via = msg.via && this.paths[msg.via] ? msg.via : this.path;
        if (this.waitingForSocket && via === 'tcp') {
          this.deferred.push(msg.message);
          if (this.deferred.length > MAX_DEFERRED) this.deferred.shift();
        } else this.sendControl(msg.message, via);
        break;
      }
      case 'keepalive':
        // While data waits for the socket there is no point in a keepalive.
        if (this.sealer && !(this.waitingForSocket && this.path === 'tcp')) {
          const batch = this.control[this.path];
          batch.lens[0] = this.sealer.seal(batch.messages[0]!, 0);
          const result = this.paths[this.path]!.ctl.send(1);
          this.finish(result, batch, 1, this.path);
          // Counted as finish() counts packets, so the timers can subtract one from the other.
          if (result !== 'failed') this.stats[TX.keepalives]!++;
        }
        break;
      case 'stop':
        this.sealer?.destroy();
        return false;
    }
    return true;
  }

  private sendControl(message: Uint8Array, via: TransportKind): void {
    const batch = this.control[via];
    batch.messages[0]!.set(message);
    batch.lens[0] = message.length;
    this.finish(this.paths[via]!.ctl.send(1), null, 0, via);
  }

  /**
   * Reads up to a batch of packets from the TUN, seals them and sends them.
   * False when the TUN failed for good (e.g. the interface was deleted).
   */
  drainTun(): boolean {
    const { messages, lens, size } = this.batch;
    const tunFd = this.init.tunFd;
    let count = 0;
    let taken = 0;
    // After a quiet spell the first packet leaves as soon as it is sealed,
    // before the read that finds the TUN empty (a ping through an idle tunnel).
    let sendFirst = this.quiet;
    while (count < size) {
      const got = libc.read(tunFd, this.payloadPtrs[count]!, this.maxPayload);
      if (got < 0) {
        const e = libc.errno();
        if (e === libc.EINTR) continue;
        if (e === libc.EAGAIN) break;
        post({ t: 'error', message: `TUN read failed: ${libc.errnoName(e)}` });
        return false;
      }
      if (got <= this.stripped) continue;
      const n = got - this.stripped;
      const msg = messages[count]!;
      const ipLen = n + DATA_HEADER_BYTES - this.ipOffset;
      if (!this.allowed.containsDestination(msg, this.ipOffset, ipLen)) {
        this.stats[TX.dropNoRoute]!++;
        continue;
      }
      this.mss.apply(msg, this.ipOffset, ipLen, this.init.wireVnetHdr ? msg[DATA_HEADER_BYTES]! : 0);
      if (!this.sealer) {
        this.stats[TX.dropNoSession]!++;
        this.askForHandshake();
        continue;
      }
      try {
        lens[count] = this.sealer.seal(msg, n);
      } catch {
        // The key reached its message limit: never reuse a nonce, wait for a new key.
        this.sealer.destroy();
        this.sealer = null;
        this.stats[TX.dropNoSession]!++;
        this.askForHandshake();
        continue;
      }
      count++;
      taken++;
      if (sendFirst) {
        sendFirst = false;
        this.finish(this.paths[this.path]!.data.send(1), this.batch, 1, this.path);
        count = 0;
        // A TCP frame left half written holds slot 0 until the socket drains.
        if (this.waitingForSocket) break;
      }
    }
    this.quiet = taken <= 1;
    if (count > 0) this.finish(this.paths[this.path]!.data.send(count), this.batch, count, this.path);
    return true;
  }

  /**
   * Accounts for a send of `count` data messages of `batch` (null: a
   * handshake message, not counted) over `via`; a blocked TCP batch switches
   * the loop to waiting for the socket.
   */
  private finish(result: SendResult, batch: PacketBatch | null, count: number, via: TransportKind): void {
    if (result === 'failed' && via === 'tcp' && this.tcp) {
      const fd = this.tcp[0].connection;
      if (fd >= 0) {
        for (const t of this.tcp) t.setConnection(-1);
        post({ t: 'send-failed', fd, conn: this.tcpConn });
        post({ t: 'tcp-released', fd, conn: this.tcpConn });
      }
    }
    if (result === 'blocked') this.waitFor('socket');
    if (!batch) return;
    const s = this.stats;
    if (result === 'failed') {
      s[TX.dropSendFailed]! += count;
      return;
    }
    let bytes = 0;
    for (let i = 0; i < count; i++) bytes += batch.lens[i]!;
    s[TX.packets]! += count;
    s[TX.bytes]! += bytes;
    s[TX.lastDataMs] = Date.now();
    // Published for the rekey-after-messages timer on the main thread.
    s[TX.counter] = this.sealer ? this.sealer.counter : 0;
  }

  private resumeTcp(): void {
    // Whichever batch the socket stopped (data, or a handshake message or
    // keepalive): a frame half written must be finished before anything else.
    const [data, ctl] = this.tcp!;
    const result = (ctl.blocked ? ctl : data).resume();
    if (result === 'blocked') return;
    this.waitFor('tun');
    if (result === 'failed') this.finish('failed', null, 0, 'tcp');
    const deferred = this.deferred;
    this.deferred = [];
    for (let i = 0; i < deferred.length; i++) {
      this.sendControl(deferred[i]!, 'tcp');
      // Stopped again: the rest waits, in order, behind the half-written frame.
      if (this.waitingForSocket) {
        this.deferred = deferred.slice(i + 1);
        break;
      }
    }
  }

  /** What the second poll entry watches: the TUN for packets, or the TCP socket for room. */
  private waitFor(what: 'tun' | 'socket'): void {
    const socket = what === 'socket';
    if (socket === this.waitingForSocket) return;
    this.waitingForSocket = socket;
    this.poller.set([this.init.wakeFd, socket ? [this.tcp![0].connection, libc.POLLOUT] : this.init.tunFd]);
  }

  private askForHandshake(): void {
    const now = Date.now();
    if (now - this.lastNeedHandshake < NEED_HANDSHAKE_INTERVAL_MS) return;
    this.lastNeedHandshake = now;
    post({ t: 'need-handshake' });
  }
}
