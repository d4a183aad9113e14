// DNS = and the hooks, as an operator sees them: `sealtun up` sets the
// namespace's resolver (openresolv, in a private mount: test/helpers/
// private-resolver.ts) and runs PreUp/PostUp; `down`, SIGTERM, and `down`
// after kill -9 put resolv.conf back byte for byte and run PreDown/PostDown
// once; a failing PostUp leaves nothing behind, nor does a SIGTERM that
// comes while PostUp still runs.
import { expect } from 'chai';
import { existsSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { queryControl } from '../../src/daemon/control.js';
import { namespaceRunDir } from '../../src/daemon/rundir.js';
import { eventually, TestNet } from '../helpers/netns.js';
import { privateResolver, requireOpenresolv, type PrivateResolver } from '../helpers/private-resolver.js';
import { asUnitRuns, unitCommand } from '../helpers/systemd-unit.js';
import { SEALTUN, TunnelPair } from '../helpers/tunnel-pair.js';

const ORIGINAL = '# the namespace resolver before the tunnel\nnameserver 192.0.2.53\noptions edns0\n';
const DNS = 'DNS = 198.51.100.53, 2001:db8:53::1, corp.example, example.test';

/** A pair whose side A has `extraA`, with its own resolv.conf; torn down after each test. */
function setUp(extraA: (dir: string) => string, upArgs: string[] = []): { pair: TunnelPair; resolver: PrivateResolver } {
  requireOpenresolv();
  const net = TestNet.create();
  const pair = new TunnelPair(net, { transport: 'udp', extraA: extraA(''), upArgs });
  (pair.opts as { extraA?: string }).extraA = extraA(pair.dir);
  return { pair, resolver: privateResolver(net, net.a, pair.dir, ORIGINAL) };
}

function ledgerOf(pair: TunnelPair): string {
  return join(namespaceRunDir(join(pair.dir, 'run'), pair.net.a), `${pair.nameA}.host.json`);
}

async function hostState(pair: TunnelPair): Promise<string> {
  // The kernel adds the local route of each link-local address once its duplicate
  // detection ends: a snapshot taken while one is tentative would miss it.
  await eventually(async () => !/tentative/.test((await pair.net.run(pair.net.a, ['ip', '-6', 'address', 'show'])).stdout), 10_000, 100);
  const parts = [];
  for (const cmd of [['ip', 'link', 'show'], ['ip', 'route', 'show', 'table', 'all'], ['ip', '-6', 'route', 'show', 'table', 'all'], ['ip', 'rule'], ['ip', '-6', 'rule'], ['nft', 'list', 'ruleset']]) {
    parts.push((await pair.net.run(pair.net.a, cmd)).stdout.replace(/^\d+: /gm, ''));
  }
  return parts.join('\n');
}

describe('DNS and hooks', function () {
  this.timeout(120_000);
  let current: TunnelPair | undefined;
  afterEach(async function () {
    if (this.currentTest?.state === 'failed' && current) process.stderr.write(`--- ${current.nameA} log ---\n${current.log(current.nameA)}\n`);
    await current?.destroy();
    current = undefined;
  });

  it('DNS is set for the interface with resolvconf and restored on down, on SIGTERM, and by down after kill -9', async () => {
    const { pair, resolver } = setUp(() => DNS);
    current = pair;
    const inside = async () => (await pair.net.run(pair.net.a, ['cat', '/etc/resolv.conf'])).stdout;
    expect(await inside(), 'the namespace starts with its own resolv.conf').to.equal(ORIGINAL);
    await pair.start();
    const applied = await inside();
    process.stdout.write(`      (resolv.conf while up:\n${applied.replace(/^/gm, '        ')})\n`);
    expect(applied).to.match(/^nameserver 198\.51\.100\.53$/m);
    expect(applied).to.match(/^nameserver 2001:db8:53::1$/m);
    expect(applied).to.match(/^search corp\.example example\.test$/m);
    expect(applied, 'exclusive (-x): the old server is not used meanwhile').to.not.include('192.0.2.53');
    expect(JSON.parse(readFileSync(ledgerOf(pair), 'utf8')).dns).to.deep.equal({ tool: 'resolvconf', target: pair.nameA });

    // down
    const down = await pair.down(pair.net.a, pair.nameA);
    expect(down.code, down.stderr).to.equal(0);
    expect(resolver.read()).to.equal(ORIGINAL);
    expect(existsSync(ledgerOf(pair)), 'nothing left in the ledger').to.equal(false);

    // SIGTERM to the daemon itself
    await pair.up(pair.net.a, join(pair.dir, 'a.conf'));
    expect(resolver.read()).to.include('198.51.100.53');
    const pid = pair.pidOf(pair.nameA)!;
    process.kill(pid, 'SIGTERM');
    await eventually(async () => !existsSync(`/proc/${pid}`), 10_000, 50);
    expect(resolver.read(), 'the daemon restores it on SIGTERM').to.equal(ORIGINAL);
    expect(existsSync(ledgerOf(pair))).to.equal(false);

    // kill -9: the dead daemon restores nothing; `down` finds it in the ledger
    await pair.up(pair.net.a, join(pair.dir, 'a.conf'));
    await pair.kill9(pair.net.a, pair.nameA);
    expect(resolver.read(), 'a killed daemon leaves its DNS behind').to.include('198.51.100.53');
    const after = await pair.down(pair.net.a, pair.nameA);
    expect(after.code, after.stderr).to.equal(0);
    expect(after.stderr).to.include(`removed DNS settings of ${pair.nameA} (resolvconf)`);
    expect(resolver.read()).to.equal(ORIGINAL);
    expect(existsSync(ledgerOf(pair))).to.equal(false);
    const again = await pair.down(pair.net.a, pair.nameA);
    expect(again.code, 'a second down finds nothing to do').to.equal(1);
    expect(again.stderr).to.include('no sealtun tunnel of that name is running');
  });

  it('PreUp, PostUp, PreDown and PostDown run in order, as root, with %i replaced and their output in the log, also when the daemon dropped root', async () => {
    const hooks = (dir: string) => `${DNS}
PreUp = echo "pre-up %i $(id -u)" >> ${dir}/hooks.log ; ip link show %i >/dev/null 2>&1 || echo "pre-up: no %i yet" >> ${dir}/hooks.log
PostUp = echo "post-up %i" >> ${dir}/hooks.log
PostUp = ip link show %i >/dev/null && echo "post-up: %i exists" >> ${dir}/hooks.log; echo said-by-post-up
PreDown = ip link show %i >/dev/null && echo "pre-down %i $(id -u): %i exists" >> ${dir}/hooks.log
PostDown = ip link show %i >/dev/null 2>&1 || echo "post-down %i $(id -u): %i gone" >> ${dir}/hooks.log # a comment`;
    for (const upArgs of [[], ['--user', 'nobody']]) {
      const { pair, resolver } = setUp(hooks, upArgs);
      current = pair;
      await pair.start();
      const log = join(pair.dir, 'hooks.log');
      expect(readFileSync(log, 'utf8')).to.equal(`pre-up sta0 0\npre-up: no sta0 yet\npost-up sta0\npost-up: sta0 exists\n`);
      expect(pair.log(pair.nameA)).to.match(/PostUp: \| said-by-post-up/);
      // Whether `down` must run PreDown itself: the daemon says on its control socket, /proc being hidden under the unit's ProtectProc.
      const identity = (await queryControl(pair.runFile(pair.nameA, 'sock'), { cmd: 'identify' })) as { root?: boolean };
      expect(identity.root).to.equal(upArgs.length === 0);
      // A daemon that dropped root is stopped as the systemd unit's ExecStop runs `down`.
      const unitStop = asUnitRuns(unitCommand('ExecStop', { instance: pair.nameA, mainPid: pair.pidOf(pair.nameA)!, configDir: pair.dir }));
      const down = upArgs.length ? await pair.net.run(pair.net.a, unitStop, { env: pair.env }) : await pair.down(pair.net.a, pair.nameA);
      expect(down.code, down.stderr).to.equal(0);
      const lines = readFileSync(log, 'utf8').split('\n').slice(4).join('\n');
      process.stdout.write(`      (${upArgs.length ? "daemon dropped to nobody, stopped by the unit's ExecStop" : 'daemon kept root'}: down hooks wrote ${JSON.stringify(lines)})\n`);
      expect(lines, 'PreDown while the interface is there, PostDown after, both as root, once each').to.equal('pre-down sta0 0: sta0 exists\npost-down sta0 0: sta0 gone\n');
      expect(resolver.read(), 'DNS restored, also for a daemon that could not do it itself').to.equal(ORIGINAL);
      expect(existsSync(ledgerOf(pair))).to.equal(false);
      await pair.destroy();
      current = undefined;
    }
  });

  it('a failing PostUp stops `up` with its output, and leaves no interface, DNS, ledger, route, rule or kill switch behind', async () => {
    const { pair, resolver } = setUp((dir) => `${DNS}\nKillSwitch = on\nPostUp = touch ${dir}/first-ran\nPostUp = echo "cannot reach the intranet"; exit 3\nPostUp = touch ${dir}/third-ran\nPreDown = touch ${dir}/pre-down-ran`);
    current = pair;
    await pair.keygen();
    await pair.up(pair.net.b, pair.configB());
    const before = await hostState(pair);
    const r = await pair.cli(pair.net.a, ['up', '--daemon', pair.configA()]);
    process.stdout.write(`      (up printed: ${JSON.stringify(r.stderr.trim().split('\n').slice(-3))})\n`);
    expect(r.code).to.equal(1);
    expect(r.stderr).to.include('PostUp hook exited with code 3: echo "cannot reach the intranet"; exit 3');
    expect(r.stderr).to.include('cannot reach the intranet');
    expect(existsSync(join(pair.dir, 'first-ran'))).to.equal(true);
    expect(existsSync(join(pair.dir, 'third-ran')), 'the hooks after the failing one do not run').to.equal(false);
    expect(existsSync(join(pair.dir, 'pre-down-ran')), 'nothing was up: no down hook runs').to.equal(false);
    expect(resolver.read()).to.equal(ORIGINAL);
    expect(existsSync(ledgerOf(pair))).to.equal(false);
    expect(await hostState(pair)).to.equal(before);

    // The same line as PreUp: `up` stops before the interface exists.
    const conf = join(pair.dir, 'a.conf');
    writeFileSync(conf, readFileSync(conf, 'utf8').replace('PostUp = echo "cannot', 'PreUp = echo "cannot'));
    const pre = await pair.cli(pair.net.a, ['up', '--daemon', conf]);
    expect(pre.code).to.equal(1);
    expect(pre.stderr).to.include('PreUp hook exited with code 3: echo "cannot reach the intranet"; exit 3; its output:\n  cannot reach the intranet');
    expect(resolver.read()).to.equal(ORIGINAL);
    expect(existsSync(ledgerOf(pair))).to.equal(false);
    expect(await hostState(pair)).to.equal(before);
  });
  it('SIGTERM while starting: during PostUp the start finishes and is undone, during PreUp it stops there; the process exits leaving nothing behind', async () => {
    const { pair, resolver } = setUp((dir) => `${DNS}\nKillSwitch = on\nPostUp = touch ${dir}/post-up-began; sleep 6\nPreDown = touch ${dir}/pre-down-ran`);
    current = pair;
    await pair.keygen();
    await pair.up(pair.net.b, pair.configB());
    const before = await hostState(pair);
    // In the foreground, as systemd runs it: `systemctl stop` while the unit is still activating.
    const daemon = pair.net.spawn(pair.net.a, [process.execPath, SEALTUN, 'up', pair.configA()], { env: pair.env });
    let output = '';
    daemon.stdout!.on('data', (d: Buffer) => (output += d.toString()));
    daemon.stderr!.on('data', (d: Buffer) => (output += d.toString()));
    const exited = new Promise<{ code: number | null; signal: string | null }>((r) => daemon.on('exit', (code, signal) => r({ code, signal })));
    await eventually(async () => existsSync(join(pair.dir, 'post-up-began')), 30_000, 50);
    await new Promise((r) => setTimeout(r, 2000));
    const t0 = Date.now();
    daemon.kill('SIGTERM');
    const end = await Promise.race([exited, new Promise<null>((r) => setTimeout(() => r(null), 30_000))]);
    const ms = Date.now() - t0;
    process.stdout.write(`      (SIGTERM 2 s into a 6 s PostUp: exited ${JSON.stringify(end)} ${ms} ms later; log ends ${JSON.stringify(output.trim().split('\n').slice(-2))})\n`);
    expect(end, `still running 30 s after SIGTERM:\n${output}`).to.not.equal(null);
    expect(end!.signal, `killed by the signal midway:\n${output}`).to.equal(null);
    expect(end!.code, output).to.equal(0);
    expect(output).to.include('SIGTERM while starting');
    expect(existsSync(join(pair.dir, 'pre-down-ran')), 'PostUp had passed: its down hooks undo it').to.equal(true);
    expect(resolver.read()).to.equal(ORIGINAL);
    expect(existsSync(ledgerOf(pair)), 'no ledger').to.equal(false);
    expect(existsSync(pair.runFile(pair.nameA, 'pid')), 'no pid file').to.equal(false);
    expect(await hostState(pair), 'no interface, route, rule or kill switch').to.equal(before);

    // During PreUp: PreUp finishes, and nothing after it is done.
    const conf = join(pair.dir, 'a.conf');
    writeFileSync(conf, readFileSync(conf, 'utf8').replace('PostUp = touch', 'PreUp = touch'));
    unlinkSync(join(pair.dir, 'post-up-began'));
    const again = pair.net.spawn(pair.net.a, [process.execPath, SEALTUN, 'up', conf], { env: pair.env });
    let said = '';
    again.stderr!.on('data', (d: Buffer) => (said += d.toString()));
    const gone = new Promise<{ code: number | null; signal: string | null }>((r) => again.on('exit', (code, signal) => r({ code, signal })));
    await eventually(async () => existsSync(join(pair.dir, 'post-up-began')), 30_000, 50);
    again.kill('SIGTERM');
    expect(await gone, said).to.deep.equal({ code: 0, signal: null });
    expect(said).to.include('SIGTERM while starting: stopped before the interface was created');
    expect(resolver.read()).to.equal(ORIGINAL);
    expect(existsSync(ledgerOf(pair))).to.equal(false);
    expect(await hostState(pair)).to.equal(before);
  });
  it('a second `up` of the same Name while the first still starts is refused and leaves the first one\'s DNS, hooks and rules alone; `down` stops one still starting', async () => {
    const { pair, resolver } = setUp((dir) => `${DNS}\nPostUp = touch ${dir}/post-up-began; sleep 5\nPreDown = echo pre-down >> ${dir}/down-hooks`);
    current = pair;
    await pair.keygen();
    await pair.up(pair.net.b, pair.configB());
    const first = pair.cli(pair.net.a, ['up', '--daemon', pair.configA()]);
    await eventually(async () => existsSync(join(pair.dir, 'post-up-began')), 30_000, 50);
    const second = await pair.cli(pair.net.a, ['up', '--daemon', pair.configA()]);
    process.stdout.write(`      (second up while the first's PostUp runs: exit ${second.code}, ${JSON.stringify(second.stderr.trim())})\n`);
    expect(second.code).to.equal(1);
    expect(second.stderr).to.match(/sta0: already starting or running \(pid \d+\); stop it first with: sealtun down sta0/);
    const up = await first;
    expect(up.code, up.stderr).to.equal(0);
    const ledger = JSON.parse(readFileSync(ledgerOf(pair), 'utf8')) as Record<string, unknown>;
    expect(Object.keys(ledger).sort(), 'the first tunnel\'s DNS and down hooks are still recorded').to.deep.equal(['dns', 'hooks']);
    expect(resolver.read()).to.include('198.51.100.53');
    await pair.waitConnected();
    const down = await pair.down(pair.net.a, pair.nameA);
    expect(down.code, down.stderr).to.equal(0);
    expect(readFileSync(join(pair.dir, 'down-hooks'), 'utf8'), 'PreDown ran once').to.equal('pre-down\n');
    expect(resolver.read()).to.equal(ORIGINAL);

    // `down` while an `up` still starts: it signals the lock's holder, whose start is then undone.
    const third = pair.cli(pair.net.a, ['up', '--daemon', pair.configA()]);
    unlinkSync(join(pair.dir, 'post-up-began'));
    await eventually(async () => existsSync(join(pair.dir, 'post-up-began')), 30_000, 50);
    const early = await pair.cli(pair.net.a, ['down', pair.nameA], undefined);
    process.stdout.write(`      (down while PostUp runs: exit ${early.code}; up said ${JSON.stringify((await third).stderr.trim().split('\n').slice(-1))})\n`);
    expect(early.code, early.stderr).to.equal(0);
    expect(resolver.read()).to.equal(ORIGINAL);
    expect(existsSync(ledgerOf(pair))).to.equal(false);
  });
});
