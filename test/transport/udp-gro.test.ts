import { expect } from 'chai';
import * as libc from '../../src/sys/libc.js';
import { MSG_OFFSET, PacketBatch } from '../../src/transport/batch.js';
import { openBoundSocket, peerSockaddr } from '../../src/transport/socket.js';
import { UdpBatchSender } from '../../src/transport/udp-batch.js';
import { enableUdpGro, GRO_RECEIVE_BYTES, parseControl, UdpGroReceiver, type ReceivedControl } from '../../src/transport/udp-gro.js';

/** A cmsg as the kernel writes it on x86-64: cmsg_len u64, level, type, data, padded to 8. */
function cmsg(level: number, type: number, value: number): Buffer {
  const b = Buffer.alloc(24);
  b.writeBigUInt64LE(20n, 0);
  b.writeInt32LE(level, 8);
  b.writeInt32LE(type, 12);
  b.writeUInt32LE(value, 16);
  return b;
}

describe('UDP_GRO control messages (udp-gro.ts)', () => {
  const out: ReceivedControl = { segment: -5, drops: -5 };

  it('reads the segment size and the drop count, in either order', () => {
    const a = Buffer.concat([cmsg(17, 104, 1452), cmsg(1, 40, 9)]);
    parseControl(a, 0, a.length, out);
    expect(out).to.deep.equal({ segment: 1452, drops: 9 });
    const b = Buffer.concat([cmsg(1, 40, 3), cmsg(17, 104, 1000)]);
    parseControl(b, 0, b.length, out);
    expect(out).to.deep.equal({ segment: 1000, drops: 3 });
  });

  it('a lone datagram (no cmsg) has no segment size; unknown or truncated cmsgs are skipped', () => {
    parseControl(Buffer.alloc(48), 0, 0, out);
    expect(out).to.deep.equal({ segment: 0, drops: -1 });
    const odd = Buffer.concat([cmsg(0, 8, 77), cmsg(17, 104, 500)]);
    parseControl(odd, 0, odd.length, out);
    expect(out).to.deep.equal({ segment: 500, drops: -1 });
    const cut = cmsg(17, 104, 1452);
    parseControl(cut, 0, 18, out);
    expect(out.segment, 'cmsg longer than the control length').to.equal(0);
  });
});

describe('UDP_GRO receive on loopback (udp-gro.ts with udp-batch.ts sending)', () => {
  const fds: number[] = [];
  after(() => {
    for (const fd of fds) libc.close(fd);
  });

  it('a UDP_SEGMENT run arrives coalesced and is handed out datagram by datagram, in order, over several batches', function () {
    const rx = openBoundSocket('udp', { address: { family: 4, address: '127.0.0.1', port: 0 }, port: 0 });
    fds.push(rx.fd);
    if (!enableUdpGro(rx.fd)) this.skip(); // a kernel without UDP_GRO (before 5.0)
    const tx = openBoundSocket('udp', { address: { family: 4, address: '127.0.0.1', port: 0 }, port: 0 });
    fds.push(tx.fd);
    const sendBatch = new PacketBatch(MSG_OFFSET + 1452);
    const sender = new UdpBatchSender(tx.fd, sendBatch);
    const dest = peerSockaddr({ family: 4, address: '127.0.0.1', port: rx.port }, 4);
    sender.setDestination(dest.bytes, dest.len);
    // Two runs of 40 equal datagrams (the last of each shorter), tagged by number.
    let tag = 0;
    const sent: number[] = [];
    for (let run = 0; run < 2; run++) {
      for (let i = 0; i < 40; i++) {
        const len = i === 39 ? 300 : 1452;
        sendBatch.messages[i]!.fill(tag & 0xff, 0, len);
        sendBatch.messages[i]!.writeUInt16BE(tag, 0);
        sendBatch.lens[i] = len;
        sent.push(len);
        tag++;
      }
      expect(sender.send(40)).to.equal(40);
    }
    const batch = new PacketBatch(MSG_OFFSET + 1452, undefined, GRO_RECEIVE_BYTES);
    const receiver = new UdpGroReceiver(rx.fd, batch);
    const got: number[] = [];
    const tags: number[] = [];
    for (let guard = 0; guard < 100 && got.length < sent.length; guard++) {
      const n = receiver.receive();
      expect(n, 'at most a batch at a time').to.be.at.most(batch.size);
      for (let i = 0; i < n; i++) {
        got.push(batch.lens[i]!);
        tags.push(batch.messages[i]!.readUInt16BE(0));
        expect(receiver.sources[i]!.readUInt16BE(2), 'source port').to.equal(tx.port);
      }
    }
    expect(got).to.deep.equal(sent);
    expect(tags).to.deep.equal(sent.map((_, i) => i));
    expect(receiver.pending).to.equal(false);
    expect(receiver.runs, 'the kernel coalesced the runs').to.be.greaterThan(0);
    expect(receiver.receive(), 'nothing more').to.equal(0);
  });
});
