// The steps a reload or set takes (peer-steps.ts): what is removed, added
// and changed, and an order in which the tunnel never sees a prefix owned
// by two peers. A model of the tunnel's peer table replays the steps and
// refuses what the tunnel refuses (tunnel.ts addPeer/changePeer).
import { expect } from 'chai';
import { parseCidr } from '../../src/config/cidr.js';
import type { Endpoint, PeerConfig } from '../../src/config/config.js';
import { peerSteps, type PeerStep } from '../../src/daemon/peer-steps.js';

const key = (n: number) => new Uint8Array(32).fill(n);
const psk = (n: number) => new Uint8Array(32).fill(100 + n);
const ep = (host: string, port = 51820): Endpoint => ({ host, port, family: 4 });
function peer(n: number, allowed: string[], extra: Partial<PeerConfig> = {}): PeerConfig {
  return { publicKey: key(n), allowedIPs: allowed.map((a) => parseCidr(a, { hostBits: 'clear' })), line: 0, ...extra };
}
const id = (k: Uint8Array) => k[0]!;

/** Steps as short text, for readable expectations. */
function describe_(steps: PeerStep[]): string[] {
  return steps.map((s) => {
    if (s.kind === 'add') return `add ${id(s.peer.publicKey)}`;
    if (s.kind === 'remove') return `remove ${id(s.publicKey)}${s.rekeyed ? ' (rekeyed)' : ''}`;
    const parts = Object.entries(s.change).map(([k, v]) =>
      k === 'allowedIPs' ? `allowedIPs=${(v as PeerConfig['allowedIPs']).map((c) => c.text).join(',')}` : `${k}=${JSON.stringify(v)}`,
    );
    return `change ${id(s.publicKey)} ${parts.join(' ')}`.trim();
  });
}

/** Replays steps on a model of the tunnel's peer table; throws as the tunnel would on a prefix owned twice. */
function replay(running: PeerConfig[], steps: PeerStep[]): Map<number, string[]> {
  const table = new Map(running.map((p) => [id(p.publicKey), p.allowedIPs.map((c) => c.text)]));
  const take = (owner: number, prefixes: string[]) => {
    for (const p of prefixes) {
      for (const [other, held] of table) if (other !== owner && held.includes(p)) throw new Error(`${p} is already peer ${other}`);
    }
    table.set(owner, prefixes);
  };
  for (const s of steps) {
    if (s.kind === 'remove') {
      if (!table.delete(id(s.publicKey))) throw new Error(`unknown peer ${id(s.publicKey)}`);
    } else if (s.kind === 'add') {
      if (table.has(id(s.peer.publicKey))) throw new Error(`peer ${id(s.peer.publicKey)} exists`);
      take(id(s.peer.publicKey), s.peer.allowedIPs.map((c) => c.text));
    } else {
      if (!table.has(id(s.publicKey))) throw new Error(`unknown peer ${id(s.publicKey)}`);
      if (s.change.allowedIPs) take(id(s.publicKey), s.change.allowedIPs.map((c) => c.text));
    }
  }
  return table;
}

function expectReaches(running: PeerConfig[], next: PeerConfig[], steps: PeerStep[]): void {
  const table = replay(running, steps);
  expect(Object.fromEntries(table)).to.deep.equal(Object.fromEntries(next.map((p) => [id(p.publicKey), p.allowedIPs.map((c) => c.text)])));
}

/** The steps from running to next are `expected`, and replayed they reach next. */
function expectSteps(running: PeerConfig[], next: PeerConfig[], expected: string[]): void {
  const steps = peerSteps(running, next);
  expect(describe_(steps)).to.deep.equal(expected);
  expectReaches(running, next, steps);
}

