// Runs the UDP packet path over throwaway descriptors before a worker enters
// its real loop, so that V8 has compiled it to optimized code by the time the
// first real packet arrives.
//
// Why: V8 optimizes a function only after it has run a few thousand times.
// On an idle or lightly used tunnel (an SSH session, pings) the packet path
// otherwise stays in the bytecode interpreter for minutes, and every packet
// pays several times the optimized cost in latency. Measured on the reference
// machine: idle ping RTT 0.80 ms through a fresh tunnel, 0.45 ms through one
// that had carried 20 000 packets (docs/performance.md).
//
// The warm-up uses a datagram socketpair in place of the TUN and a UDP
// socket on 127.0.0.1 sending to itself in place of the peer, a throwaway
// key, and its own counters. It rehearses the whole loop as it will run: its
// control messages (keys, the peer's address) arrive through a channel and
// wake eventfd of its own, as the main thread's do, and between rounds it
// ticks as KeepWarm does (WarmUpSteps); what the loops would report to the
// main thread is dropped. Nothing reaches the real TUN, socket, peer or
// statistics. If the throwaway descriptors cannot be made (no loopback in
// this namespace) the worker simply starts cold.
import { randomFillSync } from 'node:crypto';
import * as libc from '../../sys/libc.js';
import { VNET_HDR_BYTES } from '../../tun/device.js';
import { encodeSockaddr } from '../../transport/sockaddr.js';
import type { UdpLoop } from './udp-loop.js';
import type { DatapathInit, RouteSpec, ToRx, ToTx } from './worker-messages.js';
import { WarmUpSteps } from './warm-spell.js';
import { createPeerStats } from '../stats.js';
import { rehearse, type Rehearsal } from './worker-port.js';
import { MESSAGE_INITIATION_BYTES } from '../messages.js';
import { HANDSHAKE_TYPES, INNER_PAYLOAD, WARM_UP_BUDGET_MS, WARM_UP_PACKETS, innerPacket, sessionIndex, socketPair, warmUpRoute } from './warm-up-packets.js';

/** The rehearsal's one peer, in its own loop's slots. */
const REHEARSAL_PEER = 0;
/** Packets per round: a batch, as under load, and single packets, as when idle. */
const ROUND_SIZES = [32, 1, 8, 1];
/**
 * Turns after each round: the first takes the round's datagrams off the
 * loopback socket, the next finds nothing, as KeepWarm's ticks do between
 * sparse packets.
 */
const TICKS_PER_ROUND = 2;

/** Warms the UDP data path on a loop `make` builds; returns the packets that went through (0: skipped). */
export function warmUp(init: DatapathInit, make: (init: DatapathInit) => UdpLoop): number {
  if (init.transport !== 'udp' || !init.tunVnetHdr) return 0;
  const route = warmUpRoute(init);
  if (!route) return 0;
  const fds: number[] = [];
  try {
    const pair = socketPair();
    fds.push(...pair);
    const self = loopbackSocket();
    if (!self) return 0;
    fds.push(self.fd);
    const relay = loopbackSocket();
    if (!relay) return 0;
    fds.push(relay.fd);
    let moved = 0;
    rehearse<ToTx | ToRx>((control) => {
      const warm: DatapathInit = { ...init, wakeFd: control.wakeFd, tunFd: pair[0], udpFd: self.fd, stats: new SharedArrayBuffer(init.stats.byteLength), peerStats: createPeerStats() };
      moved = pump(make(warm), warm, control, pair[1], self, relay, route);
    });
    return moved;
  } catch {
    return 0;
  } finally {
    for (const fd of fds) libc.close(fd);
  }
}

