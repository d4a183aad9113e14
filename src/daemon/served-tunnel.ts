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
import { listenAddressText, type Endpoint, type PeerConfig, type TunnelConfig } from '../config/config.js';
import { encodeKey, KeyError, publicKeyOf, readKeyFile, type KeyKind } from '../crypto/keys.js';
import { isHostName } from '../transport/resolve.js';
import type { Logger } from '../log.js';
import { serveControl, type DaemonRequest } from './control.js';
import { DropLog } from './drop-log.js';
import { closeMetrics, serveMetrics } from './metrics.js';
import { parseSetView, peersAfterSet, type PeerSet } from './peer-set.js';
import { applySteps, type ChangeResult } from './apply-steps.js';
import { peerSteps, type PeerStep } from './peer-steps.js';
import { checkPeers, configForReload, interfaceView, parseReloadView, restartChanges, zeroKeys, type InterfaceView, type ReloadConfig } from './reload.js';
import { ownIdentity, pidFileText } from './process-identity.js';
import { controlSocket, endpointFile, pidFile, runDir } from './rundir.js';
import { TIMERS } from '../tunnel/timers.js';
import { endpointProblem } from '../tunnel/link/endpoint-name.js';
import { Tunnel } from '../tunnel/tunnel.js';
import { applyHost, beforeInterfaceGoes, prepareHost, refreshHost, undoHost } from '../host/setup.js';
import { policyChange, routingPlan } from '../host/policy-routing.js';
import { killSwitchPresent, removeKillSwitch } from '../host/kill-switch.js';

/**
 * Empty changes for the peers that stay with the same host-name Endpoint
 * and nothing else changed: the tunnel looks such a name up again.
 */
function sameNamedEndpoints(running: readonly PeerConfig[], next: readonly PeerConfig[], steps: readonly PeerStep[]): PeerStep[] {
  const touched = new Set(steps.map((s) => encodeKey(s.kind === 'add' ? s.peer.publicKey : s.publicKey)));
  const before = new Map(running.map((p) => [encodeKey(p.publicKey), p]));
  return next
    .filter((p) => p.endpoint && isHostName(p.endpoint) && before.has(encodeKey(p.publicKey)) && !touched.has(encodeKey(p.publicKey)))
    .map((p) => ({ kind: 'change', publicKey: p.publicKey, change: {} }));
}

/** The Endpoint a change step leaves its peer with, when the step sets or looks it up again. */
function nextEndpoint(step: Extract<PeerStep, { kind: 'change' }>, next: readonly PeerConfig[]): Endpoint | undefined {
  if (step.change.endpoint !== undefined) return step.change.endpoint ?? undefined;
  if (Object.keys(step.change).length > 0) return undefined;
  return next.find((p) => Buffer.from(p.publicKey).equals(Buffer.from(step.publicKey)))?.endpoint;
}

/** The start was asked to stop (a signal) and has undone what it did. */
export class StartInterrupted extends Error {
  override readonly name = 'StartInterrupted';
}

export class ServedTunnel {
  private control: Server | null = null;
  private metrics: HttpServer | null = null;
  private stopped: Promise<void> | null = null;
  private readonly dropLog: DropLog;
  private readonly dropTimer: NodeJS.Timeout;
  /** The running [Interface] as reloads compare it (reload.ts): no secrets in it. */
  private readonly iface: InterfaceView;
  /** Our public key, base64: a peer may not have it. */
  private readonly ownKey: string;
  /** The reload or set under way (oneAtATime). */
  private changing: Promise<unknown> = Promise.resolve();

  private constructor(
    readonly tunnel: Tunnel,
    /** As loaded at start: its file is what a reload re-reads, its keys the running ones (a reload never changes a key). */
    private readonly config: TunnelConfig,
    private readonly log: Logger,
  ) {
    this.iface = interfaceView(config.iface);
    this.ownKey = encodeKey(publicKeyOf(config.iface.privateKey));
    this.dropLog = new DropLog(() => this.tunnel.status().dropped, log);
    this.dropTimer = setInterval(() => this.dropLog.report(), TIMERS.dropLogMs).unref();
  }

