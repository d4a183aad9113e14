// A daemon that dropped root (`--user nobody`), managed as the systemd unit
// manages it: ExecReload and ExecStop run as root without CAP_KILL and with
// ProtectProc's /proc (test/helpers/systemd-unit.ts), and must still reach
// it; a reload must still apply an Endpoint change.
import { expect } from 'chai';
import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { eventually, TestNet } from '../helpers/netns.js';
import { asUnitRuns, unitCommand } from '../helpers/systemd-unit.js';
import { SEALTUN, TunnelPair, withPair } from '../helpers/tunnel-pair.js';

type Status = { pid: number; peers: { endpoint: string | null }[] };

/** B moves from `from` to `to` (the old address goes, as in reload.test.ts); returns A's config text pointing there. */
async function renumberB(pair: TunnelPair, from: string, to: string): Promise<string> {
  for (const args of [
    ['address', 'del', `${from}/24`, 'dev', pair.net.vethB],
    ['address', 'add', `${to}/24`, 'dev', pair.net.vethB],
  ]) {
    const r = await pair.net.run(pair.net.b, ['ip', ...args]);
    expect(r.code, r.stderr).to.equal(0);
  }
  return readFileSync(join(pair.dir, 'a.conf'), 'utf8').replace(`Endpoint = ${pair.net.addrB}:`, `Endpoint = ${to}:`);
}

describe('a daemon that dropped to User=, driven as the systemd unit drives it', function () {
  this.timeout(120_000);
  withPair({ transport: 'udp', upArgs: ['--user', 'nobody'] }, (get) => {
    const unit = (pair: TunnelPair, key: 'ExecReload' | 'ExecStop', name: string) =>
      asUnitRuns(unitCommand(key, { instance: name, mainPid: pair.pidOf(name)!, configDir: pair.dir }));

    it("the unit's ExecReload applies a new Endpoint: status shows it, traffic flows, same pid", async () => {
      const pair = get();
      const pidA = pair.pidOf(pair.nameA)!;
      // The unit's commands run as root but without CAP_KILL: the daemon is beyond their signals.
      const hup = await pair.net.run(pair.net.a, asUnitRuns(['/bin/kill', '-HUP', String(pidA)]));
      expect(hup.code, 'without CAP_KILL, `kill -HUP $MAINPID` cannot reach it').to.not.equal(0);
      process.stdout.write(`      (kill -HUP as the unit runs it: ${hup.stderr.trim()})\n`);

      // The operator renumbers the server and edits /etc/sealtun/%i.conf (0600, in a 0700 directory).
      writeFileSync(join(pair.dir, `${pair.nameA}.conf`), await renumberB(pair, pair.net.addrB, '192.0.2.3'), { mode: 0o600 });
      const r = await pair.net.run(pair.net.a, unit(pair, 'ExecReload', pair.nameA), { env: pair.env });
      expect(r.code, r.stderr).to.equal(0);
      expect(r.stdout).to.equal(`${pair.nameA} reloaded\n  peer ${readFileSync(join(pair.dir, 'b.pub'), 'utf8').trim()}: endpoint now 192.0.2.3:${pair.port}\n`);
      const s = (await pair.status(pair.net.a, pair.nameA)) as Status;
      expect(s.peers[0].endpoint).to.equal(`192.0.2.3:${pair.port}`);
      expect(s.pid).to.equal(pidA);
      await pair.waitConnected();
      expect(pair.log(pair.nameA)).to.match(/peer \S+: endpoint now 192\.0\.2\.3/);
    });

    it('SIGHUP re-reads the config as nobody: a key file it can no longer read keeps the running key; an Endpoint change applies', async () => {
      const pair = get();
      const pidA = pair.pidOf(pair.nameA)!;
      // The config readable by the daemon's user; the key files stay root-only (0600).
      chmodSync(pair.dir, 0o711);
      const conf = join(pair.dir, 'a.conf');
      writeFileSync(conf, await renumberB(pair, '192.0.2.3', '192.0.2.4'));
      chmodSync(conf, 0o644);
      process.kill(pidA, 'SIGHUP');
      await eventually(async () => ((await pair.status(pair.net.a, pair.nameA)) as Status).peers[0].endpoint === `192.0.2.4:${pair.port}`, 15_000);
      await pair.waitConnected();
      const log = pair.log(pair.nameA);
      expect(log).to.match(/reload: .*a\.key: not readable as uid 65534 since the privilege drop; the running private key is kept/);
      expect(log, "nothing else reported as changed").to.not.match(/changed; that takes a restart/);
      // Unreadable config: the log says so, and what to run instead.
      chmodSync(pair.dir, 0o700);
      process.kill(pidA, 'SIGHUP');
      await eventually(async () => /running as uid 65534 since the privilege drop: `sealtun reload \S+a\.conf`, run as root/.test(pair.log(pair.nameA)), 10_000);
      expect(pair.pidOf(pair.nameA)).to.equal(pidA);
    });

    it("the unit's ExecStop stops each daemon: interface gone, run files removed", async () => {
      const pair = get();
      for (const [ns, name] of pair.ends) {
        const pid = pair.pidOf(name)!;
        const r = await pair.net.run(ns, unit(pair, 'ExecStop', name), { env: pair.env });
        expect(r.code, r.stderr).to.equal(0);
        expect(r.stdout.trim()).to.equal(`${name} down`);
        expect(() => process.kill(pid, 0), `pid ${pid} gone`).to.throw();
        expect((await pair.net.run(ns, ['ip', 'link', 'show', 'dev', name])).code).to.not.equal(0);
        expect(existsSync(join(pair.dir, 'run', `${name}.pid`))).to.equal(false);
      }
    });
  });
});

describe('dropping root with inheritable capabilities', function () {
  this.timeout(60_000);
  let pair: TunnelPair;
  before(async () => {
    pair = new TunnelPair(TestNet.create(), { transport: 'udp' });
    await pair.keygen();
  });
  after(async () => pair?.destroy());

  it('refuses to run: the inheritable set survives setuid, and the check names it', async () => {
    // Started with CAP_NET_ADMIN inheritable (as capsh --inh or a unit's CapabilityInheritable= would).
    const r = await pair.net.run(
      pair.net.b,
      ['setpriv', '--inh-caps=+net_admin', '--', process.execPath, SEALTUN, 'up', '--daemon', '--user', 'nobody', pair.configB()],
      { env: pair.env, timeoutMs: 30_000 },
    );
    process.stdout.write(`      (up: ${r.stderr.trim().split('\n').find((l) => l.includes('capabilities')) ?? r.stderr.trim()})\n`);
    expect(r.code, r.stdout).to.equal(1);
    expect(r.stderr).to.match(/could not drop privileges to nobody: thread \d+ still has inheritable capabilities 0x1000 \(CapInh/);
    expect((await pair.net.run(pair.net.b, ['ip', 'link', 'show', 'dev', pair.nameB])).code, 'no interface left').to.not.equal(0);
  });
});
