// Dropping root once the tunnel is up (`User = NAME` in [Interface], or
// `sealtun up --user NAME`).
//
// Everything that needs root (or CAP_NET_ADMIN) happens before: opening the
// TUN, `ip` setting addresses, MTU and routes, binding the listening socket
// (so a ListenPort below 1024 works), the control socket and
// pid file in the run directory. Afterwards the daemon only reads and writes
// descriptors it already holds, switches TUN offloads (an ioctl on its own
// TUN descriptor, no capability needed), and opens outgoing TCP connections
// (unprivileged). The interface disappears when the last descriptor on the
// TUN closes, which an unprivileged process may do. What it can no longer do
// is unlink its pid file and control socket in the root-owned run directory:
// `sealtun down` removes them, and stale ones are ignored and replaced.
//
// Credentials are per thread in the kernel; glibc's setgid/setuid (which
// Node's process.setgid/setuid call) change every thread of the process, and
// dropUser() checks /proc/self/task/*/status to prove that the data-path
// workers are unprivileged too: uids, gids and all four capability sets.
import { readdirSync, readFileSync } from 'node:fs';
import koffi from 'koffi';

/** The user could not be found, or the switch did not fully happen. */
export class PrivilegeError extends Error {
  override readonly name = 'PrivilegeError';
}

export interface Credentials {
  name: string | null;
  uid: number;
  gid: number;
}

const libc = koffi.load('libc.so.6');
const Passwd = koffi.struct('sealtun_passwd', {
  pw_name: 'char *',
  pw_passwd: 'char *',
  pw_uid: 'uint32_t',
  pw_gid: 'uint32_t',
  pw_gecos: 'char *',
  pw_dir: 'char *',
  pw_shell: 'char *',
});
const getpwnam = libc.func('getpwnam', koffi.pointer(Passwd), ['const char *']) as (name: string) => unknown;
const getpwuid = libc.func('getpwuid', koffi.pointer(Passwd), ['uint32_t']) as (uid: number) => unknown;

interface PasswdEntry {
  pw_name: string;
  pw_uid: number;
  pw_gid: number;
}

function decode(p: unknown): PasswdEntry | null {
  return p ? (koffi.decode(p, Passwd) as PasswdEntry) : null;
}

/**
 * A user name (through NSS, like `id`), or a numeric uid; a uid with no
 * passwd entry uses the group of the same number.
 */
export function lookupUser(user: string): Credentials {
  if (/^\d+$/.test(user)) {
    const uid = Number(user);
    const e = decode(getpwuid(uid));
    return { name: e?.pw_name ?? null, uid, gid: e?.pw_gid ?? uid };
  }
  const e = decode(getpwnam(user));
  if (!e) throw new PrivilegeError(`no such user: ${user}`);
  return { name: e.pw_name, uid: e.pw_uid, gid: e.pw_gid };
}

/** One thread's credentials as /proc/PID/task/TID/status shows them. */
export interface ThreadCredentials {
  tid: string;
  /** Real, effective, saved and file-system ids. */
  uids: number[];
  gids: number[];
  capEff: bigint;
  capPrm: bigint;
  capInh: bigint;
  capAmb: bigint;
}

/** The capability sets that must all be empty after the drop, with what each means. */
const CAPABILITY_SETS = [
  ['capEff', 'CapEff', 'effective'],
  ['capPrm', 'CapPrm', 'permitted'],
  ['capInh', 'CapInh', 'inheritable'],
  ['capAmb', 'CapAmb', 'ambient'],
] as const;

/** Parses a task's status file; a missing capability line counts as a full set (never as empty). */
export function parseTaskStatus(tid: string, status: string): ThreadCredentials {
  const field = (name: string) => (status.match(new RegExp(`^${name}:\\s*(.*)$`, 'm'))?.[1] ?? '').trim();
  const caps = (name: string) => {
    const hex = field(name);
    return /^[0-9a-f]+$/i.test(hex) ? BigInt(`0x${hex}`) : -1n;
  };
  return {
    tid,
    uids: field('Uid').split(/\s+/).map(Number),
    gids: field('Gid').split(/\s+/).map(Number),
    capEff: caps('CapEff'),
    capPrm: caps('CapPrm'),
    capInh: caps('CapInh'),
    capAmb: caps('CapAmb'),
  };
}

/** Credentials of every thread of this process (or of `pid`). */
export function threadCredentials(pid: number | 'self' = 'self'): ThreadCredentials[] {
  const dir = `/proc/${pid}/task`;
  return readdirSync(dir).map((tid) => parseTaskStatus(tid, readFileSync(`${dir}/${tid}/status`, 'utf8')));
}

/**
 * What `t` kept that a dropped thread must not have, or null: another uid
 * or gid, or any capability in any set. The effective set alone is not
 * enough: a permitted capability can be made effective again, and
 * inheritable or ambient ones pass to a program it executes.
 */
export function privilegeLeft(t: ThreadCredentials, c: Credentials): string | null {
  if (t.uids.some((u) => u !== c.uid) || t.gids.some((g) => g !== c.gid)) {
    return `thread ${t.tid} still has uid ${t.uids.join(' ')} gid ${t.gids.join(' ')}`;
  }
  for (const [key, line, what] of CAPABILITY_SETS) {
    if (t[key] !== 0n) {
      const shown = t[key] < 0n ? 'unknown (no readable line)' : `0x${t[key].toString(16)}`;
      return (
        `thread ${t.tid} still has ${what} capabilities ${shown} (${line} in /proc/self/task/${t.tid}/status); ` +
        'start sealtun without inheritable or ambient capabilities'
      );
    }
  }
  return null;
}

/**
 * Switches the whole process (every thread) to `user`: supplementary groups
 * (just the user's primary group), then gid, then uid (the other order would leave no right to change groups).
 * Throws PrivilegeError unless every thread ends up with only that uid and
 * gid and all four capability sets empty. Leaving uid 0 clears the permitted,
 * effective and ambient sets, but not the inheritable one: a daemon started
 * with inheritable capabilities (capsh --inh, setpriv --inh-caps, systemd's
 * CapabilityInheritable=... ) is refused here, not run with them.
 */
export function dropUser(user: string): Credentials {
  const c = lookupUser(user);
  if (c.uid === 0) throw new PrivilegeError(`refusing to "drop" to uid 0 (${user})`);
  const { setgroups, setgid, setuid } = process;
  if (!setgroups || !setgid || !setuid) throw new PrivilegeError('this platform cannot change credentials');
  // Only the user's primary group: the daemon needs no other (root's supplementary groups go).
  setgroups.call(process, [c.gid]);
  setgid.call(process, c.gid);
  setuid.call(process, c.uid);
  for (const t of threadCredentials()) {
    const left = privilegeLeft(t, c);
    if (left !== null) throw new PrivilegeError(left);
  }
  return c;
}

/**
 * Whether process `pid` still runs with root's effective uid, i.e. has not
 * dropped privileges; true when that cannot be read (then it is left to
 * do its own stop, as before).
 */
export function runsAsRoot(pid: number): boolean {
  try {
    return parseTaskStatus(String(pid), readFileSync(`/proc/${pid}/status`, 'utf8')).uids[1] === 0;
  } catch {
    return true;
  }
}
