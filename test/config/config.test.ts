import { expect } from 'chai';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, loadConfig, parseConfig, type TunnelConfig } from '../../src/config/config.js';
import { encodeKey, generatePresharedKey, publicKeyOf, readKeyFile, smallOrderPoint, writeKeyPair } from '../../src/crypto/keys.js';
import { initSodium, sodium } from '../../src/crypto/sodium.js';

// Fixed inline keys (any 32 bytes are a valid key for parsing). None contains
// "/", so every long run of them is plainly key text.
const PRIV = 'uD6Ffy03NnZzYyoQhGwsIPTUP4vHst+lFWyr7LAVDMo=';
const PUB = 'TKIgkMPJwnMgoq7y1C0DBXBLGen47EN+W4lJXd5+hBs=';
const PSK = '110tZRJNKAbrMwWFXtJUe9O8GWsD6ZFLWd+mrR6JOFM=';

/** The reference config, one entry per line: line N is LINES[N - 1]. */
const LINES = [
  '# sealtun test config', // 1
  '[Interface]', // 2
  'Name = st0', // 3
  'PrivateKey = keys/a.key', // 4
  'Address = 10.77.0.1/24, fd77::1/64', // 5
  'ListenPort = 51820', // 6
  'ListenAddress = 192.0.2.1', // 7
  'Transport = auto', // 8
  'MTU = 1400', // 9
  'User = nobody', // 10
  'KeepWarm = 250', // 11
  '[Peer]', // 12
  'PublicKey = keys/b.pub', // 13
  'PresharedKey = keys/ab.psk', // 14
  'Endpoint = 192.0.2.2:51821', // 15
  'AllowedIPs = 10.77.0.2/32, fd77::2/128', // 16
  'PersistentKeepalive = 25', // 17
];

/** LINES with some lines replaced ('' blanks a line, keeping the numbering); extra lines appended. */
function text(edits: Record<number, string> = {}, extra: string[] = []): string {
  const lines = LINES.map((line, i) => edits[i + 1] ?? line);
  return [...lines, ...extra].join('\n') + '\n';
}

function hex(bytes: Uint8Array | undefined): string {
  return bytes === undefined ? '' : Buffer.from(bytes).toString('hex');
}

