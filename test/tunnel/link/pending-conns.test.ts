// Which unauthenticated TCP connection gives way to a new one: never the
// one that showed a valid mac1, and the source holding the most slots first.
import { expect } from 'chai';
import ipaddr from 'ipaddr.js';
import { admitPending, type PendingConn } from '../../../src/tunnel/link/pending-conns.js';
import { networkKey, sourceKey } from '../../../src/transport/source-key.js';

interface C extends PendingConn {
  name: string;
}

const origin = (a: string) => {
  const bytes = Uint8Array.from(ipaddr.parse(a).toByteArray());
  return { source: sourceKey(bytes), network: networkKey(bytes) };
};
const conn = (name: string, address: string, vouched = false): C => ({ name, ...origin(address), vouched });
const limits = { total: 8, perSource: 2 };
const evicted = (pending: C[], from: string) => {
  const r = admitPending(pending, origin(from), limits);
  return r.admit ? (r.evict?.name ?? 'none') : 'refused';
};

describe('pending TCP connections: admission and eviction', () => {
  it('admits without evicting while there is room', () => {
    expect(evicted([conn('a', '192.0.2.1')], '192.0.2.1')).to.equal('none');
  });

  it('a source at its cap gives up its own oldest, never another source’s', () => {
    const pending = [conn('peer', '192.0.2.1'), conn('f1', '192.0.2.9'), conn('f2', '192.0.2.9')];
    expect(evicted(pending, '192.0.2.9')).to.equal('f1');
  });

  it('counts a whole IPv6 /64 as one source', () => {
    const pending = [conn('peer', '2001:db8:1::1'), conn('f1', '2001:db8::100'), conn('f2', '2001:db8::101')];
    expect(evicted(pending, '2001:db8::102')).to.equal('f1');
    expect(evicted(pending, '2001:db8:2::1')).to.equal('none');
  });

  it('when all slots are full, the source holding the most gives one up, not the oldest connection', () => {
    // The real peer is the oldest; three other sources hold 2, 2 and 3... capped at 2 each, so 2, 2, 2 and 1.
    const pending = [
      conn('peer', '192.0.2.1'),
      conn('a1', '198.51.100.1'),
      conn('b1', '198.51.100.2'),
      conn('a2', '198.51.100.1'),
      conn('b2', '198.51.100.2'),
      conn('c1', '198.51.100.3'),
      conn('c2', '198.51.100.3'),
      conn('d1', '198.51.100.4'),
    ];
    expect(evicted(pending, '203.0.113.1')).to.equal('a1');
  });

  it('never evicts a connection that showed a valid mac1; refuses the newcomer when nothing else can go', () => {
    const pending = [conn('peer', '192.0.2.9', true), conn('f1', '192.0.2.9')];
    expect(evicted(pending, '192.0.2.9')).to.equal('f1');
    expect(evicted([conn('p1', '192.0.2.9', true), conn('p2', '192.0.2.9', true)], '192.0.2.9')).to.equal('refused');
    const full = Array.from({ length: 8 }, (_, i) => conn(`v${i}`, `198.51.100.${i >> 1}`, true));
    expect(evicted(full, '203.0.113.1')).to.equal('refused');
    full[5] = conn('u5', '198.51.100.2');
    expect(evicted(full, '203.0.113.1')).to.equal('u5');
  });

  it('among sources holding one slot each, the network holding the most gives way: 16 addresses of one IPv6 /56 never evict the peer', () => {
    const flood = (i: number) => `2001:db8:0:${(0x100 + i).toString(16)}::1`;
    // The peer's connection is the oldest (oldest-first took it): 7 flood connections came after it.
    const pending = [conn('peer', '2001:db8:7777::1')];
    let next = 0;
    for (; next < 7; next++) pending.push(conn(`f${next}`, flood(next)));
    // 16 more connections from the /56 arrive one after another, before the peer's initiation.
    for (let k = 0; k < 16; k++, next++) {
      const gone = evicted(pending, flood(next));
      expect(gone, `newcomer ${k}`).to.match(/^f/);
      pending.splice(pending.findIndex((c) => c.name === gone), 1);
      pending.push(conn(`f${next}`, flood(next)));
    }
    expect(pending.map((c) => c.name)).to.include('peer');
  });
});
