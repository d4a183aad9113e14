// Random and mutated configs: parseConfig returns a config or throws a
// ConfigError in the FILE:LINE: Key: form, never anything else, and never
// shows the inline private key.
import { expect } from 'chai';
import fc from 'fast-check';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, parseConfig } from '../../src/config/config.js';
import { initSodium } from '../../src/crypto/sodium.js';

// Fixed keys without "/" (see config.test.ts); parsing needs no libsodium.
const PRIV = 'Y3Focer13HayYJa1WKZV3Q2RLB81c+O7CexCSuesOOs=';
const PUB = 'sVrn20CRmqU5RWNLs9WypXLMfCccwRWzfCFbjGRlWjw=';
const PSK = 'TKIgkMPJwnMgoq7y1C0DBXBLGen47EN+W4lJXd5+hBs=';

const INLINE = [
  '[Interface]',
  'Name = st0',
  `PrivateKey = ${PRIV}`,
  'Address = 10.77.0.1/24, fd77::1/64',
  'ListenPort = 51820',
  'Transport = auto',
  'MTU = 1420',
  '',
  '[Peer]  # the other end',
  `PublicKey = ${PUB}`,
  `PresharedKey = ${PSK}`,
  'Endpoint = [2001:db8::1]:51820',
  'AllowedIPs = 10.77.0.0/24, fd77::/64',
  'PersistentKeepalive = 25',
];

const WITH_FILES = [
  '; keys in files',
  '[interface]',
  'name = st1',
  'privatekey = keys/a.key',
  'address = 10.78.0.1',
  'listenaddress = 192.0.2.1',
  'listenport = 1',
  '[peer]',
  'publickey = keys/b.pub',
  'presharedkey = keys/ab.psk',
  'endpoint = vpn.example.com:443',
  'allowedips = 0.0.0.0/0',
];

type Mutation =
  | { op: 'deleteLine' | 'duplicateLine'; at: number }
  | { op: 'swapLines'; at: number; to: number }
  | { op: 'replaceLine'; at: number; line: string }
  | { op: 'deleteChar' | 'toggleCase'; at: number }
  | { op: 'insertChar' | 'replaceChar'; at: number; ch: string };

/** Characters that matter to the grammar, plus arbitrary ones. */
const char = fc.oneof(
  fc.constantFrom('[', ']', '=', '#', ';', ' ', '\t', '/', ':', ',', '.', '-', '%', '\n', '\r', '0', '9', 'a', 'Z', '+', 'é', '\0'),
  fc.string({ minLength: 1, maxLength: 1, unit: 'binary' }),
);

const keyNames = ['Name', 'PrivateKey', 'Address', 'ListenPort', 'ListenAddress', 'Transport', 'MTU', 'User',
  'PublicKey', 'PresharedKey', 'Endpoint', 'AllowedIPs', 'PersistentKeepalive', 'Bogus'];
const values = ['st0', PRIV, PUB, 'keys/a.key', 'keys/b.pub', 'keys/ab.psk', '10.0.0.1/24', '::/0', 'fd00::1/129',
  '0', '1280', '65535', '65536', 'udp', 'tcp', 'auto', 'off', '[::1]:1', '192.0.2.1:51820', 'a.b.c:1', '', 'nobody',
  '10.0.0.1, 10.0.0.2/31', '.', '..', '/', '/dev/null'];

/** Lines built from the grammar's pieces, so random configs get past the tokenizer often. */
const line = fc.oneof(
  fc.constantFrom('[Interface]', '[Peer]', '[peer]', '[Bogus]', '[', '# c', ''),
  fc.tuple(fc.constantFrom(...keyNames), fc.constantFrom(' = ', '=', ' =', ' '), fc.constantFrom(...values))
    .map(([k, eq, v]) => k + eq + v),
  fc.string({ maxLength: 40 }),
);

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ op: fc.constantFrom('deleteLine' as const, 'duplicateLine' as const), at: fc.nat() }),
  fc.record({ op: fc.constant('swapLines' as const), at: fc.nat(), to: fc.nat() }),
  fc.record({ op: fc.constant('replaceLine' as const), at: fc.nat(), line }),
  fc.record({ op: fc.constantFrom('deleteChar' as const, 'toggleCase' as const), at: fc.nat() }),
  fc.record({ op: fc.constantFrom('insertChar' as const, 'replaceChar' as const), at: fc.nat(), ch: char }),
);

