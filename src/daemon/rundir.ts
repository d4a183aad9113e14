// Where a running tunnel leaves its pid file, control socket and log:
// /run/sealtun/NAME.{pid,sock,log}. SEALTUN_RUN_DIR moves them (tests use a
// private directory so they never meet a tunnel the operator runs).
//
// Interface names are per network namespace but /run is not: a tunnel run
// inside a namespace (`ip netns exec blue sealtun up ...`) keeps its files in
// RUN_DIR/netns/blue/, under the name `ip netns` gives that namespace, so two
// tunnels of the same Name in two namespaces never share a pid file or
// socket, and `status`/`down` run in a namespace find that namespace's own.
// A namespace with no `ip netns` name uses RUN_DIR/netns/inode-N (N: the
// inode of /proc/self/ns/net). The initial namespace, and any process that
// cannot tell (it may not read /proc/1/ns/net: non-root, or a unit with a
// narrowed capability set), uses RUN_DIR itself.
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

/** Where `ip netns add` leaves its named namespaces (iproute2's NETNS_RUN_DIR). */
const NETNS_NAMES = '/run/netns';

/**
 * The namespace part is computed once: a daemon that drops root can no
 * longer read /proc/1 but must still find its own files. The base is read
 * each time, so a test may give its process a private one.
 */
let subdir: string | undefined;

export function runDir(): string {
  subdir ??= namespaceSubdir();
  return join(process.env['SEALTUN_RUN_DIR'] ?? '/run/sealtun', subdir);
}

/**
 * '' in the initial network namespace (or when that cannot be told), else
 * netns/NAME or netns/inode-N. The paths are parameters for the tests only.
 */
export function namespaceSubdir(own = '/proc/self/ns/net', initial = '/proc/1/ns/net', netnsNames = NETNS_NAMES): string {
  const ns = namespaceOf(own);
  const init = namespaceOf(initial);
  if (ns === null || ns.key === init?.key) return '';
  const name = netnsName(ns.key, netnsNames);
  if (name !== null) return join('netns', name);
  return init === null ? '' : join('netns', `inode-${ns.ino}`);
}

/** The namespace a /proc/PID/ns/net link (or an `ip netns` bind mount of one) stands for. */
function namespaceOf(path: string): { key: string; ino: bigint } | null {
  try {
    const s = statSync(path, { bigint: true });
    return { key: `${s.dev}:${s.ino}`, ino: s.ino };
  } catch {
    return null;
  }
}

/** What `ip netns identify` prints: the name bound to this namespace (the first, should there be several). */
function netnsName(key: string, dir: string): string | null {
  let names: string[];
  try {
    names = readdirSync(dir).sort();
  } catch {
    return null;
  }
  return names.find((n) => namespaceOf(join(dir, n))?.key === key) ?? null;
}

/**
 * Where a daemon started with `ip netns exec NS` keeps its files, seen from
 * outside that namespace: BASE is its SEALTUN_RUN_DIR (or /run/sealtun).
 */
export function namespaceRunDir(base: string, ns: string): string {
  return join(base, 'netns', ns);
}

export function pidFile(name: string): string {
  return join(runDir(), `${name}.pid`);
}

export function controlSocket(name: string): string {
  return join(runDir(), `${name}.sock`);
}

export function logFile(name: string): string {
  return join(runDir(), `${name}.log`);
}

/** A listener's memory of where its peer last was (see endpoint-memory.ts). */
export function endpointFile(name: string): string {
  return join(runDir(), `${name}.endpoint`);
}
