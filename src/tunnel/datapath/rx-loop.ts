// The receiving half of the data path:
//   batched receive → open in place → replay window → AllowedIPs → TUN write.
// Handshake messages are copied to the main thread (bounded backlog); data
// messages never leave the data-path thread. It runs on a thread of its own
// over TCP (rx-worker.ts) and shares one with TxLoop over UDP (udp-loop.ts).
import koffi from 'koffi';
import type { Aead } from '../../crypto/aead/aead.js';
import { keyedHashFor } from '../../crypto/keyed-hash.js';
import { DataOpener, DATA_FLAG_CSUM_PARTIAL, DATA_HEADER_BYTES, DATA_OVERHEAD, MESSAGE_DATA, readCounter, readFlags, readReceiverIndex } from '../../crypto/data-packet.js';
import { ReplayWindow } from '../../crypto/replay.js';
import * as libc from '../../sys/libc.js';
import { PacketBatch, MSG_OFFSET } from '../../transport/batch.js';
import { sameSockaddr } from '../../transport/sockaddr.js';
import { checkFrameBound } from '../../transport/framing.js';
import { TcpStreamReceiver } from '../../transport/tcp-stream.js';
import type { TransportKind } from '../../transport/transport.js';
import { UdpBatchReceiver } from '../../transport/udp-batch.js';
import { enableUdpGro, GRO_RECEIVE_BYTES, UdpGroReceiver } from '../../transport/udp-gro.js';
import { RoutingTable } from '../routing-table.js';
import { HandshakeFilter } from './handshake-filter.js';
import { MESSAGE_COOKIE_REPLY, MESSAGE_INITIATION, MESSAGE_RESPONSE } from '../messages.js';
import { PollSet } from './poll-set.js';
import { runKeptWarm, type SteppedLoop, type WarmSpell } from './warm-spell.js';
import { TcpCoalescer } from './gro.js';
import { vnetHeaderAllowed, VIRTIO_NET_HDR_F_NEEDS_CSUM, writePartialHeader } from './vnet-header.js';
import { MssClamp } from './mss-clamp.js';
import { VNET_HDR_BYTES } from '../../tun/device.js';
import { clearPeerFields, HANDSHAKE_BACKLOG_SLOT, PEER, PEER_SLOTS, peerCounters, RX, wrapStats } from '../stats.js';
import type { DatapathInit, ToRx } from './worker-messages.js';
import { post, takeMessages } from './worker-port.js';

/** Handshake messages waiting for the main thread; beyond this they are dropped (a flood costs no memory). */
const HANDSHAKE_BACKLOG_LIMIT = 64;
/** Where the receive worker counts a handshake message its filter refused. */
const DROP_SLOT = {
  'bad-size': RX.dropHandshakeBadSize,
  'bad-mac1': RX.dropHandshakeBadMac1,
  'cookie-unexpected': RX.dropHandshakeCookieUnexpected,
} as const;
/** Receiving keypairs kept per peer: current, previous and next, as WireGuard does across a rekey. */
const MAX_RECEIVE_KEYS = 3;

interface ReceiveKey {
  localIndex: number;
  peer: RxPeer;
  opener: DataOpener;
  replay: ReplayWindow;
  confirmed: boolean;
}

/** What the receiving half knows of one peer. */
class RxPeer {
  /** Its receive keys, oldest first (at most MAX_RECEIVE_KEYS). */
  keys: ReceiveKey[] = [];
  /**
   * Its current UDP endpoint: as the main thread last set it ('udp-peer'),
   * or as this loop last reported it. An authenticated datagram from anywhere
   * else moves it (roaming, WireGuard semantics), so a move the main thread
   * made on a handshake message from a forged source is undone by the peer's
   * next authenticated packet. Made when first known (an idle peer costs no buffer).
   */
  source: Buffer | null = null;
  /** Transport = auto: the path last reported (null: none yet, or forgotten when the TCP connection it came on went). */
  dataPath: TransportKind | null = null;
  /** The TCP connection its latest data came on (-1: over UDP). */
  dataFd = -1;
  /** Where its counters start in the peer counters (stats.ts PEER). */
  readonly base: number;
  /**
   * Counts of the current batch, added to the peer counters once at its end
   * (flushPeerStats): those sit in a growable SharedArrayBuffer, and every
   * access to one costs a call into V8's runtime for its current length.
   */
  batchPackets = 0;
  batchBytes = 0;
  /** The batch delivered data (not only keepalives) from it. */
  batchData = false;

