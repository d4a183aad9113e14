// What a reload compares (reload.ts): a config's view carries no private key,
// survives the trip through JSON on the control socket, and is checked as a
// config file would be.
import { expect } from 'chai';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseConfig } from '../../src/config/config.js';
import { encodeKey, generatePresharedKey, generatePrivateKey, publicKeyOf, readKeyFile } from '../../src/crypto/keys.js';
import { initSodium } from '../../src/crypto/sodium.js';
import { configForReload, interfaceView, parseReloadView, peerView, reloadView, restartChanges, viewForReload } from '../../src/daemon/reload.js';

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

  it('holds a digest of the private key, never the key; each peer with its pre-shared key (root-only socket); survives JSON', () => {
    const view = reloadView(conf());
    const json = JSON.stringify(view);
    expect(json).to.not.include(priv.slice(0, 43));
    expect(json).to.not.include(Buffer.from(priv, 'base64').toString('hex'));
    expect(view.peers).to.deep.equal([{ publicKey: peer, presharedKey: psk, allowedIPs: ['10.77.0.2/32'], endpoint: { host: '192.0.2.2', port: 51820, family: 4, line: 9 }, persistentKeepalive: null }]);
    const parsed = parseReloadView(JSON.parse(json));
    expect(parsed.iface).to.deep.equal(interfaceView(conf().iface));
    expect(parsed.peers.map(peerView)).to.deep.equal(view.peers);
  });

  it('an [Interface] change is named as needing a restart; peer settings are not (they apply live)', () => {
    const old = interfaceView(conf().iface);
    expect(restartChanges(old, interfaceView(conf().iface))).to.deep.equal([]);
    expect(restartChanges(old, interfaceView(conf('', '192.0.2.3:51820').iface))).to.deep.equal([]);
    expect(restartChanges(old, interfaceView(conf('MTU = 1300').iface))).to.deep.equal(['MTU']);
    expect(restartChanges(old, interfaceView(conf('MTU = 1300\nListenPort = 51820\nKeepWarm = off').iface))).to.deep.equal(['ListenPort', 'MTU', 'KeepWarm']);
    // The metrics server is bound once, before a privilege drop: moving or starting it takes a restart.
    expect(restartChanges(old, interfaceView(conf('MetricsListen = 127.0.0.1:9586').iface))).to.deep.equal(['MetricsListen']);
    const metrics = interfaceView(conf('MetricsListen = [::1]:9586').iface);
    expect(metrics.metricsListen).to.equal('[::1]:9586');
    expect(restartChanges(metrics, interfaceView(conf('MetricsListen = [0::1]:9586').iface))).to.deep.equal([]);
    // DNS is set and the hooks run at start, as root: a change takes a restart.
    expect(restartChanges(old, interfaceView(conf('DNS = 192.0.2.53').iface))).to.deep.equal(['DNS or a hook']);
    expect(restartChanges(old, interfaceView(conf('PostUp = true').iface))).to.deep.equal(['DNS or a hook']);
    const rekeyed = interfaceView(conf().iface);
    priv = encodeKey(generatePrivateKey());
    expect(restartChanges(rekeyed, interfaceView(conf().iface))).to.deep.equal(['PrivateKey']);
  });

  it('refuses a malformed request rather than applying part of it', () => {
    const view = reloadView(conf()) as unknown as Record<string, unknown>;
    const p = (view['peers'] as Record<string, unknown>[])[0]!;
    const withPeer = (change: Record<string, unknown>) => ({ ...view, peers: [{ ...p, ...change }] });
    for (const bad of [
      null, 'x', { ...view, name: undefined }, { ...view, metricsListen: 9586 }, { ...view, peers: undefined }, { ...view, peers: {} }, { ...view, peers: [null] },
      withPeer({ endpoint: { host: 1 } }), withPeer({ allowedIPs: [1] }), withPeer({ publicKey: undefined }), withPeer({ presharedKey: 7 }), withPeer({ endpoint: [] }),
    ]) {
      expect(() => parseReloadView(bad), JSON.stringify(bad)).to.throw('malformed reload request');
    }
  });

  it('refuses values a config file could not hold: ports, keepalive, MTU, KeepWarm, names, keys, and the peer rules', () => {
    const view = reloadView(conf()) as unknown as Record<string, unknown>;
    const p = (view['peers'] as Record<string, unknown>[])[0]!;
    const ep = p['endpoint'] as Record<string, unknown>;
    const other = encodeKey(publicKeyOf(generatePrivateKey()));
    const bad: Array<[Record<string, unknown>, string]> = [
      [{ listenPort: 0 }, 'ListenPort: 0 is out of range; expected 1-65535'],
      [{ listenPort: 70000 }, 'ListenPort: 70000 is out of range'],
      [{ listenPort: 1.5 }, 'ListenPort: "1.5" is not a port number'],
      [{ mtu: 100 }, 'MTU: 100 is out of range; expected 576-65535'],
      [{ keepWarmMs: 3_600_000 }, 'KeepWarm: 3600000 is out of range'],
      [{ metricsListen: '127.0.0.1:0' }, 'MetricsListen: 0 is out of range'],
      [{ metricsListen: 'localhost:9586' }, 'MetricsListen: "localhost" is not a valid IPv4 address'],
      [{ transport: 'quic' }, 'Transport: "quic" is not a transport'],
      [{ name: '../x' }, 'Name: "../x" is not a valid interface name'],
      [{ peers: [] }, 'no peers'],
      [{ peers: [{ ...p, persistentKeepalive: -1 }] }, 'PersistentKeepalive: "-1" is not a number of seconds'],
      [{ peers: [{ ...p, persistentKeepalive: 65536 }] }, 'PersistentKeepalive: 65536 is out of range'],
      [{ peers: [{ ...p, persistentKeepalive: 1e21 }] }, 'PersistentKeepalive:'],
      [{ peers: [{ ...p, endpoint: { ...ep, port: 0 } }] }, 'Endpoint: 0 is out of range'],
      [{ peers: [{ ...p, endpoint: { ...ep, port: 65536 } }] }, 'Endpoint: 65536 is out of range'],
      [{ peers: [{ ...p, endpoint: { ...ep, host: 'not a host' } }] }, 'Endpoint: "not a host" is not an IPv4 address or a host name'],
      [{ peers: [{ ...p, allowedIPs: [] }] }, 'AllowedIPs'],
      [{ peers: [{ ...p, publicKey: 'AAAA' }] }, 'reload request: public key must be 32 bytes'],
      [{ peers: [{ ...p, publicKey: encodeKey(new Uint8Array(32)) }] }, 'the all-zero key'],
      [{ peers: [{ ...p, presharedKey: 'not base64!' }] }, 'reload request: pre-shared key is not base64'],
      [{ peers: [{ ...p, endpoint: null }] }, `peer ${peer}: neither its Endpoint nor the interface's ListenPort is set`],
      [{ peers: [p, { ...p, allowedIPs: ['10.77.0.9/32'] }] }, `peer ${peer} is given twice`],
      [{ peers: [p, { ...p, publicKey: other }] }, `peer ${other}: AllowedIPs: 10.77.0.2/32 is already peer ${peer}`],
    ];
    for (const [change, why] of bad) {
      expect(() => parseReloadView(JSON.parse(JSON.stringify({ ...view, ...change }))), JSON.stringify(change)).to.throw(why);
    }
    // What a config could hold passes, in the parser's canonical form.
    const good = parseReloadView({ ...view, transport: 'TCP', peers: [{ ...p, persistentKeepalive: 0, endpoint: { host: '2001:db8::1', port: 51820 } }] });
    expect(good.iface.transport).to.equal('tcp');
    expect(good.peers[0]!.persistentKeepalive).to.equal(undefined);
    expect(good.peers[0]!.endpoint).to.deep.equal({ host: '2001:db8::1', port: 51820, family: 6 });
    expect(encodeKey(good.peers[0]!.presharedKey!)).to.equal(psk);
    // AllowedIPs are routes: host bits cleared, as the config parser does; a bad prefix is refused.
    const routes = parseReloadView({ ...view, peers: [{ ...p, allowedIPs: ['10.77.1.5/24', 'fd77::2'] }] });
    expect(routes.peers[0]!.allowedIPs.map((c) => c.text)).to.deep.equal(['10.77.1.0/24', 'fd77::2/128']);
    expect(() => parseReloadView({ ...view, peers: [{ ...p, allowedIPs: ['10.77.0.2/99'] }] })).to.throw('AllowedIPs');
    // Many peers, a peer without Endpoint accepted with a ListenPort, overlapping (not equal) prefixes allowed.
    const many = parseReloadView({ ...view, listenPort: 51820, peers: [p, { ...p, publicKey: other, endpoint: null, allowedIPs: ['10.77.0.0/24'] }] });
    expect(many.peers.map((x) => encodeKey(x.publicKey))).to.deep.equal([peer, other]);
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

    it('zeroes them after a good read too; the pre-shared key travels in the view', () => {
      const { handed, readKey } = recording();
      const view = viewForReload(write('10.77.0.2/32'), readKey);
      expect(view.listenPort).to.equal(51820);
      expect(view.peers[0]!.presharedKey).to.equal(psk);
      expect(handed).to.have.length(2);
      expect(handed.every(zero)).to.equal(true);
    });

    it("configForReload hands back copies of the peers' keys, the caller's to zero; nothing read survives", () => {
      const { handed, readKey } = recording();
      const { peers } = configForReload(write('10.77.0.2/32'), readKey);
      expect(handed.every(zero)).to.equal(true);
      expect(encodeKey(peers[0]!.presharedKey!)).to.equal(psk);
      expect(encodeKey(peers[0]!.publicKey)).to.equal(peer);
    });
  });
});
