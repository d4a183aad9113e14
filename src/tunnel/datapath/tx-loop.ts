// The sending half of the data path:
//   TUN read (non-blocking, up to a batch) → seal in place → one batched send.
// It runs on a thread of its own over TCP (tx-worker.ts) and shares one with
// RxLoop over UDP (udp-loop.ts).
// Control messages from the main thread arrive on the port and are pulled
// synchronously when the wake eventfd fires, so the loop never returns to an
// event loop and nothing on the packet path allocates.
import type { Aead } from '../../crypto/aead/aead.js';
import { DataSealer, DATA_FLAG_CSUM_PARTIAL, DATA_HEADER_BYTES } from '../../crypto/data-packet.js';
import * as libc from '../../sys/libc.js';
import { VNET_HDR_BYTES } from '../../tun/device.js';
import { MSG_OFFSET, PacketBatch } from '../../transport/batch.js';
import { TcpBatchSender, type SendResult } from '../../transport/tcp-stream.js';
import type { TransportKind } from '../../transport/transport.js';
import { UdpBatchSender } from '../../transport/udp-batch.js';
import { RoutingTable } from '../routing-table.js';
import { MESSAGE_INITIATION_BYTES } from '../messages.js';
import { MssClamp } from './mss-clamp.js';
import { PollSet } from './poll-set.js';
import { ChecksumMemory } from './inet-checksum.js';
import { TsoSplitter } from './tso-split.js';
import { VIRTIO_NET_HDR_F_NEEDS_CSUM } from './vnet-header.js';
import { runKeptWarm, type SteppedLoop, type WarmSpell } from './warm-spell.js';
import { clearPeerFields, PEER, PEER_SLOTS, peerCounters, wrapStats, TX } from '../stats.js';
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

/** What the sending half knows of one peer. */
class TxPeer {
  sealer: DataSealer | null = null;
  /**
   * Bytes its TCP connection did not take (the rest of a batch), sent from
   * `backlogAt` as the socket drains; meanwhile its new packets are dropped
   * and the other peers go on (null: none waiting).
   */
  backlog: Uint8Array | null = null;
  backlogAt = 0;
  /** A responder's next key, waiting for the peer to use it first (SendingKeypair.confirmIndex). */
  pending: { sealer: DataSealer; confirmIndex: number } | null = null;
  /** Its UDP address (an encoded sockaddr), made when first known (an idle peer costs no buffer); `destLen` 0 until then. */
  dest: Uint8Array | null = null;
  destLen = 0;
  /** Its TCP connection (-1: none) and that connection's id (tcp-link.ts). */
  tcpFd = -1;
  tcpConn = 0;
  /** Where its data and keepalives go (Transport = auto may move it). */
  path: TransportKind;
  /** It announced FEATURE_CSUM_PARTIAL: TSO segments go to it with their checksums partial (tso-split.ts). */
  csumPartial = false;
  lastNeedHandshake = 0;
  /** Where its counters start in the peer counters (stats.ts PEER). */
  readonly base: number;