  constructor(readonly slot: number) {
    this.base = slot * PEER_SLOTS;
  }
}

class TunFdWriter {
  /** The buffer last written and its address: the coalescer always writes from the same one. */
  private buf: Uint8Array | null = null;
  private at = 0;

  constructor(private readonly fd: number) {}

  write(buf: Uint8Array, len: number): void {
    if (buf !== this.buf) {
      // Reading .buffer moves a small typed array's bytes off the JS heap for good; then its address holds while it lives.
      void buf.buffer;
      this.at = Number(koffi.address(buf));
      this.buf = buf;
    }
    libc.writeAt(this.fd, this.at, len);
  }
}

export class RxLoop implements SteppedLoop {
  private readonly stats: Float64Array;
  private readonly backlog: Int32Array;
  private readonly peerStats: Float64Array;
  /** Cryptokey routing: a packet that opens under a peer's keys must come from an address that peer owns. */
  private readonly routes = new RoutingTable();
  /** By slot. */
  private readonly peers: Array<RxPeer | undefined> = [];
  private readonly mss: MssClamp;
  /** Size and mac1 of handshake messages, checked before they take a slot of the backlog. */
  private readonly handshakeFilter: HandshakeFilter;
  private readonly poller: PollSet;
  /** Where the IP header starts in a plaintext (after the virtio_net_hdr, if any). */
  private readonly ipOffset: number;
  /** Every peer's receive keys, by our index (the receiver index data messages carry). */
  private readonly keys = new Map<number, ReceiveKey>();
  /** Merges TCP segments of a receive batch into super-packets (UDP transport with a VNET TUN). */
  private readonly coalescer: TcpCoalescer | null = null;
  // UDP
  private readonly batch: PacketBatch | null = null;
  /** Per slot: where the TUN write starts (the packet, or the zeroed vnet header before it). */
  private readonly tunPtrs: number[] = [];
  /** Time of the current batch, read once per batch rather than per packet. */
  private now = 0;
  /** Peers with counts in the current batch: touched[0 .. touchedCount). */
  private readonly touched: RxPeer[] = [];
  private touchedCount = 0;
  /** With UDP_GRO where the kernel has it: a peer's run of datagrams comes in one piece (udp-gro.ts). */
  private readonly udp: UdpBatchReceiver | UdpGroReceiver | null = null;
  // TCP
  private readonly conns = new Map<number, TcpStreamReceiver>();
  /** Poll entries before the TCP connections': the wake eventfd, and the UDP socket if any. */
  private readonly firstConn: number;
  /** Transport = auto: both paths receive, and the path of each peer's latest authenticated data is reported when it changes. */
  private readonly auto: boolean;

  constructor(
    private readonly init: DatapathInit,
    private readonly aead: Aead,
  ) {
    const s = wrapStats(init.stats);
    this.stats = s.f64;
    this.backlog = s.i32;
    this.peerStats = peerCounters(init.peerStats);
    this.mss = new MssClamp(init.mtu);
    this.handshakeFilter = new HandshakeFilter(init.mac1Key, keyedHashFor(aead));
    this.ipOffset = init.wireVnetHdr ? VNET_HDR_BYTES : 0;
    if (init.tunVnetHdr && !init.wireVnetHdr) {
      this.coalescer = new TcpCoalescer(new TunFdWriter(init.tunFd));
    }
    this.auto = init.transport === 'auto';
    if (init.transport !== 'tcp') {
      const gro = enableUdpGro(init.udpFd);
      this.batch = new PacketBatch(MSG_OFFSET + init.maxMessage, undefined, gro ? GRO_RECEIVE_BYTES : 0);
      // Where a packet is written from: a zeroed virtio_net_hdr goes in the
      // (by then unused) data header room just before it.
      const front = init.tunVnetHdr && !init.wireVnetHdr ? VNET_HDR_BYTES : 0;
      this.tunPtrs = this.batch.slotPtrs.map((p) => Number(p) + MSG_OFFSET + DATA_HEADER_BYTES - front);
      this.udp = gro ? new UdpGroReceiver(init.udpFd, this.batch) : new UdpBatchReceiver(init.udpFd, this.batch);
    }
    // Each TCP connection's decoder takes this bound: refused here, at start, rather than on the first connection.
    if (init.transport !== 'udp') checkFrameBound(init.maxMessage);
    this.firstConn = this.udp ? 2 : 1;
    this.poller = new PollSet(this.fixedPollEntries());
  }

