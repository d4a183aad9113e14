// Two real hosts for integration tests: network namespaces joined by a veth
// pair on TEST-NET-1 (192.0.2.0/24), and on request also on the IPv6
// documentation prefix (2001:db8::/64). Every namespace and process a test
// creates is removed afterwards, also when the test fails or mocha is
// interrupted: created names are remembered and swept on exit.
import { execFileSync, spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, rmdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

const live = new Set<TestNet>();

function sweep(): void {
  for (const net of live) net.destroySync();
}
process.once('exit', sweep);
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.once(sig, () => {
    sweep();
    process.exit(130);
  });
}

export class TestNet {
  readonly a: string;
  readonly b: string;
  readonly vethA: string;
  readonly vethB: string;
  readonly addrA = '192.0.2.1';
  readonly addrB = '192.0.2.2';
  /** Underlay IPv6 addresses, present when created with `ipv6: true`. */
  readonly addr6A = '2001:db8::1';
  readonly addr6B = '2001:db8::2';
  private readonly children = new Set<ChildProcess>();
  /** Namespaces given /etc/netns/NS files (setEtc). */
  private readonly etcDirs = new Set<string>();
  /** Every namespace this net created (a, b and those of addNamespace), deleted by destroy. */
  private readonly namespaces: string[] = [];
  private destroyed = false;

  private constructor(readonly tag: string) {
    this.a = `st-${tag}-a`;
    this.b = `st-${tag}-b`;
    this.vethA = `sv${tag}a`;
    this.vethB = `sv${tag}b`;
  }

  /**
   * `underlayMtu`: the veth MTU (default 1500). `ipv6`: also put 2001:db8::1/64
   * and ::2/64 on the veth pair (nodad: usable at once, no duplicate address
   * detection delay).
   */
  static create(opts: { underlayMtu?: number; ipv6?: boolean } = {}): TestNet {
    const net = new TestNet(randomBytes(3).toString('hex'));
    live.add(net);
    try {
      const ip = (...args: string[]) => execFileSync('ip', args, { stdio: 'pipe' });
      for (const ns of [net.a, net.b]) {
        ip('netns', 'add', ns);
        net.namespaces.push(ns);
      }
      ip('link', 'add', net.vethA, 'netns', net.a, 'type', 'veth', 'peer', 'name', net.vethB, 'netns', net.b);
      for (const [ns, dev, addr, addr6] of [
        [net.a, net.vethA, net.addrA, net.addr6A],
        [net.b, net.vethB, net.addrB, net.addr6B],
      ] as const) {
        ip('-n', ns, 'link', 'set', 'lo', 'up');
        ip('-n', ns, 'address', 'add', `${addr}/24`, 'dev', dev);
        if (opts.ipv6) ip('-n', ns, '-6', 'address', 'add', `${addr6}/64`, 'dev', dev, 'nodad');
        if (opts.underlayMtu) ip('-n', ns, 'link', 'set', dev, 'mtu', String(opts.underlayMtu));
        ip('-n', ns, 'link', 'set', dev, 'up');
      }
    } catch (err) {
      net.destroySync();
      throw err;
    }
    return net;
  }

  /**
   * One more namespace, `st-TAG-SUFFIX` with its loopback up, for tests with
   * more than two hosts (test/helpers/hub.ts); deleted with the others.
   */
  addNamespace(suffix: string): string {
    const ns = `st-${this.tag}-${suffix}`;
    execFileSync('ip', ['netns', 'add', ns], { stdio: 'pipe' });
    this.namespaces.push(ns);
    execFileSync('ip', ['-n', ns, 'link', 'set', 'lo', 'up'], { stdio: 'pipe' });
    return ns;
  }

  /**
   * Gives namespace `ns` its own /etc files (e.g. `hosts`, `nsswitch.conf`):
   * `ip netns exec` bind-mounts /etc/netns/NS/FILE over /etc/FILE for what it
   * starts. Rewriting a file later (same inode) changes what runs there sees.
   * /etc/netns/NS is removed with the namespace, also on failure.
   */
  setEtc(ns: string, file: string, text: string): void {
    this.etcDirs.add(ns);
    mkdirSync(join('/etc/netns', ns), { recursive: true });
    writeFileSync(join('/etc/netns', ns, file), text);
  }

  /** Runs a command inside namespace `ns` and collects its output. */
  run(ns: string, cmd: string[], opts: { input?: string | Buffer; timeoutMs?: number; env?: NodeJS.ProcessEnv } = {}): Promise<RunResult> {
    return new Promise((resolve) => {
      const child = this.spawn(ns, cmd, { env: opts.env });
      let stdout = '';
      let stderr = '';
      child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
      child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
      const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 30_000);
      child.on('close', (code) => {
        clearTimeout(timer);
        resolve({ code, stdout, stderr });
      });
      if (opts.input !== undefined) child.stdin!.end(opts.input);
      else child.stdin!.end();
    });
  }

  /** Starts a long-running command in `ns`; it is killed by destroy() if still running. */
  spawn(ns: string, cmd: string[], opts: SpawnOptions = {}): ChildProcess {
    const child = spawn('ip', ['netns', 'exec', ns, ...cmd], { stdio: 'pipe', ...opts });
    this.children.add(child);
    child.on('exit', () => this.children.delete(child));
    return child;
  }

  /** Kills what this net started (by PID) and deletes its namespaces. */
  async destroy(extraPids: number[] = []): Promise<void> {
    for (const c of this.children) c.kill('SIGTERM');
    for (const pid of extraPids) killPid(pid, 'SIGTERM');
    const deadline = Date.now() + 3000;
    while ((this.children.size > 0 || extraPids.some(alive)) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    this.destroySync(extraPids);
  }

  destroySync(extraPids: number[] = []): void {
    if (this.destroyed) return;
    this.destroyed = true;
    for (const c of this.children) c.kill('SIGKILL');
    for (const pid of extraPids) killPid(pid, 'SIGKILL');
    // Anything else still running inside the namespaces was started by this test.
    for (const ns of this.namespaces) {
      try {
        const pids = execFileSync('ip', ['netns', 'pids', ns], { stdio: 'pipe' }).toString().split(/\s+/).filter(Boolean);
        for (const p of pids) killPid(Number(p), 'SIGKILL');
      } catch {
        /* namespace not there */
      }
    }
    for (const ns of this.namespaces) {
      try {
        execFileSync('ip', ['netns', 'del', ns], { stdio: 'pipe' });
      } catch {
        /* already gone */
      }
    }
    for (const ns of this.etcDirs) rmSync(join('/etc/netns', ns), { recursive: true, force: true });
    if (this.etcDirs.size > 0) {
      try {
        rmdirSync('/etc/netns'); // only when empty: other namespaces may have theirs
      } catch {
        /* not empty, or not there */
      }
    }
    live.delete(this);
  }
}

function killPid(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    /* gone */
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Resolves when `check` does, polling every `everyMs` until `timeoutMs`. */
export async function eventually<T>(check: () => Promise<T | null | false>, timeoutMs: number, everyMs = 200): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown = null;
  for (;;) {
    try {
      const v = await check();
      if (v) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms${last ? `: ${String(last)}` : ''}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
