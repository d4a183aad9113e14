// What `sealtun set` makes of the running peers (peer-set.ts peersAfterSet).
import { expect } from 'chai';
import { parseCidr } from '../../src/config/cidr.js';
import type { PeerConfig } from '../../src/config/config.js';
import { encodeKey } from '../../src/crypto/keys.js';
import { peersAfterSet, type PeerSet } from '../../src/daemon/peer-set.js';
import { checkPeers } from '../../src/daemon/reload.js';

const key = (n: number) => new Uint8Array(32).fill(n);
const cidrs = (...t: string[]) => t.map((c) => parseCidr(c, { hostBits: 'clear' }));
const peer = (n: number, ...allowed: string[]): PeerConfig => ({ publicKey: key(n), allowedIPs: cidrs(...allowed), line: 0 });
const set = (n: number, s: Partial<PeerSet> = {}): PeerSet => ({ publicKey: key(n), remove: false, ...s });

describe('sealtun set on the running peers (peer-set.ts)', () => {
  const running = [peer(1, '10.77.0.2/32'), { ...peer(2, '10.77.0.3/32'), persistentKeepalive: 25, presharedKey: key(9) }];

  it('removes a peer, and says so when it is not there', () => {
    expect(peersAfterSet(running, set(2, { remove: true })).map((p) => p.publicKey[0])).to.deep.equal([1]);
    expect(() => peersAfterSet(running, set(3, { remove: true }))).to.throw(`peer ${encodeKey(key(3))} is not a peer of this interface; nothing to remove`);
  });

  it('changes only what is given; off and /dev/null take a setting away; running is not modified', () => {
    const after = peersAfterSet(running, set(2, { endpoint: { host: '192.0.2.9', port: 1, family: 4 }, persistentKeepalive: undefined, presharedKey: null }));
    expect(after[1]).to.deep.equal({ publicKey: key(2), allowedIPs: cidrs('10.77.0.3/32'), line: 0, endpoint: { host: '192.0.2.9', port: 1, family: 4 } });
    expect(running[1]!.persistentKeepalive).to.equal(25);
    expect(peersAfterSet(running, set(2, { allowedIPs: cidrs('10.9.0.0/16') }))[1]).to.include({ persistentKeepalive: 25 });
  });

  it('adds a new peer at the end; one without allowed-ips is refused', () => {
    const after = peersAfterSet(running, set(3, { allowedIPs: cidrs('10.77.0.4/32') }));
    expect(after.map((p) => p.publicKey[0])).to.deep.equal([1, 2, 3]);
    expect(() => peersAfterSet(running, set(3))).to.throw('is new: give its allowed-ips');
  });

  it('the result is checked as a config: a prefix another peer holds, a peer nobody can reach', () => {
    const taken = peersAfterSet(running, set(3, { allowedIPs: cidrs('10.77.0.3/32') }));
    expect(() => checkPeers(taken, 51820)).to.throw(`peer ${encodeKey(key(3))}: AllowedIPs: 10.77.0.3/32 is already peer ${encodeKey(key(2))}`);
    const unreachable = peersAfterSet(running, set(3, { allowedIPs: cidrs('10.77.0.4/32') }));
    expect(() => checkPeers(unreachable, null)).to.throw("neither its Endpoint nor the interface's ListenPort is set");
  });
});
