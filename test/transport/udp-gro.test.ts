import { expect } from 'chai';
import { parseControl, type ReceivedControl } from '../../src/transport/udp-gro.js';

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
