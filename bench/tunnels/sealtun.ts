// sealtun itself, started exactly as a user would: `sealtun up --daemon`
// with a private run directory per side (SEALTUN_RUN_DIR), so the pid file
// gives the daemon whose CPU time is measured. Default MTU and settings.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { defer, killPidSync, pidAlive } from '../cleanup.js';
import { parsePidFile } from '../../src/daemon/process-identity.js';
import { namespaceRunDir } from '../../src/daemon/rundir.js';
import { mustRun } from '../exec.js';
import { REPO, SEALTUN_BIN } from '../paths.js';
import { waitReachable } from '../measure/ping.js';
import { linkMtu, tail } from './common.js';
import type { Tunnel, TunnelContext, TunnelInfo } from './types.js';

/** Settings a variant of the UDP tunnel runs with, beside the defaults (the light-traffic case compares them). */
export interface SealtunVariant {
  /** Id suffix, e.g. "keepwarm-off". */
  id: string;
  /** For the report, e.g. "KeepWarm = off". */
  label: string;
  /** Extra [Interface] lines. */
  lines: string;
}

export const KEEPWARM_OFF: SealtunVariant = { id: 'keepwarm-off', label: 'KeepWarm = off', lines: 'KeepWarm = off\n' };

export class SealtunTunnel implements Tunnel {
  readonly id: string;
  readonly software = 'sealtun';
  readonly label: string;
  readonly target: string;
  private readonly source: string;
  private readonly port: number;
  private readonly sides: Array<{ ns: string; name: string; runDir: string }>;
  private daemonPids: number[] = [];

  constructor(
    private readonly ctx: TunnelContext,
    readonly transport: 'udp' | 'tcp',
    /** A variant with other settings (UDP only): its own id, subnet, port and interface names. */
    private readonly variant?: SealtunVariant,
  ) {
    const n = variant ? 3 : transport === 'udp' ? 1 : 2;
    this.id = `sealtun-${transport}${variant ? `-${variant.id}` : ''}`;
    this.label = `sealtun ${transport.toUpperCase()}${variant ? `, ${variant.label}` : ''}`;
    this.source = `10.77.${n}.1`;
    this.target = `10.77.${n}.2`;
    this.port = 51819 + n;
    const letter = variant ? 'v' : transport[0];
    this.sides = [
      { ns: ctx.net.a, name: `st${ctx.tag}${letter}a`, runDir: join(ctx.dir, `${this.id}-run-a`) },
      { ns: ctx.net.b, name: `st${ctx.tag}${letter}b`, runDir: join(ctx.dir, `${this.id}-run-b`) },
    ];
  }

  private cli(ns: string, runDir: string, args: string[]): Promise<string> {
    return mustRun([process.execPath, SEALTUN_BIN, ...args], { ns, env: { SEALTUN_RUN_DIR: runDir } });
  }

  async up(): Promise<void> {
    const [a, b] = this.sides as [(typeof this.sides)[0], (typeof this.sides)[0]];
    const keyA = join(this.ctx.dir, `${this.id}-a`);
    const keyB = join(this.ctx.dir, `${this.id}-b`);
    const pubA = (await this.cli(a.ns, a.runDir, ['keygen', keyA])).trim();
    const pubB = (await this.cli(a.ns, a.runDir, ['keygen', keyB])).trim();
    const confA = join(this.ctx.dir, `${this.id}-a.conf`);
    const confB = join(this.ctx.dir, `${this.id}-b.conf`);
    const extra = this.variant?.lines ?? '';
    writeFileSync(
      confA,
      `[Interface]\nName = ${a.name}\nPrivateKey = ${keyA}.key\nAddress = ${this.source}/24\nTransport = ${this.transport}\n${extra}\n` +
        `[Peer]\nPublicKey = ${pubB}\nEndpoint = ${this.ctx.net.addrB}:${this.port}\nAllowedIPs = ${this.target}/32\n`,
    );
    writeFileSync(
      confB,
      `[Interface]\nName = ${b.name}\nPrivateKey = ${keyB}.key\nAddress = ${this.target}/24\nListenPort = ${this.port}\nTransport = ${this.transport}\n${extra}\n` +
        `[Peer]\nPublicKey = ${pubA}\nAllowedIPs = ${this.source}/32\n`,
    );
    // The responder first, as in scripts/demo.sh, so the first handshake is answered.
    for (const [side, conf] of [
      [b, confB],
      [a, confA],
    ] as const) {
      await this.cli(side.ns, side.runDir, ['up', '--daemon', conf]);
      const pid = parsePidFile(readFileSync(this.runFile(side, 'pid'), 'utf8'))?.pid ?? NaN;
      this.daemonPids.push(pid);
      defer(`stop sealtun ${side.name} (pid ${pid})`, () => killPidSync(pid, 3000));
    }
    await waitReachable(a.ns, this.target);
  }

  /** A daemon's pid or log file: it runs inside its namespace, so they sit in that namespace's part of the run directory. */
  private runFile(side: { ns: string; name: string; runDir: string }, ext: 'pid' | 'log'): string {
    return join(namespaceRunDir(side.runDir, side.ns), `${side.name}.${ext}`);
  }

  pids(): number[] {
    return [...this.daemonPids];
  }

  alive(): boolean {
    return this.daemonPids.length === 2 && this.daemonPids.every(pidAlive);
  }

  async info(): Promise<TunnelInfo> {
    const version = (await mustRun([process.execPath, SEALTUN_BIN, '--version'])).trim();
    let commit = '';
    try {
      commit = (await mustRun(['git', '-C', REPO, 'describe', '--always', '--dirty'])).trim();
    } catch {
      /* not a git checkout */
    }
    return {
      id: this.id,
      software: this.software,
      transport: this.transport,
      label: this.label,
      version: commit ? `${version} (${commit})` : version,
      innerMtu: await linkMtu(this.sides[0]!.ns, this.sides[0]!.name),
      config: `sealtun up --daemon, Transport = ${this.transport}, default MTU, XChaCha20-Poly1305${this.aeadInUse()}${this.variant ? `, ${this.variant.label}` : ''}`,
    };
  }

  /** " via BACKEND" as the daemon logged it ("…, aead system-libsodium"), so A/B runs with SEALTUN_AEAD say which ran. */
  private aeadInUse(): string {
    try {
      const logged = /, aead ([\w-]+)/.exec(readFileSync(this.runFile(this.sides[0]!, 'log'), 'utf8'));
      return logged ? ` via ${logged[1]}` : '';
    } catch {
      return '';
    }
  }

  logTail(): string {
    return this.sides.map((s) => tail(`sealtun ${s.name}`, this.runFile(s, 'log'))).join('');
  }

  async down(): Promise<void> {
    for (const s of this.sides) await this.cli(s.ns, s.runDir, ['down', s.name]).catch(() => undefined);
  }
}
