// A tunnel as the daemon runs it: the tunnel itself (tunnel.ts) plus what
// belongs to the process around it: the pid file and control socket in the
// run directory, the metrics server (MetricsListen, metrics.ts), the drop
// log's timer, and reloads, worked out here (as
// reload.ts compares configs) and handed to the tunnel as live changes. The
// tunnel below knows none of this (wireguard-go's main.go opens the UAPI
// socket and hands requests to the device the same way).
import { mkdirSync, unlinkSync, writeFileSync } from 'node:fs';
import type { Server as HttpServer } from 'node:http';
import type { Server } from 'node:net';
import { listenAddressText, parseSetting, type TunnelConfig } from '../config/config.js';
import { KeyError, readKeyFile, type KeyKind } from '../crypto/keys.js';
import type { Logger } from '../log.js';
import { serveControl, type DaemonRequest } from './control.js';
import { DropLog } from './drop-log.js';
import { closeMetrics, serveMetrics } from './metrics.js';
import { configChanges, parseReloadView, reloadView, viewForReload, type ReloadView } from './reload.js';
import { ownIdentity, pidFileText } from './process-identity.js';
import { controlSocket, endpointFile, pidFile, runDir } from './rundir.js';
import { TIMERS } from '../tunnel/timers.js';
import { endpointProblem } from '../tunnel/link/endpoint-name.js';
import { Tunnel, type PeerChange } from '../tunnel/tunnel.js';

/** What a reload did (each line also logged), or why it did nothing. */
export type ReloadResult = { notes: string[] } | { error: string };

export class ServedTunnel {
  private control: Server | null = null;
  private metrics: HttpServer | null = null;
  private stopped: Promise<void> | null = null;
  private readonly dropLog: DropLog;
  private readonly dropTimer: NodeJS.Timeout;
  /** The running config as reloads compare it (reload.ts): no secrets in it. */
  private view: ReloadView;

  private constructor(
    readonly tunnel: Tunnel,
    /** As loaded at start: its file is what a reload re-reads, its keys the running ones (a reload never changes a key). */
    private readonly config: TunnelConfig,
    private readonly log: Logger,
  ) {
    this.view = reloadView(config);
    this.dropLog = new DropLog(() => this.tunnel.status().dropped, log);
    this.dropTimer = setInterval(() => this.dropLog.report(), TIMERS.dropLogMs).unref();
  }

  /**
   * Brings the tunnel up, then its control socket, metrics server and pid
   * file; on failure nothing is left running. All bind before a privilege
   * drop (daemon.ts), so MetricsListen may name a port below 1024.
   */
  static async start(config: TunnelConfig, log: Logger): Promise<ServedTunnel> {
    let served: ServedTunnel | null = null;
    mkdirSync(runDir(), { recursive: true, mode: 0o700 });
    const tunnel = await Tunnel.start(config, log, {
      endpointMemoryFile: endpointFile(config.iface.name),
      // The tunnel has stopped itself; the run files go, and so does the process.
      onFailure: () => void (served?.stop() ?? Promise.resolve()).then(() => process.exit(1)),
    });
    served = new ServedTunnel(tunnel, config, log);
    const name = tunnel.tun.name;
    try {
      served.control = await serveControl(controlSocket(name), (req) => served!.onControl(req));
      const { metricsListen } = config.iface;
      if (metricsListen) {
        served.metrics = await serveMetrics(metricsListen, () => tunnel.status());
        log.info(`metrics at http://${listenAddressText(metricsListen)}/metrics`);
      }
      writeFileSync(pidFile(name), pidFileText(ownIdentity()));
    } catch (err) {
      await served.stop();
      throw err;
    }
    return served;
  }

  /** The control socket's requests (control.ts); only root can connect. */
  private onControl(req: DaemonRequest): unknown {
    switch (req.cmd) {
      case 'status':
        return this.tunnel.status();
      case 'reload':
        return req.view === undefined ? this.reloadFile() : this.reload(parseReloadView(req.view));
      case 'stop':
        // The way `sealtun down` reaches a daemon it may not signal (it
        // dropped to User=, and the caller lacks CAP_KILL): the same stop as SIGTERM.
        process.kill(process.pid, 'SIGTERM');
        return { stopping: process.pid };
      default:
        throw new Error('unknown request');
    }
  }