  private fixedPollEntries(): number[] {
    return this.udp ? [this.init.wakeFd, this.init.udpFd] : [this.init.wakeFd];
  }

  run(): void {
    runKeptWarm(this.aead, this.init, this);
  }

  /**
   * Waits up to `timeoutMs` (-1: no limit) and handles what is ready; false
   * when the loop must end. `warm`: the running loop's keep-warm state.
   */
  step(timeoutMs: number, warm?: WarmSpell): boolean {
    if (this.poller.wait(timeoutMs) === 0) {
      // Nothing ready: the work a message would cause, on nothing, to keep that path warm (warm-spell.ts).
      warm?.exercise();
      if (this.udp) this.receiveUdp();
      if (this.conns.size > 0) this.receiveTcp(true);
      return true;
    }
    if (this.poller.ready(0) && !takeMessages(this.init.wakeFd, (m: ToRx) => this.apply(m))) return false;
    if (this.udp && this.poller.ready(1)) this.receiveUdp();
    if (this.conns.size > 0) this.receiveTcp(false);
    return true;
  }


  apply(msg: ToRx): boolean {
    switch (msg.t) {
      case 'peer-add':
        this.removePeer(msg.peer);
        this.peers[msg.peer] = new RxPeer(msg.peer);
        clearPeerFields(this.peerStats, msg.peer, 'rx');
        for (const c of msg.allowedIPs) this.routes.insert(c, msg.peer);
        break;
      case 'peer-remove':
        this.removePeer(msg.peer);
        break;
      case 'allowed-ips':
        if (!this.peers[msg.peer]) break;
        this.routes.removePeer(msg.peer);
        for (const c of msg.allowedIPs) this.routes.insert(c, msg.peer);
        break;
      case 'receive-key-add': {
        const { localIndex, key } = msg.keypair;
        const peer = this.peers[msg.peer];
        if (peer) {
          const k: ReceiveKey = { localIndex, peer, opener: new DataOpener(this.aead, key), replay: new ReplayWindow(), confirmed: false };
          this.keys.get(localIndex)?.opener.destroy();
          this.keys.set(localIndex, k);
          peer.keys.push(k);
          while (peer.keys.length > MAX_RECEIVE_KEYS) this.dropKey(peer.keys[0]!);
        }
        key.fill(0);
        break;
      }
      case 'receive-key-remove': {
        const k = this.keys.get(msg.localIndex);
        if (k) this.dropKey(k);
        break;
      }
      case 'tcp-add':
        this.conns.set(msg.fd, new TcpStreamReceiver(msg.fd, msg.conn, this.init.maxMessage));
        this.pollConnections();
        break;
      case 'tcp-remove':
        // The main thread may have moved its sends off this connection: report the next path afresh.
        this.forgetPathsOver(msg.fd);
        // Only the connection named: this descriptor may already hold a newer one.
        if (this.conns.get(msg.fd)?.conn === msg.conn && this.conns.delete(msg.fd)) this.pollConnections();
        post({ t: 'tcp-removed', fd: msg.fd, conn: msg.conn });
        break;
      case 'udp-peer': {
        const peer = this.peers[msg.peer];
        if (!peer) break;
        peer.source ??= Buffer.alloc(libc.SIZEOF_SOCKADDR_STORAGE);
        peer.source.fill(0);
        peer.source.set(msg.sockaddr.subarray(0, peer.source.length));
        break;
      }
      case 'handshake-sent':
        this.handshakeFilter.expectCookieReply(msg.peer, msg.senderIndex);
        break;
      case 'stop':
        for (const k of this.keys.values()) k.opener.destroy();
        this.keys.clear();
        return false;
    }
    return true;
  }

  /** The peers whose data came over connection `fd` report their next path afresh (only theirs: a closing connection costs no report per peer). */
  private forgetPathsOver(fd: number): void {
    for (const p of this.peers) if (p && p.dataFd === fd) p.dataPath = null;
  }

  private dropKey(k: ReceiveKey): void {
    k.opener.destroy();
    if (this.keys.get(k.localIndex) === k) this.keys.delete(k.localIndex);
    const list = k.peer.keys;
    const i = list.indexOf(k);
    if (i >= 0) list.splice(i, 1);
  }

