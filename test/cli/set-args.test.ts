// `sealtun set NAME ...`'s words (set-args.ts) and the checks its values go
// through (peer-set.ts parseSetView), as `wg set` takes them.
import { expect } from 'chai';
import { parseSetArgs } from '../../src/cli/set-args.js';
import { encodeKey, generatePrivateKey, publicKeyOf } from '../../src/crypto/keys.js';
import { initSodium } from '../../src/crypto/sodium.js';
import { parseSetView } from '../../src/daemon/peer-set.js';

describe('sealtun set arguments (set-args.ts)', () => {
  let key: string;
  before(async () => {
    await initSodium();
    key = encodeKey(publicKeyOf(generatePrivateKey()));
  });

  it('takes every setting, in any order', () => {
    expect(parseSetArgs(['peer', key, 'persistent-keepalive', 'off', 'endpoint', '192.0.2.2:51820', 'allowed-ips', '10.77.0.5/32,fd77::5/128', 'preshared-key', 'c.psk'])).to.deep.equal({
      publicKey: key,
      remove: false,
      persistentKeepalive: 'off',
      endpoint: '192.0.2.2:51820',
      allowedIPs: '10.77.0.5/32,fd77::5/128',
      presharedKeyFile: 'c.psk',
    });
    expect(parseSetArgs(['peer', key])).to.deep.equal({ publicKey: key, remove: false });
    expect(parseSetArgs(['peer', key, 'remove'])).to.deep.equal({ publicKey: key, remove: true });
  });

  it('refuses what it cannot read, saying what it expected', () => {
    const bad: Array<[string[], string]> = [
      [[], 'set: expected: peer PUBLIC_KEY [remove]'],
      [['peer'], 'set: expected: peer PUBLIC_KEY'],
      [[key], 'set: expected: peer PUBLIC_KEY'],
      [['peer', key, 'endpoint'], 'set: endpoint needs a value'],
      [['peer', key, 'listen-port', '51820'], 'set: unknown setting "listen-port"'],
      [['peer', key, 'endpoint', '192.0.2.2:1', 'endpoint', '192.0.2.3:1'], 'set: endpoint is given twice'],
      [['peer', key, 'remove', 'endpoint', '192.0.2.2:1'], 'set: remove takes no other setting (endpoint)'],
      [['peer', key, 'peer', key], 'set: one peer at a time'],
    ];
    for (const [words, why] of bad) expect(() => parseSetArgs(words), words.join(' ')).to.throw(why);
  });

  it("checks the values with the config's parsers: canonical forms, and errors naming the setting", () => {
    const set = parseSetView({ publicKey: key, remove: false, endpoint: '[2001:db8::1]:51820', allowedIPs: '10.77.0.5/24', persistentKeepalive: '25' });
    expect(encodeKey(set.publicKey)).to.equal(key);
    expect(set.endpoint).to.deep.equal({ host: '2001:db8::1', port: 51820, family: 6 });
    expect(set.allowedIPs!.map((c) => c.text)).to.deep.equal(['10.77.0.0/24']);
    expect(set.persistentKeepalive).to.equal(25);
    const off = parseSetView({ publicKey: key, remove: false, persistentKeepalive: 'off', presharedKey: null });
    expect(off).to.have.property('persistentKeepalive', undefined);
    expect(off.presharedKey).to.equal(null);
    const bad: Array<[Record<string, unknown>, string]> = [
      [{ publicKey: 'AAAA' }, 'set: public key must be 32 bytes'],
      [{ publicKey: encodeKey(new Uint8Array(32)) }, 'the all-zero key'],
      [{ endpoint: '192.0.2.2' }, 'set: Endpoint: "192.0.2.2" has no port'],
      [{ allowedIPs: '10.77.0.0/33' }, 'set: AllowedIPs:'],
      [{ persistentKeepalive: 'soon' }, 'set: PersistentKeepalive: "soon" is not a number of seconds or "off"'],
      [{ presharedKey: 'AAAA' }, 'set: pre-shared key must be 32 bytes'],
      [{ remove: true, endpoint: '192.0.2.2:1' }, 'set: remove takes no other setting'],
      [{ remove: 'yes' }, 'malformed set request'],
      [{ endpoint: 5 }, 'malformed set request'],
    ];
    for (const [change, why] of bad) {
      expect(() => parseSetView({ publicKey: key, remove: false, ...change }), JSON.stringify(change)).to.throw(why);
    }
  });
});
