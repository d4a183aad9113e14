// Running a tunnel as a process: in the foreground until a signal, or as a
// daemon (a detached child that reports when it is up), and finding a
// running one again for `down` and `status`.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, openSync, readdirSync, readFileSync, statSync, unlinkSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as libc from '../sys/libc.js';
import { loadConfig } from '../config/config.js';
import { interfaceExists } from '../tun/netconfig.js';
import { queryControl } from './control.js';
import { createLogger, type Level } from './log.js';
import { dropUser } from './privileges.js';
import { controlSocket, logFile, pidFile, runDir } from './rundir.js';
import { reloadView, type ReloadView } from './reload.js';
import { Tunnel, type ReloadResult, type TunnelStatus } from './tunnel.js';

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
  const config = loadConfig(configPath);
  const log = createLogger(`sealtun[${config.iface.name}]`, level);
  const tunnel = await Tunnel.start(config, log);
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
  await new Promise<void>((done) => {
    const stop = (sig: string) => {
      log.info(`${sig}: stopping`);
      void tunnel.stop().then(done);
    };
    process.once('SIGINT', () => stop('SIGINT'));
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.removeListener('SIGHUP', ignoreHangup);
    process.on('SIGHUP', () => {
      log.info('SIGHUP: reloading the config');
      void tunnel.reloadFile();
    });
  });
}

/** Until the tunnel is up, a SIGHUP (e.g. systemd's reload) must not end the process. */
function ignoreHangup(): void {}

/** `sealtun up --daemon CONFIG`: returns once the detached child reports the tunnel is up. */
export async function runDaemon(configPath: string, level: Level, user?: string): Promise<{ pid: number; log: string; name: string }> {
  const config = loadConfig(configPath); // report config errors here, not in a log file
  const name = config.iface.name;
  mkdirSync(runDir(), { recursive: true, mode: 0o700 });
  const log = logFile(name);
  const out = openSync(log, 'a', 0o600);
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
      const tail = readFileSync(log, 'utf8').trim().split('\n').slice(-5).join('\n');
      reject(new UserError(`${name}: daemon exited with code ${code} before the tunnel was up:\n${tail}`));
    });
  });
}

function readPid(name: string): number | null {
  try {
    const pid = Number(readFileSync(pidFile(name), 'utf8').trim());
    return Number.isInteger(pid) && pid > 0 ? pid : null;
  } catch {
    return null;
  }
}

/** Whether `pid` is a running sealtun daemon (not some process that reused a stale pid). */
function isSealtun(pid: number): boolean {
  try {
    return /sealtun|cli\/main\.js/.test(readFileSync(`/proc/${pid}/cmdline`, 'utf8'));
  } catch {
    return false;
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** CONFIG (a file) or NAME → interface name. */
export function tunnelName(configOrName: string): string {
  return existsSync(configOrName) && statSync(configOrName).isFile() ? loadConfig(configOrName).iface.name : configOrName;
}

/** `sealtun down`: signals the daemon and waits until it and its interface are gone. */
export async function stopTunnel(configOrName: string, timeoutMs = 10_000): Promise<string> {
  const name = tunnelName(configOrName);
  const pid = readPid(name);
  if (pid === null) throw new UserError(`${name}: no sealtun tunnel of that name is running`);
  if (!alive(pid) || !(isSealtun(pid) || (await answersAs(name, pid)))) {
    for (const f of [pidFile(name), controlSocket(name)]) if (existsSync(f)) unlinkSync(f);
    throw new UserError(`${name}: no sealtun tunnel of that name is running (removed a stale pid file for pid ${pid})`);
  }
  await requestStop(name, pid);
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (!alive(pid) && !(await interfaceExists(name))) {
      // A daemon that dropped privileges cannot unlink these itself.
      removeRunFiles(name);
      return name;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new UserError(`${name}: pid ${pid} did not stop within ${timeoutMs / 1000} s`);
}

/**
 * /proc may hide a daemon that dropped to another user (a /proc mounted
 * with hidepid, for a caller outside its gid= group and without
 * CAP_SYS_PTRACE): its control socket still says its pid.
 */
async function answersAs(name: string, pid: number): Promise<boolean> {
  try {
    return ((await queryControl(controlSocket(name), { cmd: 'status' })) as { pid?: unknown }).pid === pid;
  } catch {
    return false;
  }
}

/**
 * SIGTERM; a daemon that dropped to User= is beyond the signals of a root
 * without CAP_KILL (the systemd unit's ExecStop: EPERM), so then it is asked
 * to stop over its control socket, which it serves as before the drop.
 */
async function requestStop(name: string, pid: number): Promise<void> {
  try {
    process.kill(pid, 'SIGTERM');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') throw err;
    try {
      await queryControl(controlSocket(name), { cmd: 'stop' });
    } catch (e) {
      throw new UserError(`${name}: pid ${pid} may not be signalled by this user (EPERM) and its control socket does not answer: ${(e as Error).message}`);
    }
  }
}

/**
 * `sealtun reload CONFIG|NAME`. A CONFIG is read here, as the caller
 * (usually root, who can read it), and sent as a view without secrets
 * (reload.ts); a NAME makes the daemon re-read its own config file, as
 * SIGHUP does, with whatever rights it kept. Returns what the daemon did.
 */
export async function reloadTunnel(configOrName: string): Promise<{ name: string; notes: string[] }> {
  let name = configOrName;
  let view: ReloadView | undefined;
  if (existsSync(configOrName) && statSync(configOrName).isFile()) {
    const config = loadConfig(configOrName);
    name = config.iface.name;
    view = reloadView(config);
    config.iface.privateKey.fill(0);
    config.peer.presharedKey?.fill(0);
  }
  let reply: ReloadResult;
  try {
    reply = (await queryControl(controlSocket(name), view ? { cmd: 'reload', view } : { cmd: 'reload' }, 30_000)) as ReloadResult;
  } catch {
    throw new UserError(`${name}: no sealtun tunnel of that name is running`);
  }
  if ('error' in reply) throw new UserError(`${name}: ${reply.error}`);
  return { name, notes: reply.notes };
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
  if (!existsSync(runDir())) return [];
  return readdirSync(runDir())
    .filter((f) => f.endsWith('.sock'))
    .map((f) => f.slice(0, -'.sock'.length))
    .filter((name) => {
      const pid = readPid(name);
      return pid !== null && alive(pid);
    })
    .sort();
}

export async function tunnelStatus(name: string): Promise<TunnelStatus> {
  try {
    return (await queryControl(controlSocket(name), { cmd: 'status' })) as TunnelStatus;
  } catch {
    throw new UserError(`${name}: no sealtun tunnel of that name is running`);
  }
}