function mutate(lines: readonly string[], mutations: readonly Mutation[]): string {
  const ls = [...lines];
  for (const m of mutations) {
    if (m.op === 'deleteLine' || m.op === 'duplicateLine' || m.op === 'swapLines' || m.op === 'replaceLine') {
      if (ls.length === 0) continue;
      const i = m.at % ls.length;
      if (m.op === 'deleteLine') ls.splice(i, 1);
      else if (m.op === 'duplicateLine') ls.splice(i, 0, ls[i]!);
      else if (m.op === 'replaceLine') ls[i] = m.line;
      else if (m.op === 'swapLines') {
        const j = m.to % ls.length;
        [ls[i], ls[j]] = [ls[j]!, ls[i]!];
      }
      continue;
    }
    const text = ls.join('\n');
    const i = text.length === 0 ? 0 : m.at % text.length;
    let out: string;
    if (m.op === 'deleteChar') out = text.slice(0, i) + text.slice(i + 1);
    else if (m.op === 'insertChar') out = text.slice(0, i) + m.ch + text.slice(i);
    else if (m.op === 'replaceChar') out = text.slice(0, i) + m.ch + text.slice(i + 1);
    else {
      const c = text.charAt(i);
      out = text.slice(0, i) + (c === c.toUpperCase() ? c.toLowerCase() : c.toUpperCase()) + text.slice(i + 1);
    }
    ls.splice(0, ls.length, ...out.split('\n'));
  }
  return ls.join('\n');
}

/** Every 32-character window of the secret part of the inline keys. */
const SECRET_WINDOWS = [PRIV, PSK].flatMap((k) => Array.from({ length: 43 - 32 + 1 }, (_, i) => k.slice(i, i + 32)));

describe('config fuzz', () => {
  let dir: string;
  let file: string;

  before(async () => {
    await initSodium(); // parseConfig derives our public key
    dir = mkdtempSync(join(tmpdir(), 'sealtun-fuzz-'));
    file = join(dir, 'fuzz.conf');
    mkdirSync(join(dir, 'keys'), { mode: 0o700 });
    writeFileSync(join(dir, 'keys', 'a.key'), PRIV + '\n', { mode: 0o600 });
    writeFileSync(join(dir, 'keys', 'b.pub'), PUB + '\n', { mode: 0o644 });
    writeFileSync(join(dir, 'keys', 'ab.psk'), PSK + '\n', { mode: 0o600 });
  });

  after(() => rmSync(dir, { recursive: true, force: true }));

  /** Returns normally for a config or a well-formed ConfigError; fails the property otherwise. */
  function check(text: string): void {
    let err: unknown;
    try {
      const c = parseConfig(text, file);
      expect(c.iface.privateKey).to.have.length(32);
      expect(c.role.initiates || c.role.accepts).to.equal(true);
      return;
    } catch (e) {
      err = e;
    }
    if (!(err instanceof ConfigError)) throw new Error(`not a ConfigError for:\n${text}\n---\n${String(err)}`);
    const lines = text.split(/\r\n|\n|\r/).length;
    expect(err.message.startsWith(`${file}:${err.line}: ${err.key}: `), err.message).to.equal(true);
    expect(err.line).to.be.within(1, lines);
    expect(err.message).to.not.match(/[\n\r]/);
    for (const w of SECRET_WINDOWS) expect(err.message, 'secret shown').to.not.include(w);
  }

  it('the base configs parse', () => {
    expect(parseConfig(INLINE.join('\n'), file).peers[0]!.endpoint?.family).to.equal(6);
    expect(parseConfig(WITH_FILES.join('\n'), file).iface.name).to.equal('st1');
  });

  it('mutated inline-key configs: a config or a ConfigError', () => {
    fc.assert(fc.property(fc.array(mutation, { minLength: 1, maxLength: 6 }), (ms) => check(mutate(INLINE, ms))), {
      numRuns: 2000,
    });
  });

  it('mutated file-key configs: a config or a ConfigError', () => {
    fc.assert(fc.property(fc.array(mutation, { minLength: 1, maxLength: 6 }), (ms) => check(mutate(WITH_FILES, ms))), {
      numRuns: 800,
    });
  });

  it('random configs from grammar pieces: a config or a ConfigError', () => {
    fc.assert(fc.property(fc.array(line, { maxLength: 30 }), (ls) => check(ls.join('\n'))), { numRuns: 1500 });
  });

  it('arbitrary text: a config or a ConfigError', () => {
    fc.assert(fc.property(fc.string({ maxLength: 300, unit: 'binary' }), (t) => check(t)), { numRuns: 1000 });
  });
});