  /**
   * Brings the tunnel up, then its control socket, metrics server and pid
   * file; on failure nothing is left running. All bind before a privilege
   * drop (daemon.ts), so MetricsListen may name a port below 1024.
   * `stopAsked` names a stop signal that came meanwhile: before the
   * interface exists the start stops there; after, it finishes and is
   * undone as a failed one is; either way it throws StartInterrupted.
   */
  static async start(config: TunnelConfig, log: Logger, stopAsked: () => string | null = () => null): Promise<ServedTunnel> {
    let served: ServedTunnel | null = null;
    mkdirSync(runDir(), { recursive: true, mode: 0o700 });
    // Asked to stop before the interface exists (during the clean-up before
    // the start, or PreUp): nothing is created yet (PreUp has no undo, as in wg-quick).
    const stopEarly = () => {
      const sig = stopAsked();
      if (sig !== null) throw new StartInterrupted(`${config.iface.name}: ${sig} while starting: stopped before the interface was created`);
    };
    stopEarly();
    // Before the interface exists: PreUp (and a DNS setting this host cannot apply is refused).
    await prepareHost(config, log);
    stopEarly();
    const plan = routingPlan(config);
    const tunnel = await Tunnel.start(config, log, {
      routes: { table: plan.routeTable, skipDefault: plan.policy !== null },
      ...(plan.socketMark !== null ? { socketMark: plan.socketMark } : {}),
      ...(plan.connectMark !== null ? { connectMark: plan.connectMark } : {}),
      endpointMemoryFile: endpointFile(config.iface.name),
      // The tunnel has stopped itself; the run files go, and so does the process.
      onFailure: () => void (served?.stop() ?? Promise.resolve()).then(() => process.exit(1)),
    });
    served = new ServedTunnel(tunnel, config, log);
    const name = tunnel.tun.name;
    // A kill switch a crashed run left keeps guarding through a failed
    // restart (Restart=on-failure); one this start adds goes with it.
    const guarded = await killSwitchPresent(name);
    try {
      await applyHost(config, log);
      served.control = await serveControl(controlSocket(name), (req) => served!.onControl(req));
      const { metricsListen } = config.iface;
      if (metricsListen) {
        served.metrics = await serveMetrics(metricsListen, () => tunnel.status());
        log.info(`metrics at http://${listenAddressText(metricsListen)}/metrics`);
      }
      writeFileSync(pidFile(name), pidFileText(ownIdentity()));
      // A SIGTERM/SIGINT that came while starting (daemon.ts) undoes it all, as a failure does.
      const signal = stopAsked();
      if (signal !== null) throw new StartInterrupted(`${name}: ${signal} while starting: everything this start did is undone`);
    } catch (err) {
      await served.stop();
      if (!guarded) await removeKillSwitch(name).catch((e: Error) => log.error(e.message));
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
      case 'set':
        return this.set(parseSetView(req.peer));
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
  async reloadFile(): Promise<ChangeResult> {
    const kept: string[] = [];
    let next: ReloadConfig;
    try {
      next = configForReload(this.config.file, (path, kind) => this.keyForReload(path, kind, kept));
    } catch (err) {
      const uid = process.getuid?.() ?? 0;
      const hint = uid === 0 ? '' : ` (running as uid ${uid} since the privilege drop: \`sealtun reload ${this.config.file}\`, run as root, reads the config itself)`;
      return this.refused(`reload: ${(err as Error).message}${hint}`);
    }
    for (const k of kept) this.log.info(k);
    const result = await this.reload(next);
    return 'notes' in result ? { notes: [...kept, ...result.notes] } : result;
  }

  /**
   * After the privilege drop the key files are usually readable by root
   * only. A new private key takes a restart anyway, so a private key file
   * that can no longer be read keeps the running key rather than failing
   * the whole reload; `kept` says so, for the log. A peer's key file cannot
   * be matched to a running peer before it is read, so that one fails the
   * reload, with the hint to run `sealtun reload CONFIG` as root.
   */
  private keyForReload(path: string, kind: KeyKind, kept: string[]): Uint8Array {
    try {
      return readKeyFile(path, kind);
    } catch (err) {
      const uid = process.getuid?.() ?? 0;
      if (!(err instanceof KeyError) || err.errno !== 'EACCES' || kind !== 'private key' || uid === 0) throw err;
      kept.push(`reload: ${path}: not readable as uid ${uid} since the privilege drop; the running ${kind} is kept (a new key takes a restart)`);
      return this.config.iface.privateKey.slice();
    }
  }

  /**
   * Applies a reloaded config the way `wg syncconf` does (reload.ts,
   * peer-steps.ts). Everything is checked before anything is applied: a
   * changed [Interface] setting, a peer with our own key, or an Endpoint
   * name that does not resolve refuses the whole reload. Returns what it
   * did, as logged. Zeroes `next`'s pre-shared keys.
   */
  reload(next: ReloadConfig): Promise<ChangeResult> {
    return this.oneAtATime(async () => {
      const running = this.tunnel.peerConfigs();
      try {
        const restart = restartChanges(this.iface, next.iface);
        if (restart.length > 0) return this.refused(`reload: ${restart.join(', ')} changed; that takes a restart (sealtun down, then up)`);
        return await this.applyPeers(running, next.peers, 'reload');
      } finally {
        zeroKeys(running);
        zeroKeys(next.peers);
      }
    });
  }

  /** `sealtun set`: one peer added, changed or removed at run time (peer-set.ts); the config file is not touched. */
  set(change: PeerSet): Promise<ChangeResult> {
    return this.oneAtATime(async () => {
      const running = this.tunnel.peerConfigs();
      try {
        let next: PeerConfig[];
        try {
          next = peersAfterSet(running, change);
          checkPeers(next, this.iface.listenPort);
        } catch (err) {
          return this.refused(`set: ${(err as Error).message}`);
        }
        return await this.applyPeers(running, next, 'set');
      } finally {
        zeroKeys(running);
        change.presharedKey?.fill(0);
      }
    });
  }

  /** Reloads and sets run one after the other: each works from the peers the one before left. */
  private oneAtATime<T>(work: () => Promise<T>): Promise<T> {
    const done = this.changing.then(work);
    this.changing = done.catch(() => undefined);
    return done;
  }

  /** Takes the running peers to `next`: checked first, then applied in peerSteps' order. */
  private async applyPeers(running: readonly PeerConfig[], next: readonly PeerConfig[], what: 'reload' | 'set'): Promise<ChangeResult> {
    const ours = next.find((p) => encodeKey(p.publicKey) === this.ownKey);
    if (ours) return this.refused(`${what}: peer ${encodeKey(ours.publicKey)} is this interface's own public key`);
    const restart = policyChange(this.config, running, next);
    if (restart) return this.refused(`${what}: ${restart}`);
    const steps = peerSteps(running, next);
    // An Endpoint given by name and left as it was is looked up again: reloading is how an operator says the name moved.
    if (what === 'reload') steps.push(...sameNamedEndpoints(running, next, steps));
    // Every name the steps will look up must resolve now, or nothing is applied.
    for (const step of steps) {
      const endpoint = step.kind === 'add' ? step.peer.endpoint : step.kind === 'change' ? nextEndpoint(step, next) : undefined;
      const problem = await endpointProblem(what === 'reload' ? this.config.file : 'endpoint', endpoint, 'reload');
      if (problem) return this.refused(`${what}: ${problem.message}`);
    }
    const result = await applySteps(this.tunnel, steps, what, this.log);
    // After a privilege drop `sealtun reload`/`set` (root) does this instead (daemon.ts).
    if (process.getuid?.() !== 0) return result;
    const now = this.tunnel.peerConfigs();
    try {
      await refreshHost(this.config, now, this.log);
    } catch (err) {
      this.log.error(`${what}: ${(err as Error).message}`);
    } finally {
      zeroKeys(now);
    }
    return result;
  }

  /** A refused reload or set: logged, and the tunnel runs on as it was. */
  private refused(why: string): ChangeResult {
    const error = `${why}; keeping the running configuration`;
    this.log.error(error);
    return { error };
  }

  /** Stops the tunnel, then removes the run files (the interface and its routes go when the TUN closes). */
  stop(): Promise<void> {
    this.stopped ??= (async () => {
      clearInterval(this.dropTimer);
      this.control?.close();
      if (this.metrics) closeMetrics(this.metrics);
      // PreDown and DNS while the interface is there; root only: a daemon that
      // dropped privileges leaves them to `sealtun down` (src/host/hooks.ts).
      if (process.getuid?.() === 0) await beforeInterfaceGoes(this.config.iface.name, this.log).catch((err: Error) => this.log.error(err.message));
      await this.tunnel.stop();
      const name = this.tunnel.tun.name;
      // Root undoes its rules now; a daemon that dropped root leaves that to `sealtun down`.
      // The kill switch stays until `down` in either case.
      if (process.getuid?.() === 0) await undoHost(name, this.log, { keepKillSwitch: true }).catch((err: Error) => this.log.error(err.message));
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
