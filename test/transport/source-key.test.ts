// Which sources share a limit: an IPv4 address, or a whole IPv6 /64 (as
// WireGuard's ratelimiter.c), for the handshake rate limiter and the cap on
// unauthenticated TCP connections.
import { expect } from 'chai';
import ipaddr from 'ipaddr.js';
import { RateLimiter } from '../../src/tunnel/peer/ratelimiter.js';
import { networkKey, sourceKey, sourceKeysOf } from '../../src/transport/source-key.js';

const bytes = (a: string) => Uint8Array.from(ipaddr.parse(a).toByteArray());

describe('source key (IPv4 address, IPv6 /64)', () => {
  it('puts every address of one IPv6 /64 under one key, and other /64s under others', () => {
    const k = sourceKey(bytes('2001:db8::1'));
    for (const a of ['2001:db8::2', '2001:db8::ffff:ffff:ffff:ffff', '2001:db8:0:0:1234:5678:9abc:def0']) expect(sourceKey(bytes(a)), a).to.equal(k);
    for (const a of ['2001:db8:0:1::1', '2001:db8:1::1', '2001:db9::1']) expect(sourceKey(bytes(a)), a).to.not.equal(k);
  });

  it('keeps IPv4 addresses apart, an IPv4-mapped address equal to its IPv4 one, and never equal to an IPv6 key', () => {
    expect(sourceKey(bytes('192.0.2.1'))).to.not.equal(sourceKey(bytes('192.0.2.2')));
    expect(sourceKey(bytes('::ffff:192.0.2.1'))).to.equal(sourceKey(bytes('192.0.2.1')));
    // ::ffff:c000:201 in the first 64 bits is all zero, like ::/64: distinct lengths keep them apart.
    expect(sourceKey(bytes('::ffff:192.0.2.1'))).to.not.equal(sourceKey(bytes('::1')));
    expect(sourceKey(bytes('0.0.0.0'))).to.not.equal(sourceKey(bytes('::')));
  });

  it('ignores the port of a socket address', () => {
    expect(sourceKeysOf({ family: 6, address: '2001:db8::7', port: 1 })).to.deep.equal(sourceKeysOf({ family: 6, address: '2001:db8::8', port: 2 }));
    expect(sourceKeysOf({ family: 4, address: '192.0.2.7', port: 1 })).to.deep.equal({ source: sourceKey(bytes('192.0.2.7')), network: networkKey(bytes('192.0.2.7')) });
  });

  it('the network around a source: an IPv4 /24 (also IPv4-mapped), an IPv6 /48', () => {
    const v4 = networkKey(bytes('192.0.2.7'));
    expect(networkKey(bytes('192.0.2.200'))).to.equal(v4);
    expect(networkKey(bytes('::ffff:192.0.2.9'))).to.equal(v4);
    expect(networkKey(bytes('192.0.3.7'))).to.not.equal(v4);
    const v6 = networkKey(bytes('2001:db8:1:ff00::1'));
    expect(networkKey(bytes('2001:db8:1:1::1'))).to.equal(v6);
    expect(networkKey(bytes('2001:db8:2::1'))).to.not.equal(v6);
  });

  it('the rate limiter gives one IPv6 /64 one bucket, however many addresses it uses', () => {
    const clock = 10_000;
    const rl = new RateLimiter(20, 5, 100, () => clock);
    let ok = 0;
    for (let i = 1; i <= 50; i++) if (rl.allow(bytes(`2001:db8::${i.toString(16)}`))) ok++;
    expect(ok, 'tokens granted to 50 addresses of one /64').to.equal(5);
    expect(rl.size).to.equal(1);
    expect(rl.allow(bytes('2001:db8:0:1::1')), 'the next /64 has its own bucket').to.equal(true);
    ok = 0;
    for (let i = 1; i <= 50; i++) if (rl.allow(bytes(`192.0.2.${i}`))) ok++;
    expect(ok, 'IPv4 addresses each have their own').to.equal(50);
  });
});
