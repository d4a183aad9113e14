// Running a tunnel as a process: in the foreground until a signal, or as a
// daemon (a detached child that reports when it is up), and finding a
// running one again for `down` and `status`.
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync, unlinkSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as libc from '../sys/libc.js';
import { loadConfig } from '../config/config.js';
import { encodeKey, readKeyFile } from '../crypto/keys.js';
import { interfaceExists } from '../tun/netconfig.js';
import { queryControl, type ControlRequest } from './control.js';
import { createLogger, type Level, type Logger } from '../log.js';
import { beforeInterfaceGoes, undoHost } from '../host/setup.js';
import { followKillSwitch } from '../host/kill-switch.js';
import { routingPlan } from '../host/policy-routing.js';
import { parsePidFile, PinnedProcess, startTimeOf, type ProcessIdentity } from './process-identity.js';
import { capRunningLog, openFreshLog } from './log-file.js';
import { lockHolder, NameLock, NameLockHeld } from './name-lock.js';
import { dropUser, runsAsRoot } from './privileges.js';
import { SystemdNotifier } from './sd-notify.js';
import { controlSocket, logFile, pidFile, runDir } from './rundir.js';
import { NO_KEY_FILE, parseSetView, type SetArgs, type SetView } from './peer-set.js';
import { viewForReload } from './reload.js';
import { ServedTunnel, StartInterrupted } from './served-tunnel.js';
import type { TunnelStatus } from '../tunnel/tunnel.js';

/** A problem to report to the user in one line (the CLI exits 1). */
export class UserError extends Error {
  override readonly name = 'UserError';
}

const DAEMON_CHILD_ENV = 'SEALTUN_DAEMON_CHILD';

/**
 * `sealtun up CONFIG`: runs until SIGINT/SIGTERM, then removes the interface.
 * With `user` (--user, else the config's User) root is dropped once the
 * tunnel is up; see privileges.ts for what still works afterwards.
 */
export async function runForeground(configPath: string, level: Level, user?: string): Promise<void> {
  process.on('SIGHUP', ignoreHangup);
  // glibc gives each thread that allocates its own arena, and each keeps what
  // it freed; the data-path workers, V8's helper threads and libuv's pool
  // share two instead (docs/performance.md, "Resident memory").
  libc.mallopt(libc.M_ARENA_MAX, 2);
  const systemd = SystemdNotifier.fromEnv();
  const config = loadConfig(configPath);
  await refuseRunning(config.iface.name);
  // Held until this process ends: no second `up` of this Name meanwhile, even while this one starts (name-lock.ts).
  takeNameLock(config.iface.name);
  if (user !== undefined && config.iface.transport === 'tcp' && routingPlan(config).policy) {
    // As config.ts refuses User = with it: no TCP connection made after the drop could be marked.
    throw new UserError(`${config.iface.name}: --user: a full tunnel over Transport = tcp marks each new TCP connection (SO_MARK needs CAP_NET_ADMIN), which a daemon that dropped root cannot; use Transport = udp`);
  }
  const log = createLogger(`sealtun[${config.iface.name}]`, level);
  // `--daemon`'s child writes to NAME.log (runDaemon): kept under a size cap.
  if (process.env[DAEMON_CHILD_ENV]) capRunningLog(logFile(config.iface.name));
  const signals = new StopSignals(log);
  // What a dead daemon of this Name left (rules, ...) goes first; its kill
  // switch stays until the new one replaces it in one transaction (kill-switch.ts).
  await undoHost(config.iface.name, log, { keepKillSwitch: true });
  let tunnel: ServedTunnel;
  try {
    tunnel = await ServedTunnel.start(config, log, () => signals.received);
  } catch (err) {
    if (!(err instanceof StartInterrupted)) throw err;
    log.info(err.message);
    systemd.stopping();
    return;
  }
  const runAs = user ?? config.iface.user;
  if (runAs !== undefined) {
    try {
      const c = dropUser(runAs);
      log.info(`privileges dropped: running as uid ${c.uid} gid ${c.gid}${c.name ? ` (${c.name})` : ''}`);
    } catch (err) {
      await tunnel.stop();
      throw new UserError(`${config.iface.name}: could not drop privileges to ${runAs}: ${(err as Error).message}`);
    }
  }
  process.send?.({ ready: true });
  if (process.env[DAEMON_CHILD_ENV]) process.disconnect?.();
  const unnotified = systemd.ready();
  if (unnotified) log.warn(unnotified);
  await new Promise<void>((done) => {
    signals.whenUp((sig) => {
      log.info(`${sig}: stopping`);
      systemd.stopping();
      void tunnel.stop().then(done);
    });
    process.removeListener('SIGHUP', ignoreHangup);
    process.on('SIGHUP', () => {
      log.info('SIGHUP: reloading the config');
      void tunnel.reloadFile();
    });
  });
}

