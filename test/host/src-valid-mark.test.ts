// net.ipv4.conf.all.src_valid_mark, which a full tunnel over IPv4 needs:
// set to 1 at `up` and never put back (as wg-quick), so that `down` of one
// full tunnel cannot take it from another, and a read-only /proc/sys (a
// systemd unit with ProtectKernelTunables) makes `up` fail with a clear
// error and leaves nothing for `down` to get stuck on. Real daemons in a
// namespace of their own; their peers never answer (not needed here).
import { expect } from 'chai';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { RunResult } from '../helpers/netns.js';
import { LoneDaemons } from '../helpers/lone-daemons.js';

describe('src_valid_mark (a full tunnel over IPv4)', function () {
  this.timeout(60_000);
  let d: LoneDaemons;
  const names = ['stva', 'stvb', 'stvr'];
  const sealtun = (args: string[]): Promise<RunResult> => d.sealtun(args);
  /** The same with /proc/sys read-only, as under ProtectKernelTunables=yes (a private mount namespace). */
  const sealtunReadOnlySysctl = (args: string[]): Promise<RunResult> =>
    d.sealtun(args, ['unshare', '-m', 'sh', '-c', 'mount --bind /proc/sys /proc/sys && mount -o remount,bind,ro /proc/sys && exec "$@"', 'sh']);
  const srcValidMark = async () => (await d.net.run(d.net.a, ['sysctl', '-n', 'net.ipv4.conf.all.src_valid_mark'])).stdout.trim();
  const runFile = (name: string, ext: string) => d.runFile(name, ext);

  function config(name: string, extra: string, port: number): string {
    const path = join(d.dir, `${name}.conf`);
    writeFileSync(path, `[Interface]\nName = ${name}\nPrivateKey = a.key\nAddress = 10.98.${port % 256}.1/24\n${extra}\n\n[Peer]\nPublicKey = b.pub\nEndpoint = ${d.net.addrB}:${port}\nAllowedIPs = 0.0.0.0/0\n`, { mode: 0o600 });
    return path;
  }

  before(async () => {
    d = await LoneDaemons.create();
  });
  after(() => d.destroy(names));

  it('down of one full tunnel leaves it 1 for another (FwMark 51820 and 51821)', async () => {
    expect(await srcValidMark()).to.equal('0');
    for (const [name, extra, port] of [['stva', '', 51820], ['stvb', 'FwMark = 51821', 51821]] as const) {
      const up = await sealtun(['up', '--daemon', config(name, extra, port)]);
      expect(up.code, up.stderr).to.equal(0);
    }
    expect(await srcValidMark()).to.equal('1');
    const down = await sealtun(['down', 'stva']);
    expect(down.code, down.stderr).to.equal(0);
    expect(await srcValidMark(), 'after down of stva, while stvb runs').to.equal('1');
    expect((await sealtun(['down', 'stvb'])).code).to.equal(0);
    expect(await srcValidMark(), 'kept, as wg-quick keeps it').to.equal('1');
  });

  it('with /proc/sys read-only, up fails naming the sysctl and records nothing; down does not get stuck', async () => {
    expect((await d.net.run(d.net.a, ['sysctl', '-qw', 'net.ipv4.conf.all.src_valid_mark=0'])).code).to.equal(0);
    const up = await sealtunReadOnlySysctl(['up', '--daemon', config('stvr', '', 51822)]);
    console.log(`      up with /proc/sys read-only: exit ${up.code}: ${up.stderr.trim().split('\n').pop()}`);
    expect(up.code).to.not.equal(0);
    expect(existsSync(runFile('stvr', 'host.json')), 'nothing left in the ledger').to.equal(false);
    const down = await sealtunReadOnlySysctl(['down', 'stvr']);
    expect(down.stderr).to.not.match(/EROFS|read-only/);
    expect(down.stderr).to.match(/no sealtun tunnel of that name is running/);
    expect(up.stderr).to.match(/net\.ipv4\.conf\.all\.src_valid_mark=1: .*EROFS.*ProtectKernelTunables/);
    // A ledger an earlier version left (it recorded the value to put back): undone without writing it.
    writeFileSync(runFile('stvr', 'host.json'), JSON.stringify({ policyRouting: { rules: [], srcValidMarkBefore: '0' } }), { mode: 0o600 });
    const old = await sealtunReadOnlySysctl(['down', 'stvr']);
    expect(old.stderr).to.not.match(/EROFS|read-only/);
    expect(existsSync(runFile('stvr', 'host.json')), 'the old ledger is gone').to.equal(false);
  });
});