  private removePeer(slot: number): void {
    const peer = this.peers[slot];
    if (!peer) return;
    for (const k of [...peer.keys]) this.dropKey(k);
    this.routes.removePeer(slot);
    this.handshakeFilter.forget(slot);
    this.peers[slot] = undefined;
  }

  private pollConnections(): void {
    this.poller.set([...this.fixedPollEntries(), ...this.conns.keys()]);
  }

  /** Datagrams already read (a UDP_GRO run longer than a batch) and not yet handled: poll will not report them. */
  get udpPending(): boolean {
    return this.udp !== null && this.udp.pending;
  }

  /**
   * Handles what the UDP socket has. `all` false: one batch only, the rest
   * left pending (udp-loop.ts lets the TUN have its turn in between).
   */
  receiveUdp(all = true): void {
    const batch = this.batch!;
    const udp = this.udp!;
    do {
      const n = udp.receive();
      this.now = Date.now();
      this.stats[RX.dropSocketOverflow] = udp.kernelDrops;
      for (let i = 0; i < n; i++) {
        this.handle(batch.messages[i]!, batch.lens[i]!, i, udp.sources[i]!, -1);
      }
      this.coalescer?.flush();
      this.flushPeerStats();
    } while (all && udp.pending);
  }

  /** Reads the connections poll found ready, or (`all`) every one. */
  private receiveTcp(all: boolean): void {
    const fds = this.poller.descriptors;
    for (let i = this.firstConn; i < fds.length; i++) {
      if (!all && !this.poller.ready(i)) continue;
      const fd = fds[i]!;
      const conn = this.conns.get(fd);
      if (!conn) continue;
      this.now = Date.now();
      const result = conn.receive((buf, off, len) => this.handle(buf.subarray(off, off + len), len, -1, null, fd));
      this.coalescer?.flush();
      this.flushPeerStats();
      if (result === 'ok') continue;
      if (typeof result !== 'string') this.stats[RX.dropBadFrame]!++;
      this.conns.delete(fd);
      this.pollConnections();
      this.forgetPathsOver(fd);
      post({ t: 'tcp-closed', fd, conn: conn.conn, reason: typeof result === 'string' ? result : result.reason });
    }
  }

