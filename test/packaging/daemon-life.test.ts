// The daemon's life with and without systemd. Under systemd (the unit's
// ExecStart run as the unit runs it, test/helpers/systemd-unit.ts, with the
// NOTIFY_SOCKET and JOURNAL_STREAM systemd would give it): READY=1 once the
// interface is configured, log lines with their syslog priority, no log file;
// ExecStop sends STOPPING=1. Without it: `up --daemon` begins a fresh log at
// each start and keeps the run before as NAME.log.1.
import { expect } from 'chai';
import type { ChildProcess } from 'node:child_process';
import { closeSync, existsSync, fstatSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { eventually, TestNet } from '../helpers/netns.js';
import { notifySocket } from '../helpers/notify-socket.js';
import { asUnitRuns, unitCommand } from '../helpers/systemd-unit.js';
import { TunnelPair } from '../helpers/tunnel-pair.js';

describe('under systemd: Type=notify and the journal', function () {
  this.timeout(120_000);
  let pair: TunnelPair;
  let notify: ReturnType<typeof notifySocket>;
  before(async () => {
    pair = new TunnelPair(TestNet.create(), { transport: 'udp' });
    await pair.keygen();
    writeFileSync(join(pair.dir, `${pair.nameB}.conf`), readFileSync(pair.configB()));
  });
  after(async () => {
    notify?.child.kill('SIGKILL');
    await pair?.destroy();
  });

  const unit = (key: 'ExecStart' | 'ExecStop', instance: string) => asUnitRuns(unitCommand(key, { instance, mainPid: 0, configDir: pair.dir }));

  /** Runs ExecStart for `instance` with stderr in a file that JOURNAL_STREAM names, as systemd connects it to journald. */
  function startUnit(instance: string, extraEnv: NodeJS.ProcessEnv = {}): { daemon: ChildProcess; stderr: () => string; exit: Promise<number | null> } {
    const errFile = join(pair.dir, `${instance}.stderr`);
    const fd = openSync(errFile, 'w');
    const st = fstatSync(fd, { bigint: true });
    const env = { ...pair.env, JOURNAL_STREAM: `${st.dev}:${st.ino}`, ...extraEnv };
    const daemon = pair.net.spawn(pair.net.b, unit('ExecStart', instance), { env, stdio: ['ignore', 'ignore', fd] });
    closeSync(fd);
    return { daemon, stderr: () => readFileSync(errFile, 'utf8'), exit: new Promise((r) => daemon.on('exit', r)) };
  }

  it('READY=1 arrives once the interface has its address; each log line starts with its priority; no log file; ExecStop: STOPPING=1 and exit 0', async () => {
    const sock = join(pair.dir, 'notify.sock');
    notify = notifySocket(`UNIX-RECV:${sock}`);
    await eventually(async () => existsSync(sock), 5000, 20);
    const started = Date.now();
    const { stderr, exit } = startUnit(pair.nameB, { NOTIFY_SOCKET: sock });
    await eventually(async () => notify.received().includes('READY=1'), 20_000, 20);
    const readyMs = Date.now() - started;
    const addr = await pair.net.run(pair.net.b, ['ip', '-4', '-o', 'address', 'show', 'dev', pair.nameB]);
    expect(addr.stdout, 'configured before READY=1').to.include(`${pair.innerB}/24`);
    expect(notify.received()).to.not.include('STOPPING=1');
    process.stderr.write(`      (READY=1 ${readyMs} ms after ExecStart; received: ${JSON.stringify(notify.received().trim())})\n`);

    const stop = await pair.net.run(pair.net.b, unit('ExecStop', pair.nameB), { env: pair.env });
    expect(stop.code, stop.stderr).to.equal(0);
    expect(await exit).to.equal(0);
    expect(notify.received()).to.include('STOPPING=1');

    const lines = stderr().trimEnd().split('\n');
    process.stderr.write(`      (journal lines: ${JSON.stringify(lines.slice(0, 2))} ...)\n`);
    expect(lines.filter((l) => !/^<[3467]>\S/.test(l)), 'lines without a priority').to.deep.equal([]);
    expect(lines.some((l) => l.startsWith(`<6>sealtun[${pair.nameB}] info: ${pair.nameB} up: `))).to.equal(true);
    expect(stderr(), 'the journal keeps its own time stamps').to.not.match(/\d{4}-\d\d-\d\dT\d\d:/);
    expect(existsSync(pair.runFile(pair.nameB, 'log')), 'no log file under systemd').to.equal(false);
  });

  it('a start that fails says why at error priority (<3>)', async () => {
    const { stderr, exit } = startUnit('nosuch');
    expect(await exit).to.equal(1);
    expect(stderr()).to.match(/^<3>sealtun: .*nosuch\.conf/);
  });
});

describe('up --daemon without systemd: a fresh log file at each start', function () {
  this.timeout(120_000);
  let pair: TunnelPair;
  before(async () => {
    pair = new TunnelPair(TestNet.create(), { transport: 'udp' });
    await pair.keygen();
  });
  after(async () => pair?.destroy());

  it('three starts: NAME.log holds only the latest run, NAME.log.1 the one before, nothing older is kept', async () => {
    const upLine = `${pair.nameB} up: `;
    const starts = (text: string) => text.split('\n').filter((l) => l.includes(upLine));
    const seen: string[] = [];
    for (let run = 1; run <= 3; run++) {
      await pair.up(pair.net.b, pair.configB());
      const now = starts(pair.log(pair.nameB));
      expect(now, `run ${run}: NAME.log`).to.have.length(1);
      expect(starts(pair.log(pair.nameB, 'log.1')), `run ${run}: NAME.log.1`).to.deep.equal(run === 1 ? [] : [seen.at(-1)]);
      seen.push(now[0]!);
      const down = await pair.down(pair.net.b, pair.nameB);
      expect(down.code, down.stderr).to.equal(0);
    }
    expect(new Set(seen).size, 'three distinct runs').to.equal(3);
    expect(existsSync(`${pair.runFile(pair.nameB, 'log.1')}.1`)).to.equal(false);
  });
});
