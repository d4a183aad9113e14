// A sealtun tunnel between the two namespaces of a TestNet: keys, configs,
// and `sealtun up --daemon` on both sides, with a private run directory.
import type { ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parsePidFile } from '../../src/daemon/process-identity.js';
import { namespaceRunDir } from '../../src/daemon/rundir.js';
import { eventually, TestNet, type RunResult } from './netns.js';

export const REPO = fileURLToPath(new URL('../../..', import.meta.url));
export const SEALTUN = join(REPO, 'bin', 'sealtun');
const HASHED_STREAM = join(REPO, 'dist', 'test', 'helpers', 'hashed-stream.js');

/** One end of a hashed stream: what it wrote or read, and for how long. */
export interface StreamEnd {
  bytes: number;
  sha256: string;
  seconds: number;
}

/**
 * Resident memory of process `pid` in kB, 0 once it is gone: VmRSS by
 * default, or another /proc/PID/status figure (VmHWM: the peak so far).
 */
export function rssKb(pid: number, field: 'VmRSS' | 'VmHWM' = 'VmRSS'): number {
  try {
    const m = readFileSync(`/proc/${pid}/status`, 'utf8').match(new RegExp(`^${field}:\\s*(\\d+)`, 'm'));
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}

/** Collects a child's output; resolves when it exits, or kills it after `timeoutMs`. */
function outcome(child: ChildProcess, timeoutMs: number): Promise<{ code: number | null; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

export interface PairOptions {
  transport: 'udp' | 'tcp' | 'auto';
  port?: number;
  psk?: boolean;
  /** Extra [Interface] lines for A (the initiator). */
  extraA?: string;
  /** Extra [Interface] lines for B (the listener). */
  extraB?: string;
  /** Extra [Peer] lines for A (e.g. PersistentKeepalive). */
  extraPeerA?: string;
  /** The sealtun script to run (default: this checkout's bin/sealtun), e.g. an installed copy. */
  cli?: string;
  /** Extra arguments to `sealtun up` (e.g. --user nobody, --verbose). */
  upArgs?: string[];
  /** Host A's Endpoint names (default: B's underlay address). */
  endpointHost?: string;
  extraEnv?: NodeJS.ProcessEnv;
  /** IP version of A's Endpoint (default 4); 6 needs a TestNet created with `ipv6: true`. */
  endpointFamily?: 4 | 6;
  /** IP versions inside the tunnel (default 4): 6 uses fd77::1/64 ↔ fd77::2/128. */
  inner?: 4 | 6 | 'dual';
}

export class TunnelPair {
  readonly dir: string;
  readonly env: NodeJS.ProcessEnv;
  readonly nameA = 'sta0';
  readonly nameB = 'stb0';
  readonly innerA = '10.77.0.1';
  readonly innerB = '10.77.0.2';
  readonly innerA6 = 'fd77::1';
  readonly innerB6 = 'fd77::2';
  readonly port: number;

  constructor(
    readonly net: TestNet,
    readonly opts: PairOptions,
  ) {
    this.dir = mkdtempSync(join(tmpdir(), 'sealtun-test-'));
    this.env = { ...process.env, SEALTUN_RUN_DIR: join(this.dir, 'run'), ...opts.extraEnv };
    this.port = opts.port ?? 51820;
  }

  /** [namespace, interface] of each end, A first. */
  get ends(): ReadonlyArray<readonly [ns: string, name: string]> {
    return [
      [this.net.a, this.nameA],
      [this.net.b, this.nameB],
    ];
  }

  /** Runs the sealtun CLI in `ns` with this pair's run directory. */
  cli(ns: string, args: string[], input?: string): Promise<RunResult> {
    return this.net.run(ns, [process.execPath, this.opts.cli ?? SEALTUN, ...args], { env: this.env, input, timeoutMs: 30_000 });
  }

  async keygen(): Promise<void> {
    for (const k of ['a', 'b', 'wrong']) {
      const r = await this.cli(this.net.a, ['keygen', join(this.dir, k)]);
      if (r.code !== 0) throw new Error(`keygen failed: ${r.stderr}`);
    }
    if (this.opts.psk) {
      const r = await this.cli(this.net.a, ['genpsk']);
      writeFileSync(join(this.dir, 'ab.psk'), r.stdout, { mode: 0o600 });
    }
  }

  private hasInner(version: 4 | 6): boolean {
    const inner = this.opts.inner ?? 4;
    return inner === 'dual' || inner === version;
  }

  /** Address line for side `side`: its inner addresses with their prefixes. */
  private addresses(side: 'a' | 'b'): string {
    const out: string[] = [];
    if (this.hasInner(4)) out.push(`${side === 'a' ? this.innerA : this.innerB}/24`);
    if (this.hasInner(6)) out.push(`${side === 'a' ? this.innerA6 : this.innerB6}/64`);
    return out.join(', ');
  }

  /** AllowedIPs for the peer `side`: its inner addresses as host routes. */
  private allowed(side: 'a' | 'b'): string {
    const out: string[] = [];
    if (this.hasInner(4)) out.push(`${side === 'a' ? this.innerA : this.innerB}/32`);
    if (this.hasInner(6)) out.push(`${side === 'a' ? this.innerA6 : this.innerB6}/128`);
    return out.join(', ');
  }

  configA(peerKey = 'b.pub'): string {
    const path = join(this.dir, 'a.conf');
    writeFileSync(
      path,
      `[Interface]
Name = ${this.nameA}
PrivateKey = a.key
Address = ${this.addresses('a')}
Transport = ${this.opts.transport}
${this.opts.extraA ?? ''}

[Peer]
PublicKey = ${peerKey}
${this.opts.psk ? 'PresharedKey = ab.psk' : ''}
Endpoint = ${this.opts.endpointHost ?? (this.opts.endpointFamily === 6 ? `[${this.net.addr6B}]` : this.net.addrB)}:${this.port}
AllowedIPs = ${this.allowed('b')}
${this.opts.extraPeerA ?? ''}
`,
    );
    return path;
  }

  configB(): string {
    const path = join(this.dir, 'b.conf');
    writeFileSync(
      path,
      `[Interface]
Name = ${this.nameB}
PrivateKey = b.key
Address = ${this.addresses('b')}
ListenPort = ${this.port}
Transport = ${this.opts.transport}
${this.opts.extraB ?? ''}

[Peer]
PublicKey = a.pub
${this.opts.psk ? 'PresharedKey = ab.psk' : ''}
AllowedIPs = ${this.allowed('a')}
`,
    );
    return path;
  }

  async up(ns: string, config: string): Promise<void> {
    const r = await this.cli(ns, ['up', '--daemon', ...(this.opts.upArgs ?? []), config]);
    if (r.code !== 0) throw new Error(`sealtun up ${config} failed (${r.code}): ${r.stderr}${r.stdout}`);
  }

  async down(ns: string, name: string): Promise<RunResult> {
    return this.cli(ns, ['down', name]);
  }

  async start(): Promise<void> {
    await this.keygen();
    await this.up(this.net.b, this.configB());
    await this.up(this.net.a, this.configA());
  }

  /** Waits until a ping from A reaches B through the tunnel. */
  async waitConnected(timeoutMs = 15_000): Promise<void> {
    const target = this.hasInner(4) ? this.innerB : this.innerB6;
    await eventually(async () => (await this.net.run(this.net.a, ['ping', '-c', '1', '-W', '1', target])).code === 0, timeoutMs, 100);
  }

  async status(ns: string, name: string): Promise<Record<string, unknown>> {
    const r = await this.cli(ns, ['status', name, '--json']);
    if (r.code !== 0) throw new Error(`status failed: ${r.stderr}`);
    return JSON.parse(r.stdout) as Record<string, unknown>;
  }

  /**
   * NAME.EXT in the run directory of the namespace NAME runs in: sealtun keeps
   * the files of a tunnel in an `ip netns` namespace in RUN_DIR/netns/NS/.
   */
  runFile(name: string, ext: 'pid' | 'sock' | 'log' | 'log.1' | 'endpoint'): string {
    const ns = name === this.nameA ? this.net.a : this.net.b;
    return join(namespaceRunDir(join(this.dir, 'run'), ns), `${name}.${ext}`);
  }

  /** The daemon's pid for interface `name`, or null. */
  pidOf(name: string): number | null {
    try {
      return parsePidFile(readFileSync(this.runFile(name, 'pid'), 'utf8'))?.pid ?? null;
    } catch {
      return null;
    }
  }

  /** kill -9 the daemon of `name` (in `ns`) and wait until it and its interface are gone. */
  async kill9(ns: string, name: string): Promise<void> {
    const pid = this.pidOf(name);
    if (pid === null) throw new Error(`${name}: no pid`);
    process.kill(pid, 'SIGKILL');
    await eventually(
      async () => {
        try {
          process.kill(pid, 0);
          return false;
        } catch {
          return (await this.net.run(ns, ['ip', 'link', 'show', 'dev', name])).code !== 0;
        }
      },
      10_000,
      50,
    );
  }

  /**
   * Moves `bytes` of random data from A to B over one TCP connection through
   * the tunnel (socat at both ends) and returns the SHA-256 of what was sent
   * and of what arrived.
   */
  async moveFile(bytes: number, port = 5001): Promise<{ sent: string; received: string }> {
    const data = randomBytes(bytes);
    const src = join(this.dir, 'payload.bin');
    const dst = join(this.dir, 'received.bin');
    writeFileSync(src, data);
    const sink = this.net.spawn(this.net.b, ['socat', '-u', `TCP-LISTEN:${port},bind=${this.innerB},reuseaddr`, `OPEN:${dst},creat,trunc`]);
    const sinkDone = new Promise<number | null>((r) => sink.on('exit', r));
    await eventually(async () => (await this.net.run(this.net.b, ['ss', '-Hltn', `sport = :${port}`])).stdout.includes(String(port)), 5000, 50);
    const send = await this.net.run(this.net.a, ['socat', '-u', `OPEN:${src}`, `TCP:${this.innerB}:${port}`], { timeoutMs: 90_000 });
    if (send.code !== 0) throw new Error(`sending through the tunnel failed: ${send.stderr}`);
    if ((await sinkDone) !== 0) throw new Error('the receiving socat failed');
    const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');
    return { sent: sha256(data), received: sha256(readFileSync(dst)) };
  }

  /**
   * Streams random data from A to B over one TCP connection through the
   * tunnel for `seconds`, as fast as it goes, hashing it with SHA-256 at
   * both ends as it flows; returns what each end counted.
   */
  async streamFor(seconds: number, port = 5004): Promise<{ sent: StreamEnd; received: StreamEnd }> {
    const limitMs = (seconds + 60) * 1000;
    const sink = this.net.spawn(this.net.b, [process.execPath, HASHED_STREAM, 'recv', this.innerB, String(port)]);
    const sinkDone = outcome(sink, limitMs);
    await eventually(async () => sink.exitCode === null && (await this.net.run(this.net.b, ['ss', '-Hltn', `sport = :${port}`])).stdout.includes(String(port)), 5000, 50);
    const send = await outcome(this.net.spawn(this.net.a, [process.execPath, HASHED_STREAM, 'send', this.innerB, String(port), String(seconds)]), limitMs);
    if (send.code !== 0) throw new Error(`sending through the tunnel failed (${send.code}): ${send.stderr}`);
    const recv = await sinkDone;
    if (recv.code !== 0) throw new Error(`the receiving end failed (${recv.code}): ${recv.stderr}`);
    return { sent: JSON.parse(send.stdout) as StreamEnd, received: JSON.parse(recv.stdout) as StreamEnd };
  }

  daemonPids(): number[] {
    const pids: number[] = [];
    for (const name of [this.nameA, this.nameB]) {
      const pid = this.pidOf(name);
      if (pid !== null) pids.push(pid);
    }
    return pids;
  }

  /** `name`'s `--daemon` log: this run's (NAME.log) or the run's before (NAME.log.1). */
  log(name: string, which: 'log' | 'log.1' = 'log'): string {
    try {
      return readFileSync(this.runFile(name, which), 'utf8');
    } catch {
      return '';
    }
  }

  /** Stops the daemons (by PID), removes the namespaces and the temp dir. */
  async destroy(): Promise<void> {
    await this.net.destroy(this.daemonPids());
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/**
 * Starts a pair, prints both logs if the test fails, tears it all down after.
 * `beforeStart` runs once the namespaces exist, before either daemon starts
 * (e.g. firewall rules on the underlay).
 */
export function withPair(
  opts: PairOptions & { underlayMtu?: number; beforeStart?: (pair: TunnelPair) => Promise<void> },
  body: (get: () => TunnelPair) => void,
): void {
  let pair: TunnelPair;
  before(async () => {
    pair = new TunnelPair(TestNet.create(opts.underlayMtu ? { underlayMtu: opts.underlayMtu } : {}), opts);
    await opts.beforeStart?.(pair);
    await pair.start();
    await pair.waitConnected();
  });
  afterEach(function () {
    if (this.currentTest?.state === 'failed') {
      for (const name of [pair.nameA, pair.nameB]) process.stderr.write(`--- ${name} log ---\n${pair.log(name)}\n`);
    }
  });
  after(async () => {
    await pair?.destroy();
  });
  body(() => pair);
}
