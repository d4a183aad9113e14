// What a reload compares (reload.ts): a config's view carries no secret and
// survives the trip through JSON on the control socket.
import { expect } from 'chai';
import { parseConfig } from '../../src/config/config.js';
import { encodeKey, generatePresharedKey, generatePrivateKey, publicKeyOf } from '../../src/crypto/keys.js';
import { initSodium } from '../../src/crypto/sodium.js';
import { configChanges, parseReloadView, reloadView } from '../../src/daemon/reload.js';

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
    expect(configChanges(old, reloadView(conf()))).to.deep.equal({ needRestart: [], endpoint: false, persistentKeepalive: false });
    expect(configChanges(old, reloadView(conf('', '192.0.2.3:51820'))).endpoint).to.equal(true);
    expect(configChanges(old, reloadView(conf('MTU = 1300'))).needRestart).to.deep.equal(['MTU']);
    const rekeyed = reloadView(conf());
    priv = encodeKey(generatePrivateKey());
    expect(configChanges(rekeyed, reloadView(conf())).needRestart).to.deep.equal(['PrivateKey']);
  });

  it('refuses a malformed request rather than applying part of it', () => {
    const view = reloadView(conf()) as unknown as Record<string, unknown>;
    for (const bad of [null, 'x', { ...view, endpoint: { host: 1 } }, { ...view, allowedIPs: [1] }, { ...view, initiates: 'yes' }, { ...view, name: undefined }]) {
      expect(() => parseReloadView(bad), JSON.stringify(bad)).to.throw('malformed reload request');
    }
  });
});
