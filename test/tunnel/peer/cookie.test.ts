// Cookies (mac2, cookie replies) and the per-address rate limiter.
import { expect } from 'chai';
import fc from 'fast-check';
import { generatePrivateKey, publicKeyOf } from '../../../src/crypto/keys.js';
import { initSodium } from '../../../src/crypto/sodium.js';
import { encodeSockaddr } from '../../../src/transport/sockaddr.js';
import { CookieChecker, CookieJar, CookieReplyError, addressOf, sourceBytes } from '../../../src/tunnel/peer/cookie.js';
import { Handshake } from '../../../src/tunnel/peer/handshake.js';
import { INITIATION, MESSAGE_COOKIE_REPLY, MESSAGE_COOKIE_REPLY_BYTES, RESPONSE, mac1Key, slice, writeMac1 } from '../../../src/tunnel/messages.js';
import { RateLimiter } from '../../../src/tunnel/peer/ratelimiter.js';
import { TIMERS } from '../../../src/tunnel/timers.js';

function sockaddr(address: string, port: number): Uint8Array {
  const out = new Uint8Array(28);
  encodeSockaddr({ family: address.includes(':') ? 6 : 4, address, port }, out);
  return out;
}

describe('cookies (whitepaper §5.4.7)', () => {
  let clock: number;
  const now = () => clock;
  let alicePub: Uint8Array;
  let bobPub: Uint8Array;
  let alice: Handshake;
  const from = () => sourceBytes(sockaddr('192.0.2.1', 40000))!;

  before(async () => {
    await initSodium();
    const a = generatePrivateKey();
    const b = generatePrivateKey();
    alicePub = publicKeyOf(a);
    bobPub = publicKeyOf(b);
    alice = new Handshake({ staticPrivate: a, peerPublic: bobPub });
  });
  beforeEach(() => {
    clock = 1_000_000;
  });

  it('not under load: mac1 alone decides; a wrong mac1 is invalid', () => {
    const checker = new CookieChecker(bobPub, now);
    const msg = alice.createInitiation(1);
    expect(checker.validate(msg, INITIATION, from(), false)).to.equal('valid-mac-no-cookie');
    msg[10]! ^= 1;
    expect(checker.validate(msg, INITIATION, from(), false)).to.equal('invalid-mac');
    expect(checker.validate(msg.subarray(0, 100), INITIATION, from(), true)).to.equal('invalid-mac');
    // Addressed to someone else: mac1 keyed by another public key.
    expect(new CookieChecker(alicePub, now).validate(alice.createInitiation(2), INITIATION, from(), false)).to.equal('invalid-mac');
  });

  it('under load: no mac2 → cookie reply → the initiator stamps mac2 → accepted from that address only', () => {
    const checker = new CookieChecker(bobPub, now);
    const jar = new CookieJar(bobPub, now);
    const first = alice.createInitiation(0x1234);
    jar.stamp(first, INITIATION, 0x1234);
    expect(Array.from(slice(first, INITIATION.mac2)).every((b) => b === 0)).to.equal(true);
    expect(checker.validate(first, INITIATION, from(), true)).to.equal('valid-mac-no-cookie');
    const reply = checker.createReply(first, INITIATION, 0x1234, from());
    expect(reply).to.have.length(MESSAGE_COOKIE_REPLY_BYTES);
    expect(reply[0]).to.equal(MESSAGE_COOKIE_REPLY);
    expect(jar.consumeReply(reply)).to.equal(null);
    expect(jar.hasCookie).to.equal(true);
    // A replayed reply finds nothing to answer.
    expect(jar.consumeReply(reply)?.reason).to.equal('unexpected-index');

    const second = alice.createInitiation(0x5678);
    jar.stamp(second, INITIATION, 0x5678);
    expect(checker.validate(second, INITIATION, from(), true)).to.equal('valid-mac-with-cookie');
    // The cookie is bound to address and port.
    expect(checker.validate(second, INITIATION, sourceBytes(sockaddr('192.0.2.1', 40001))!, true)).to.equal('valid-mac-no-cookie');
    expect(checker.validate(second, INITIATION, sourceBytes(sockaddr('192.0.2.9', 40000))!, true)).to.equal('valid-mac-no-cookie');
    // A changed byte under mac2 breaks it (and mac1).
    const bent = second.slice();
    bent[INITIATION.mac2.offset]! ^= 0x80;
    expect(checker.validate(bent, INITIATION, from(), true)).to.equal('valid-mac-no-cookie');
  });

  it('a reply is bound to the mac1 it answers (AD) and to our public key', () => {
    const checker = new CookieChecker(bobPub, now);
    const jar = new CookieJar(bobPub, now);
    const sent = alice.createInitiation(7);
    jar.stamp(sent, INITIATION, 7);
    const other = alice.createInitiation(7); // same index, different mac1
    expect(jar.consumeReply(checker.createReply(other, INITIATION, 7, from()))?.reason).to.equal('decrypt-failed');
    const wrongKey = new CookieChecker(alicePub, now);
    expect(jar.consumeReply(wrongKey.createReply(sent, INITIATION, 7, from()))?.reason).to.equal('decrypt-failed');
    expect(jar.consumeReply(checker.createReply(sent, INITIATION, 8, from()))?.reason).to.equal('unexpected-index');
    expect(jar.consumeReply(checker.createReply(sent, INITIATION, 7, from()))).to.equal(null);
  });

  it('the secret rotates every cookieSecretMaxAgeMs; the initiator drops its cookie after cookieValidMs', () => {
    const checker = new CookieChecker(bobPub, now);
    const jar = new CookieJar(bobPub, now);
    const m = alice.createInitiation(3);
    jar.stamp(m, INITIATION, 3);
    jar.consumeReply(checker.createReply(m, INITIATION, 3, from()));
    clock += TIMERS.cookieValidMs - 1;
    const fresh = alice.createInitiation(4);
    jar.stamp(fresh, INITIATION, 4);
    expect(checker.validate(fresh, INITIATION, from(), true)).to.equal('valid-mac-with-cookie');
    clock += 2;
    const stale = alice.createInitiation(5);
    jar.stamp(stale, INITIATION, 5);
    expect(jar.hasCookie).to.equal(false);
    expect(Array.from(slice(stale, INITIATION.mac2)).every((b) => b === 0)).to.equal(true);
    // Secret replaced: a cookie from before no longer verifies.
    const jar2 = new CookieJar(bobPub, now);
    const n = alice.createInitiation(6);
    jar2.stamp(n, INITIATION, 6);
    jar2.consumeReply(checker.createReply(n, INITIATION, 6, from()));
    clock += TIMERS.cookieSecretMaxAgeMs;
    const later = alice.createInitiation(9);
    jar2.stamp(later, INITIATION, 9);
    expect(checker.validate(later, INITIATION, from(), true)).to.equal('valid-mac-no-cookie');
  });

  it('works for responses too (same mac fields, same checks)', () => {
    const checker = new CookieChecker(bobPub, now);
    const jar = new CookieJar(bobPub, now);
    const msg = new Uint8Array(96);
    msg[0] = 2;
    msg.fill(0x5a, 4, 64);
    expect(checker.validate(msg, RESPONSE, from(), false)).to.equal('invalid-mac');
    writeMac1(msg, RESPONSE.mac1, mac1Key(bobPub));
    jar.stamp(msg, RESPONSE, 11);
    expect(checker.validate(msg, RESPONSE, from(), true)).to.equal('valid-mac-no-cookie');
    expect(jar.consumeReply(checker.createReply(msg, RESPONSE, 11, from()))).to.equal(null);
    jar.stamp(msg, RESPONSE, 12);
    expect(checker.validate(msg, RESPONSE, from(), true)).to.equal('valid-mac-with-cookie');
  });

  it('source bytes: an IPv4-mapped IPv6 source is the IPv4 address; the limiter keys on the address alone', () => {
    const v4 = sourceBytes(sockaddr('192.0.2.7', 51820))!;
    const mapped = sourceBytes(sockaddr('::ffff:192.0.2.7', 51820))!;
    expect(Buffer.from(v4).toString('hex')).to.equal(Buffer.from(mapped).toString('hex'));
    expect(Buffer.from(v4).toString('hex')).to.equal('c0000207' + (51820).toString(16));
    expect(Array.from(addressOf(v4))).to.deep.equal([192, 0, 2, 7]);
    expect(sourceBytes(sockaddr('2001:db8::1', 1))).to.have.length(18);
    expect(sourceBytes(new Uint8Array(28))).to.equal(null);
    expect(sourceBytes(new Uint8Array(3))).to.equal(null);
  });

  it('property: random and mutated cookie replies are rejected with a typed error, never thrown', () => {
    const checker = new CookieChecker(bobPub, now);
    const jar = new CookieJar(bobPub, now);
    const sent = alice.createInitiation(42);
    jar.stamp(sent, INITIATION, 42);
    const good = checker.createReply(sent, INITIATION, 42, from());
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
        const r = jar.consumeReply(bytes);
        expect(r).to.be.instanceOf(CookieReplyError);
      }),
      { numRuns: 2000 },
    );
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 63 }), fc.integer({ min: 1, max: 255 }), (at, flip) => {
        const m = good.slice();
        m[at]! ^= flip;
        const r = jar.consumeReply(m);
        expect(r).to.be.instanceOf(CookieReplyError);
      }),
      { numRuns: 2000 },
    );
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 63 }), (cut) => {
        expect(jar.consumeReply(good.subarray(0, cut))?.reason).to.equal('bad-size');
      }),
    );
    // The untouched reply still works after all of that.
    expect(jar.consumeReply(good)).to.equal(null);
  });
});

