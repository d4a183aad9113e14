// With Table = auto, the policy rules of a full tunnel are installed at
// start: a reload or `set` that adds or removes 0.0.0.0/0 or ::/0 is refused
// whole, naming the restart it needs, rather than exiting 0 with no rule
// added or removed. A real daemon in a namespace of the test's own; its peer
// never answers (not needed here).
import { expect } from 'chai';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { policyChange } from '../../src/host/policy-routing.js';
import { parseConfig } from '../../src/config/config.js';
import { initSodium } from '../../src/crypto/sodium.js';
import type { RunResult } from '../helpers/netns.js';
import { LoneDaemons } from '../helpers/lone-daemons.js';

const PRIV = 'uD6Ffy03NnZzYyoQhGwsIPTUP4vHst+lFWyr7LAVDMo=';
const PUB = 'TKIgkMPJwnMgoq7y1C0DBXBLGen47EN+W4lJXd5+hBs=';

describe('a reload or set that changes the default routes of AllowedIPs (Table = auto)', function () {
  this.timeout(60_000);

  describe('policyChange', () => {
    before(() => initSodium());
    const peers = (table: string, allowed: string) =>
      parseConfig(`[Interface]\nName = st0\nPrivateKey = ${PRIV}\nAddress = 10.77.0.1/24\n${table}\n[Peer]\nPublicKey = ${PUB}\nEndpoint = 192.0.2.2:51820\nAllowedIPs = ${allowed}\n`, 'p.conf');

    it('names a change of the policy-routed IP versions, and nothing else', () => {
      const running = peers('', '10.9.0.0/16');
      expect(policyChange(running, running.peers, peers('', '10.9.0.0/16, 0.0.0.0/0').peers)).to.match(/none -> 0\.0\.0\.0\/0.*takes a restart/);
      const full = peers('', '0.0.0.0/0, ::/0');
      expect(policyChange(full, full.peers, peers('', '0.0.0.0/0').peers)).to.match(/0\.0\.0\.0\/0, ::\/0 -> 0\.0\.0\.0\/0/);
      expect(policyChange(full, full.peers, peers('', '::/0, 0.0.0.0/0, 10.1.0.0/16').peers)).to.equal(null);
      const numbered = peers('Table = 1000', '10.9.0.0/16');
      expect(policyChange(numbered, numbered.peers, peers('Table = 1000', '0.0.0.0/0').peers), 'Table = NUMBER: a route like any other').to.equal(null);
    });
  });

  describe('on a running daemon', () => {
    let d: LoneDaemons;
    const name = 'stpr0';
    const sealtun = (args: string[]): Promise<RunResult> => d.sealtun(args);
    const rules = async () => (await d.net.run(d.net.a, ['ip', 'rule', 'show'])).stdout + (await d.net.run(d.net.a, ['ip', '-6', 'rule', 'show'])).stdout;

    function writeConfig(allowed: string): string {
      const path = join(d.dir, 'pr.conf');
      writeFileSync(path, `[Interface]\nName = ${name}\nPrivateKey = a.key\nAddress = 10.96.0.1/24\n\n[Peer]\nPublicKey = b.pub\nEndpoint = ${d.net.addrB}:51820\nAllowedIPs = ${allowed}\n`, { mode: 0o600 });
      return path;
    }

    before(async () => {
      d = await LoneDaemons.create();
    });
    after(() => d.destroy([name]));

    it('refuses to add 0.0.0.0/0 by set or reload (no rule appears), and to remove it by reload; other changes still apply', async () => {
      const up = await sealtun(['up', '--daemon', writeConfig('10.96.0.2/32')]);
      expect(up.code, up.stderr).to.equal(0);
      const before = await rules();
      const key = readFileSync(join(d.dir, 'b.pub'), 'utf8').trim();

      const set = await sealtun(['set', name, 'peer', key, 'allowed-ips', '10.96.0.2/32,0.0.0.0/0']);
      console.log(`      set adding 0.0.0.0/0: exit ${set.code}: ${set.stderr.trim()}`);
      expect(set.code).to.not.equal(0);
      expect(set.stderr).to.match(/none -> 0\.0\.0\.0\/0.*takes a restart \(sealtun down, then up\)/);
      const reload = await sealtun(['reload', writeConfig('10.96.0.2/32, 0.0.0.0/0, ::/0')]);
      expect(reload.code).to.not.equal(0);
      expect(reload.stderr).to.match(/none -> 0\.0\.0\.0\/0, ::\/0.*takes a restart/);
      expect(await rules(), 'no rule added').to.equal(before);

      const widened = await sealtun(['reload', writeConfig('10.96.0.2/32, 10.95.0.0/16')]);
      expect(widened.code, widened.stderr).to.equal(0);
      expect((await sealtun(['down', name])).code).to.equal(0);

      // The other way: a full tunnel whose ::/0 a reload would take away.
      expect((await sealtun(['up', '--daemon', writeConfig('0.0.0.0/0, ::/0')])).code).to.equal(0);
      const full = await rules();
      const narrowed = await sealtun(['reload', writeConfig('0.0.0.0/0')]);
      expect(narrowed.code).to.not.equal(0);
      expect(narrowed.stderr).to.match(/0\.0\.0\.0\/0, ::\/0 -> 0\.0\.0\.0\/0.*takes a restart/);
      expect(await rules(), 'no rule removed').to.equal(full);
    });
  });
});