function pump(loop: UdpLoop, init: DatapathInit, control: Rehearsal<ToTx | ToRx>, feeder: number, self: LoopbackSocket, relay: LoopbackSocket, route: RouteSpec): number {
  const deadline = performance.now() + WARM_UP_BUDGET_MS;
  const { tx, rx } = loop;
  const steps = new WarmUpSteps(loop, tx.aead, init);
  const turn = (): boolean => steps.step();
  const packet = innerPacket(route.family, route.bytes, 'tcp');
  const echo = innerPacket(route.family, route.bytes, 'echo');
  const seqAt = VNET_HDR_BYTES + (route.family === 4 ? 20 : 40) + 4;
  const other = route.family === 4 ? innerPacket(6, new Uint8Array(16), 'tcp') : innerPacket(4, new Uint8Array(4), 'tcp');
  const sink = Buffer.alloc(VNET_HDR_BYTES + 65_536);
  let seq = 1;
  let moved = 0;
  // Batches of TCP segments (a transfer), single pings (an idle tunnel).
  const round = (n: number): boolean => {
    for (let i = 0; i < n; i++) {
      let p = echo;
      if (n > 1) {
        p = packet;
        p.writeUInt32BE(seq >>> 0, seqAt);
        seq += INNER_PAYLOAD;
      }
      if (libc.write(feeder, p, p.length) < 0) return false;
    }
    turn();
    while (libc.read(feeder, sink, sink.length) > 0);
    steps.ticks(TICKS_PER_ROUND);
    moved += n;
    return true;
  };
  // The receive key is installed first and sent with later, as in a rekey,
  // so packets on the previous key arrive meanwhile.
  const key = Buffer.alloc(32);
  let sendIndex = -1;
  const receiveKey = (index: number): void => {
    randomFillSync(key);
    sendIndex = index;
    control.send({ t: 'receive-key-add', peer: REHEARSAL_PEER, keypair: { localIndex: index, key } }); // sent as a copy, as by the main thread
  };
  const sendKey = (): void => {
    if (sendIndex < 0) return;
    control.send({ t: 'send-key', peer: REHEARSAL_PEER, keypair: { remoteIndex: sendIndex, key } });
    key.fill(0);
    sendIndex = -1;
  };
  try {
    control.send({ t: 'peer-add', peer: REHEARSAL_PEER, allowedIPs: [route] });
    control.send({ t: 'udp-destination', peer: REHEARSAL_PEER, sockaddr: Uint8Array.from(self.sockaddr), len: self.sockaddr.length });
    // Before a session: packets are dropped and a handshake asked for.
    for (let i = 0; i < 50; i++) round(1);
    // Handshake messages of each type go to the main thread (dropped here).
    const handshake = Buffer.alloc(MESSAGE_INITIATION_BYTES);
    const handshakes = (): void => {
      for (const type of HANDSHAKE_TYPES) {
        handshake[0] = type;
        libc.sendto(self.fd, handshake, handshake.length, libc.MSG_DONTWAIT, self.sockaddr, self.sockaddr.length);
        turn();
      }
    };
    for (let i = 0; i < 15; i++) handshakes();
    for (let r = 0; moved < WARM_UP_PACKETS && performance.now() < deadline; r++) {
      if (r % 64 === 0) receiveKey(sessionIndex(r));
      if (r % 64 === 1 || r === 0) sendKey();
      if (!round(ROUND_SIZES[r % ROUND_SIZES.length]!)) break;
      if (r % 64 === 0) {
        control.send({ t: 'keepalive', peer: REHEARSAL_PEER });
        turn();
        // The kernel sends IPv6 (router solicitations, MLD) even on an IPv4-only tunnel.
        libc.write(feeder, other, other.length);
        turn();
        while (libc.read(feeder, sink, sink.length) > 0);
        handshakes();
        // The peer's address changes (roaming): a round through the relay.
        control.send({ t: 'udp-destination', peer: REHEARSAL_PEER, sockaddr: Uint8Array.from(relay.sockaddr), len: relay.sockaddr.length });
        round(1);
        for (let got = libc.read(relay.fd, sink, sink.length); got > 0; got = libc.read(relay.fd, sink, sink.length)) {
          libc.sendto(relay.fd, sink, got, libc.MSG_DONTWAIT, self.sockaddr, self.sockaddr.length);
        }
        turn();
        control.send({ t: 'udp-destination', peer: REHEARSAL_PEER, sockaddr: Uint8Array.from(self.sockaddr), len: self.sockaddr.length });
        // A reload's new AllowedIPs (the same set here): both checks then run on a fresh matcher.
        control.send({ t: 'allowed-ips', peer: REHEARSAL_PEER, allowedIPs: [route] });
      }
    }
    return moved;
  } finally {
    steps.destroy();
    tx.apply({ t: 'stop' });
    rx.apply({ t: 'stop' });
  }
}

/** A UDP socket on 127.0.0.1 and its own address, or null without loopback. */
interface LoopbackSocket {
  fd: number;
  sockaddr: Buffer;
}

function loopbackSocket(): LoopbackSocket | null {
  const fd = libc.socket(libc.AF_INET, libc.SOCK_DGRAM | libc.SOCK_NONBLOCK | libc.SOCK_CLOEXEC, 0);
  if (fd < 0) return null;
  const sa = libc.allocNative(libc.SIZEOF_SOCKADDR_STORAGE);
  const len = encodeSockaddr({ family: 4, address: '127.0.0.1', port: 0 }, sa.view);
  const lenBuf = libc.allocNative(4);
  lenBuf.view.writeUInt32LE(libc.SIZEOF_SOCKADDR_STORAGE, 0);
  if (libc.bind(fd, sa.ptr, len) < 0 || libc.getsockname(fd, sa.ptr, lenBuf.ptr) < 0) {
    libc.close(fd);
    return null;
  }
  return { fd, sockaddr: Buffer.from(sa.view.subarray(0, lenBuf.view.readUInt32LE(0))) };
}
