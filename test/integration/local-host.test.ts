// Nothing on the host may hijack or confuse a tunnel: a local user cannot
// take its port, two tunnels of one Name in two namespaces keep to
// themselves, `down` never signals a process that only looks like sealtun,
// and each failure says what it was and what is needed.
import { expect } from 'chai';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer, type Server } from 'node:net';
import { parsePidFile } from '../../src/daemon/process-identity.js';
import { TestNet, type RunResult } from '../helpers/netns.js';
import { SEALTUN, TunnelPair, withPair } from '../helpers/tunnel-pair.js';

/** Runs the rest of the command as nobody, with no capabilities at all. */
const AS_NOBODY = ['setpriv', '--reuid', '65534', '--regid', '65534', '--clear-groups', '--inh-caps=-all'];

/**
 * As nobody in `ns`, binds `proto` PORT on ADDR with SO_REUSEADDR set (as a
 * thief would) and holds it; `outcome` is "bound" or the errno name.
 */
function bindAsNobody(net: TestNet, ns: string, proto: 'udp' | 'tcp', addr: string, port: number): { child: ChildProcess; outcome: Promise<string> } {
  const family = addr.includes(':') ? 'udp6' : 'udp4';
  const script =
    proto === 'udp'
      ? `const s = require('dgram').createSocket({ type: '${family}', reuseAddr: true });
         s.on('error', (e) => { console.log(e.code); process.exit(0); });
         s.bind(${port}, '${addr}', () => console.log('bound'));`
      : `const s = require('net').createServer();
         s.on('error', (e) => { console.log(e.code); process.exit(0); });
         s.listen(${port}, '${addr}', () => console.log('bound'));`;
  const child = net.spawn(ns, [...AS_NOBODY, process.execPath, '-e', script]);
  const outcome = new Promise<string>((resolve) => {
    let out = '';
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('\n')) resolve(out.trim());
    });
    child.on('exit', () => resolve(out.trim() || 'exited'));
  });
  return { child, outcome };
}

/** A copy of `file` with each [from, to] replaced, written beside it as `as`. */
function variant(file: string, as: string, ...edits: Array<[string, string]>): string {
  let text = readFileSync(file, 'utf8');
  for (const [from, to] of edits) text = text.replace(from, to);
  const path = join(file, '..', as);
  writeFileSync(path, text);
  return path;
}

function occurrences(text: string, needle: string): number {
  return text.split(needle).length - 1;
}

async function interfaceGone(net: TestNet, ns: string, name: string): Promise<boolean> {
  return (await net.run(ns, ['ip', 'link', 'show', 'dev', name])).code !== 0;
}