describe('reload steps (peer-steps.ts)', () => {
  const a = peer(1, ['10.77.0.2/32'], { endpoint: ep('192.0.2.2') });
  const b = peer(2, ['10.77.0.3/32']);
  const c = peer(3, ['10.77.0.4/32', '10.78.0.0/16']);

  it('nothing changed: no steps', () => {
    expect(peerSteps([a, b, c], [peer(1, ['10.77.0.2/32'], { endpoint: ep('192.0.2.2') }), b, c])).to.deep.equal([]);
  });

  it('adds a new peer and removes one that went, leaving the others alone', () => {
    expectSteps([a, b, c], [a, c, peer(4, ['10.77.0.5/32'])], ['remove 2', 'add 4']);
  });

  it('a change of AllowedIPs only is one change step with just that field: the session stays', () => {
    expectSteps([a, b, c], [a, peer(2, ['10.77.0.3/32', '10.79.0.0/24']), c], ['change 2 allowedIPs=10.77.0.3/32,10.79.0.0/24']);
  });

  it('Endpoint and PersistentKeepalive changes carry only what changed (null: taken away)', () => {
    const moved = peer(1, ['10.77.0.2/32'], { endpoint: ep('192.0.2.9'), persistentKeepalive: 25 });
    expect(describe_(peerSteps([a], [moved]))).to.deep.equal([
      'change 1 endpoint={"host":"192.0.2.9","port":51820,"family":4} persistentKeepalive=25',
    ]);
    expect(describe_(peerSteps([moved], [a]))).to.deep.equal(['change 1 endpoint={"host":"192.0.2.2","port":51820,"family":4} persistentKeepalive=null']);
    const noEndpoint = peer(1, ['10.77.0.2/32']);
    expect(describe_(peerSteps([a], [noEndpoint]))).to.deep.equal(['change 1 endpoint=null']);
    // A keepalive of 0 is "off", the same as none.
    expect(peerSteps([peer(2, ['10.77.0.3/32'], { persistentKeepalive: 0 })], [b])).to.deep.equal([]);
  });

  it('a changed PresharedKey is a remove and an add (a new session); the same key in a new buffer is no change', () => {
    const keyed = peer(2, ['10.77.0.3/32'], { presharedKey: psk(2) });
    expect(describe_(peerSteps([a, keyed], [a, peer(2, ['10.77.0.3/32'], { presharedKey: psk(9) })]))).to.deep.equal(['remove 2 (rekeyed)', 'add 2']);
    expect(describe_(peerSteps([a, keyed], [a, b]))).to.deep.equal(['remove 2 (rekeyed)', 'add 2']);
    expect(describe_(peerSteps([a, b], [a, keyed]))).to.deep.equal(['remove 2 (rekeyed)', 'add 2']);
    expect(peerSteps([a, keyed], [a, peer(2, ['10.77.0.3/32'], { presharedKey: psk(2) })])).to.deep.equal([]);
  });

  it('a prefix moved from one peer to another in one reload: the old owner lets go first', () => {
    const running = [a, b];
    const next = [peer(1, ['10.77.0.2/32', '10.77.0.3/32'], { endpoint: ep('192.0.2.2') }), peer(2, ['10.77.1.3/32'])];
    const steps = peerSteps(running, next);
    expect(describe_(steps)).to.deep.equal(['change 2 allowedIPs=10.77.1.3/32', 'change 1 allowedIPs=10.77.0.2/32,10.77.0.3/32']);
    expectReaches(running, next, steps);
    // Listed the other way round in the config: the same order of steps.
    expect(describe_(peerSteps([b, a], [next[1]!, next[0]!]))).to.deep.equal(describe_(steps));
  });

  it('two peers swap prefixes: both shrink to what they keep, then both grow', () => {
    expectSteps([peer(1, ['10.77.0.2/32', '10.1.0.0/16']), peer(2, ['10.77.0.3/32', '10.2.0.0/16'])], [peer(1, ['10.77.0.2/32', '10.2.0.0/16']), peer(2, ['10.77.0.3/32', '10.1.0.0/16'])], [
      'change 1 allowedIPs=10.77.0.2/32',
      'change 2 allowedIPs=10.77.0.3/32',
      'change 1 allowedIPs=10.77.0.2/32,10.2.0.0/16',
      'change 2 allowedIPs=10.77.0.3/32,10.1.0.0/16',
    ]);
  });

  it('a prefix moved to a new peer, and from a removed peer to a staying one, a rekeyed peer among them', () => {
    const running = [a, b, c, peer(5, ['10.5.0.0/16'], { presharedKey: psk(5) })];
    const next = [
      peer(1, ['10.77.0.2/32', '10.77.0.3/32'], { endpoint: ep('192.0.2.2') }), // takes removed b's prefix
      peer(3, ['10.77.0.4/32']), // gives 10.78.0.0/16 to the new peer 4
      peer(4, ['10.78.0.0/16']),
      peer(5, ['10.5.0.0/16', '10.77.0.4/31'], { presharedKey: psk(6) }),
    ];
    expectSteps(running, next, [
      'remove 2',
      'remove 5 (rekeyed)',
      'change 1 allowedIPs=10.77.0.2/32,10.77.0.3/32',
      'change 3 allowedIPs=10.77.0.4/32',
      'add 5',
      'add 4',
    ]);
  });

  it('two peers trading prefixes give all up first; the other changes wait for the second step', () => {
    expectSteps([peer(1, ['10.1.0.0/16', '10.9.0.0/16']), peer(2, ['10.2.0.0/16'])], [peer(1, ['10.2.0.0/16'], { persistentKeepalive: 25 }), peer(2, ['10.9.0.0/16'])], [
      'change 1 allowedIPs=',
      'change 2 allowedIPs=',
      'change 1 persistentKeepalive=25 allowedIPs=10.2.0.0/16',
      'change 2 allowedIPs=10.9.0.0/16',
    ]);
  });

  it('many peers, each moving its prefix to the next one: never a prefix owned twice', () => {
    const n = 50;
    const running = Array.from({ length: n }, (_, i) => peer(i + 1, [`10.0.${i}.0/24`, `10.1.${i}.0/24`]));
    const next = Array.from({ length: n }, (_, i) => peer(i + 1, [`10.0.${(i + 1) % n}.0/24`, `10.1.${i}.0/24`]));
    expectReaches(running, next, peerSteps(running, next));
  });
});
