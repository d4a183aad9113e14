// The one real packet each storm peer sends through its new session: an IPv4
// ICMP echo request (RFC 792) from its inner address to the server's, whose
// reply proves the server routed traffic back to that very peer.
import { isIP } from 'node:net';
import { V4_DST, V4_HEADER_BYTES, V4_SRC } from '../src/tunnel/ip-header.js';

const ICMP_HEADER_BYTES = 8;
const PAYLOAD_BYTES = 16;
export const ECHO_PACKET_BYTES = V4_HEADER_BYTES + ICMP_HEADER_BYTES + PAYLOAD_BYTES;
const PROTO_ICMP = 1;
const ECHO_REQUEST = 8;
const ECHO_REPLY = 0;

function v4Bytes(addr: string): number[] {
  if (isIP(addr) !== 4) throw new Error(`${addr} is not an IPv4 address`);
  return addr.split('.').map(Number);
}

/** RFC 1071 ones' complement sum over buf[from .. to), folded and inverted. */
function checksum(buf: Uint8Array, from: number, to: number): number {
  let sum = 0;
  for (let i = from; i < to; i += 2) sum += (buf[i]! << 8) | (i + 1 < to ? buf[i + 1]! : 0);
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

function put16(buf: Uint8Array, at: number, v: number): void {
  buf[at] = v >>> 8;
  buf[at + 1] = v & 0xff;
}

/** An echo request `src` → `dst` with identifier `id` and sequence `seq`. */
export function echoRequest(src: string, dst: string, id: number, seq: number): Uint8Array {
  const p = new Uint8Array(ECHO_PACKET_BYTES);
  p[0] = 0x45; // IPv4, 5-word header
  put16(p, 2, ECHO_PACKET_BYTES);
  put16(p, 4, id); // IP identification: any value
  p[8] = 64; // TTL
  p[9] = PROTO_ICMP;
  p.set(v4Bytes(src), V4_SRC);
  p.set(v4Bytes(dst), V4_DST);
  put16(p, 10, checksum(p, 0, V4_HEADER_BYTES));
  const icmp = V4_HEADER_BYTES;
  p[icmp] = ECHO_REQUEST;
  put16(p, icmp + 4, id);
  put16(p, icmp + 6, seq);
  for (let i = 0; i < PAYLOAD_BYTES; i++) p[icmp + ICMP_HEADER_BYTES + i] = i;
  put16(p, icmp + 2, checksum(p, icmp, ECHO_PACKET_BYTES));
  return p;
}

/** Whether `pkt` is an echo reply to us carrying identifier `id`. */
export function isEchoReply(pkt: Uint8Array, id: number): boolean {
  if (pkt.length < V4_HEADER_BYTES + ICMP_HEADER_BYTES || pkt[0]! >> 4 !== 4 || pkt[9] !== PROTO_ICMP) return false;
  const icmp = (pkt[0]! & 0x0f) * 4;
  return pkt[icmp] === ECHO_REPLY && ((pkt[icmp + 4]! << 8) | pkt[icmp + 5]!) === id;
}