describe('config', () => {
  let dir: string;
  let file: string;
  let keyA: Uint8Array;
  let keyB: Uint8Array;
  let psk: Uint8Array;

  before(async () => {
    await initSodium();
    dir = mkdtempSync(join(tmpdir(), 'sealtun-config-'));
    file = join(dir, 't.conf');
    writeKeyPair(join(dir, 'keys', 'a'), false);
    writeKeyPair(join(dir, 'keys', 'b'), false);
    writeFileSync(join(dir, 'keys', 'ab.psk'), encodeKey(generatePresharedKey()) + '\n', { mode: 0o600 });
    keyA = readKeyFile(join(dir, 'keys', 'a.key'), 'private key');
    keyB = readKeyFile(join(dir, 'keys', 'b.pub'), 'public key');
    psk = readKeyFile(join(dir, 'keys', 'ab.psk'), 'pre-shared key');
    writeFileSync(file, text());
  });

  after(() => rmSync(dir, { recursive: true, force: true }));

  /** Parses `src` as if it were `file`, expecting exactly this error (or one matching the pattern). */
  function expectError(src: string, message: string | RegExp): ConfigError {
    let thrown: unknown;
    try {
      parseConfig(src, file);
    } catch (err) {
      thrown = err;
    }
    expect(thrown, 'parseConfig should throw').to.be.instanceOf(ConfigError);
    const err = thrown as ConfigError;
    if (typeof message === 'string') expect(err.message).to.equal(message);
    else expect(err.message).to.match(message);
    expect(err.file).to.equal(file);
    const m = /^[^\n]*?:(\d+): ([^:]+): /.exec(err.message.slice(file.length));
    expect(m, 'expected FILE:LINE: Key: form').to.not.equal(null);
    expect(err.line).to.equal(Number(m![1]));
    expect(err.key).to.equal(m![2]);
    return err;
  }

  describe('valid configs', () => {
    it('loads a full config with key files relative to the config directory', () => {
      const c: TunnelConfig = loadConfig(file);
      expect(c.file).to.equal(file);
      expect(c.iface.name).to.equal('st0');
      expect(hex(c.iface.privateKey)).to.equal(hex(keyA));
      expect(c.iface.addresses.map((a) => a.text)).to.deep.equal(['10.77.0.1/24', 'fd77::1/64']);
      expect(c.iface.addresses[0]).to.deep.include({ family: 4, address: '10.77.0.1', prefix: 24 });
      expect(hex(c.iface.addresses[0]!.bytes)).to.equal('0a4d0001');
      expect(c.iface.addresses[1]).to.deep.include({ family: 6, address: 'fd77::1', prefix: 64 });
      expect(c.iface.addresses[1]!.bytes).to.have.length(16);
      expect(c.iface.listenPort).to.equal(51820);
      expect(c.iface.listenAddress).to.equal('192.0.2.1');
      expect(c.iface.transport).to.equal('auto');
      expect(c.iface.mtu).to.equal(1400);
      expect(c.iface.user).to.equal('nobody');
      expect(c.iface.keepWarmMs).to.equal(250);
      expect(hex(c.peers[0]!.publicKey)).to.equal(hex(keyB));
      expect(hex(c.peers[0]!.presharedKey)).to.equal(hex(psk));
      expect(c.peers[0]!.endpoint).to.deep.equal({ host: '192.0.2.2', port: 51821, family: 4, line: 15 });
      expect(c.peers[0]!.allowedIPs.map((a) => a.text)).to.deep.equal(['10.77.0.2/32', 'fd77::2/128']);
      expect(c.peers[0]!.persistentKeepalive).to.equal(25);
      expect(c.role).to.deep.equal({ initiates: true, accepts: true });
    });

    it('resolves key files against the config file, not the working directory', () => {
      const elsewhere = mkdtempSync(join(tmpdir(), 'sealtun-cwd-'));
      const cwd = process.cwd();
      try {
        process.chdir(elsewhere);
        expect(hex(parseConfig(text(), file).iface.privateKey)).to.equal(hex(keyA));
      } finally {
        process.chdir(cwd);
        rmSync(elsewhere, { recursive: true, force: true });
      }
    });

    it('takes inline base64 keys and applies defaults for optional keys', () => {
      const c = parseConfig(
        ['[Interface]', 'Name = wg-x.1', `PrivateKey = ${PRIV}`, 'Address = 10.0.0.1', '', '[Peer]',
          `PublicKey = ${PUB}`, 'Endpoint = 198.51.100.7:1', 'AllowedIPs = 0.0.0.0/0'].join('\n'),
        file,
      );
      expect(hex(c.iface.privateKey)).to.equal(Buffer.from(PRIV, 'base64').toString('hex'));
      expect(hex(c.peers[0]!.publicKey)).to.equal(Buffer.from(PUB, 'base64').toString('hex'));
      expect(c.iface.addresses.map((a) => a.text)).to.deep.equal(['10.0.0.1/32']);
      expect(c.iface.transport).to.equal('udp');
      expect(c.iface.keepWarmMs).to.equal(50);
      for (const k of ['listenPort', 'listenAddress', 'mtu', 'user'] as const) expect(c.iface[k]).to.equal(undefined);
      expect(c.peers[0]!.presharedKey).to.equal(undefined);
      expect(c.peers[0]!.persistentKeepalive).to.equal(undefined);
      expect(c.peers[0]!.allowedIPs[0]).to.deep.include({ family: 4, address: '0.0.0.0', prefix: 0, text: '0.0.0.0/0' });
      expect(c.role).to.deep.equal({ initiates: true, accepts: false });
    });

    it('handles comments: whole-line # and ;, trailing after whitespace, but not inside a value', () => {
      const c = parseConfig(
        text({ 1: '; comment', 3: 'Name = st0   # trailing', 11: '   # indented comment', 6: 'ListenPort = 51820\t; tab comment' }),
        file,
      );
      expect(c.iface.name).to.equal('st0');
      expect(c.iface.listenPort).to.equal(51820);
      expectError(text({ 3: 'Name = st#0' }), `${file}:3: Name: "st#0" is not a valid interface name; use letters, digits, "_", "." and "-" (not "." or "..")`);
    });

    it('treats section and key names case-insensitively and ignores spacing around =', () => {
      const c = parseConfig(
        text({ 2: '[INTERFACE]', 3: 'nAmE=st1', 8: 'TRANSPORT   =   TCP', 12: '[peer]', 16: 'allowedips=10.9.0.0/16', 17: 'persistentkeepalive = OFF' }),
        file,
      );
      expect(c.iface.name).to.equal('st1');
      expect(c.iface.transport).to.equal('tcp');
      expect(c.peers[0]!.allowedIPs.map((a) => a.text)).to.deep.equal(['10.9.0.0/16']);
      expect(c.peers[0]!.persistentKeepalive).to.equal(undefined);
    });

    it('accepts CRLF line endings and a UTF-8 byte order mark', () => {
      const c = parseConfig('\uFEFF' + text().replace(/\n/g, '\r\n'), file);
      expect(c.iface.name).to.equal('st0');
      expect(c.peers[0]!.persistentKeepalive).to.equal(25);
    });

    it('normalises AllowedIPs to the network address, keeps the host part of Address', () => {
      const c = parseConfig(text({ 5: 'Address = 10.77.0.9/24', 16: 'AllowedIPs = 10.77.0.5/24, fd77::1:2:3/64, 2001:DB8:0:0:0:0:0:1' }), file);
      expect(c.iface.addresses.map((a) => a.text)).to.deep.equal(['10.77.0.9/24']);
      expect(c.peers[0]!.allowedIPs.map((a) => a.text)).to.deep.equal(['10.77.0.0/24', 'fd77::/64', '2001:db8::1/128']);
      expect(hex(c.peers[0]!.allowedIPs[0]!.bytes)).to.equal('0a4d0000');
    });

    it('accumulates repeated Address and AllowedIPs lines', () => {
      const c = parseConfig(text({ 11: 'Address = 10.88.0.1/16' }, ['AllowedIPs = 10.88.0.0/16']), file);
      expect(c.iface.addresses.map((a) => a.text)).to.deep.equal(['10.77.0.1/24', 'fd77::1/64', '10.88.0.1/16']);
      expect(c.peers[0]!.allowedIPs.map((a) => a.text)).to.deep.equal(['10.77.0.2/32', 'fd77::2/128', '10.88.0.0/16']);
    });

    it('parses endpoints: IPv4, bracketed IPv6 (with zone), host names', () => {
      const ep = (value: string) => parseConfig(text({ 15: `Endpoint = ${value}` }), file).peers[0]!.endpoint;
      expect(ep('[2001:DB8::0:1]:51820')).to.deep.equal({ host: '2001:db8::1', port: 51820, family: 6, line: 15 });
      expect(ep('[fe80::1%eth0]:7')).to.deep.equal({ host: 'fe80::1%eth0', port: 7, family: 6, line: 15 });
      expect(ep('vpn.example.com:443')).to.deep.equal({ host: 'vpn.example.com', port: 443, line: 15 });
      expect(ep('localhost:65535')).to.deep.equal({ host: 'localhost', port: 65535, line: 15 });
      expect(ep('peer-2.example.:1')).to.deep.equal({ host: 'peer-2.example.', port: 1, line: 15 });
    });

    it('takes ListenAddress as IPv4, IPv6 or bracketed IPv6', () => {
      const la = (value: string) => parseConfig(text({ 7: `ListenAddress = ${value}` }), file).iface.listenAddress;
      expect(la('0.0.0.0')).to.equal('0.0.0.0');
      expect(la('2001:db8:0::7')).to.equal('2001:db8::7');
      expect(la('[::]')).to.equal('::');
    });

    it('derives the role from Endpoint and ListenPort', () => {
      expect(parseConfig(text({ 15: '' }), file).role).to.deep.equal({ initiates: false, accepts: true });
      expect(parseConfig(text({ 6: '', 7: '' }), file).role).to.deep.equal({ initiates: true, accepts: false });
    });

    it('accepts the edges of the numeric ranges', () => {
      expect(parseConfig(text({ 3: 'Name = abcdefghijklmno' }), file).iface.name).to.equal('abcdefghijklmno');
      const v4only = { 5: 'Address = 10.77.0.1/24', 16: 'AllowedIPs = 10.77.0.2/32' };
      expect(parseConfig(text({ ...v4only, 9: 'MTU = 576' }), file).iface.mtu).to.equal(576);
      expect(parseConfig(text({ 9: 'MTU = 1280' }), file).iface.mtu).to.equal(1280);
      // The largest MTU each transport carries (line 8 is Transport = auto).
      expect(parseConfig(text({ 9: 'MTU = 65475' }), file).iface.mtu).to.equal(65475);
      expect(parseConfig(text({ 8: 'Transport = udp', 9: 'MTU = 65475' }), file).iface.mtu).to.equal(65475);
      expect(parseConfig(text({ 8: 'Transport = tcp', 9: 'MTU = 65000' }), file).iface.mtu).to.equal(65000);
      expect(parseConfig(text({ 6: 'ListenPort = 1' }), file).iface.listenPort).to.equal(1);
      expect(parseConfig(text({ 17: 'PersistentKeepalive = 0' }), file).peers[0]!.persistentKeepalive).to.equal(undefined);
      expect(parseConfig(text({ 17: 'PersistentKeepalive = 65535' }), file).peers[0]!.persistentKeepalive).to.equal(65535);
      expect(parseConfig(text({ 10: 'User = 65534' }), file).iface.user).to.equal('65534');
      expect(parseConfig(text({ 11: 'KeepWarm = off' }), file).iface.keepWarmMs).to.equal(0);
      expect(parseConfig(text({ 11: 'KeepWarm = 0' }), file).iface.keepWarmMs).to.equal(0);
      expect(parseConfig(text({ 11: 'KeepWarm = 60000' }), file).iface.keepWarmMs).to.equal(60000);
    });
  });

  describe('MetricsListen', () => {
    const metrics = (value: string) => parseConfig(text({ 11: `MetricsListen = ${value}` }), file).iface.metricsListen;

    it('is off by default; takes IPv4 ADDRESS:PORT and [IPv6]:PORT, in canonical form', () => {
      expect(parseConfig(text(), file).iface.metricsListen).to.equal(undefined);
      expect(metrics('127.0.0.1:9586')).to.deep.equal({ address: '127.0.0.1', port: 9586, family: 4 });
      expect(metrics('0.0.0.0:1')).to.deep.equal({ address: '0.0.0.0', port: 1, family: 4 });
      expect(metrics('[::1]:65535')).to.deep.equal({ address: '::1', port: 65535, family: 6 });
      expect(metrics('[2001:DB8:0::7]:9586')).to.deep.equal({ address: '2001:db8::7', port: 9586, family: 6 });
      expect(parseConfig(text({ 11: 'metricslisten = 127.0.0.1:9586' }), file).iface.metricsListen?.port).to.equal(9586);
    });

    it('errors name the file, line and key', () => {
      const cases: Array<[string, string]> = [
        ['127.0.0.1', '"127.0.0.1" is not ADDRESS:PORT; expected e.g. 127.0.0.1:9586 or [::1]:9586'],
        ['::1:9586', '"::1:9586" is not ADDRESS:PORT; expected e.g. 127.0.0.1:9586 or [::1]:9586'],
        ['[::1]', '"[::1]" is not ADDRESS:PORT; expected e.g. 127.0.0.1:9586 or [::1]:9586'],
        ['127.0.0.1:', 'has no port after ":"; expected e.g. 127.0.0.1:9586'],
        ['127.0.0.1:0', '0 is out of range; expected 1-65535'],
        ['127.0.0.1:65536', '65536 is out of range; expected 1-65535'],
        ['127.0.0.1:http', '"http" is not a port number; expected a whole number 1-65535'],
        [':9586', '":9586" has no address before ":"; e.g. 127.0.0.1 serves this host only'],
        ['localhost:9586', '"localhost" is not a valid IPv4 address (four decimal numbers 0-255, like 10.0.0.1) or IPv6 address'],
        ['[127.0.0.1]:9586', '"[127.0.0.1]:9586": brackets are only for IPv6; write 127.0.0.1:9586'],
        ['[fe80::1%eth0]:9586', '"fe80::1%eth0" has a zone index (%...), which is not allowed here'],
      ];
      for (const [value, message] of cases) {
        expectError(text({ 11: `MetricsListen = ${value}` }), `${file}:11: MetricsListen: ${message}`);
      }
      expectError(text({ 11: 'MetricsListen = 127.0.0.1:9586' }, ['MetricsListen = 127.0.0.1:1']), `${file}:18: MetricsListen: belongs in [Interface], not [Peer]`);
    });
  });

  describe('DNS and hooks', () => {
    const iface = (edits: Record<number, string>) => parseConfig(text(edits), file).iface;

    it('are unset by default', () => {
      expect(iface({}).dns).to.deep.equal({ servers: [], searchDomains: [] });
      expect(iface({}).hooks).to.deep.equal({ preUp: [], postUp: [], preDown: [], postDown: [] });
    });

    it('DNS: addresses (v4, v6, canonical) are servers, names are search domains, in file order over repeated lines', () => {
      const dns = iface({ 10: 'DNS = 192.0.2.53, 2001:DB8:0::53, corp.example', 11: 'dns = example.test., 198.51.100.1' }).dns;
      expect(dns).to.deep.equal({ servers: ['192.0.2.53', '2001:db8::53', '198.51.100.1'], searchDomains: ['corp.example', 'example.test.'] });
    });

    it('hooks: each key may repeat and keeps its commands in file order; ";" is part of the command, " #" starts a comment', () => {
      const hooks = iface({ 9: 'PostUp = iptables -A FORWARD -i %i -j ACCEPT ; echo a#b', 10: 'postup = echo second # a comment', 11: 'PreDown = echo x; echo y' }).hooks;
      expect(hooks.postUp).to.deep.equal(['iptables -A FORWARD -i %i -j ACCEPT ; echo a#b', 'echo second']);
      expect(hooks.preDown).to.deep.equal(['echo x; echo y']);
      // Elsewhere " ;" still starts a comment, as before.
      expect(iface({ 10: 'User = nobody ; the daemon user' }).user).to.equal('nobody');
    });

    it('errors name the file, line and key', () => {
      const cases: Array<[string, string]> = [
        ['192.0.2.300', '"192.0.2.300" is not a valid IPv4 address (four decimal numbers 0-255, like 10.0.0.1) or IPv6 address'],
        ['2001:db8::53::1', '"2001:db8::53::1" is not a valid IPv6 address'],
        ['fe80::1%eth0', '"fe80::1%eth0" has a zone index (%...), which is not allowed here'],
        ['192.0.2.53,', 'has an empty item; remove the stray comma'],
        ['corp_example', '"corp_example" is neither an IP address (a name server) nor a domain name (a search domain: letters, digits and "-" in dot-separated labels)'],
        ['-bad.example', '"-bad.example" is neither an IP address (a name server) nor a domain name (a search domain: letters, digits and "-" in dot-separated labels)'],
      ];
      for (const [value, message] of cases) expectError(text({ 11: `DNS = ${value}` }), `${file}:11: DNS: ${message}`);
      expectError(text({ 11: 'PostUp =' }), `${file}:11: PostUp: has no value`);
      expectError(text({ 11: 'DNS = 192.0.2.53' }, ['PreUp = true']), `${file}:18: PreUp: belongs in [Interface], not [Peer]`);
    });
  });

  describe('Table, FwMark, KillSwitch, KillSwitchAllowLan', () => {
    const iface = (lines: string[]) => parseConfig(text({ 11: lines.join('\n') }), file).iface;
    const fullTunnel = { 16: 'AllowedIPs = 0.0.0.0/0, ::/0', 10: '', 8: 'Transport = udp' };

    it('defaults: Table = auto, no FwMark, kill switch off', () => {
      const i = parseConfig(text(), file).iface;
      expect([i.table, i.fwMark, i.killSwitch, i.killSwitchAllowLan]).to.deep.equal(['auto', undefined, false, false]);
    });

    it('takes wg-quick\'s values: Table auto, off, main or a number; FwMark decimal, 0x hex, 0 or off', () => {
      expect(iface(['Table = off']).table).to.equal('off');
      expect(iface(['table = AUTO']).table).to.equal('auto');
      expect(iface(['Table = main']).table).to.equal(254);
      expect(iface(['Table = 1234']).table).to.equal(1234);
      expect(iface(['Table = 4294967295']).table).to.equal(4294967295);
      expect(iface(['FwMark = 51820']).fwMark).to.equal(51820);
      expect(iface(['FwMark = 0xCA6C']).fwMark).to.equal(51820);
      expect(iface(['FwMark = 0xffffffff']).fwMark).to.equal(0xffffffff);
      expect(iface(['FwMark = 0']).fwMark).to.equal('off');
      expect(iface(['FwMark = off']).fwMark).to.equal('off');
      expect(iface(['KillSwitch = on', 'KillSwitchAllowLan = on'])).to.include({ killSwitch: true, killSwitchAllowLan: true });
      expect(iface(['KillSwitch = off']).killSwitch).to.equal(false);
      expect(parseConfig(text(fullTunnel), file).peers[0]!.allowedIPs.map((c) => c.text)).to.deep.equal(['0.0.0.0/0', '::/0']);
    });

    it('errors name the file, line and key', () => {
      const cases: Array<[string, string]> = [
        ['Table = 0', 'Table: 0 is out of range; expected 1-4294967295'],
        ['Table = 253', 'Table: 253 is a table the kernel reserves (253 default, 255 local); pick another number'],
        ['Table = 255', 'Table: 255 is a table the kernel reserves (253 default, 255 local); pick another number'],
        ['Table = 4294967296', 'Table: 4294967296 is out of range; expected 1-4294967295'],
        ['Table = local', 'Table: "local" is not auto, off, main or a routing table number; expected a whole number 1-4294967295'],
        ['FwMark = 0x1ffffffff', 'FwMark: "0x1ffffffff" is not a mark; expected a number 1-4294967295 (or 0x hex), or off'],
        ['FwMark = 4294967296', 'FwMark: "4294967296" is not a mark; expected a number 1-4294967295 (or 0x hex), or off'],
        ['FwMark = -1', 'FwMark: "-1" is not a mark; expected a number 1-4294967295 (or 0x hex), or off'],
        ['KillSwitch = maybe', 'KillSwitch: "maybe" is not on or off'],
        ['KillSwitchAllowLan = on', 'KillSwitchAllowLan: is on but KillSwitch is not; add KillSwitch = on, or remove KillSwitchAllowLan'],
      ];
      for (const [line, message] of cases) expectError(text({ 11: line }), `${file}:11: ${message}`);
      expectError(text({ ...fullTunnel, 11: 'FwMark = off' }),
        `${file}:11: FwMark: is off, but AllowedIPs holds a default route (0.0.0.0/0 or ::/0) and Table = auto routes it by the mark; remove FwMark, or set Table = off`);
      expectError(text({ 16: 'AllowedIPs = 0.0.0.0/0', 8: 'Transport = tcp' }),
        `${file}:10: User: a full tunnel over Transport = tcp marks each new TCP connection (SO_MARK needs CAP_NET_ADMIN), which a daemon that dropped to User cannot; use Transport = udp, or remove User`);
      expectError(text({ 11: 'Table = 100' }, ['Table = off']), `${file}:18: Table: belongs in [Interface], not [Peer]`);
      // Table = off with FwMark = off is fine: nothing is routed by the mark.
      expect(parseConfig(text({ ...fullTunnel, 11: 'FwMark = off' }, []).replace('[Peer]', 'Table = off\n[Peer]'), file).iface.table).to.equal('off');
    });
  });

  describe('many peers', () => {
    /** The reference config (peer at line 12) and a second [Peer] at line 18 with these lines. */
    const twoPeers = (second: string[], edits: Record<number, string> = {}) => text(edits, ['[Peer]', ...second]);
    const SECOND = [`PublicKey = ${PUB}`, 'Endpoint = 192.0.2.3:51820', 'AllowedIPs = 10.77.0.3/32']; // lines 19-21

    it('reads every [Peer] in file order, each with its own keys and the line of its section', () => {
      const c = parseConfig(twoPeers(SECOND, { 15: '' }), file);
      expect(c.peers).to.have.length(2);
      expect(c.peers.map((p) => p.line)).to.deep.equal([12, 18]);
      expect(hex(c.peers[0]!.publicKey)).to.equal(hex(keyB));
      expect(hex(c.peers[1]!.publicKey)).to.equal(Buffer.from(PUB, 'base64').toString('hex'));
      expect(c.peers[0]!.endpoint).to.equal(undefined);
      expect(c.peers[1]!.endpoint).to.deep.equal({ host: '192.0.2.3', port: 51820, family: 4, line: 20 });
      expect(c.peers[1]!.allowedIPs.map((a) => a.text)).to.deep.equal(['10.77.0.3/32']);
      expect(c.peers[1]!.presharedKey).to.equal(undefined);
      expect(c.peers[1]!.persistentKeepalive).to.equal(undefined);
      // Initiates to the second peer (it has an Endpoint), accepts the first.
      expect(c.role).to.deep.equal({ initiates: true, accepts: true });
    });

    it('lets prefixes of different peers overlap (the longest match routes)', () => {
      const c = parseConfig(twoPeers([`PublicKey = ${PUB}`, 'AllowedIPs = 10.77.0.0/24, ::/0'], { 16: 'AllowedIPs = 10.77.0.0/16, 10.77.0.2/32' }), file);
      expect(c.peers.map((p) => p.allowedIPs.map((a) => a.text))).to.deep.equal([['10.77.0.0/16', '10.77.0.2/32'], ['10.77.0.0/24', '::/0']]);
    });

    it('refuses a public key given to two peers, naming both lines, without showing the key', () => {
      const err = expectError(twoPeers([`PublicKey = keys/b.pub`, 'AllowedIPs = 10.77.0.3/32']),
        `${file}:19: PublicKey: this public key is already peer at line 12`);
      expect(err.message).to.not.include('b.pub');
    });

    it('refuses the same prefix in two peers, compared as networks, at the line that repeats it', () => {
      expectError(twoPeers([`PublicKey = ${PUB}`, 'AllowedIPs = 10.77.0.3/32', 'AllowedIPs = 10.77.0.2/32']),
        `${file}:21: AllowedIPs: 10.77.0.2/32 is already peer at line 12`);
      // Host bits do not make a prefix different: 10.77.0.9/24 is 10.77.0.0/24.
      expectError(twoPeers([`PublicKey = ${PUB}`, 'AllowedIPs = 10.77.0.9/24'], { 16: 'AllowedIPs = 10.77.0.0/24' }),
        `${file}:20: AllowedIPs: 10.77.0.0/24 is already peer at line 12`);
      expectError(twoPeers([`PublicKey = ${PUB}`, 'AllowedIPs = FD77:0::2'], {}),
        `${file}:20: AllowedIPs: fd77::2/128 is already peer at line 12`);
    });

    it('takes a prefix repeated within one peer, as before', () => {
      expect(parseConfig(text({ 16: 'AllowedIPs = 10.77.0.2/32, 10.77.0.2/32' }), file).peers[0]!.allowedIPs).to.have.length(2);
    });

    it('the exact message of the contract: a third peer taking a second peer\'s /32', () => {
      const third = ['[Peer]', `PublicKey = ${encodeKey(publicKeyOf(generatePresharedKey()))}`, 'AllowedIPs = 10.77.0.5/32'];
      // Second peer at line 18 holds 10.77.0.5/32 (line 20); the third [Peer] is at line 21, its AllowedIPs at 23.
      expectError(twoPeers([`PublicKey = ${PUB}`, 'AllowedIPs = 10.77.0.5/32', ...third]),
        `${file}:23: AllowedIPs: 10.77.0.5/32 is already peer at line 18`);
    });

    it('a peer without Endpoint needs a ListenPort, named at that peer\'s [Peer] line', () => {
      expectError(twoPeers([`PublicKey = ${PUB}`, 'AllowedIPs = 10.77.0.3/32'], { 6: '', 7: '' }),
        `${file}:18: Endpoint: neither Endpoint (in [Peer]) nor ListenPort (in [Interface]) is set; ` +
          'set Endpoint to connect to the peer, ListenPort to accept it, or both');
    });

    it('each [Peer] needs its own PublicKey and AllowedIPs, at its own line', () => {
      expectError(twoPeers(['AllowedIPs = 10.77.0.3/32']), `${file}:18: PublicKey: missing from [Peer]; add e.g. "PublicKey = keys/peer.pub"`);
      expectError(twoPeers([`PublicKey = ${PUB}`]), `${file}:18: AllowedIPs: missing from [Peer]; add e.g. "AllowedIPs = 10.77.0.2/32"`);
    });

  });

  describe('errors: FILE:LINE: Key: what is wrong', () => {
    const ifaceKeys = 'Name, PrivateKey, Address, ListenPort, ListenAddress, Transport, MTU, User, KeepWarm, MetricsListen, DNS, PreUp, PostUp, PreDown, PostDown, Table, FwMark, KillSwitch, KillSwitchAllowLan';

    it('syntax errors', () => {
      expectError(text({ 10: 'User nobody' }), `${file}:10: syntax: not a "Key = Value" line, a [Section] header or a comment`);
      expectError(text({ 12: '[Peer' }), `${file}:12: syntax: malformed section header; expected [Interface] or [Peer]`);
      expectError(text({ 12: '[]' }), `${file}:12: syntax: malformed section header; expected [Interface] or [Peer]`);
      expectError(text({ 11: '= 5' }), `${file}:11: syntax: missing key name before "="`);
    });

    it('keys outside a section', () => {
      expectError(text({ 1: 'Name = st9' }), `${file}:1: Name: is outside a section; put it under [Interface] or [Peer]`);
    });

    it('unknown keys and sections, and keys in the wrong section', () => {
      expectError(text({ 8: 'Transprt = udp' }), `${file}:8: Transprt: unknown key in [Interface]; expected one of: ${ifaceKeys}`);
      expectError(text({ 17: 'Keepalive = 25' }),
        `${file}:17: Keepalive: unknown key in [Peer]; expected one of: PublicKey, PresharedKey, Endpoint, AllowedIPs, PersistentKeepalive`);
      expectError(text({ 17: 'listenport = 1' }), `${file}:17: ListenPort: belongs in [Interface], not [Peer]`);
      expectError(text({ 10: 'PublicKey = keys/b.pub' }), `${file}:10: PublicKey: belongs in [Peer], not [Interface]`);
      expectError(text({ 12: '[Peers]' }), `${file}:12: [Peers]: unknown section; expected [Interface] or [Peer]`);
    });

    it('duplicates of single-valued keys, with the line of the first', () => {
      expectError(text({ 11: 'name = st1' }), `${file}:11: Name: is set twice; the first is at line 3`);
      expectError(text({}, ['Endpoint = 192.0.2.3:1']), `${file}:18: Endpoint: is set twice; the first is at line 15`);
      expectError(text({}, [`PublicKey = ${PUB}`]), `${file}:18: PublicKey: is set twice; the first is at line 13`);
    });

    it('missing required keys, at the line of the section header', () => {
      expectError(text({ 3: '' }), `${file}:2: Name: missing from [Interface]; add e.g. "Name = st0"`);
      expectError(text({ 4: '' }), `${file}:2: PrivateKey: missing from [Interface]; add e.g. "PrivateKey = keys/this.key"`);
      expectError(text({ 5: '' }), `${file}:2: Address: missing from [Interface]; add e.g. "Address = 10.77.0.1/24"`);
      expectError(text({ 13: '' }), `${file}:12: PublicKey: missing from [Peer]; add e.g. "PublicKey = keys/peer.pub"`);
      expectError(text({ 16: '' }), `${file}:12: AllowedIPs: missing from [Peer]; add e.g. "AllowedIPs = 10.77.0.2/32"`);
    });

    it('missing and repeated sections', () => {
      const noPeer = text({ 12: '', 13: '', 14: '', 15: '', 16: '', 17: '' });
      expectError(noPeer, `${file}:17: [Peer]: missing section; a config needs one [Interface] and one [Peer]`);
      expectError('', `${file}:1: [Interface]: missing section; a config needs one [Interface] and one [Peer]`);
      expectError('[Peer]\nEndpoint = 192.0.2.2:1\n', `${file}:2: [Interface]: missing section; a config needs one [Interface] and one [Peer]`);
      expectError(text({}, ['[interface]']), `${file}:18: [Interface]: duplicate section; only one [Interface] is allowed (the first is at line 2)`);
    });

    it('neither Endpoint nor ListenPort', () => {
      expectError(text({ 6: '', 7: '', 15: '' }),
        `${file}:12: Endpoint: neither Endpoint (in [Peer]) nor ListenPort (in [Interface]) is set; ` +
          'set Endpoint to connect to the peer, ListenPort to accept it, or both');
      expectError(text({ 6: '' }), `${file}:7: ListenAddress: is set but ListenPort is not; add ListenPort, or remove ListenAddress`);
    });

    it('an MTU beyond what Transport carries, naming line, key and limit', () => {
      expectError(text({ 8: 'Transport = tcp', 9: 'MTU = 65001' }),
        `${file}:9: MTU: is 65001, but Transport = tcp carries at most 65000: a packet must fit the 65000-byte room a sealed TCP frame carries`);
      expectError(text({ 8: 'Transport = udp', 9: 'MTU = 65476' }),
        `${file}:9: MTU: is 65476, but Transport = udp carries at most 65475: a sealed packet (MTU + 32) must fit one UDP datagram over IPv4 (65507 bytes)`);
      // No Transport line: UDP's limit.
      expectError(text({ 8: '', 9: 'MTU = 65535' }),
        `${file}:9: MTU: is 65535, but Transport = udp carries at most 65475: a sealed packet (MTU + 32) must fit one UDP datagram over IPv4 (65507 bytes)`);
    });

    it('bad values', () => {
      const cases: Array<[number, string, string]> = [
        [3, 'Name =', 'Name: has no value'],
        [3, 'Name = abcdefghijklmnop', 'Name: "abcdefghijklmnop" is 16 characters; Linux interface names are at most 15'],
        [3, 'Name = ..', 'Name: ".." is not a valid interface name; use letters, digits, "_", "." and "-" (not "." or "..")'],
        [3, 'Name = a/b', 'Name: "a/b" is not a valid interface name; use letters, digits, "_", "." and "-" (not "." or "..")'],
        [5, 'Address = 10.77.0.300/24', 'Address: "10.77.0.300/24" is not a valid IPv4 address (four decimal numbers 0-255, like 10.0.0.1) or IPv6 address'],
        [5, 'Address = 10.1/8', 'Address: "10.1/8" is not a valid IPv4 address (four decimal numbers 0-255, like 10.0.0.1) or IPv6 address'],
        [5, 'Address = 010.0.0.1/8', 'Address: "010.0.0.1/8" is not a valid IPv4 address (four decimal numbers 0-255, like 10.0.0.1) or IPv6 address'],
        [5, 'Address = 10.0.0.1/24,', 'Address: has an empty item; remove the stray comma'],
        [5, 'Address = fe80::1%eth0/64', 'Address: "fe80::1%eth0/64" has a zone index (%...), which is not allowed here'],
        [5, 'Address = 1:2:3:4:5:6:7:8:9/64', 'Address: "1:2:3:4:5:6:7:8:9/64" is not a valid IPv6 address'],
        [5, 'Address = ::1.2.3.4', 'Address: "::1.2.3.4" uses the deprecated ::a.b.c.d form; write the IPv4 address, or ::ffff:a.b.c.d'],
        [16, 'AllowedIPs = 10.0.0.0/33', 'AllowedIPs: "10.0.0.0/33" has prefix length 33; IPv4 allows 0-32'],
        [16, 'AllowedIPs = ::/129', 'AllowedIPs: "::/129" has prefix length 129; IPv6 allows 0-128'],
        [16, 'AllowedIPs = 10.0.0.0/0x18', 'AllowedIPs: "10.0.0.0/0x18" has a bad prefix length; expected a number 0-32 after "/"'],
        [16, 'AllowedIPs = 10.0.0.0/', 'AllowedIPs: "10.0.0.0/" has a bad prefix length; expected a number 0-32 after "/"'],
        [6, 'ListenPort = 0', 'ListenPort: 0 is out of range; expected 1-65535'],
        [6, 'ListenPort = 65536', 'ListenPort: 65536 is out of range; expected 1-65535'],
        [6, 'ListenPort = 5182O', 'ListenPort: "5182O" is not a port number; expected a whole number 1-65535'],
        [6, 'ListenPort = -1', 'ListenPort: "-1" is not a port number; expected a whole number 1-65535'],
        [7, 'ListenAddress = example.com', 'ListenAddress: "example.com" is not a valid IPv4 address (four decimal numbers 0-255, like 10.0.0.1) or IPv6 address'],
        [8, 'Transport = quic', 'Transport: "quic" is not a transport; expected udp, tcp or auto'],
        [9, 'MTU = 575', 'MTU: 575 is out of range; expected 576-65535'],
        [9, 'MTU = 65536', 'MTU: 65536 is out of range; expected 576-65535'],
        [9, 'MTU = 1279', 'MTU: is 1279, but IPv6 (fd77::1/64) needs at least 1280 (RFC 8200 §5)'],
        // Beyond what the transport carries: over TCP (and auto) the receiving worker died on the first connection.
        [9, 'MTU = 65535', 'MTU: is 65535, but Transport = auto carries at most 65475: a sealed packet (MTU + 32) must fit one UDP datagram over IPv4 (65507 bytes) and one TCP frame (65535)'],
        [9, 'MTU = 65504', 'MTU: is 65504, but Transport = auto carries at most 65475: a sealed packet (MTU + 32) must fit one UDP datagram over IPv4 (65507 bytes) and one TCP frame (65535)'],
        [9, 'MTU = 1.5k', 'MTU: "1.5k" is not an MTU; expected a whole number 576-65535'],
        [10, 'User = no body', 'User: "no body" is not a user name or numeric uid'],
        [15, 'Endpoint = 2001:db8::1:51820', 'Endpoint: "2001:db8::1:51820": an IPv6 address needs brackets, e.g. [2001:db8::1]:51820'],
        [15, 'Endpoint = [2001:db8::1]', 'Endpoint: "[2001:db8::1]" is not [IPv6]:PORT; expected e.g. [2001:db8::1]:51820'],
        [15, 'Endpoint = [192.0.2.2]:1', 'Endpoint: "[192.0.2.2]:1": brackets are only for IPv6; write 192.0.2.2:51820'],
        [15, 'Endpoint = [2001:db8::x]:1', 'Endpoint: "2001:db8::x" is not a valid IPv6 address'],
        [15, 'Endpoint = 192.0.2.2', 'Endpoint: "192.0.2.2" has no port; expected HOST:PORT, e.g. 192.0.2.2:51820'],
        [15, 'Endpoint = 192.0.2.2:', 'Endpoint: has no port after ":"; expected e.g. 51820'],
        [15, 'Endpoint = :51820', 'Endpoint: ":51820" has no host before ":"'],
        [15, 'Endpoint = 192.0.2.2:0', 'Endpoint: 0 is out of range; expected 1-65535'],
        [15, 'Endpoint = 192.0.2.256:1', 'Endpoint: "192.0.2.256" is not a valid IPv4 address (four decimal numbers 0-255, like 10.0.0.1) or IPv6 address'],
        [15, 'Endpoint = bad_host.example:1', 'Endpoint: "bad_host.example" is not an IPv4 address or a host name (letters, digits and "-" in dot-separated labels)'],
        [15, 'Endpoint = -a.example:1', 'Endpoint: "-a.example" is not an IPv4 address or a host name (letters, digits and "-" in dot-separated labels)'],
        [17, 'PersistentKeepalive = 65536', 'PersistentKeepalive: 65536 is out of range; expected 0-65535'],
        [11, 'KeepWarm = 60001', 'KeepWarm: 60001 is out of range; expected 0-60000'],
        [11, 'KeepWarm = 1s', 'KeepWarm: "1s" is not a number of milliseconds or "off"; expected a whole number 0-60000'],
        [17, 'PersistentKeepalive = never', 'PersistentKeepalive: "never" is not a number of seconds or "off"; expected a whole number 0-65535'],
      ];
      for (const [line, content, message] of cases) {
        expectError(text({ [line]: content }), `${file}:${line}: ${message}`);
      }
    });

    it('reports the first problem in file order', () => {
      expectError(text({ 3: 'Name = x y', 12: '[Peers]' }), `${file}:3: Name: "x y" is not a valid interface name; use letters, digits, "_", "." and "-" (not "." or "..")`);
    });

    it('key file problems carry the KeyError message', () => {
      const missing = join(dir, 'keys', 'nope.pub');
      expectError(text({ 13: 'PublicKey = keys/nope.pub' }), `${file}:13: PublicKey: ${missing}: cannot read public key: no such file`);
      const short = join(dir, 'keys', 'short.pub');
      writeFileSync(short, 'AAAA\n');
      expectError(text({ 13: 'PublicKey = keys/short.pub' }),
        `${file}:13: PublicKey: ${short}: public key must be 32 bytes (44 base64 characters), got 3 bytes`);
      expectError(text({ 4: 'PrivateKey = AAAA=' }), `${file}:4: PrivateKey: ${join(dir, 'AAAA=')}: cannot read private key: no such file`);
    });

    it('refuses a private key or pre-shared key file readable by others, with the chmod fix', () => {
      const loose = mkdtempSync(join(tmpdir(), 'sealtun-loose-'));
      try {
        writeKeyPair(join(loose, 'k'), false);
        const keyPath = join(loose, 'k.key');
        chmodSync(keyPath, 0o644);
        const conf = join(loose, 'loose.conf');
        const peer = join(dir, 'keys', 'b.pub');
        writeFileSync(conf, text({ 4: 'PrivateKey = k.key', 13: `PublicKey = ${peer}`, 14: '' }));
        expect(() => loadConfig(conf)).to.throw(ConfigError,
          `${conf}:4: PrivateKey: ${keyPath}: private key file is readable by group or others (mode 0644); run: chmod 600 ${keyPath}`);
        chmodSync(keyPath, 0o600);
        expect(loadConfig(conf).iface.name).to.equal('st0'); // a 0644 public key is fine

        const pskPath = join(loose, 'p.psk');
        writeFileSync(pskPath, PSK + '\n', { mode: 0o640 });
        chmodSync(pskPath, 0o640);
        writeFileSync(conf, text({ 4: 'PrivateKey = k.key', 13: `PublicKey = ${peer}`, 14: 'PresharedKey = p.psk' }));
        expect(() => loadConfig(conf)).to.throw(ConfigError,
          `${conf}:14: PresharedKey: ${pskPath}: pre-shared key file is readable by group or others (mode 0640); run: chmod 600 ${pskPath}`);
      } finally {
        rmSync(loose, { recursive: true, force: true });
      }
    });

    it('refuses an inline secret in a config file readable by others, with the chmod fix', () => {
      const loose = mkdtempSync(join(tmpdir(), 'sealtun-loose-'));
      try {
        const conf = join(loose, 'inline.conf');
        writeFileSync(conf, text({ 4: `PrivateKey = ${PRIV}`, 13: `PublicKey = ${PUB}`, 14: `PresharedKey = ${PSK}` }), { mode: 0o644 });
        chmodSync(conf, 0o644);
        expect(() => loadConfig(conf)).to.throw(ConfigError, `${conf}:4: PrivateKey: holds a secret inline, but the file is readable by group or others (mode 0644); run: chmod 600 ${conf}`);
        chmodSync(conf, 0o600);
        expect(loadConfig(conf).iface.name).to.equal('st0');
      } finally {
        rmSync(loose, { recursive: true, force: true });
      }
    });

    it('refuses a public key file that others may not read: the file, the mode and why, never its contents', () => {
      // The classic slip: PublicKey names our own (or any) private key file.
      const keyPath = join(dir, 'keys', 'a.key');
      const err = expectError(text({ 13: 'PublicKey = keys/a.key' }),
        `${file}:13: PublicKey: ${keyPath}: public key file is not readable by others (mode 0600), as secret key files are not; ` +
          "refused so that a private key is never taken for the peer's public key (and shown); " +
          `name the peer's .pub file, or if this is one, run: chmod 644 ${keyPath}`);
      expect(err.message).to.not.include(encodeKey(keyA).slice(0, 43));
      const tight = join(dir, 'keys', 'tight.pub');
      writeFileSync(tight, readFileSync(join(dir, 'keys', 'b.pub')), { mode: 0o400 });
      expectError(text({ 13: 'PublicKey = keys/tight.pub' }), new RegExp(`^${file}:13: PublicKey: ${tight}: public key file is not readable by others \\(mode 0400\\)`));
      // A key file kept for a group (0640) may still be a secret: refused too, its contents unshown.
      const grouped = join(dir, 'keys', 'group.key');
      writeFileSync(grouped, readFileSync(keyPath), { mode: 0o640 });
      chmodSync(grouped, 0o640);
      const err640 = expectError(text({ 13: 'PublicKey = keys/group.key' }), new RegExp(`^${file}:13: PublicKey: ${grouped}: public key file is not readable by others \\(mode 0640\\)`));
      expect(err640.message).to.not.include(encodeKey(keyA).slice(0, 43));
      chmodSync(tight, 0o644);
      expect(hex(parseConfig(text({ 13: 'PublicKey = keys/tight.pub' }), file).peers[0]!.publicKey)).to.equal(hex(keyB));
    });

    it("refuses our own public key, or our private key, as the peer's PublicKey", () => {
      const ours = encodeKey(publicKeyOf(keyA));
      writeFileSync(join(dir, 'keys', 'self.pub'), ours + '\n', { mode: 0o644 });
      for (const value of ['keys/a.pub', 'keys/self.pub', ours]) {
        expectError(text({ 13: `PublicKey = ${value}` }), `${file}:13: PublicKey: is this interface's own public key (from PrivateKey at line 4); use the peer's key`);
      }
      const err = expectError(text({ 4: `PrivateKey = ${PRIV}`, 13: `PublicKey = ${PRIV}` }),
        `${file}:13: PublicKey: is this interface's private key (the same as PrivateKey at line 4), not the peer's public key; name the peer's .pub file`);
      expect(err.message).to.not.include(PRIV.slice(0, 43));
    });

    it('refuses the all-zero key and every other small-order X25519 point as PublicKey, inline or from a file', () => {
      const points = [
        '00'.repeat(32),
        '01' + '00'.repeat(31),
        'e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800',
        '5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157',
        'ec' + 'ff'.repeat(30) + '7f',
        'ed' + 'ff'.repeat(30) + '7f',
        'ee' + 'ff'.repeat(30) + '7f',
      ];
      const secret = sodium().randombytes_buf(32);
      for (const h of points) {
        for (const top of [0, 0x80]) {
          const key = Buffer.from(h, 'hex');
          key[31]! |= top; // X25519 ignores bit 255 (RFC 7748 §5)
          // The list is exactly what libsodium refuses: DH with the point gives zero.
          expect(() => sodium().crypto_scalarmult(secret, key), h).to.throw();
          expect(smallOrderPoint(key), h).to.not.equal(null);
          const inline = encodeKey(key);
          expectError(text({ 13: `PublicKey = ${inline}` }),
            new RegExp(`^${file}:13: PublicKey: inline value: public key is .*: every key agreement with it gives zero, so it cannot be a real peer's key$`));
        }
      }
      const zero = join(dir, 'keys', 'zero.pub');
      writeFileSync(zero, encodeKey(new Uint8Array(32)) + '\n', { mode: 0o644 });
      expectError(text({ 13: 'PublicKey = keys/zero.pub' }),
        `${file}:13: PublicKey: ${zero}: public key is the all-zero key (order 4): every key agreement with it gives zero, so it cannot be a real peer's key`);
      for (let i = 0; i < 200; i++) expect(smallOrderPoint(publicKeyOf(sodium().randombytes_buf(32)))).to.equal(null);
    });

    it('a config file that cannot be read', () => {
      const path = join(dir, 'absent.conf');
      let err: unknown;
      try {
        loadConfig(path);
      } catch (e) {
        err = e;
      }
      expect(err).to.be.instanceOf(ConfigError);
      expect((err as ConfigError).message).to.equal(`${path}: cannot read config file: no such file`);
      expect((err as ConfigError).line).to.equal(0);
      expect(() => loadConfig(dir)).to.throw(ConfigError, `${dir}: cannot read config file: is a directory`);
    });
  });

  describe('secrets are never echoed', () => {
    const body = PRIV.slice(0, 43);
    const damaged = PRIV.slice(0, 20) + '!' + PRIV.slice(21);
    const variants: Array<[string, Record<number, string>, string[]]> = [
      ['duplicate inline PrivateKey', { 4: `PrivateKey = ${PRIV}`, 11: `PrivateKey = ${PRIV}` }, []],
      ['inline key in the wrong section', {}, [`PrivateKey = ${PRIV}`]],
      ['key text alone on a line', { 11: PRIV }, []],
      ['key text as the key name', { 11: `${PRIV} = 1` }, []],
      ['key text as a section name', { 11: `[${PRIV}]` }, []],
      ['key before any section', { 1: `PresharedKey = ${PSK}` }, []],
      ['mistyped inline key', { 4: `PrivateKey = ${damaged}` }, []],
      ['inline key with a trailing comment glued on', { 4: `PrivateKey = ${PRIV}#x;y` }, []],
      ['inline key with extra text', { 4: `PrivateKey = ${PRIV}...` }, []],
      ['key pasted into Name', { 3: `Name = ${PRIV}` }, []],
      ['key pasted into User', { 10: `User = ${PRIV}` }, []],
      ['key pasted into Endpoint', { 15: `Endpoint = ${PRIV}:51820` }, []],
      ['key pasted into AllowedIPs', { 16: `AllowedIPs = ${PRIV}` }, []],
      ['key pasted into Transport', { 8: `Transport = ${PRIV}` }, []],
      ['key pasted into MTU', { 9: `MTU = ${PRIV}` }, []],
    ];
    for (const [what, edits, extra] of variants) {
      it(what, () => {
        let err: unknown;
        try {
          parseConfig(text(edits, extra), file);
        } catch (e) {
          err = e;
        }
        expect(err).to.be.instanceOf(ConfigError);
        const message = (err as ConfigError).message;
        expect(message).to.match(/:\d+: [^:]+: /);
        for (const secret of [body, PSK.slice(0, 43), damaged.slice(21, 43), damaged.slice(0, 20)]) {
          expect(message).to.not.include(secret);
        }
      });
    }
  });
});