/**
 * SIGINT and SIGTERM, caught from before `up` changes anything: one that
 * comes while the tunnel starts (a slow PostUp, `systemctl stop` while
 * activating) must not kill the process midway, leaving rules, DNS and
 * the ledger behind; it is noted, the start finishes and is undone
 * (ServedTunnel.start). Once up, the first one stops the tunnel (whenUp).
 */
class StopSignals {
  /** The first stop signal so far, or null. */
  received: string | null = null;
  private onStop: ((sig: string) => void) | null = null;

  constructor(private readonly log: Logger) {
    for (const sig of ['SIGINT', 'SIGTERM'] as const) process.on(sig, () => this.take(sig));
  }

  private take(sig: string): void {
    if (this.received !== null) {
      this.log.info(`${sig}: already stopping`);
      return;
    }
    this.received = sig;
    if (this.onStop) this.onStop(sig);
    else this.log.info(`${sig} while starting: the start finishes, then is undone`);
  }

  /** Once up: `stop` runs on the first signal (at once if one came since the start). */
  whenUp(stop: (sig: string) => void): void {
    this.onStop = stop;
    if (this.received !== null) stop(this.received);
  }
}

/** Until the tunnel is up, a SIGHUP (e.g. systemd's reload) must not end the process. */
function ignoreHangup(): void {}

/** `sealtun up --daemon CONFIG`: returns once the detached child reports the tunnel is up. */
export async function runDaemon(configPath: string, level: Level, user?: string): Promise<{ pid: number; log: string; name: string }> {
  const config = loadConfig(configPath); // report config errors here, not in a log file
  const name = config.iface.name;
  await refuseRunning(name);
  takeNameLock(name).release(); // the child takes it for good; refused here, the error is not in a log file
  const log = logFile(name);
  const out = openFreshLog(log);
  const cli = fileURLToPath(new URL('../cli/main.js', import.meta.url));
  const args = [
    cli,
    'up',
    resolve(configPath),
    ...(level === 'debug' ? ['--verbose'] : level === 'warn' ? ['--quiet'] : []),
    ...(user !== undefined ? ['--user', user] : []),
  ];
  const child = spawn(process.execPath, args, {
    detached: true,
    stdio: ['ignore', out, out, 'ipc'],
    env: { ...process.env, [DAEMON_CHILD_ENV]: '1' },
  });
  return new Promise((resolvePromise, reject) => {
    child.once('message', () => {
      child.unref();
      child.channel?.unref();
      resolvePromise({ pid: child.pid!, log, name });
    });
    child.once('exit', (code) => {
      // Enough lines for a failed hook's output (src/host/hooks.ts) as well as the usual one-line error.
      const tail = readFileSync(log, 'utf8').trim().split('\n').slice(-25).join('\n');
      reject(new UserError(`${name}: daemon exited with code ${code} before the tunnel was up:\n${tail}`));
    });
  });
}

function readPid(name: string): number | null {
  try {
    return parsePidFile(readFileSync(pidFile(name), 'utf8'))?.pid ?? null;
  } catch {
    return null;
  }
}

/**
 * The daemon the pid file names, for when its control socket is gone
 * (deleted by hand, or by a clean-up of /run): only if the file carries a
 * start time and the process with that pid started at that time, i.e. it is
 * the process that wrote the file. A pid alone is never trusted.
 */
function daemonOfPidFile(name: string): ProcessIdentity | null {
  let said;
  try {
    said = parsePidFile(readFileSync(pidFile(name), 'utf8'));
  } catch {
    return null;
  }
  if (!said?.startTime || startTimeOf(said.pid) !== said.startTime) return null;
  return { pid: said.pid, startTime: said.startTime };
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Who answers on NAME's control socket: the daemon's pid and start time, or
 * null when nothing listens there (no socket, or one a killed daemon left).
 * `what` names the command, for the error when the socket cannot be reached.
 */
async function daemonOf(name: string, what: string): Promise<ProcessIdentity | null> {
  const sock = controlSocket(name);
  let reply: Partial<ProcessIdentity>;
  try {
    reply = (await queryControl(sock, { cmd: 'identify' })) as Partial<ProcessIdentity>;
  } catch (err) {
    if (noDaemon(err)) return null;
    throw unreachable(name, sock, err, what);
  }
  if (typeof reply.pid !== 'number' || typeof reply.startTime !== 'string') {
    throw new UserError(`${name}: the daemon on ${sock} does not say who it is (an older sealtun?); stop it with: kill ${reply.pid ?? readPid(name) ?? 'PID'}`);
  }
  return { pid: reply.pid, startTime: reply.startTime };
}

function noDaemon(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException).code;
  return code === 'ENOENT' || code === 'ECONNREFUSED';
}

