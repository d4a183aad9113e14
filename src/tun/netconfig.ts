// Interface configuration: addresses, MTU, link state and routes.
//
// Done with iproute2's `ip`, which every Linux host has: these calls happen a
// handful of times per tunnel, never on the packet path, so a rtnetlink
// binding would add hundreds of lines of struct packing for no measurable gain,
// and `ip`'s error messages are ones operators already know.
import { execFile, spawn } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface InterfaceSettings {
  name: string;
  mtu: number;
  /** "10.77.0.1/24", "fd00::1/64" */
  addresses: string[];
  /** CIDRs routed into the tunnel: "10.77.0.2/32" */
  routes: string[];
  /** The routing table they go into (Table = NUMBER); absent: main. */
  table?: number | 'main';
  /** Length of the kernel's queue in front of the TUN reader. */
  txqueuelen?: number;
  /** Largest GSO super-packet the kernel builds for this device (with offloads on). */
  gsoMaxSize?: number;
}

export class NetConfigError extends Error {
  override readonly name = 'NetConfigError';
}

/** Runs `ip ARGS`; a failure is a NetConfigError quoting the command and ip's own message. */
export async function ip(args: string[]): Promise<void> {
  try {
    await run('ip', args, { timeout: 10_000 });
  } catch (err) {
    const e = err as { stderr?: string; code?: string };
    const why = e.code === 'ENOENT' ? 'iproute2 (`ip`) is not installed' : (e.stderr ?? String(err)).trim();
    throw new NetConfigError(`ip ${args.join(' ')}: ${why}`);
  }
}

/** Addresses, MTU, up, routes — in the order the kernel needs them. */
export async function configureInterface(s: InterfaceSettings): Promise<void> {
  const gso = s.gsoMaxSize ? ['gso_max_size', String(s.gsoMaxSize)] : [];
  await ip(['link', 'set', 'dev', s.name, 'mtu', String(s.mtu), 'txqueuelen', String(s.txqueuelen ?? 1000), ...gso]);
  for (const a of s.addresses) await ip(['address', 'add', a, 'dev', s.name]);
  await ip(['link', 'set', 'dev', s.name, 'up']);
  await fairQueue(s.name);
  await addRoutes(s.routes, s.name, s.table);
}

/**
 * Where the interface's AllowedIPs routes go, as Table says
 * (src/host/policy-routing.ts works it out): into `table` (null: none at
 * all, Table = off), the default routes left out when policy rules route
 * them (a full tunnel).
 */
export interface RoutePlacement {
  table: number | 'main' | null;
  skipDefault: boolean;
}

/** The prefixes of `cidrs` that get a route of their own under `p`. */
export function routedPrefixes(cidrs: ReadonlyArray<{ text: string; prefix: number }>, p: RoutePlacement = { table: 'main', skipDefault: false }): string[] {
  if (p.table === null) return [];
  return cidrs.filter((c) => !(p.skipDefault && c.prefix === 0)).map((c) => c.text);
}

/** `table T` for ip route, nothing for main. */
function tableArgs(table: number | 'main' | undefined): string[] {
  return table === undefined || table === 'main' ? [] : ['table', String(table)];
}

/** Above this many, routes go in one `ip -batch` (a server with thousands of peers): one process, not one each. */
const BATCH_ROUTES = 8;

/**
 * Routes many prefixes into the tunnel: one `ip -force -batch` for all, then
 * each that failed again on its own (addRoute), which tells a route already
 * ours from another device's.
 */
export async function addRoutes(cidrs: readonly string[], dev: string, table?: number | 'main'): Promise<void> {
  if (cidrs.length <= BATCH_ROUTES) {
    for (const r of cidrs) await addRoute(r, dev, table);
    return;
  }
  const failedLines = await ipBatch(cidrs.map((r) => ['route', 'add', r, 'dev', dev, ...tableArgs(table)].join(' ')));
  for (const line of failedLines) await addRoute(cidrs[line - 1]!, dev, table);
}

/** Runs commands with `ip -force -batch -`; returns the (1-based) lines that failed. */
function ipBatch(lines: string[]): Promise<number[]> {
  return new Promise((resolve, reject) => {
    const child = spawn('ip', ['-force', '-batch', '-'], { stdio: ['pipe', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', (err) => reject(new NetConfigError(`ip -batch: ${err.message}`)));
    child.on('close', () => resolve([...stderr.matchAll(/Command failed -:(\d+)/g)].map((m) => Number(m[1]))));
    child.stdin.end(lines.join('\n') + '\n');
  });
}

/**
 * When the tunnel is the bottleneck, packets wait in the TUN's queue. A
 * plain FIFO there (pfifo_fast, many hosts' default) lets one bulk transfer
 * delay everything else by tens of milliseconds; fq_codel gives each flow
 * its own queue and keeps standing delay near 5 ms. A kernel without it
 * keeps its default, which still works.
 */
async function fairQueue(dev: string): Promise<void> {
  try {
    await run('tc', ['qdisc', 'replace', 'dev', dev, 'root', 'fq_codel'], { timeout: 10_000 });
  } catch {
    /* no tc or no sch_fq_codel: the default qdisc stays */
  }
}

/**
 * Routes an AllowedIPs prefix into the tunnel. An existing route for the same
 * prefix through another device is not replaced: the operator's routing is
 * theirs, and a silently hijacked (then, on `down`, deleted) route is worse
 * than a clear error. One the kernel already made for our own address is fine.
 */
async function addRoute(cidr: string, dev: string, table?: number | 'main'): Promise<void> {
  try {
    await ip(['route', 'add', cidr, 'dev', dev, ...tableArgs(table)]);
  } catch (err) {
    const { stdout } = await run('ip', ['route', 'show', 'exact', cidr, ...tableArgs(table)], { timeout: 10_000 });
    if (new RegExp(`\\bdev ${dev}\\b`).test(stdout)) return;
    if (stdout.trim()) throw new NetConfigError(`AllowedIPs ${cidr}: a route for it already exists (${stdout.trim()}); remove it or narrow AllowedIPs`);
    throw err;
  }
}

/**
 * A reload's new AllowedIPs: routes for the added prefixes first, then the
 * removed ones go, so a prefix that moves to a wider or narrower one is
 * never unrouted meanwhile. A route that cannot be added or removed is
 * named in the result and the rest go ahead (the packet checks follow the
 * config either way). Returns what failed, one line each.
 */
export async function changeRoutes(dev: string, before: readonly string[], after: readonly string[], table?: number | 'main'): Promise<string[]> {
  const failed: string[] = [];
  for (const r of after.filter((c) => !before.includes(c))) {
    await addRoute(r, dev, table).catch((err: Error) => failed.push(err.message));
  }
  for (const r of before.filter((c) => !after.includes(c))) {
    // None through our device (one that could not be added): nothing to remove.
    await ip(['route', 'del', r, 'dev', dev, ...tableArgs(table)]).catch((err: Error) => /No such process/.test(err.message) || failed.push(err.message));
  }
  return failed;
}

/** Whether an interface of that name exists in this network namespace. */
export async function interfaceExists(name: string): Promise<boolean> {
  try {
    await run('ip', ['link', 'show', 'dev', name], { timeout: 10_000 });
    return true;
  } catch {
    return false;
  }
}
