// PreUp/PostUp/PreDown/PostDown (src/host/hooks.ts): /bin/sh -c with %i
// replaced, in order, output into the log; a failing up hook stops with its
// output; the down hooks are recorded and run once, whoever runs them.
import { expect } from 'chai';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseConfig, type TunnelConfig } from '../../src/config/config.js';
import { encodeKey, generatePrivateKey, publicKeyOf } from '../../src/crypto/keys.js';
import { initSodium } from '../../src/crypto/sodium.js';
import { expandHook, HookError, runPostDown, runPostUp, runPreDown, runPreUp } from '../../src/host/hooks.js';
import { readLedger } from '../../src/host/ledger.js';
import type { Logger } from '../../src/log.js';
import { privateRunDir } from '../helpers/private-run-dir.js';

function memoryLog(): Logger & { lines: string[] } {
  const lines: string[] = [];
  const at = (level: string) => (m: string) => void lines.push(`${level}: ${m}`);
  return { lines, error: at('error'), warn: at('warn'), info: at('info'), debug: at('debug') };
}

describe('hooks (src/host/hooks.ts)', () => {
  let dir: string;
  let keys: { priv: string; pub: string };
  before(async () => {
    await initSodium();
    privateRunDir();
    dir = mkdtempSync(join(tmpdir(), 'sealtun-hooks-'));
    keys = { priv: encodeKey(generatePrivateKey()), pub: encodeKey(publicKeyOf(generatePrivateKey())) };
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  const config = (name: string, hooks: string): TunnelConfig =>
    parseConfig(`[Interface]\nName = ${name}\nPrivateKey = ${keys.priv}\nAddress = 10.77.0.1/24\n${hooks}\n[Peer]\nPublicKey = ${keys.pub}\nEndpoint = 192.0.2.2:1\nAllowedIPs = 10.77.0.2/32\n`, 'hooks.conf');
  const marks = () => readFileSync(join(dir, 'marks'), 'utf8');

  it('replaces every %i with the interface name', () => {
    expect(expandHook('ip link set %i up; echo %i%i', 'st0')).to.equal('ip link set st0 up; echo st0st0');
  });

  it('runs PreUp and PostUp in file order with /bin/sh -c, logging each command and its output', async () => {
    const c = config('sth1', `PreUp = echo pre %i >> ${dir}/marks\nPostUp = echo one %i >> ${dir}/marks; echo out-one; echo err-one >&2\nPostUp = echo two >> ${dir}/marks`);
    const log = memoryLog();
    await runPreUp(c, log);
    await runPostUp(c, log);
    expect(marks()).to.equal('pre sth1\none sth1\ntwo\n');
    expect(log.lines).to.include.members([`info: PostUp: echo one sth1 >> ${dir}/marks; echo out-one; echo err-one >&2`, 'info: PostUp: | out-one', 'info: PostUp: | err-one']);
    expect(readLedger('sth1'), 'no down hooks: nothing recorded').to.deep.equal({});
  });

  it('a failing PostUp stops the rest and throws with its output; the down hooks are then not recorded', async () => {
    const c = config('sth2', 'PostUp = echo first\nPostUp = echo "why it failed"; exit 7\nPostUp = echo never\nPreDown = echo pd');
    const log = memoryLog();
    let thrown: unknown;
    await runPostUp(c, log).catch((e: unknown) => (thrown = e));
    expect(thrown).to.be.instanceOf(HookError);
    expect((thrown as Error).message).to.equal('sth2: PostUp hook exited with code 7: echo "why it failed"; exit 7; its output:\n  why it failed');
    expect(log.lines.join('\n')).to.not.include('never');
    expect(readLedger('sth2')).to.deep.equal({});
    const pre = config('sth2', 'PreUp = kill -9 $$');
    await runPreUp(pre, log).catch((e: unknown) => (thrown = e));
    expect((thrown as Error).message).to.equal('sth2: PreUp hook was killed by SIGKILL: kill -9 $$ (no output)');
  });

  it('PreDown and PostDown are recorded at up, each taken out of the ledger as it runs, so they run once whoever comes', async () => {
    const c = config('sth3', `PreDown = echo pre-down %i >> ${dir}/marks3\nPreDown = false\nPreDown = echo after-a-failure >> ${dir}/marks3\nPostDown = echo post-down %i >> ${dir}/marks3`);
    const log = memoryLog();
    await runPostUp(c, log);
    expect(readLedger('sth3')['hooks']).to.deep.equal({ preDown: [`echo pre-down sth3 >> ${dir}/marks3`, 'false', `echo after-a-failure >> ${dir}/marks3`], postDown: [`echo post-down sth3 >> ${dir}/marks3`] });
    expect(await runPreDown('sth3', log)).to.deep.equal(['PreDown hooks from the ledger (3 run)']);
    expect(await runPreDown('sth3', log), 'a second process finds it done').to.deep.equal([]);
    expect(log.lines).to.include('error: sth3: PreDown hook exited with code 1: false');
    expect(await runPostDown('sth3', log)).to.deep.equal(['PostDown hooks from the ledger (1 run)']);
    expect(await runPostDown('sth3', log)).to.deep.equal([]);
    expect(readFileSync(join(dir, 'marks3'), 'utf8'), 'a failing down hook does not stop the next').to.equal('pre-down sth3\nafter-a-failure\npost-down sth3\n');
    expect(readLedger('sth3')).to.deep.equal({});
  });
});