function unreachable(name: string, sock: string, err: unknown, what: string): UserError {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'EACCES' || code === 'EPERM') {
    return new UserError(`${name}: cannot reach ${sock}: permission denied; ${what} needs root (the run directory and control sockets are root's alone)`);
  }
  return new UserError(`${name}: ${(err as Error).message}; a daemon may be stuck there (pid file: ${readPid(name) ?? 'none'}), left untouched`);
}

function takeNameLock(name: string): NameLock {
  try {
    return NameLock.take(name);
  } catch (err) {
    if (err instanceof NameLockHeld) throw new UserError(err.message);
    throw err;
  }
}

/** `up` of a Name that already runs here would take over its run files: refused before anything changes. */
async function refuseRunning(name: string): Promise<void> {
  const running = (await daemonOf(name, '`up`')) ?? daemonOfPidFile(name);
  if (running) throw new UserError(`${name}: already running (pid ${running.pid}); stop it first with: sealtun down ${name}`);
}

/** CONFIG (a file) or NAME → interface name. */
export function tunnelName(configOrName: string): string {
  if (isFile(configOrName)) return loadConfig(configOrName).iface.name;
  return checkedName(configOrName);
}

/** CONFIG|NAME arguments: a file is a config, anything else a name. */
function isFile(path: string): boolean {
  return existsSync(path) && statSync(path).isFile();
}

/** A name becomes a path in the run directory: "../x" must not reach outside it. */
function checkedName(name: string): string {
  if (name.includes('/')) throw new UserError(`${name}: no such config file, and not a tunnel name (names cannot contain "/")`);
  return name;
}

/**
 * `sealtun down`: signals the daemon and waits until it and its interface are
 * gone. The daemon is the process that answers on the control socket or,
 * with no socket there, the one the pid file names by pid and start time;
 * either is pinned (pidfd) before the signal. A pid alone never gets one.
 */