describe('local host: nothing on the host may hijack or confuse a tunnel', function () {
  this.timeout(120_000);

  describe('before a tunnel is up (keys and namespaces only)', () => {
    let pair: TunnelPair;
    before(async () => {
      pair = new TunnelPair(TestNet.create(), { transport: 'udp' });
      await pair.keygen();
    });
    after(async () => {
      await pair?.destroy();
    });

    it('a UDP ListenPort held by user nobody (with SO_REUSEADDR): `up` fails with "ListenPort 51820 (udp): address in use", twice, each failure showing only its own log lines', async () => {
      const { net } = pair;
      const holder = bindAsNobody(net, net.b, 'udp', '::', pair.port);
      expect(await holder.outcome).to.equal('bound');
      const conf = pair.configB();
      const first = await pair.cli(net.b, ['up', '--daemon', conf]);
      const second = await pair.cli(net.b, ['up', '--daemon', conf]);
      process.stderr.write(`      (second failed start said: ${JSON.stringify(second.stderr)})\n`);
      for (const r of [first, second]) {
        expect(r.code).to.equal(1);
        expect(r.stderr).to.include('ListenPort 51820 (udp): address in use');
      }
      expect(occurrences(second.stderr, 'address in use'), 'the first failure is not shown again').to.equal(1);
      expect(occurrences(pair.log(pair.nameB), 'address in use'), 'the log holds this run').to.equal(1);
      expect(occurrences(pair.log(pair.nameB, 'log.1'), 'address in use'), 'the run before is in NAME.log.1').to.equal(1);
      const foreground = await pair.cli(net.b, ['up', conf]);
      expect(foreground.code).to.equal(1);
      expect(foreground.stderr.trim()).to.equal('sealtun: ListenPort 51820 (udp): address in use');
      expect(await interfaceGone(net, net.b, pair.nameB), 'the interface is removed again').to.equal(true);
      holder.child.kill('SIGKILL');
    });

    it('a TCP ListenPort user nobody listens on: `up` fails with "ListenPort 51820 (tcp): address in use"', async () => {
      const { net } = pair;
      const holder = bindAsNobody(net, net.b, 'tcp', '0.0.0.0', pair.port);
      expect(await holder.outcome).to.equal('bound');
      const conf = variant(pair.configB(), 'b-tcp.conf', ['Transport = udp', 'Transport = tcp']);
      const r = await pair.cli(net.b, ['up', conf]);
      expect(r.code).to.equal(1);
      expect(r.stderr.trim()).to.equal('sealtun: ListenPort 51820 (tcp): address in use');
      holder.child.kill('SIGKILL');
    });

    it('`up` without CAP_NET_ADMIN says that creating a TUN interface needs root or CAP_NET_ADMIN', async () => {
      const { net } = pair;
      const r = await net.run(net.b, ['setpriv', '--inh-caps=-all', '--bounding-set=-net_admin', process.execPath, SEALTUN, 'up', pair.configB()], {
        env: pair.env,
      });
      process.stderr.write(`      (${r.stderr.trim()})\n`);
      expect(r.code).to.equal(1);
      expect(r.stderr).to.include(`${pair.nameB}: TUNSETIFF failed: EPERM (creating a TUN interface needs root or CAP_NET_ADMIN)`);
    });
  });

  describe('with a tunnel up', () => {
    withPair({ transport: 'udp' }, (get) => {
      it("user nobody cannot bind the tunnel's UDP port (any address, SO_REUSEADDR set), and a second tunnel on that ListenPort is refused", async () => {
        const pair = get();
        const { net } = pair;
        for (const addr of ['::', '0.0.0.0', net.addrB, '127.0.0.1']) {
          const probe = bindAsNobody(net, net.b, 'udp', addr, pair.port);
          const outcome = await probe.outcome;
          probe.child.kill('SIGKILL');
          expect(outcome, `bind ${addr} port ${pair.port}`).to.equal('EADDRINUSE');
        }
        const second = variant(pair.configB(), 'b2.conf', [`Name = ${pair.nameB}`, 'Name = stb1'], ['Address = 10.77.0.2/24', 'Address = 10.78.0.2/24'], [
          'AllowedIPs = 10.77.0.1/32',
          'AllowedIPs = 10.78.0.1/32',
        ]);
        const r = await pair.cli(net.b, ['up', '--daemon', second]);
        expect(r.code).to.equal(1);
        expect(r.stderr, r.stderr).to.include('ListenPort 51820 (udp): address in use');
        await pair.waitConnected();
      });

      it('a second `up` of a running Name is refused before anything changes (daemon and foreground)', async () => {
        const pair = get();
        const { net } = pair;
        const pid = pair.pidOf(pair.nameB);
        const log = pair.log(pair.nameB);
        const sock = statSync(pair.runFile(pair.nameB, 'sock')).ino;
        for (const args of [['up', '--daemon', pair.configB()], ['up', pair.configB()]]) {
          const r = await pair.cli(net.b, args);
          expect(r.code).to.equal(1);
          expect(r.stderr.trim()).to.equal(`sealtun: ${pair.nameB}: already running (pid ${pid}); stop it first with: sealtun down ${pair.nameB}`);
        }
        expect(pair.pidOf(pair.nameB)).to.equal(pid);
        expect(pair.log(pair.nameB), 'the log is untouched').to.equal(log);
        expect(statSync(pair.runFile(pair.nameB, 'sock')).ino, 'the control socket is the same').to.equal(sock);
        expect(((await pair.status(net.b, pair.nameB)) as { pid: number }).pid).to.equal(pid);
        await pair.waitConnected();
      });

      it('`status` as a non-root user says that it needs root, never that no tunnel runs', async () => {
        const pair = get();
        const { net } = pair;
        for (const args of [['status'], ['status', pair.nameB]]) {
          const r = await net.run(net.b, [...AS_NOBODY, process.execPath, SEALTUN, ...args], { env: pair.env });
          process.stderr.write(`      (sealtun ${args.join(' ')} as nobody: ${r.stderr.trim()})\n`);
          expect(r.code).to.equal(1);
          expect(r.stderr).to.match(/permission denied; status needs root/);
          expect(r.stdout + r.stderr).to.not.match(/no sealtun tunnel/);
        }
      });

      it('`reload NAME` as a non-root user says that it needs root, never that no tunnel runs', async () => {
        const pair = get();
        const { net } = pair;
        const r = await net.run(net.b, [...AS_NOBODY, process.execPath, SEALTUN, 'reload', pair.nameB], { env: pair.env });
        process.stderr.write(`      (sealtun reload ${pair.nameB} as nobody: ${r.stderr.trim()})\n`);
        expect(r.code).to.equal(1);
        expect(r.stderr).to.include('permission denied; `reload` needs root');
        expect(r.stdout + r.stderr).to.not.match(/no sealtun tunnel/);
      });
    });
  });

  it('one Name in two namespaces: both run, and `status`/`down` in each find their own', async () => {
    const pair = new TunnelPair(TestNet.create(), { transport: 'udp' });
    try {
      await pair.keygen();
      const { net } = pair;
      const name = 'st0';
      const a = variant(pair.configA(), 'a-st0.conf', [`Name = ${pair.nameA}`, `Name = ${name}`]);
      const b = variant(pair.configB(), 'b-st0.conf', [`Name = ${pair.nameB}`, `Name = ${name}`]);
      await pair.up(net.b, b);
      await pair.up(net.a, a);
      await pair.waitConnected();
      const pidOf = async (ns: string) => ((await pair.status(ns, name)) as { pid: number }).pid;
      const [pidA, pidB] = [await pidOf(net.a), await pidOf(net.b)];
      process.stderr.write(`      (${name} in ${net.a}: pid ${pidA}; in ${net.b}: pid ${pidB})\n`);
      expect(pidA).to.not.equal(pidB);
      for (const [ns, pid] of [
        [net.a, pidA],
        [net.b, pidB],
      ] as const) {
        expect(parsePidFile(readFileSync(join(pair.dir, 'run', 'netns', ns, `${name}.pid`), 'utf8'))?.pid).to.equal(pid);
      }
      const down = await pair.down(net.a, name);
      expect(down.code, down.stderr).to.equal(0);
      expect(await interfaceGone(net, net.a, name)).to.equal(true);
      expect(await pidOf(net.b), 'the tunnel in the other namespace runs on').to.equal(pidB);
      expect(await interfaceGone(net, net.b, name)).to.equal(false);
      const downB = await pair.down(net.b, name);
      expect(downB.code, downB.stderr).to.equal(0);
      expect(await interfaceGone(net, net.b, name)).to.equal(true);
    } finally {
      await pair.destroy();
    }
  });

  it('`down` stops a daemon whose control socket was deleted, found by the pid and start time in its pid file', async () => {
    const pair = new TunnelPair(TestNet.create(), { transport: 'udp' });
    try {
      await pair.keygen();
      const { net } = pair;
      await pair.up(net.b, pair.configB());
      const pid = pair.pidOf(pair.nameB)!;
      const pidText = readFileSync(pair.runFile(pair.nameB, 'pid'), 'utf8');
      expect(pidText.split('\n')[0], 'systemd PIDFile= reads the first line: the pid alone').to.equal(String(pid));
      rmSync(pair.runFile(pair.nameB, 'sock'));
      const again = await pair.cli(net.b, ['up', '--daemon', pair.configB()]);
      expect(again.stderr.trim()).to.equal(`sealtun: ${pair.nameB}: already running (pid ${pid}); stop it first with: sealtun down ${pair.nameB}`);
      const down = await pair.down(net.b, pair.nameB);
      process.stderr.write(`      (down without a control socket: ${(down.stdout + down.stderr).trim()})\n`);
      expect(down.code, down.stderr).to.equal(0);
      expect(existsSync(`/proc/${pid}`), 'the daemon is gone').to.equal(false);
      expect(await interfaceGone(net, net.b, pair.nameB)).to.equal(true);
      expect(existsSync(pair.runFile(pair.nameB, 'pid'))).to.equal(false);
    } finally {
      await pair.destroy();
    }
  });

  describe('`down` and a stale pid file', () => {
    let dir: string;
    let sleeper: ChildProcess | null = null;
    before(() => {
      dir = mkdtempSync(join(tmpdir(), 'sealtun-test-'));
    });
    after(() => {
      sleeper?.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    });

    const cli = (args: string[]): Promise<RunResult> =>
      new Promise((resolve) => {
        const child = spawn(process.execPath, [SEALTUN, ...args], { env: { ...process.env, SEALTUN_RUN_DIR: join(dir, 'run') } });
        let stdout = '';
        let stderr = '';
        child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
        child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
        child.on('close', (code) => resolve({ code, stdout, stderr }));
      });

    it('never signals a process that took the pid, even one whose command line says sealtun', async () => {
      // What a reused pid may belong to: anything, here a process whose
      // command line the old check (/sealtun|cli\/main\.js/) took for a daemon.
      sleeper = spawn('sleep', ['300'], { argv0: '/usr/local/bin/sealtun' });
      const pid = sleeper.pid!;
      expect(readFileSync(`/proc/${pid}/cmdline`, 'utf8')).to.match(/sealtun/);
      const run = join(dir, 'run');
      mkdirSync(run, { recursive: true, mode: 0o700 });
      writeFileSync(join(run, 'st9.pid'), `${pid}\n`);
      writeFileSync(join(run, 'st9.sock'), ''); // left by a daemon that was killed
      const r = await cli(['down', 'st9']);
      expect(r.code).to.equal(1);
      expect(r.stderr.trim()).to.equal(`sealtun: st9: no sealtun tunnel of that name is running (removed a stale pid file for pid ${pid})`);
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(sleeper.exitCode, 'the sleeper still runs').to.equal(null);
      expect(sleeper.signalCode).to.equal(null);
      expect(existsSync(join(run, 'st9.pid'))).to.equal(false);
      expect(existsSync(join(run, 'st9.sock'))).to.equal(false);
    });

    it('with no control socket, never signals a process whose start time is not the one in the pid file', async () => {
      const pid = sleeper!.pid!;
      const run = join(dir, 'run');
      for (const text of [`${pid}\n`, `${pid}\n1\n`]) {
        writeFileSync(join(run, 'st9.pid'), text);
        const r = await cli(['down', 'st9']);
        expect(r.stderr.trim(), JSON.stringify(text)).to.equal(`sealtun: st9: no sealtun tunnel of that name is running (removed a stale pid file for pid ${pid})`);
      }
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(sleeper!.exitCode, 'the sleeper still runs').to.equal(null);
      expect(sleeper!.signalCode).to.equal(null);
    });

    it('`reload` says what went wrong on the control socket: not "not running" for a reply it cannot read', async () => {
      const run = join(dir, 'run');
      const servers: Server[] = [];
      try {
        for (const [name, reply, why] of [
          ['st7', 'nonsense', `${join(run, 'st7.sock')}: malformed reply`],
          ['st8', '{"ok":1}', `the daemon on ${join(run, 'st8.sock')} gave a reply to reload that sealtun cannot read`],
        ] as const) {
          const server = createServer((sock) => sock.end(`${reply}\n`));
          servers.push(server);
          await new Promise<void>((resolve) => server.listen(join(run, `${name}.sock`), resolve));
          const r = await cli(['reload', name]);
          expect(r.code, name).to.equal(1);
          expect(r.stderr).to.include(`sealtun: ${name}: `).and.include(why);
          expect(r.stderr).to.not.match(/no sealtun tunnel/);
        }
      } finally {
        for (const s of servers) s.close();
      }
    });

    it('refuses a name with "/" in it (`down`, `status` and `reload`)', async () => {
      for (const args of [['down', '../st9'], ['status', 'x/st9'], ['reload', '../st9']]) {
        const r = await cli(args);
        expect(r.code, args.join(' ')).to.equal(1);
        expect(r.stderr.trim()).to.equal(`sealtun: ${args[1]}: no such config file, and not a tunnel name (names cannot contain "/")`);
      }
    });
  });
});
