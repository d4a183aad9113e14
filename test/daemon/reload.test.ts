// What a reload compares (reload.ts): a config's view carries no secret and
// survives the trip through JSON on the control socket.
import { expect } from 'chai';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseConfig } from '../../src/config/config.js';
import { encodeKey, generatePresharedKey, generatePrivateKey, publicKeyOf, readKeyFile } from '../../src/crypto/keys.js';
import { initSodium } from '../../src/crypto/sodium.js';
import { configChanges, parseReloadView, reloadView, viewForReload } from '../../src/daemon/reload.js';

describe('reload views (reload.ts)', () => {
  let priv: string;
  let peer: string;
  let psk: string;
  const conf = (extra = '', endpoint = '192.0.2.2:51820') =>
    parseConfig(
      `[Interface]\nName = st0\nPrivateKey = ${priv}\nAddress = 10.77.0.1/24\n${extra}\n[Peer]\nPublicKey = ${peer}\nPresharedKey = ${psk}\nEndpoint = ${endpoint}\nAllowedIPs = 10.77.0.2/32\n`,
      '/nonexistent/st0.conf',
    );

  before(async () => {
    await initSodium();
    priv = encodeKey(generatePrivateKey());
    peer = encodeKey(publicKeyOf(generatePrivateKey()));
    psk = encodeKey(generatePresharedKey());
  });

  it('holds digests of the private and pre-shared keys, never the keys, and survives JSON', () => {
    const view = reloadView(conf());
    const json = JSON.stringify(view);
    for (const secret of [priv, psk]) {
      expect(json).to.not.include(secret.slice(0, 43));
      expect(json).to.not.include(Buffer.from(secret, 'base64').toString('hex'));
    }
    expect(parseReloadView(JSON.parse(json))).to.deep.equal(view);
  });

  it('an Endpoint change applies; a new private key, Address or MTU is named as needing a restart', () => {
    const old = reloadView(conf());
    expect(configChanges(old, reloadView(conf()))).to.deep.equal({ needRestart: [], endpoint: false, persistentKeepalive: false, allowedIPs: false });
    // AllowedIPs apply live (routes and both packet checks follow), so they take no restart.
    const wider = reloadView(conf());
    wider.allowedIPs = ['10.77.0.2/32', '10.77.1.0/24'];
    expect(configChanges(old, wider)).to.deep.include({ needRestart: [], allowedIPs: true });
    expect(configChanges(old, reloadView(conf('', '192.0.2.3:51820'))).endpoint).to.equal(true);
    expect(configChanges(old, reloadView(conf('MTU = 1300'))).needRestart).to.deep.equal(['MTU']);
    // The metrics server is bound once, before a privilege drop: moving or starting it takes a restart.
    expect(configChanges(old, reloadView(conf('MetricsListen = 127.0.0.1:9586'))).needRestart).to.deep.equal(['MetricsListen']);
    const metrics = reloadView(conf('MetricsListen = [::1]:9586'));
    expect(metrics.metricsListen).to.equal('[::1]:9586');
    expect(configChanges(metrics, reloadView(conf('MetricsListen = [0::1]:9586'))).needRestart).to.deep.equal([]);
    const rekeyed = reloadView(conf());
    priv = encodeKey(generatePrivateKey());
    expect(configChanges(rekeyed, reloadView(conf())).needRestart).to.deep.equal(['PrivateKey']);
  });

  it('refuses a malformed request rather than applying part of it', () => {
    const view = reloadView(conf()) as unknown as Record<string, unknown>;
    for (const bad of [null, 'x', { ...view, endpoint: { host: 1 } }, { ...view, allowedIPs: [1] }, { ...view, initiates: 'yes' }, { ...view, name: undefined }, { ...view, metricsListen: 9586 }]) {
      expect(() => parseReloadView(bad), JSON.stringify(bad)).to.throw('malformed reload request');
    }
  });

  it('refuses values a config file could not hold: ports, keepalive, MTU, KeepWarm, names, and the role rules', () => {
    const view = reloadView(conf()) as unknown as Record<string, unknown>;
    const ep = view['endpoint'] as Record<string, unknown>;
    const bad: Array<[Record<string, unknown>, string]> = [
      [{ listenPort: 0 }, 'ListenPort: 0 is out of range; expected 1-65535'],
      [{ listenPort: 70000 }, 'ListenPort: 70000 is out of range'],
      [{ listenPort: 1.5 }, 'ListenPort: "1.5" is not a port number'],
      [{ persistentKeepalive: -1 }, 'PersistentKeepalive: "-1" is not a number of seconds'],
      [{ persistentKeepalive: 65536 }, 'PersistentKeepalive: 65536 is out of range'],
      [{ persistentKeepalive: 1e21 }, 'PersistentKeepalive:'],
      [{ mtu: 100 }, 'MTU: 100 is out of range; expected 576-65535'],
      [{ keepWarmMs: 3_600_000 }, 'KeepWarm: 3600000 is out of range'],
      [{ metricsListen: '127.0.0.1:0' }, 'MetricsListen: 0 is out of range'],
      [{ metricsListen: 'localhost:9586' }, 'MetricsListen: "localhost" is not a valid IPv4 address'],
      [{ transport: 'quic' }, 'Transport: "quic" is not a transport'],
      [{ name: '../x' }, 'Name: "../x" is not a valid interface name'],
      [{ endpoint: { ...ep, port: 0 } }, 'Endpoint: 0 is out of range'],
      [{ endpoint: { ...ep, port: 65536 } }, 'Endpoint: 65536 is out of range'],
      [{ endpoint: { ...ep, host: 'not a host' } }, 'Endpoint: "not a host" is not an IPv4 address or a host name'],
      [{ endpoint: null }, 'initiates is true without an Endpoint'],
      [{ initiates: false }, 'initiates is false with an Endpoint'],
      [{ endpoint: null, initiates: false, listenPort: null }, 'neither Endpoint nor ListenPort is set'],
    ];
    for (const [change, why] of bad) {
      expect(() => parseReloadView(JSON.parse(JSON.stringify({ ...view, ...change }))), JSON.stringify(change)).to.throw(why);
    }
    // What a config could hold passes, in the parser's canonical form.
    const v6 = parseReloadView({ ...view, transport: 'TCP', persistentKeepalive: 0, endpoint: { host: '2001:db8::1', port: 51820 } });
    expect(v6.transport).to.equal('tcp');
    expect(v6.persistentKeepalive).to.equal(null);
    expect(v6.endpoint).to.deep.equal({ host: '2001:db8::1', port: 51820, family: 6 });
    // AllowedIPs are routes: host bits cleared, as the config parser does; a bad prefix is refused.
    expect(parseReloadView({ ...view, allowedIPs: ['10.77.1.5/24', 'fd77::2'] }).allowedIPs).to.deep.equal(['10.77.1.0/24', 'fd77::2/128']);
    expect(() => parseReloadView({ ...view, allowedIPs: ['10.77.0.2/99'] })).to.throw('AllowedIPs');
  });

  describe('viewForReload', () => {
    let dir: string;
    beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'sealtun-reload-view-'))));
    afterEach(() => rmSync(dir, { recursive: true, force: true }));

    /** A readKey that records every buffer it hands out, as the daemon's copies of its running keys. */
    const recording = () => {
      const handed: Uint8Array[] = [];
      return { handed, readKey: (path: string, kind: Parameters<typeof readKeyFile>[1]) => (handed.push(readKeyFile(path, kind)), handed.at(-1)!) };
    };
    const write = (allowed: string) => {
      writeFileSync(join(dir, 'a.key'), `${priv}\n`, { mode: 0o600 });
      writeFileSync(join(dir, 'ab.psk'), `${psk}\n`, { mode: 0o600 });
      const file = join(dir, 'st0.conf');
      writeFileSync(file, `[Interface]\nName = st0\nPrivateKey = a.key\nAddress = 10.77.0.1/24\nListenPort = 51820\n\n[Peer]\nPublicKey = ${peer}\nPresharedKey = ab.psk\nAllowedIPs = ${allowed}\n`, { mode: 0o600 });
      return file;
    };
    const zero = (k: Uint8Array) => k.every((b) => b === 0);

    it('zeroes every key it was handed when the config fails after its keys were read', () => {
      const { handed, readKey } = recording();
      expect(() => viewForReload(write('10.77.0.2/99'), readKey)).to.throw('AllowedIPs');
      expect(handed).to.have.length(2);
      expect(handed.every(zero), 'no copy of a key survives a failed reload').to.equal(true);
    });

    it('zeroes them after a good read too, and the view holds only digests', () => {
      const { handed, readKey } = recording();
      const view = viewForReload(write('10.77.0.2/32'), readKey);
      expect(view.listenPort).to.equal(51820);
      expect(handed).to.have.length(2);
      expect(handed.every(zero)).to.equal(true);
    });
  });
});
