// What the warm-ups (warm-up.ts over UDP, warm-up-tcp.ts over TCP) push
// through a throwaway data path: inner packets as the TUN would deliver them,
// and the socketpair that stands in for the TUN.
import * as libc from '../../sys/libc.js';
import { VNET_HDR_BYTES } from '../../tun/device.js';
import { MESSAGE_COOKIE_REPLY, MESSAGE_INITIATION, MESSAGE_RESPONSE } from '../messages.js';
import type { DatapathInit, RouteSpec } from './worker-messages.js';

/** Packets pushed through; a few thousand runs of each function get V8 to optimize it. */
export const WARM_UP_PACKETS = 20_000;
/** Upper bound on the time spent, whatever the machine. */
export const WARM_UP_BUDGET_MS = 400;
export const INNER_PAYLOAD = 512;
/** ICMP header and payload of a default ping. */
const ECHO_BYTES = 64;
/** Plus one type no peer sends. */
export const HANDSHAKE_TYPES = [MESSAGE_INITIATION, MESSAGE_RESPONSE, MESSAGE_COOKIE_REPLY, 9];

/** The session index for a key made in round `round`: beyond V8's small integers as often as not, as real (random 32-bit) ones are. */
export function sessionIndex(round: number): number {
  return round % 128 === 0 ? 0xf00d_0001 + round : 7 + round;
}

/** The route the warm-up's packets come from and go to: one in AllowedIPs passes both ways (IPv4 first). */
export function warmUpRoute(init: DatapathInit): RouteSpec | undefined {
  return init.warmUpRoutes.find((r) => r.family === 4) ?? init.warmUpRoutes[0];
}

/**
 * virtio_net_hdr (no offload) ‖ IPv4 or IPv6 ‖ TCP (ACK) ‖ payload, or an
 * ICMP echo request the size of ping's, from and to `address` (one in
 * AllowedIPs passes both ways). Consecutive TCP sequence numbers let the
 * receive side's coalescing run too.
 */
export function innerPacket(family: 4 | 6, address: Uint8Array, kind: 'tcp' | 'echo'): Buffer {
  const v6 = family === 6;
  const ipLen = v6 ? 40 : 20;
  const l4 = kind === 'tcp' ? 20 + INNER_PAYLOAD : ECHO_BYTES;
  const proto = kind === 'tcp' ? 6 : v6 ? 58 : 1;
  const total = ipLen + l4;
  const p = Buffer.alloc(VNET_HDR_BYTES + total);
  const ip = VNET_HDR_BYTES;
  const addr = Buffer.from(address);
  if (v6) {
    p[ip] = 0x60;
    p.writeUInt16BE(l4, ip + 4);
    p[ip + 6] = proto;
    p[ip + 7] = 64;
    addr.copy(p, ip + 8);
    addr.copy(p, ip + 24);
  } else {
    p[ip] = 0x45;
    p.writeUInt16BE(total, ip + 2);
    p[ip + 6] = 0x40; // don't fragment
    p[ip + 8] = 64;
    p[ip + 9] = proto;
    addr.copy(p, ip + 12);
    addr.copy(p, ip + 16);
    p.writeUInt16BE(ipv4Checksum(p, ip), ip + 10);
  }
  const tcp = ip + ipLen;
  if (kind === 'echo') {
    p[tcp] = v6 ? 128 : 8;
    return p;
  }
  p.writeUInt16BE(40_000, tcp);
  p.writeUInt16BE(9, tcp + 2);
  p[tcp + 12] = 5 << 4;
  p[tcp + 13] = 0x10; // ACK
  p.writeUInt16BE(65_535, tcp + 14);
  return p;
}

function ipv4Checksum(p: Buffer, at: number): number {
  let s = 0;
  for (let i = at; i < at + 20; i += 2) s += p.readUInt16BE(i);
  while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
  return ~s & 0xffff;
}

/** A non-blocking AF_UNIX pair: datagrams stand in for a TUN, a stream for a TCP connection. */
export function socketPair(type: number = libc.SOCK_DGRAM): [number, number] {
  const sv = libc.allocNative(8);
  libc.check(libc.socketpair(libc.AF_UNIX, type | libc.SOCK_NONBLOCK | libc.SOCK_CLOEXEC, 0, sv.ptr), 'socketpair');
  return [sv.view.readInt32LE(0), sv.view.readInt32LE(4)];
}


/**
 * A TSO super-packet as a TUN with offloads delivers it: virtio_net_hdr
 * (checksum partial, GSO TCP) ‖ IP ‖ TCP ‖ `segments` × INNER_PAYLOAD bytes.
 */
export function superPacket(family: 4 | 6, address: Uint8Array, segments: number): Buffer {
  const one = innerPacket(family, address, 'tcp');
  const ipLen = family === 6 ? 40 : 20;
  const headers = VNET_HDR_BYTES + ipLen + 20;
  const p = Buffer.alloc(headers + segments * INNER_PAYLOAD);
  one.copy(p, 0, 0, headers);
  const ip = VNET_HDR_BYTES;
  if (family === 6) p.writeUInt16BE(p.length - ip - 40, ip + 4);
  else {
    p.writeUInt16BE(p.length - ip, ip + 2);
    p.writeUInt16BE(0, ip + 10);
    p.writeUInt16BE(ipv4Checksum(p, ip), ip + 10);
  }
  p[0] = 1; // VIRTIO_NET_HDR_F_NEEDS_CSUM
  p[1] = family === 6 ? 4 : 1; // VIRTIO_NET_HDR_GSO_TCPV6 / TCPV4
  p.writeUInt16LE(ipLen + 20, 2); // hdr_len
  p.writeUInt16LE(INNER_PAYLOAD, 4); // gso_size
  p.writeUInt16LE(ipLen, 6); // csum_start
  p.writeUInt16LE(16, 8); // csum_offset: the TCP checksum
  return p;
}