export async function stopTunnel(configOrName: string, timeoutMs = 10_000): Promise<string> {
  const name = tunnelName(configOrName);
  // One still starting has no socket nor pid file yet; it holds the Name's lock, which says who it is.
  const who = (await daemonOf(name, '`down`')) ?? daemonOfPidFile(name) ?? lockHolder(name);
  const daemon = who && PinnedProcess.open(who);
  if (who && !daemon && (await daemonOf(name, '`down`'))) {
    // It answers, yet its pid is not the process it names here: another pid namespace.
    throw new UserError(`${name}: the daemon on ${controlSocket(name)} says it is pid ${who.pid}, which is another process here (a daemon in another pid namespace?); not signalling anything`);
  }
  if (!daemon) {
    const stale = readPid(name);
    removeRunFiles(name);
    // No daemon (a second `down`, or one after kill -9): what it left on the host goes.
    if ((await undoHost(name, downLog(name), { keepKillSwitch: false })).length > 0) return name;
    throw new UserError(`${name}: no sealtun tunnel of that name is running${stale === null ? '' : ` (removed a stale pid file for pid ${stale})`}`);
  }
  try {
    // One that dropped root cannot run PreDown nor restore DNS: this process does, while the interface is still there.
    if (!(await daemonIsRoot(name, daemon.pid))) await beforeInterfaceGoes(name, downLog(name));
    await requestStop(name, daemon);
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (!stillRuns(daemon) && !(await interfaceExists(name))) {
        // A daemon that dropped privileges cannot unlink these itself, nor undo its rules.
        removeRunFiles(name);
        await undoHost(name, downLog(name), { keepKillSwitch: false });
        return name;
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  } finally {
    daemon.close();
  }
  throw new UserError(`${name}: pid ${who.pid} did not stop within ${timeoutMs / 1000} s`);
}

/**
 * Whether NAME's daemon still runs as root: as it says on its control
 * socket, or, without an answer there, as /proc says (which a unit's
 * ProtectProc=invisible may hide: then it is taken for root).
 */
async function daemonIsRoot(name: string, pid: number): Promise<boolean> {
  try {
    const reply = (await queryControl(controlSocket(name), { cmd: 'identify' })) as { root?: unknown };
    if (typeof reply.root === 'boolean') return reply.root;
  } catch {
    /* no answer: ask /proc */
  }
  return runsAsRoot(pid);
}

/** `down` reports what it removed from the host on stderr, as the daemon logs. */
function downLog(name: string): Logger {
  return createLogger(`sealtun[${name}]`, 'info');
}

/**
 * SIGTERM; a daemon that dropped to User= is beyond the signals of a root
 * without CAP_KILL (the systemd unit's ExecStop: EPERM), so then it is asked
 * to stop over its control socket, which it serves as before the drop.
 */
async function requestStop(name: string, daemon: PinnedProcess): Promise<void> {
  try {
    daemon.signal('SIGTERM');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') throw err;
    try {
      await queryControl(controlSocket(name), { cmd: 'stop' });
    } catch (e) {
      throw new UserError(`${name}: pid ${daemon.pid} may not be signalled by this user (EPERM) and its control socket does not answer: ${(e as Error).message}`);
    }
  }
}

/** A daemon we may not signal (EPERM) is still there. */
function stillRuns(daemon: PinnedProcess): boolean {
  try {
    return daemon.signal(0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EPERM') return true;
    throw err;
  }
}

/**
 * `sealtun reload CONFIG|NAME`. A CONFIG is read here, as the caller
 * (usually root, who can read it), and sent as a view (reload.ts); a NAME
 * makes the daemon re-read its own config file, as SIGHUP does, with
 * whatever rights it kept. Returns what the daemon did.
 */
export async function reloadTunnel(configOrName: string): Promise<{ name: string; notes: string[] }> {
  const view = isFile(configOrName) ? viewForReload(configOrName, readKeyFile) : undefined;
  const name = view?.name ?? checkedName(configOrName);
  const reply = await askDaemon(name, view ? { cmd: 'reload', view } : { cmd: 'reload' }, '`reload`', 30_000);
  const notes = changeNotes(name, reply, 'reload');
  await followKillSwitch(name, await tunnelStatus(name));
  return { name, notes };
}

/**
 * `sealtun set NAME peer KEY ...` (peer-set.ts): the pre-shared key file,
 * if any, is read here, as the caller (root), with the key-file checks
 * (keys.ts), and sent with the rest; everything is checked here before the
 * daemon checks it again. Returns what the daemon did.
 */
export async function setPeer(name: string, args: SetArgs): Promise<string[]> {
  const checked = checkedName(name);
  const { presharedKeyFile, ...rest } = args;
  const view: SetView = { ...rest };
  if (presharedKeyFile === NO_KEY_FILE) view.presharedKey = null;
  else if (presharedKeyFile !== undefined) {
    const key = readKeyFile(presharedKeyFile, 'pre-shared key');
    view.presharedKey = encodeKey(key);
    key.fill(0);
  }
  parseSetView(view).presharedKey?.fill(0); // the values' errors, before the daemon is asked
  const reply = await askDaemon(checked, { cmd: 'set', peer: view }, '`set`', 30_000);
  const notes = changeNotes(checked, reply, 'set');
  // A daemon that dropped root cannot change its kill switch's endpoints: root, here, does.
  await followKillSwitch(checked, await tunnelStatus(checked));
  return notes;
}

/** The notes of a daemon's reply to reload or set; its error, or a reply that cannot be read, as a UserError. */
function changeNotes(name: string, reply: unknown, what: string): string[] {
  const r = reply as Partial<Record<string, unknown>> | null;
  if (typeof r?.['error'] === 'string') throw new UserError(`${name}: ${r['error']}`);
  const notes = r?.['notes'];
  if (!Array.isArray(notes) || !notes.every((n) => typeof n === 'string')) {
    throw new UserError(`${name}: the daemon on ${controlSocket(name)} gave a reply to ${what} that sealtun cannot read; see its log (${logFile(name)})`);
  }
  return notes;
}

function removeRunFiles(name: string): void {
  for (const f of [pidFile(name), controlSocket(name)]) {
    try {
      unlinkSync(f);
    } catch {
      /* already gone */
    }
  }
}

/** Names of the tunnels with a control socket in the run directory and a live daemon (stale entries are skipped). */
export function runningTunnels(): string[] {
  let files: string[];
  try {
    files = readdirSync(runDir());
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return [];
    if (code === 'EACCES') throw new UserError(`cannot read ${runDir()}: permission denied; status needs root (the run directory is root's alone)`);
    throw err;
  }
  return files
    .filter((f) => f.endsWith('.sock'))
    .map((f) => f.slice(0, -'.sock'.length))
    .filter((name) => {
      const pid = readPid(name);
      return pid !== null && alive(pid);
    })
    .sort();
}

export async function tunnelStatus(name: string): Promise<TunnelStatus> {
  return (await askDaemon(checkedName(name), { cmd: 'status' }, 'status')) as TunnelStatus;
}

/**
 * NAME's daemon's reply to `req`. "Not running" only when nothing listens on
 * the control socket; any other failure (permission, no reply in time, a
 * reply that is not JSON) is named as it is. `what` names the command.
 */
async function askDaemon(name: string, req: ControlRequest, what: string, timeoutMs?: number): Promise<unknown> {
  const sock = controlSocket(name);
  try {
    return await queryControl(sock, req, timeoutMs);
  } catch (err) {
    if (noDaemon(err)) throw new UserError(`${name}: no sealtun tunnel of that name is running`);
    throw unreachable(name, sock, err, what);
  }
}
