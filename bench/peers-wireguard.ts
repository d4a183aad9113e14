// wireguard-go carrying the same N peers, configured the upstream way
// (`wg setconf` with a generated file), for the memory figure beside
// sealtun's. Started in the foreground (WG_PROCESS_FOREGROUND=1) so the PID
// we hold is the daemon's. Its UAPI socket lives in the host-wide
// /var/run/wireguard, so the interface name carries the run's tag and the
// socket is removed at the end even if the daemon was killed hard.
import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { defer } from './cleanup.js';
import { mustRun, Proc, waitFor } from './exec.js';
import { wgCommand, wireguardGoVersion } from './tunnels/wireguard.js';
import { timed } from './peers-sealtun.js';

const UAPI_DIR = '/var/run/wireguard';

export class WireguardGoServer {
  private proc: Proc | null = null;

  constructor(
    readonly ns: string,
    readonly dev: string,
    private readonly logDir: string,
  ) {}

  get pid(): number {
    return this.proc?.pid ?? NaN;
  }

  /**
   * Starts the daemon, applies `configPath` with `wg setconf`, gives the
   * interface the address `cidr` if asked, sets the link up; returns the
   * setconf's wall time in seconds.
   */
  async up(configPath: string, cidr?: string): Promise<number> {
    const sock = join(UAPI_DIR, `${this.dev}.sock`);
    defer(`remove ${sock}`, () => rmSync(sock, { force: true }));
    this.proc = new Proc(`wireguard-go ${this.dev}`, ['wireguard-go', this.dev], {
      ns: this.ns,
      env: { WG_PROCESS_FOREGROUND: '1', LOG_LEVEL: 'error' },
      log: join(this.logDir, `wireguard-go-${this.dev}.log`),
    });
    await waitFor(`wireguard-go ${this.dev} UAPI socket`, () => existsSync(sock), 10_000, 50);
    const seconds = await timed(() => wgCommand(['setconf', this.dev, configPath], { ns: this.ns, timeoutMs: 600_000 }));
    if (cidr) await mustRun(['ip', 'address', 'add', cidr, 'dev', this.dev], { ns: this.ns });
    await mustRun(['ip', 'link', 'set', this.dev, 'up'], { ns: this.ns });
    return seconds;
  }

  /** How many peers the daemon reports (`wg show DEV peers`): proves the config was taken whole. */
  async peerCount(): Promise<number> {
    const out = await mustRun(['wg', 'show', this.dev, 'peers'], { ns: this.ns, timeoutMs: 120_000 });
    return out.split('\n').filter((l) => l.trim()).length;
  }

  static async version(): Promise<string> {
    return (await wireguardGoVersion()).text;
  }

  async down(): Promise<void> {
    await this.proc?.stop();
  }
}
