// The TCP transport's counterpart of warm-up.ts: before a data-path worker
// reports ready, packets go through a throwaway copy of its loop, so V8 has
// optimized the packet path before the first real packet. Without it a ping
// through an idle TCP tunnel ran in the bytecode interpreter
// (docs/performance.md has the figures).
//
// Each worker warms only its own half, since everything a warm-up compiles
// and grows stays with that thread's memory:
//   sending:   TUN (a datagram socketpair) → TxLoop → stream, read and discarded
//   receiving: frames sealed here → stream → RxLoop → TUN, read and discarded
// A stream socketpair stands in for the connection; the key is throwaway, the
// counters separate, control messages come through the rehearsal's own
// channel (worker-port.ts), and what the loops would report to the main
// thread is dropped. Nothing reaches the real TUN, connection or peer.
import { createPeerStats } from '../stats.js';
import { randomFillSync } from 'node:crypto';
import type { Aead } from '../../crypto/aead/aead.js';
import { DATA_HEADER_BYTES, DATA_OVERHEAD, DataSealer } from '../../crypto/data-packet.js';
import * as libc from '../../sys/libc.js';
import { FRAME_HEADER_BYTES, writeFrameHeader } from '../../transport/framing.js';
import { VNET_HDR_BYTES } from '../../tun/device.js';
import { MESSAGE_INITIATION_BYTES } from '../messages.js';
import type { RxLoop } from './rx-loop.js';
import type { TxLoop } from './tx-loop.js';
import { HANDSHAKE_TYPES, INNER_PAYLOAD, WARM_UP_BUDGET_MS, innerPacket, sessionIndex, socketPair, warmUpRoute, superPacket } from './warm-up-packets.js';
import type { DatapathInit, RouteSpec, ToRx, ToTx } from './worker-messages.js';
import { WarmUpSteps } from './warm-spell.js';
import { rehearse, type Rehearsal } from './worker-port.js';

/** Fewer than over UDP: measured, as many gave the same idle RTT and more memory. */
const TCP_WARM_UP_PACKETS = 2500;
/** Packets per round: single packets (an idle tunnel), batches with super-packets (a transfer). */
const ROUND_SIZES = [1, 16, 1, 4];
/** Keep-warm ticks after each round (see WarmUpSteps). */
const TICKS_PER_ROUND = 8;
/** Segments in a warm-up super-packet. */
const SUPER_SEGMENTS = 8;
/** Room for such a super-packet and its virtio_net_hdr (the code is the same as for 64 KB). */
const WARM_UP_MAX_PLAINTEXT = 8192;

/** The id of the stand-in connection (the main thread's start at 1; reports from a rehearsal are dropped anyway). */
/** The rehearsal's one peer, in its own loop's slots. */
const REHEARSAL_PEER = 0;
const REHEARSAL_CONN = 0;

/** The throwaway pieces: a datagram pair for the TUN, a stream pair for the connection. */
interface Rig {
  init: DatapathInit;
  /** The far end of the TUN pair: what the tunnel reads, or where it writes. */
  tun: number;
  /** The far end of the stream: where frames are read, or written. */
  stream: number;
  /** The loop's end of the stream. */
  connection: number;
  route: RouteSpec;
  /** Stands in for the main thread: control messages go to the loop through it. */
  control: Rehearsal<ToTx | ToRx>;
}

/** Warms the sending half on a loop `make` builds; returns the packets that went through (0: skipped). */
export function warmUpTcpSender(init: DatapathInit, make: (init: DatapathInit) => TxLoop): number {
  return withRig(init, (rig) => {
    const tx = make(rig.init);
    try {
      rig.control.send({ t: 'peer-add', peer: REHEARSAL_PEER, allowedIPs: [rig.route] });
      rig.control.send({ t: 'tcp-connection', peer: REHEARSAL_PEER, fd: rig.connection, conn: REHEARSAL_CONN });
      return pumpSender(tx, rig);
    } finally {
      tx.apply({ t: 'stop' });
    }
  });
}

