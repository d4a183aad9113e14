// Just enough of the pcap format (as `tcpdump -w` writes it on a veth:
// Ethernet frames, IPv4) to pull UDP datagrams and TCP payloads back out of a
// capture, so a test can re-inject what an attacker on the path recorded.

export interface Segment {
  proto: 'udp' | 'tcp';
  src: string;
  dst: string;
  sport: number;
  dport: number;
  /** TCP sequence number (0 for UDP). */
  seq: number;
  payload: Buffer;
}

export function readPcap(file: Buffer): Segment[] {
  const magic = file.readUInt32LE(0);
  const le = magic === 0xa1b2c3d4 || magic === 0xa1b23c4d;
  if (!le && file.readUInt32BE(0) !== 0xa1b2c3d4 && file.readUInt32BE(0) !== 0xa1b23c4d) throw new Error('not a pcap file');
  const u32 = (o: number) => (le ? file.readUInt32LE(o) : file.readUInt32BE(o));
  const linktype = u32(20);
  const out: Segment[] = [];
  for (let at = 24; at + 16 <= file.length; ) {
    const incl = u32(at + 8);
    const frame = file.subarray(at + 16, at + 16 + incl);
    at += 16 + incl;
    let ip: Buffer;
    if (linktype === 1) {
      if (frame.length < 14 || frame.readUInt16BE(12) !== 0x0800) continue;
      ip = frame.subarray(14);
    } else if (linktype === 113) {
      if (frame.length < 16 || frame.readUInt16BE(14) !== 0x0800) continue;
      ip = frame.subarray(16);
    } else continue;
    if (ip.length < 20 || ip[0]! >> 4 !== 4) continue;
    const ihl = (ip[0]! & 15) * 4;
    const total = ip.readUInt16BE(2);
    const proto = ip[9];
    const src = Array.from(ip.subarray(12, 16)).join('.');
    const dst = Array.from(ip.subarray(16, 20)).join('.');
    const l4 = ip.subarray(ihl, total);
    if (proto === 17 && l4.length >= 8) {
      out.push({ proto: 'udp', src, dst, sport: l4.readUInt16BE(0), dport: l4.readUInt16BE(2), seq: 0, payload: Buffer.from(l4.subarray(8)) });
    } else if (proto === 6 && l4.length >= 20) {
      const off = (l4[12]! >> 4) * 4;
      out.push({ proto: 'tcp', src, dst, sport: l4.readUInt16BE(0), dport: l4.readUInt16BE(2), seq: l4.readUInt32BE(4), payload: Buffer.from(l4.subarray(off)) });
    }
  }
  return out;
}

/** The bytes one direction of one TCP connection carried, in order (no loss on a veth: duplicates dropped by sequence). */
export function tcpStream(segments: Segment[], sport: number, dport: number): Buffer {
  const parts = new Map<number, Buffer>();
  for (const s of segments) if (s.proto === 'tcp' && s.sport === sport && s.dport === dport && s.payload.length > 0) parts.set(s.seq, s.payload);
  const seqs = [...parts.keys()].sort((a, b) => a - b);
  return Buffer.concat(seqs.map((q) => parts.get(q)!));
}

/** Length-prefixed records (u32 BE) for the injector. */
export function records(payloads: Buffer[]): Buffer {
  return Buffer.concat(
    payloads.flatMap((p) => {
      const len = Buffer.alloc(4);
      len.writeUInt32BE(p.length, 0);
      return [len, p];
    }),
  );
}