  constructor(
    readonly slot: number,
    path: TransportKind,
  ) {
    this.path = path;
    this.base = slot * PEER_SLOTS;
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
  /** A new peer's path: the transport's, or UDP first under auto. */
  private readonly firstPath: TransportKind;
  /** Cryptokey routing: which peer a packet's destination belongs to. */
  private readonly routes = new RoutingTable();
  /** By slot. */
  private readonly peers: Array<TxPeer | undefined> = [];
  private readonly mss: MssClamp;
  private readonly stats: Float64Array;
  private readonly peerStats: Float64Array;
  private readonly poller: PollSet;
  /** Handshake messages for TCP connections while a data batch waits for a socket. */
  private deferred: Array<{ peer: TxPeer; message: Uint8Array }> = [];
  private waitingForSocket = false;
  /** The peer whose TCP connection a half-written batch waits for (one peer: the loop waits with it). */
  private blockedPeer: TxPeer | null = null;
  /** Peers known to the loop: with more than one, a full connection holds up only its own peer (backlog). */
  private peerCount = 0;
  /** Peers with a backlog, in the poll set after the TUN, each for room on its connection. */
  private readonly backlogged: TxPeer[] = [];
  /**
   * A packet sealed for another peer when the batch before it stopped on a
   * full TCP socket: slot and peer, sent first once that socket drains.
   */
  private carry: { slot: number; peer: TxPeer } | null = null;
  /** Whose address each UDP sender holds now (a destination is copied in only when the peer changes). */
  private readonly udpDestFor: [TxPeer | null, TxPeer | null] = [null, null];
  /** The last drain found at most one packet: the next one is sent on its own, at once. */
  private quiet = true;
  /**
   * UDP (and auto): what the TUN hands over (a TCP super-packet, or a packet
   * whose checksum the kernel left open) becomes ordinary packets in the
   * slots (tso-split.ts); null over TCP, whose wire carries super-packets whole.
   */
  private readonly split: TsoSplitter | null = null;
  /** Where each slot's IP packet starts in the batch's memory. */
  private readonly packetAt: number[] = [];

  constructor(
    private readonly init: DatapathInit,
    readonly aead: Aead,
  ) {
    this.stripped = init.tunVnetHdr && !init.wireVnetHdr ? VNET_HDR_BYTES : 0;
    // The splitter's read buffer after the slots: its copies stay in one ArrayBuffer.
    this.batch = new PacketBatch(MSG_OFFSET + init.maxMessage, undefined, this.stripped > 0 ? TsoSplitter.INPUT_BYTES : 0);
    this.payloadPtrs = this.batch.slotPtrs.map((p) => p + BigInt(MSG_OFFSET + DATA_HEADER_BYTES - this.stripped));
    this.maxPayload = init.maxPlaintext + this.stripped;
    this.ipOffset = DATA_HEADER_BYTES + (init.wireVnetHdr ? VNET_HDR_BYTES : 0);
    if (this.stripped > 0) {
      const memory = new ChecksumMemory(this.batch.memory.buffer);
      this.split = new TsoSplitter(init.maxPlaintext, memory, this.batch.memory.byteOffset + this.batch.tailAt, this.batch.tailPtr);
      this.packetAt = this.batch.messages.map((m) => m.byteOffset + DATA_HEADER_BYTES);
    }
    if (init.transport !== 'tcp') {
      this.udp = [new UdpBatchSender(init.udpFd, this.batch), new UdpBatchSender(init.udpFd, this.control.udp)];
      this.paths.udp = { data: new UdpSender(this.udp[0]), ctl: new UdpSender(this.udp[1]) };
    }
    if (init.transport !== 'udp') {
      this.tcp = [new TcpBatchSender(this.batch), new TcpBatchSender(this.control.tcp)];
      this.paths.tcp = { data: this.tcp[0], ctl: this.tcp[1] };
    }
    this.firstPath = init.transport === 'tcp' ? 'tcp' : 'udp';
    this.mss = new MssClamp(init.mtu);
    this.stats = wrapStats(init.stats).f64;
    this.peerStats = peerCounters(init.peerStats);
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
    if (this.backlogged.length > 0) this.serveBacklogs();
    if (poller.ready(0) && !takeMessages(this.init.wakeFd, (m: ToTx) => this.apply(m))) return false;
    if (!poller.ready(1)) return true;
    if (!this.waitingForSocket) return this.drainTun();
    this.resumeTcp();
    // What is left of a super-packet is not on the TUN for poll to report.
    if (!this.waitingForSocket && this.split !== null && this.split.remaining > 0) return this.drainTun(false);
    return true;
  }


  /** The backlogged peers whose sockets poll found room on (entries after the TUN's). */
  private serveBacklogs(): void {
    const ready: TxPeer[] = [];
    for (let i = 0; i < this.backlogged.length; i++) if (this.poller.ready(2 + i)) ready.push(this.backlogged[i]!);
    for (const p of ready) this.flushBacklog(p);
  }

  /** Applies one control message; false when told to stop. */
  apply(msg: ToTx): boolean {
    if (msg.t === 'stop') {
      for (const p of this.peers) {
        p?.sealer?.destroy();
        p?.pending?.sealer.destroy();
      }
      return false;
    }
    if (msg.t === 'peer-add') {
      this.removePeer(msg.peer);
      const peer = new TxPeer(msg.peer, this.firstPath);
      this.peers[msg.peer] = peer;
      this.peerCount++;
      clearPeerFields(this.peerStats, msg.peer, 'tx');
      for (const c of msg.allowedIPs) this.routes.insert(c, msg.peer);
      return true;
    }
    const peer = this.peers[msg.peer];
    if (!peer) {
      // A message about a peer removed since (its key, say): nothing to do but wipe what it carried.
      if (msg.t === 'send-key') msg.keypair.key.fill(0);
      return true;
    }
    switch (msg.t) {
      case 'peer-remove':
        this.removePeer(msg.peer);
        break;
      case 'allowed-ips':
        this.routes.removePeer(msg.peer);
        for (const c of msg.allowedIPs) this.routes.insert(c, msg.peer);
        break;
      case 'send-key': {
        const kp = msg.keypair;
        const sealer = new DataSealer(this.aead, kp.key, kp.remoteIndex);
        kp.key.fill(0);
        // Either way a key still waiting is superseded: a newer responder key, or an initiator's key (confirmed by its response).
        peer.pending?.sealer.destroy();
        peer.pending = null;
        if (kp.confirmIndex !== undefined) {
          // A responder's key: the one in use (if any) stays until the peer uses this one.
          peer.pending = { sealer, confirmIndex: kp.confirmIndex };
          this.promote(peer);
          break;
        }
        peer.sealer?.destroy();
        peer.sealer = sealer;
        break;
      }
      case 'peer-features':
        peer.csumPartial = msg.csumPartial;
        break;
      case 'send-key-expired':
        if (peer.sealer?.receiverIndex === msg.remoteIndex) {
          peer.sealer.destroy();
          peer.sealer = null;
        }
        break;
      case 'key-confirmed':
        if (peer.pending?.confirmIndex === msg.localIndex) this.promote(peer, true);
        break;
      case 'udp-destination':
        peer.dest ??= new Uint8Array(libc.SIZEOF_SOCKADDR_STORAGE);
        peer.dest.fill(0);
        peer.dest.set(msg.sockaddr.subarray(0, Math.min(msg.len, peer.dest.length)));
        peer.destLen = msg.len;
        // Copied into the senders again at the peer's next send.
        this.udpDestFor[0] = this.udpDestFor[1] = null;
        break;
      case 'tcp-connection':
        this.setConnection(peer, msg.fd, msg.conn);
        break;
      case 'path':
        if (!this.paths[msg.kind]) break;
        peer.path = msg.kind;
        if (msg.kind === 'udp' && peer.backlog) {
          this.dropBacklog(peer);
          this.finish('failed', null, 0, 0, 'tcp', peer);
        }
        if (msg.kind === 'udp' && this.blockedPeer === peer) {
          // A frame half written into the TCP connection cannot be finished
          // on another path: that connection is done; data goes on over UDP.
          this.finish('failed', null, 0, 0, 'tcp', peer);
          this.unblock();
        }
        break;
      case 'send': {
        const via = msg.via && this.paths[msg.via] ? msg.via : peer.path;
        if (this.waitingForSocket && via === 'tcp') {
          this.deferred.push({ peer, message: msg.message });
          if (this.deferred.length > MAX_DEFERRED) this.deferred.shift();
        } else this.sendControl(peer, msg.message, via);
        break;
      }
      case 'keepalive':
        if (peer.pending) this.promote(peer);
        // While data waits for a socket there is no point in a keepalive over TCP.
        if (peer.sealer && !((this.waitingForSocket || peer.backlog) && peer.path === 'tcp')) {
          const batch = this.control[peer.path];
          batch.lens[0] = peer.sealer.seal(batch.messages[0]!, 0);
          const result = this.sendVia(peer.path, 'ctl', peer, 0, 1);
          this.finish(result, batch, 0, 1, peer.path, peer);
          // Counted as finish() counts packets, so the timers can subtract one from the other.
          if (result !== 'failed') {
            this.stats[TX.keepalives]!++;
            this.peerStats[peer.base + PEER.txKeepalives]!++;
          }
        }
        break;
    }
    return true;
  }

  /** A waiting responder key becomes the one sealed with once the peer has used it (rx-loop.ts sets the index). */
  private promote(peer: TxPeer, confirmed = false): void {
    const pending = peer.pending!;
    if (!confirmed && this.peerStats[peer.base + PEER.rxConfirmedIndex] !== pending.confirmIndex) return;
    peer.sealer?.destroy();
    peer.sealer = pending.sealer;
    peer.pending = null;
  }

  private removePeer(slot: number): void {
    const peer = this.peers[slot];
    if (!peer) return;
    this.peerCount--;
    this.dropBacklog(peer);
    peer.pending?.sealer.destroy();
    peer.pending = null;
    if (peer.tcpFd >= 0) this.setConnection(peer, -1, 0);
    peer.sealer?.destroy();
    peer.sealer = null;
    this.routes.removePeer(slot);
    this.peers[slot] = undefined;
    this.deferred = this.deferred.filter((d) => d.peer !== peer);
    if (this.carry?.peer === peer) this.carry = null;
    if (this.udpDestFor[0] === peer) this.udpDestFor[0] = null;
    if (this.udpDestFor[1] === peer) this.udpDestFor[1] = null;
  }

  /** The peer's TCP connection from now on (-1: none); the one it replaces is released to the main thread. */
  private setConnection(peer: TxPeer, fd: number, conn: number): void {
    const old = peer.tcpFd;
    const oldConn = peer.tcpConn;
    peer.tcpFd = fd;
    peer.tcpConn = conn;
    // What the old connection did not take cannot go on a new one (a frame may be half written).
    this.dropBacklog(peer);
    this.deferred = this.deferred.filter((d) => d.peer !== peer);
    if (this.blockedPeer === peer) {
      // What was half written on the old connection is abandoned with it.
      for (const t of this.tcp ?? []) t.setConnection(-1);
      this.unblock();
    }
    if (old >= 0 && oldConn !== conn) post({ t: 'tcp-released', fd: old, conn: oldConn });
  }

  /** Sends slots [from, from + count) of the data batch (`kind` 'data') or slot 0 of a control batch to `peer`. */
  private sendVia(via: TransportKind, kind: 'data' | 'ctl', peer: TxPeer, from: number, count: number): SendResult {
    const which = kind === 'data' ? 0 : 1;
    if (via === 'udp') {
      if (peer.destLen === 0) return 'failed';
      const udp = this.udp![which];
      if (this.udpDestFor[which] !== peer) {
        udp.setDestination(peer.dest!, peer.destLen);
        this.udpDestFor[which] = peer;
      }
      return udp.send(count, from) === count ? 'sent' : 'failed';
    }
    const tcp = this.tcp![which];
    if (tcp.connection !== peer.tcpFd) tcp.setConnection(peer.tcpFd);
    const result = tcp.send(count, from);
    if (result !== 'blocked') return result;
    if (this.peerCount > 1) {
      // Other peers must not wait for this one: what the socket did not take
      // is kept for it, and sent as its connection drains (flushBacklog).
      peer.backlog = tcp.takeUnsent();
      peer.backlogAt = 0;
      this.backlogged.push(peer);
      this.refreshPoll();
      return 'sent';
    }
    this.blockedPeer = peer;
    return result;
  }

  private sendControl(peer: TxPeer, message: Uint8Array, via: TransportKind): void {
    // Behind a backlog a handshake message would be late anyway; its sender retransmits.
    if (via === 'tcp' && peer.backlog) return;
    const batch = this.control[via];
    batch.messages[0]!.set(message);
    batch.lens[0] = message.length;
    this.finish(this.sendVia(via, 'ctl', peer, 0, 1), null, 0, 0, via, peer);
  }

  /**
   * Reads up to a batch of packets from the TUN, seals each for the peer its
   * destination routes to, and sends each run of packets for one peer
   * together. False when the TUN failed for good (e.g. the interface was deleted).
   * `read` false: only send what is left of a super-packet read before.
   */
  drainTun(read = true): boolean {
    if (this.carry && !this.sendCarry()) return true;
    const { messages, size } = this.batch;
    const tunFd = this.init.tunFd;
    const peers = this.peers;
    let count = 0;
    let taken = 0;
    /** The run of packets for one peer not yet sent: slots [runStart, count). */
    let runStart = 0;
    let runPeer: TxPeer | null = null;
    // After a quiet spell the first packet leaves as soon as it is sealed,
    // before the read that finds the TUN empty (a ping through an idle tunnel).
    let sendFirst = this.quiet;
    const split = this.split;
    while (count < size) {
      let n: number;
      if (split !== null && split.remaining > 0) n = split.next(this.packetAt[count]!);
      else {
        if (!read) break;
        const got = split !== null ? libc.read(tunFd, split.readPtr, split.readBytes) : libc.read(tunFd, this.payloadPtrs[count]!, this.maxPayload);
        if (got < 0) {
          const e = libc.errno();
          if (e === libc.EINTR) continue;
          if (e === libc.EAGAIN) break;
          post({ t: 'error', message: `TUN read failed: ${libc.errnoName(e)}` });
          return false;
        }
        if (split !== null) {
          if (split.load(got) === 0) continue;
          n = split.next(this.packetAt[count]!);
        } else {
          if (got <= this.stripped) continue;
          n = got - this.stripped;
        }
      }
      const msg = messages[count]!;
      const ipLen = n + DATA_HEADER_BYTES - this.ipOffset;
      const slot = this.routes.lookupDestination(msg, this.ipOffset, ipLen);
      const peer = slot >= 0 ? peers[slot] : undefined;
      if (!peer) {
        this.stats[TX.dropNoRoute]!++;
        continue;
      }
      if (peer.backlog !== null && peer.path === 'tcp') {
        this.stats[TX.dropPeerBacklog]!++;
        continue;
      }
      let flags = 0;
      let vnetFlags = this.init.wireVnetHdr ? msg[DATA_HEADER_BYTES]! : 0;
      if (split !== null && split.partial) {
        if (peer.csumPartial && split.plainPartial) {
          flags = DATA_FLAG_CSUM_PARTIAL;
          vnetFlags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
        } else split.finish(this.packetAt[count]!, n);
      }
      this.mss.apply(msg, this.ipOffset, ipLen, vnetFlags);
      if (peer.pending) this.promote(peer);
      const sealer = peer.sealer;
      if (!sealer) {
        this.stats[TX.dropNoSession]!++;
        this.askForHandshake(peer);
        continue;
      }
      if (peer !== runPeer && count > runStart) {
        // Another peer's packet: the run before it leaves first.
        this.finish(this.sendVia(runPeer!.path, 'data', runPeer!, runStart, count - runStart), this.batch, runStart, count - runStart, runPeer!.path, runPeer!);
        runStart = count;
        if (this.waitingForSocket) {
          // That run stopped on a full TCP socket: this packet waits in its slot until it drains.
          if (this.sealInto(peer, sealer, count, n, flags)) this.carry = { slot: count, peer };
          runPeer = null;
          break;
        }
      }
      if (!this.sealInto(peer, sealer, count, n, flags)) continue;
      runPeer = peer;
      count++;
      taken++;
      if (sendFirst) {
        sendFirst = false;
        this.finish(this.sendVia(peer.path, 'data', peer, runStart, 1), this.batch, runStart, 1, peer.path, peer);
        runStart = count;
        // A TCP frame left half written holds its slot until the socket drains.
        if (this.waitingForSocket) break;
      }
    }
    this.quiet = taken <= 1;
    if (runPeer && count > runStart && !this.waitingForSocket) {
      this.finish(this.sendVia(runPeer.path, 'data', runPeer, runStart, count - runStart), this.batch, runStart, count - runStart, runPeer.path, runPeer);
    }
    // The rest of a super-packet that did not fit this batch goes in the next one now: poll would not report it.
    if (split !== null && split.remaining > 0 && !this.waitingForSocket) return this.drainTun(false);
    return true;
  }

  /** Seals the packet in slot `i` for `peer`; false (and counted) when its key is spent. */
  private sealInto(peer: TxPeer, sealer: DataSealer, i: number, n: number, flags: number): boolean {
    try {
      this.batch.lens[i] = sealer.seal(this.batch.messages[i]!, n, flags);
      return true;
    } catch {
      // The key reached its message limit: never reuse a nonce, wait for a new key.
      sealer.destroy();
      peer.sealer = null;
      this.stats[TX.dropNoSession]!++;
      this.askForHandshake(peer);
      return false;
    }
  }

  /** Sends the packet held back by a full socket; false if it must wait again. */
  private sendCarry(): boolean {
    const { slot, peer } = this.carry!;
    this.carry = null;
    this.finish(this.sendVia(peer.path, 'data', peer, slot, 1), this.batch, slot, 1, peer.path, peer);
    return !this.waitingForSocket;
  }

  /**
   * Accounts for a send of data messages [from, from + count) of `batch`
   * (null: a handshake message, not counted) to `peer` over `via`; a blocked
   * TCP batch switches the loop to waiting for that socket.
   */
  private finish(result: SendResult, batch: PacketBatch | null, from: number, count: number, via: TransportKind, peer: TxPeer): void {
    if (result === 'failed' && via === 'tcp' && this.tcp) {
      const fd = peer.tcpFd;
      if (fd >= 0) {
        const conn = peer.tcpConn;
        peer.tcpFd = -1;
        peer.tcpConn = 0;
        for (const t of this.tcp) if (t.connection === fd) t.setConnection(-1);
        post({ t: 'send-failed', fd, conn });
        post({ t: 'tcp-released', fd, conn });
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
    for (let i = from; i < from + count; i++) bytes += batch.lens[i]!;
    const now = Date.now();
    s[TX.packets]! += count;
    s[TX.bytes]! += bytes;
    s[TX.lastDataMs] = now;
    const ps = this.peerStats;
    const base = peer.base;
    ps[base + PEER.txPackets]! += count;
    ps[base + PEER.txBytes]! += bytes;
    ps[base + PEER.txLastDataMs] = now;
    // Published for the rekey-after-messages timer on the main thread.
    ps[base + PEER.txCounter] = peer.sealer ? peer.sealer.counter : 0;
  }

  private resumeTcp(): void {
    // Whichever batch the socket stopped (data, or a handshake message or
    // keepalive): a frame half written must be finished before anything else.
    const [data, ctl] = this.tcp!;
    const result = (ctl.blocked ? ctl : data).resume();
    if (result === 'blocked') return;
    const peer = this.blockedPeer;
    this.unblock();
    if (result === 'failed' && peer) this.finish('failed', null, 0, 0, 'tcp', peer);
    const deferred = this.deferred;
    this.deferred = [];
    for (let i = 0; i < deferred.length; i++) {
      this.sendControl(deferred[i]!.peer, deferred[i]!.message, 'tcp');
      // Stopped again: the rest waits, in order, behind the half-written frame.
      if (this.waitingForSocket) {
        this.deferred = deferred.slice(i + 1);
        break;
      }
    }
  }

  private unblock(): void {
    this.blockedPeer = null;
    this.waitFor('tun');
  }

  /** What the second poll entry watches: the TUN for packets, or the blocked TCP socket for room. */
  private waitFor(what: 'tun' | 'socket'): void {
    const socket = what === 'socket';
    if (socket === this.waitingForSocket) return;
    this.waitingForSocket = socket;
    this.refreshPoll();
  }

  /** The poll set: the wake eventfd, the TUN (or the one blocked socket), then each backlogged peer's socket for room. */
  private refreshPoll(): void {
    const second: number | [number, number] = this.waitingForSocket ? [this.blockedPeer?.tcpFd ?? -1, libc.POLLOUT] : this.init.tunFd;
    this.poller.set([this.init.wakeFd, second, ...this.backlogged.map((p): [number, number] => [p.tcpFd, libc.POLLOUT])]);
  }

  /** Sends what a backlogged peer's connection has room for; the backlog goes once all is sent, or the connection failed. */
  private flushBacklog(peer: TxPeer): void {
    const b = peer.backlog;
    if (!b) return;
    for (;;) {
      const n = libc.send(peer.tcpFd, b.subarray(peer.backlogAt), b.length - peer.backlogAt, libc.MSG_DONTWAIT | libc.MSG_NOSIGNAL);
      if (n < 0) {
        const e = libc.errno();
        if (e === libc.EINTR) continue;
        if (e === libc.EAGAIN) return;
        this.dropBacklog(peer);
        this.finish('failed', null, 0, 0, 'tcp', peer);
        return;
      }
      peer.backlogAt += n;
      if (peer.backlogAt >= b.length) {
        this.dropBacklog(peer);
        return;
      }
    }
  }

  private dropBacklog(peer: TxPeer): void {
    if (!peer.backlog) return;
    peer.backlog = null;
    const i = this.backlogged.indexOf(peer);
    if (i >= 0) this.backlogged.splice(i, 1);
    this.refreshPoll();
  }

  private askForHandshake(peer: TxPeer): void {
    const now = Date.now();
    if (now - peer.lastNeedHandshake < NEED_HANDSHAKE_INTERVAL_MS) return;
    peer.lastNeedHandshake = now;
    post({ t: 'need-handshake', peer: peer.slot });
  }
}