/** Warms the receiving half on a loop `make` builds; returns the packets that went through (0: skipped). */
export function warmUpTcpReceiver(init: DatapathInit, aead: Aead, make: (init: DatapathInit) => RxLoop): number {
  return withRig(init, (rig) => {
    const rx = make(rig.init);
    try {
      rig.control.send({ t: 'peer-add', peer: REHEARSAL_PEER, allowedIPs: [rig.route] });
      rig.control.send({ t: 'tcp-add', fd: rig.connection, conn: REHEARSAL_CONN });
      return pumpReceiver(rx, aead, rig);
    } finally {
      rx.apply({ t: 'stop' });
    }
  });
}

function withRig(init: DatapathInit, run: (rig: Rig) => number): number {
  if (init.transport !== 'tcp' || !init.tunVnetHdr || !init.wireVnetHdr) return 0;
  const route = warmUpRoute(init);
  if (!route) return 0;
  const fds: number[] = [];
  try {
    const tun = socketPair();
    fds.push(...tun);
    const stream = socketPair(libc.SOCK_STREAM);
    fds.push(...stream);
    const maxPlaintext = Math.min(init.maxPlaintext, WARM_UP_MAX_PLAINTEXT);
    let moved = 0;
    rehearse<ToTx | ToRx>((control) => {
      moved = run({
        init: {
          ...init,
          wakeFd: control.wakeFd,
          tunFd: tun[0],
          udpFd: -1,
          stats: new SharedArrayBuffer(init.stats.byteLength),
          peerStats: createPeerStats(),
          maxPlaintext,
          maxMessage: Math.max(DATA_OVERHEAD + maxPlaintext, MESSAGE_INITIATION_BYTES),
        },
        tun: tun[1],
        stream: stream[1],
        connection: stream[0],
        route,
        control,
      });
    });
    return moved;
  } catch {
    return 0;
  } finally {
    for (const fd of fds) libc.close(fd);
  }
}

/** The inner packets of one round, in order: pings alone, TCP segments and super-packets in batches. */
class Packets {
  private readonly packet: Buffer;
  private readonly echo: Buffer;
  private readonly big: Buffer;
  /** IPv6 when the tunnel is IPv4, and the other way round: the kernel sends some anyway. */
  readonly other: Buffer;
  private readonly seqAt: number;
  private seq = 1;

  constructor(route: RouteSpec) {
    this.packet = innerPacket(route.family, route.bytes, 'tcp');
    this.echo = innerPacket(route.family, route.bytes, 'echo');
    this.big = superPacket(route.family, route.bytes, SUPER_SEGMENTS);
    this.other = route.family === 4 ? innerPacket(6, new Uint8Array(16), 'tcp') : innerPacket(4, new Uint8Array(4), 'tcp');
    this.seqAt = VNET_HDR_BYTES + (route.family === 4 ? 20 : 40) + 4;
  }

  get largest(): number {
    return this.big.length;
  }

  /** Packet i of a round of n. */
  get(i: number, n: number, round: number): Buffer {
    if (n === 1) return this.echo;
    const p = round % 8 === 1 && i % 2 === 1 ? this.big : this.packet;
    p.writeUInt32BE(this.seq >>> 0, this.seqAt);
    this.seq += INNER_PAYLOAD;
    return p;
  }
}