  /**
   * SIGHUP, or `sealtun reload NAME`: re-reads the config file, as whatever
   * user the daemon now runs as. A config that no longer parses, or can no
   * longer be read, is reported and the tunnel runs on unchanged.
   */
  async reloadFile(): Promise<ReloadResult> {
    const kept: string[] = [];
    let view: ReloadView;
    try {
      view = viewForReload(this.config.file, (path, kind) => this.keyForReload(path, kind, kept));
    } catch (err) {
      const uid = process.getuid?.() ?? 0;
      const hint = uid === 0 ? '' : ` (running as uid ${uid} since the privilege drop: \`sealtun reload ${this.config.file}\`, run as root, reads the config itself)`;
      const error = `reload: ${(err as Error).message}${hint}; keeping the running configuration`;
      this.log.error(error);
      return { error };
    }
    for (const k of kept) this.log.info(k);
    const result = await this.reload(view);
    return 'notes' in result ? { notes: [...kept, ...result.notes] } : result;
  }

  /**
   * After the privilege drop the key files are usually readable by root
   * only. A reload never applies a key (a new key takes a restart), so a key
   * file that can no longer be read keeps the running key rather than
   * failing the whole reload; `kept` says which, for the log.
   */
  private keyForReload(path: string, kind: KeyKind, kept: string[]): Uint8Array {
    try {
      return readKeyFile(path, kind);
    } catch (err) {
      const { iface, peers: [peer] } = this.config;
      const running = kind === 'private key' ? iface.privateKey : kind === 'public key' ? peer.publicKey : peer.presharedKey;
      const uid = process.getuid?.() ?? 0;
      if (!(err instanceof KeyError) || err.errno !== 'EACCES' || running === undefined || uid === 0) throw err;
      kept.push(`reload: ${path}: not readable as uid ${uid} since the privilege drop; the running ${kind} is kept (a new key takes a restart)`);
      return running.slice();
    }
  }

  /**
   * Applies a reloaded config (see reload.ts): the changes a running tunnel
   * takes go to it (Tunnel.apply); other changes are named as needing a
   * restart. Returns what it did, as logged.
   */
  async reload(next: ReloadView): Promise<ReloadResult> {
    const notes: string[] = [];
    const problem = await endpointProblem(this.config.file, next.endpoint, 'reload');
    if (problem) {
      const error = `reload: ${problem.message}; keeping the running configuration`;
      this.log.error(error);
      return { error };
    }
    const changes = configChanges(this.view, next);
    if (changes.needRestart.length > 0) {
      notes.push(`reload: ${changes.needRestart.join(', ')} changed; that takes a restart (sealtun down, then up)`);
      this.log.warn(notes.at(-1)!);
    }
    const change: PeerChange = {};
    if (changes.endpoint) change.endpoint = next.endpoint;
    if (changes.persistentKeepalive) change.persistentKeepalive = next.persistentKeepalive;
    if (changes.allowedIPs) change.allowedIPs = parseSetting('AllowedIPs', next.allowedIPs.join(', '), 'reload');
    notes.push(...(await this.tunnel.changePeer(this.config.peers[0]!.publicKey, change)));
    // Keep what needs a restart as it runs; take the rest.
    const { endpoint, persistentKeepalive, initiates, allowedIPs } = next;
    this.view = { ...this.view, endpoint, persistentKeepalive, initiates, allowedIPs };
    return { notes };
  }

  /** Stops the tunnel, then removes the run files (the interface and its routes go when the TUN closes). */
  stop(): Promise<void> {
    this.stopped ??= (async () => {
      clearInterval(this.dropTimer);
      this.control?.close();
      if (this.metrics) closeMetrics(this.metrics);
      await this.tunnel.stop();
      const name = this.tunnel.tun.name;
      for (const f of [pidFile(name), controlSocket(name)]) {
        try {
          unlinkSync(f);
        } catch {
          /* already gone */
        }
      }
    })();
    return this.stopped;
  }
}
