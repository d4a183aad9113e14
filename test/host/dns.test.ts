// How DNS = is applied and restored (src/host/dns.ts): which tool on which
// host, under which name, with which commands; the namespace test
// (test/integration/dns-hooks.test.ts) runs the resolvconf path for real.
import { expect } from 'chai';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseConfig } from '../../src/config/config.js';
import { encodeKey, generatePrivateKey, publicKeyOf } from '../../src/crypto/keys.js';
import { initSodium } from '../../src/crypto/sodium.js';
import { applyCommands, dnsMethod, dnsMethodFor, dnsPlan, resolvconfPrefix, restoreDns, revertCommand, type DnsHost } from '../../src/host/dns.js';
import { readLedger, recordInLedger } from '../../src/host/ledger.js';
import { createLogger } from '../../src/log.js';
import { privateRunDir } from '../helpers/private-run-dir.js';

/** A host with these programs, these paths, resolved active or not, and Debian's interface-order or not. */
function host(opts: { programs?: string[]; paths?: string[]; active?: boolean; interfaceOrder?: string }): DnsHost {
  return {
    exists: (p) => (opts.paths ?? []).includes(p),
    program: (n) => ((opts.programs ?? []).includes(n) ? `/usr/bin/${n}` : null),
    resolvedActive: () => opts.active ?? false,
    readFile: (p) => (p === '/etc/resolvconf/interface-order' ? (opts.interfaceOrder ?? null) : null),
  };
}

const DEBIAN_ORDER = '# interface-order(5)\nlo.inet6\nlo.inet\nlo.@(dnsmasq|pdnsd)\nlo\ntun*\ntap*\nhso*\n';