function pumpSender(tx: TxLoop, rig: Rig): number {
  const deadline = performance.now() + WARM_UP_BUDGET_MS;
  const steps = new WarmUpSteps(tx, tx.aead, rig.init);
  const packets = new Packets(rig.route);
  const sink = Buffer.alloc(256 * 1024);
  const turn = (): void => {
    // A full socket stops the sender; draining it lets the sender resume.
    for (let i = 0; i < 4; i++) {
      steps.step();
      while (libc.read(rig.stream, sink, sink.length) > 0);
    }
  };
  const handshake = Buffer.alloc(MESSAGE_INITIATION_BYTES);
  const handshakes = (): void => {
    for (const type of HANDSHAKE_TYPES) {
      handshake[0] = type;
      rig.control.send({ t: 'send', peer: REHEARSAL_PEER, message: handshake });
      turn();
    }
  };
  const key = Buffer.alloc(32);
  let moved = 0;
  try {
    // Before a session: packets are dropped and a handshake asked for.
    const ping = packets.get(0, 1, 0);
    for (let i = 0; i < 50; i++) {
      libc.write(rig.tun, ping, ping.length);
      turn();
    }
    handshakes();
    for (let r = 0; moved < TCP_WARM_UP_PACKETS && performance.now() < deadline; r++) {
      if (r % 64 === 0) {
        randomFillSync(key);
        rig.control.send({ t: 'send-key', peer: REHEARSAL_PEER, keypair: { remoteIndex: sessionIndex(r), key } });
        rig.control.send({ t: 'keepalive', peer: REHEARSAL_PEER });
        libc.write(rig.tun, packets.other, packets.other.length);
        turn();
        handshakes();
      }
      const n = ROUND_SIZES[r % ROUND_SIZES.length]!;
      for (let i = 0; i < n; i++) {
        const p = packets.get(i, n, r);
        if (libc.write(rig.tun, p, p.length) < 0) return moved;
      }
      turn();
      steps.ticks(TICKS_PER_ROUND);
      moved += n;
    }
    return moved;
  } finally {
    key.fill(0);
    steps.destroy();
  }
}

function pumpReceiver(rx: RxLoop, aead: Aead, rig: Rig): number {
  const deadline = performance.now() + WARM_UP_BUDGET_MS;
  const steps = new WarmUpSteps(rx, aead, rig.init);
  const packets = new Packets(rig.route);
  const sink = Buffer.alloc(packets.largest + 64);
  // A frame: length ‖ data header ‖ plaintext, sealed in place ‖ tag.
  const frame = Buffer.alloc(FRAME_HEADER_BYTES + DATA_OVERHEAD + packets.largest);
  const message = frame.subarray(FRAME_HEADER_BYTES);
  const key = Buffer.alloc(32);
  let sealer: DataSealer | null = null;
  /** The index of a receive key installed and not yet sealed with (-1: none). */
  let pending = -1;
  const turn = (): void => {
    steps.step();
    while (libc.read(rig.tun, sink, sink.length) > 0);
  };
  const send = (len: number): void => {
    writeFrameHeader(frame, 0, len);
    // The stream never fills here: every round is read before the next is written.
    libc.write(rig.stream, frame, FRAME_HEADER_BYTES + len);
  };
  const sealAndSend = (p: Buffer | null): void => {
    const plain = p ? p.length : 0;
    if (p) p.copy(message, DATA_HEADER_BYTES);
    send(sealer!.seal(message, plain));
  };
  const handshakes = (): void => {
    for (const type of HANDSHAKE_TYPES) {
      message.fill(0, 0, MESSAGE_INITIATION_BYTES);
      message[0] = type;
      send(MESSAGE_INITIATION_BYTES);
      turn();
    }
  };
  let moved = 0;
  try {
    handshakes();
    for (let r = 0; moved < TCP_WARM_UP_PACKETS && performance.now() < deadline; r++) {
      if (r % 64 === 0) {
        // A new receive key, sent with from the next round on, as in a rekey.
        randomFillSync(key);
        rig.control.send({ t: 'receive-key-add', peer: REHEARSAL_PEER, keypair: { localIndex: sessionIndex(r), key } });
        pending = sessionIndex(r);
      } else if (pending >= 0) {
        sealer?.destroy();
        sealer = new DataSealer(aead, key, pending);
        key.fill(0);
        pending = -1;
        sealAndSend(null); // a keepalive
        sealAndSend(packets.other);
        turn();
        handshakes();
      }
      if (!sealer) continue;
      const n = ROUND_SIZES[r % ROUND_SIZES.length]!;
      for (let i = 0; i < n; i++) sealAndSend(packets.get(i, n, r));
      turn();
      steps.ticks(TICKS_PER_ROUND);
      moved += n;
    }
    return moved;
  } finally {
    sealer?.destroy();
    key.fill(0);
    steps.destroy();
  }
}
