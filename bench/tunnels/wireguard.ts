// wireguard-go, the userspace WireGuard: the closest design to sealtun
// (Noise IK, ChaCha20-Poly1305, UDP) outside the kernel. Started in the
// foreground (WG_PROCESS_FOREGROUND=1) so the PID we hold is the daemon's;
// configured with `wg set`. Its UAPI socket lives in the host-wide
// /var/run/wireguard, so interface names carry the run's tag and the
// sockets are removed at the end even if the daemon was killed hard.
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { defer } from '../cleanup.js';
import { mustRun, Proc, run, sleep, waitFor } from '../exec.js';
import { waitReachable } from '../measure/ping.js';
import { linkMtu, tail } from './common.js';
import type { Tunnel, TunnelContext, TunnelInfo } from './types.js';

const UAPI_DIR = '/var/run/wireguard';
/** The first release with TSO/USO through the TUN and UDP GSO/GRO (it reports itself so; bookworm-backports ships it as 0.0.20231211). */
const FIRST_WITH_OFFLOADS = '0.0.20230223';
/** How the table labels an older build (bookworm's own 0.0.20220316): not the anchor the targets mean. */
export const NO_OFFLOADS = 'old build, no offloads';

/**
 * `wg` against a wireguard-go that has just created its UAPI socket: the
 * socket file appears at bind(), before listen(), and a `wg` in between
 * fails ("Unable to modify interface: Protocol not supported"); so a failed
 * command is tried again a few times.
 */
export async function wgCommand(args: readonly string[], opts: { ns: string; timeoutMs?: number }): Promise<string> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await mustRun(['wg', ...args], opts);
    } catch (err) {
      if (attempt >= 5) throw err;
      await sleep(200);
    }
  }
}

export interface WireguardGoVersion {
  /** What the report prints: the version it reports, and the Debian package's where it came from one. */
  text: string;
  /** Whether the build has the offload code (false: label it in the table). */
  offloads: boolean;
}

/** The wireguard-go on PATH: its own version line, and its Debian package version (the two differ for backports' build). */
export async function wireguardGoVersion(): Promise<WireguardGoVersion> {
  const reported = /v?(\d+\.\d+\.\d+)/.exec((await run(['wireguard-go', '--version'])).stdout)?.[1] ?? 'unknown';
  const path = (await run(['sh', '-c', 'command -v wireguard-go'])).stdout.trim();
  const owner = path ? /^([^:]+):/.exec((await run(['dpkg-query', '-S', path])).stdout)?.[1] : undefined;
  const pkg = owner ? (await run(['dpkg-query', '-W', '-f=${Version}', owner])).stdout.trim() : '';
  const offloads = reported !== 'unknown' && reported >= FIRST_WITH_OFFLOADS;
  const text = `wireguard-go v${reported}${pkg ? ` (Debian package ${pkg})` : path ? ` (${path})` : ''}${offloads ? '' : `, ${NO_OFFLOADS}`}`;
  return { text, offloads };
}

export class WireguardGoTunnel implements Tunnel {
  readonly id = 'wireguard-go';
  readonly software = 'wireguard-go';
  readonly transport = 'udp';
  readonly label = 'wireguard-go';
  readonly target = '10.79.1.2';
  private readonly source = '10.79.1.1';
  private readonly sides: Array<{ ns: string; dev: string; port: number; addr: string }>;
  private procs: Proc[] = [];

  constructor(private readonly ctx: TunnelContext) {
    this.sides = [
      { ns: ctx.net.a, dev: `wg${ctx.tag}a`, port: 51831, addr: this.source },
      { ns: ctx.net.b, dev: `wg${ctx.tag}b`, port: 51830, addr: this.target },
    ];
  }

  async up(): Promise<void> {
    const keys: Array<{ priv: string; pub: string }> = [];
    for (const side of ['a', 'b']) {
      const priv = join(this.ctx.dir, `wg-${side}.key`);
      writeFileSync(priv, await mustRun(['wg', 'genkey']), { mode: 0o600 });
      keys.push({ priv, pub: (await mustRun(['wg', 'pubkey'], { input: readFileSync(priv, 'utf8') })).trim() });
    }
    for (const s of this.sides) {
      defer(`remove ${UAPI_DIR}/${s.dev}.sock`, () => rmSync(join(UAPI_DIR, `${s.dev}.sock`), { force: true }));
      this.procs.push(
        new Proc(`wireguard-go ${s.dev}`, ['wireguard-go', s.dev], {
          ns: s.ns,
          env: { WG_PROCESS_FOREGROUND: '1', LOG_LEVEL: 'error' },
          log: join(this.ctx.dir, `wireguard-go-${s.dev}.log`),
        }),
      );
      await waitFor(`wireguard-go ${s.dev} UAPI socket`, () => existsSync(join(UAPI_DIR, `${s.dev}.sock`)), 10_000, 50);
    }
    const [a, b] = this.sides as [(typeof this.sides)[0], (typeof this.sides)[0]];
    const [ka, kb] = keys as [(typeof keys)[0], (typeof keys)[0]];
    await wgCommand(['set', a.dev, 'private-key', ka.priv, 'listen-port', String(a.port), 'peer', kb.pub, 'endpoint', `${this.ctx.net.addrB}:${b.port}`, 'allowed-ips', `${b.addr}/32`], { ns: a.ns });
    await wgCommand(['set', b.dev, 'private-key', kb.priv, 'listen-port', String(b.port), 'peer', ka.pub, 'allowed-ips', `${a.addr}/32`], { ns: b.ns });
    for (const s of this.sides) {
      await mustRun(['ip', 'address', 'add', `${s.addr}/24`, 'dev', s.dev], { ns: s.ns });
      await mustRun(['ip', 'link', 'set', s.dev, 'up'], { ns: s.ns });
    }
    await waitReachable(a.ns, this.target);
  }

  pids(): number[] {
    return this.procs.map((p) => p.pid);
  }

  alive(): boolean {
    return this.procs.length === 2 && this.procs.every((p) => p.running());
  }

  async info(): Promise<TunnelInfo> {
    const v = await wireguardGoVersion();
    return {
      id: this.id,
      software: this.software,
      transport: this.transport,
      label: this.label,
      version: v.text,
      ...(v.offloads ? {} : { tableNote: NO_OFFLOADS }),
      innerMtu: await linkMtu(this.sides[0]!.ns, this.sides[0]!.dev),
      config: 'wireguard-go + wg set, default MTU, no PSK, no keepalive',
    };
  }

  logTail(): string {
    return this.sides.map((s) => tail(`wireguard-go ${s.dev}`, join(this.ctx.dir, `wireguard-go-${s.dev}.log`))).join('');
  }

  async down(): Promise<void> {
    for (const p of this.procs) await p.stop();
  }
}