describe('rate limiter (per source address, while under load)', () => {
  let clock = 0;
  const now = () => clock;
  const ip = (n: number) => new Uint8Array([192, 0, 2, n]);

  it('allows a burst, then perSecond, per address', () => {
    clock = 10_000;
    const rl = new RateLimiter(20, 5, 100, now);
    let ok = 0;
    for (let i = 0; i < 50; i++) if (rl.allow(ip(1))) ok++;
    expect(ok).to.equal(5);
    expect(rl.allow(ip(2))).to.equal(true); // another address has its own bucket
    clock += 100; // 0.1 s at 20/s: 2 tokens
    ok = 0;
    for (let i = 0; i < 10; i++) if (rl.allow(ip(1))) ok++;
    expect(ok).to.equal(2);
    clock += 60_000; // refills to the burst, not beyond
    ok = 0;
    for (let i = 0; i < 10; i++) if (rl.allow(ip(1))) ok++;
    expect(ok).to.equal(5);
  });

  it('the table is bounded: new addresses are refused when full, idle ones are swept', () => {
    clock = 50_000;
    const rl = new RateLimiter(20, 5, 100, now);
    for (let i = 0; i < 100; i++) expect(rl.allow(new Uint8Array([10, 0, i >> 8, i & 255]))).to.equal(true);
    expect(rl.size).to.equal(100);
    expect(rl.allow(new Uint8Array([10, 1, 0, 0]))).to.equal(false);
    expect(rl.size).to.equal(100);
    clock += 1500;
    expect(rl.allow(new Uint8Array([10, 1, 0, 0]))).to.equal(true);
    expect(rl.size).to.equal(1);
  });

  it('a spoofed-source flood of a million addresses keeps the table at its bound', () => {
    clock = 90_000;
    const rl = new RateLimiter();
    const a = new Uint8Array(4);
    for (let i = 0; i < 1_000_000; i++) {
      a[0] = i >>> 24;
      a[1] = i >>> 16;
      a[2] = i >>> 8;
      a[3] = i;
      rl.allow(a);
      if ((i & 0xffff) === 0) clock += 10;
    }
    expect(rl.size).to.be.at.most(4096);
  });
});
