// What `up` and `down` do when a host tool is missing or failing: a kill
// switch without nft is refused before anything changes (and by `check`);
// `down` treats a recorded kill switch with nft gone as nothing installed,
// and when one undo step fails the others (PostDown here) still run, the
// failure is reported and stays recorded for the next try. nft is hidden or
// replaced in a private mount namespace of the sealtun process only; the
// daemon would run in a namespace of the test's own.
import { expect } from 'chai';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { RunResult } from '../helpers/netns.js';
import { LoneDaemons } from '../helpers/lone-daemons.js';

/** Where nft is on this host (/sbin is a link to /usr/sbin here); what the tests put over it. */
const NFT = '/usr/sbin/nft';

describe('host undo with nft missing or failing', function () {
  this.timeout(60_000);
  let d: LoneDaemons;
  const name = 'stun0';

  const ledgerFile = () => d.runFile(name, 'host.json');
  /** sealtun with `over` bind-mounted onto nft (an empty, non-executable file: nft is not installed). */
  const sealtunWithNft = (over: string, args: string[]): Promise<RunResult> => d.sealtun(args, ['unshare', '-m', 'sh', '-c', `mount --bind ${over} ${NFT} && exec "$@"`, 'sh']);
  const noNft = () => join(d.dir, 'no-nft');
  const failingNft = () => join(d.dir, 'failing-nft');

  function config(extra: string): string {
    const path = join(d.dir, 'ks.conf');
    writeFileSync(path, `[Interface]\nName = ${name}\nPrivateKey = a.key\nAddress = 10.97.0.1/24\nKillSwitch = on\n${extra}\n\n[Peer]\nPublicKey = b.pub\nEndpoint = ${d.net.addrB}:51820\nAllowedIPs = 10.97.0.2/32\n`, { mode: 0o600 });
    return path;
  }

  /** A ledger as a crashed daemon leaves it: its kill switch, and a PostDown hook that leaves a mark in `ran`. */
  function crashedLedger(ran: string): void {
    writeFileSync(ledgerFile(), JSON.stringify({ killSwitch: { table: `sealtun-${name}` }, hooks: { preDown: [], postDown: [`echo ran > ${ran}`] } }), { mode: 0o600 });
  }

  before(async () => {
    d = await LoneDaemons.create();
    writeFileSync(noNft(), '', { mode: 0o644 });
    writeFileSync(failingNft(), '#!/bin/sh\necho "nft: simulated failure" >&2\nexit 1\n', { mode: 0o755 });
    // The run directory of the namespace, for the ledgers written by hand.
    expect((await d.net.run(d.net.a, ['mkdir', '-p', '-m', '0700', join(ledgerFile(), '..')])).code).to.equal(0);
  });
  after(() => d.destroy([name]));

  it('up with KillSwitch = on and no nft is refused before anything changes; check says so too', async () => {
    const up = await sealtunWithNft(noNft(), ['up', '--daemon', config('')]);
    expect(up.code).to.not.equal(0);
    expect(up.stderr).to.match(/kill switch: nft is not installed/);
    expect((await d.net.run(d.net.a, ['ip', 'link', 'show', 'dev', name])).code, 'no interface').to.not.equal(0);
    expect(existsSync(ledgerFile()), 'nothing recorded').to.equal(false);
    const check = await sealtunWithNft(noNft(), ['check', config('')]);
    expect(check.code).to.equal(1);
    expect(check.stderr).to.match(/kill switch: nft is not installed/);
  });

  it('down with a recorded kill switch and nft gone: nothing was installed, PostDown runs, the ledger goes', async () => {
    const ran = join(d.dir, 'postdown-1');
    crashedLedger(ran);
    const down = await sealtunWithNft(noNft(), ['down', name]);
    expect(down.code, down.stderr).to.equal(0);
    expect(existsSync(ran), 'PostDown ran').to.equal(true);
    expect(existsSync(ledgerFile()), 'the ledger is gone').to.equal(false);
  });

  it('down with a failing nft: PostDown still runs, the failure is reported, and the kill switch stays recorded for the next try', async () => {
    const ran = join(d.dir, 'postdown-2');
    crashedLedger(ran);
    const down = await sealtunWithNft(failingNft(), ['down', name]);
    console.log(`      down with a failing nft: exit ${down.code}: ${down.stderr.trim().split('\n').pop()}`);
    expect(existsSync(ran), 'PostDown ran after the kill switch failed').to.equal(true);
    expect(down.code).to.not.equal(0);
    expect(down.stderr).to.match(/undoing the kill switch: kill switch: nft: nft: simulated failure/);
    expect(JSON.parse(readFileSync(ledgerFile(), 'utf8'))).to.deep.equal({ killSwitch: { table: `sealtun-${name}` } });
    // The next down, with nft working, lifts it.
    const again = await d.sealtun(['down', name]);
    expect(again.code, again.stderr).to.equal(0);
    expect(existsSync(ledgerFile())).to.equal(false);
  });
});