describe('DNS (src/host/dns.ts)', () => {
  let dns: string;
  before(async () => {
    await initSodium();
    const conf = parseConfig(
      `[Interface]\nName = st0\nPrivateKey = ${encodeKey(generatePrivateKey())}\nAddress = 10.77.0.1/24\nDNS = 192.0.2.53, 2001:db8::53, corp.example\n` +
        `[Peer]\nPublicKey = ${encodeKey(publicKeyOf(generatePrivateKey()))}\nEndpoint = 192.0.2.2:51820\nAllowedIPs = 0.0.0.0/0\n`,
      '/etc/sealtun/st0.conf',
    );
    dns = JSON.stringify(conf);
  });
  const config = () => JSON.parse(dns) as ReturnType<typeof parseConfig>;

  it('uses resolvectl only when systemd-resolved runs, else resolvconf, else nothing', () => {
    const resolved = { programs: ['resolvectl', 'resolvconf'], paths: ['/run/systemd/resolve'], active: true };
    expect(dnsMethod('st0', host(resolved))).to.deep.equal({ tool: 'resolvectl', program: '/usr/bin/resolvectl', target: 'st0' });
    expect(dnsMethod('st0', host({ ...resolved, active: false }))?.tool, 'installed but stopped').to.equal('resolvconf');
    expect(dnsMethod('st0', host({ ...resolved, paths: [] }))?.tool, 'not running: no /run/systemd/resolve').to.equal('resolvconf');
    expect(dnsMethod('st0', host({ programs: ['resolvconf'] }))).to.deep.equal({ tool: 'resolvconf', program: '/usr/bin/resolvconf', target: 'st0' });
    expect(dnsMethod('st0', host({ programs: ['resolvconf'], interfaceOrder: DEBIAN_ORDER }))?.target, "Debian resolvconf: wg-quick's prefix").to.equal('tun.st0');
    expect(dnsMethod('st0', host({}))).to.equal(null);
  });

  it("takes wg-quick's resolvconf prefix: the first NAME* line of interface-order", () => {
    expect(resolvconfPrefix(DEBIAN_ORDER)).to.equal('tun.');
    expect(resolvconfPrefix('lo\nwg*\ntun*\n')).to.equal('wg.');
    expect(resolvconfPrefix('lo\neth*:x\n')).to.equal('');
    expect(resolvconfPrefix(null)).to.equal('');
  });

  it('applies with the commands wg-quick (resolvconf) and resolvectl take, and reverts with their undo', () => {
    const { dns: settings } = config().iface;
    expect(applyCommands({ tool: 'resolvconf', program: '/sbin/resolvconf', target: 'tun.st0' }, settings)).to.deep.equal([
      { argv: ['/sbin/resolvconf', '-a', 'tun.st0', '-m', '0', '-x'], input: 'nameserver 192.0.2.53\nnameserver 2001:db8::53\nsearch corp.example\n' },
    ]);
    expect(applyCommands({ tool: 'resolvectl', program: '/usr/bin/resolvectl', target: 'st0' }, settings)).to.deep.equal([
      { argv: ['/usr/bin/resolvectl', 'dns', 'st0', '192.0.2.53', '2001:db8::53'], input: '' },
      { argv: ['/usr/bin/resolvectl', 'domain', 'st0', '~.', 'corp.example'], input: '' },
    ]);
    expect(revertCommand('resolvconf', '/sbin/resolvconf', 'tun.st0')).to.deep.equal(['/sbin/resolvconf', '-d', 'tun.st0', '-f']);
    expect(revertCommand('resolvectl', '/usr/bin/resolvectl', 'st0')).to.deep.equal(['/usr/bin/resolvectl', 'revert', 'st0']);
  });

  it('refuses DNS on a host with neither tool, naming the config file and the fix; check shows the same', () => {
    expect(() => dnsMethodFor(config(), host({}))).to.throw(
      '/etc/sealtun/st0.conf: DNS is set, but this host has neither systemd-resolved (resolvectl) running nor resolvconf; install openresolv (or resolvconf), or remove DNS',
    );
    expect(dnsPlan(config(), host({})).problem).to.match(/^DNS is set, but this host has neither/);
    expect(dnsPlan(config(), host({ programs: ['resolvconf'] }))).to.deep.equal({
      servers: ['192.0.2.53', '2001:db8::53'],
      searchDomains: ['corp.example'],
      commands: ["/usr/bin/resolvconf -a st0 -m 0 -x <<< 'nameserver 192.0.2.53\\nnameserver 2001:db8::53\\nsearch corp.example'"],
      problem: null,
    });
    const none = config();
    none.iface.dns = { servers: [], searchDomains: [] };
    expect(dnsMethodFor(none, host({}))).to.equal(null);
  });

  describe('restoring from the ledger', () => {
    let dir: string;
    before(() => {
      privateRunDir();
      dir = mkdtempSync(join(tmpdir(), 'sealtun-dns-'));
    });
    after(() => rmSync(dir, { recursive: true, force: true }));

    it('runs the recorded tool\'s undo once, forgets it on success, keeps it when the tool fails', async () => {
      const log = createLogger('test', 'error', { write: () => true } as unknown as NodeJS.WritableStream);
      const calls = join(dir, 'calls');
      const fake = join(dir, 'resolvconf');
      writeFileSync(fake, `#!/bin/sh\necho "$@" >> ${calls}\nexit \${FAKE_EXIT:-0}\n`);
      chmodSync(fake, 0o755);
      const withFake: DnsHost = { ...host({}), program: (n) => (n === 'resolvconf' ? fake : null) };
      recordInLedger('stdns0', 'dns', { tool: 'resolvconf', target: 'tun.stdns0' });
      process.env['FAKE_EXIT'] = '1';
      expect(await restoreDns('stdns0', log, withFake)).to.deep.equal([]);
      expect(readLedger('stdns0')['dns'], 'a failed undo is tried again by the next root process').to.deep.equal({ tool: 'resolvconf', target: 'tun.stdns0' });
      delete process.env['FAKE_EXIT'];
      expect(await restoreDns('stdns0', log, withFake)).to.deep.equal(['DNS settings of tun.stdns0 (resolvconf)']);
      expect(readLedger('stdns0')).to.deep.equal({});
      expect(await restoreDns('stdns0', log, withFake), 'nothing recorded: nothing to do').to.deep.equal([]);
      expect(readFileSync(calls, 'utf8')).to.equal('-d tun.stdns0 -f\n-d tun.stdns0 -f\n');
    });
  });
});