  /**
   * One wire message: data is opened and delivered here, handshakes go to
   * the main thread. `slot` is the UDP batch slot holding it (-1 over TCP).
   */
  private handle(msg: Uint8Array, len: number, slot: number, source: Buffer | null, fd: number): void {
    const s = this.stats;
    if (len < 4) {
      s[RX.dropShort]!++;
      return;
    }
    const type = msg[0]!;
    if (type !== MESSAGE_DATA) {
      if (type === MESSAGE_INITIATION || type === MESSAGE_RESPONSE || type === MESSAGE_COOKIE_REPLY) this.toMain(msg, len, source, fd);
      else s[RX.dropUnknownType]!++;
      return;
    }
    if (len < DATA_OVERHEAD) {
      s[RX.dropShort]!++;
      return;
    }
    const key = this.keys.get(readReceiverIndex(msg));
    if (!key) {
      s[RX.dropUnknownIndex]!++;
      return;
    }
    const plain = key.opener.open(msg, len);
    if (plain < 0) {
      s[RX.dropForged]!++;
      return;
    }
    // Only an authenticated counter may move the window.
    if (!key.replay.accept(readCounter(msg))) {
      s[RX.dropReplay]!++;
      return;
    }
    const now = this.now;
    const peer = key.peer;
    const ps = this.peerStats;
    const base = peer.base;
    s[RX.lastAuthMs] = now;
    if (peer.batchPackets === 0) this.touched[this.touchedCount++] = peer;
    peer.batchPackets++;
    peer.batchBytes += len;
    if (!key.confirmed) {
      key.confirmed = true;
      // The transmit side may now seal with the matching key (a responder's), without waiting for the main thread.
      ps[base + PEER.rxConfirmedIndex] = key.localIndex;
      post({ t: 'first-data', peer: peer.slot, localIndex: key.localIndex });
    }
    if (source && (peer.source === null || !sameSockaddr(source, peer.source))) {
      peer.source ??= Buffer.alloc(libc.SIZEOF_SOCKADDR_STORAGE);
      peer.source.set(source);
      post({ t: 'endpoint', peer: peer.slot, sockaddr: Uint8Array.from(source) });
    }
    peer.dataFd = fd;
    if (this.auto && peer.dataPath !== (source ? 'udp' : 'tcp')) {
      peer.dataPath = source ? 'udp' : 'tcp';
      post({ t: 'data-path', peer: peer.slot, kind: peer.dataPath });
    }
    s[RX.packets]!++;
    s[RX.bytes]! += len;
    if (plain === 0) return; // keepalive
    const ip = DATA_HEADER_BYTES + this.ipOffset;
    // Cryptokey routing: the source must be one this peer owns (longest match), not merely any peer's.
    if (this.routes.lookupSource(msg, ip, plain - this.ipOffset) !== peer.slot) {
      s[RX.dropSourceNotAllowed]!++;
      return;
    }
    s[RX.lastDataMs] = now;
    peer.batchData = true;
    // A checksum the peer left partial (only when we announced FEATURE_CSUM_PARTIAL: with a coalescer) is delivered as NEEDS_CSUM.
    const partial = this.coalescer !== null && (readFlags(msg) & DATA_FLAG_CSUM_PARTIAL) !== 0;
    this.mss.apply(msg, ip, plain - this.ipOffset, this.ipOffset ? msg[DATA_HEADER_BYTES]! : partial ? VIRTIO_NET_HDR_F_NEEDS_CSUM : 0);
    if (this.init.wireVnetHdr) {
      // TCP: the plaintext is virtio_net_hdr ‖ packet, written whole once the header is one we allow.
      if (!vnetHeaderAllowed(msg, DATA_HEADER_BYTES, plain)) {
        s[RX.dropBadVnetHeader]!++;
        return;
      }
      libc.write(this.init.tunFd, msg.subarray(DATA_HEADER_BYTES, DATA_HEADER_BYTES + plain), plain);
    } else if (!this.coalescer?.offer(msg, DATA_HEADER_BYTES, plain)) {
      // A plain packet; a zeroed virtio_net_hdr goes in the (by then unused) data header room before it.
      const front = this.coalescer ? VNET_HDR_BYTES : 0;
      if (partial) {
        if (!writePartialHeader(msg, DATA_HEADER_BYTES - front, plain)) {
          s[RX.dropBadVnetHeader]!++;
          return;
        }
      } else if (front) msg.fill(0, DATA_HEADER_BYTES - front, DATA_HEADER_BYTES);
      if (slot >= 0) libc.writeAt(this.init.tunFd, this.tunPtrs[slot]!, plain + front);
      else libc.write(this.init.tunFd, msg.subarray(DATA_HEADER_BYTES - front, DATA_HEADER_BYTES + plain), plain + front);
    }
  }

  /** Adds the batch's counts to the peer counters the main thread reads. */
  private flushPeerStats(): void {
    const ps = this.peerStats;
    const now = this.now;
    for (let i = 0; i < this.touchedCount; i++) {
      const peer = this.touched[i]!;
      const base = peer.base;
      ps[base + PEER.rxLastAuthMs] = now;
      ps[base + PEER.rxPackets]! += peer.batchPackets;
      ps[base + PEER.rxBytes]! += peer.batchBytes;
      if (peer.batchData) ps[base + PEER.rxLastDataMs] = now;
      peer.batchPackets = 0;
      peer.batchBytes = 0;
      peer.batchData = false;
    }
    this.touchedCount = 0;
  }

  private toMain(msg: Uint8Array, len: number, source: Buffer | null, fd: number): void {
    const verdict = this.handshakeFilter.check(msg, len);
    if (verdict !== 'ok') {
      this.stats[DROP_SLOT[verdict]]!++;
      return;
    }
    if (Atomics.add(this.backlog, HANDSHAKE_BACKLOG_SLOT, 1) >= HANDSHAKE_BACKLOG_LIMIT) {
      Atomics.sub(this.backlog, HANDSHAKE_BACKLOG_SLOT, 1);
      this.stats[RX.dropHandshakeBacklog]!++;
      return;
    }
    // A copy of just this message: Buffer.slice would be a view, and posting
    // a view copies the whole batch buffer behind it (other packets' plaintexts).
    post({ t: 'handshake', message: Uint8Array.prototype.slice.call(msg, 0, len), source: source ? Uint8Array.from(source) : null, fd });
  }
}
