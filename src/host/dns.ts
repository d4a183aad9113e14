// DNS = ...: name servers and search domains for this interface while it is
// up, set the way the host manages its resolver:
// - systemd-resolved running (/run/systemd/resolve there, the service
//   active): `resolvectl dns IFACE …` and `resolvectl domain IFACE ~. …`
//   (the "~." routing domain sends every query to these servers, as
//   resolvconf's -x does below), undone with `resolvectl revert IFACE`;
// - otherwise resolvconf, as wg-quick calls it: `resolvconf -a PREFIX.IFACE
//   -m 0 -x` with the settings on stdin (metric 0, exclusive), undone with
//   `resolvconf -d PREFIX.IFACE -f`. PREFIX comes from Debian resolvconf's
//   interface-order (its first "NAME*" pattern, usually "tun"), so the
//   entry sorts where that file puts VPNs; openresolv has no such file and
//   takes the name as it is.
// Neither there: `up` refuses the config before it changes anything, and
// `sealtun check` says so.
//
// What was applied, and through which tool under which name, is written into
// the ledger (ledger.ts) before it is applied, so whichever root process
// comes next (the daemon's stop, `sealtun down`, the next `up`) restores it.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import type { DnsSettings, TunnelConfig } from '../config/config.js';
import type { Logger } from '../log.js';
import { readLedger, recordInLedger } from './ledger.js';
import { findProgram, runCommand } from './run-command.js';

export type DnsTool = 'resolvectl' | 'resolvconf';

/** A DNS setting could not be applied (or no tool is there to apply it). */
export class DnsError extends Error {
  override readonly name = 'DnsError';
}

/** How DNS is set on this host: the tool, its path, and the name it knows the interface by. */
export interface DnsMethod {
  tool: DnsTool;
  program: string;
  /** The interface's name for the tool: IFACE for resolvectl, PREFIX.IFACE for resolvconf. */
  target: string;
}

/** The ledger's section: what to revert, with which tool (its path may differ by then: found again). */
interface DnsLedger {
  tool: DnsTool;
  target: string;
}
const SECTION = 'dns';

/** What the host offers; a parameter so that tests can describe another host. */
export interface DnsHost {
  exists(path: string): boolean;
  program(name: string): string | null;
  /** Whether systemd says systemd-resolved is active (true when there is no systemctl to ask). */
  resolvedActive(): boolean;
  readFile(path: string): string | null;
}

export const THIS_HOST: DnsHost = {
  exists: existsSync,
  program: (name) => findProgram(name),
  resolvedActive: () => {
    const systemctl = findProgram('systemctl');
    return systemctl === null || spawnSync(systemctl, ['is-active', '--quiet', 'systemd-resolved.service'], { timeout: 5000 }).status === 0;
  },
  readFile: (path) => {
    try {
      return readFileSync(path, 'utf8');
    } catch {
      return null;
    }
  },
};

/** systemd-resolved keeps its runtime state here while it runs (wg-quick and NetworkManager test the same). */
const RESOLVED_RUN_DIR = '/run/systemd/resolve';
/** Debian resolvconf's ordering file (interface-order(5)); openresolv does not have one. */
const INTERFACE_ORDER = '/etc/resolvconf/interface-order';

/** The tool this host sets DNS with for interface `iface`, or null when it has neither. */
export function dnsMethod(iface: string, host: DnsHost = THIS_HOST): DnsMethod | null {
  const resolvectl = host.program('resolvectl');
  if (resolvectl !== null && host.exists(RESOLVED_RUN_DIR) && host.resolvedActive()) {
    return { tool: 'resolvectl', program: resolvectl, target: iface };
  }
  const resolvconf = host.program('resolvconf');
  if (resolvconf !== null) return { tool: 'resolvconf', program: resolvconf, target: `${resolvconfPrefix(host.readFile(INTERFACE_ORDER))}${iface}` };
  return null;
}

/** wg-quick's resolvconf_iface_prefix: "NAME." for the first "NAME*" line of interface-order, else nothing. */
export function resolvconfPrefix(interfaceOrder: string | null): string {
  for (const line of (interfaceOrder ?? '').split('\n')) {
    const m = /^([A-Za-z0-9-]+)\*$/.exec(line.trim());
    if (m) return `${m[1]}.`;
  }
  return '';
}

export function hasDns(dns: DnsSettings): boolean {
  return dns.servers.length + dns.searchDomains.length > 0;
}

/** What resolvconf reads on stdin: resolv.conf lines. */
export function resolvconfInput(dns: DnsSettings): string {
  const lines = dns.servers.map((s) => `nameserver ${s}`);
  if (dns.searchDomains.length > 0) lines.push(`search ${dns.searchDomains.join(' ')}`);
  return lines.map((l) => `${l}\n`).join('');
}

/** The commands that apply `dns` with `m`, each an argv and its stdin. */
export function applyCommands(m: DnsMethod, dns: DnsSettings): Array<{ argv: string[]; input: string }> {
  if (m.tool === 'resolvconf') return [{ argv: [m.program, '-a', m.target, '-m', '0', '-x'], input: resolvconfInput(dns) }];
  const commands = [];
  if (dns.servers.length > 0) commands.push({ argv: [m.program, 'dns', m.target, ...dns.servers], input: '' });
  commands.push({ argv: [m.program, 'domain', m.target, '~.', ...dns.searchDomains], input: '' });
  return commands;
}

/** The command that restores what `tool` applied under `target`. */
export function revertCommand(tool: DnsTool, program: string, target: string): string[] {
  return tool === 'resolvconf' ? [program, '-d', target, '-f'] : [program, 'revert', target];
}

const NO_DNS_TOOL =
  'DNS is set, but this host has neither systemd-resolved (resolvectl) running nor resolvconf; install openresolv (or resolvconf), or remove DNS';

/** The tool `up` would use, refusing a DNS setting this host cannot apply: called before anything changes. */
export function dnsMethodFor(config: TunnelConfig, host: DnsHost = THIS_HOST): DnsMethod | null {
  if (!hasDns(config.iface.dns)) return null;
  const m = dnsMethod(config.iface.name, host);
  if (m === null) throw new DnsError(`${config.file}: ${NO_DNS_TOOL}`);
  return m;
}

/** Applies DNS (recorded in the ledger first). Throws DnsError when the tool fails; the ledger then says what to revert. */
export async function applyDns(config: TunnelConfig, log: Logger): Promise<void> {
  const m = dnsMethodFor(config);
  if (m === null) return;
  const { dns, name } = config.iface;
  recordInLedger(name, SECTION, { tool: m.tool, target: m.target } satisfies DnsLedger);
  for (const { argv, input } of applyCommands(m, dns)) {
    const r = await runCommand(argv, { input });
    if (r.code !== 0) throw new DnsError(`${name}: DNS: ${argv.join(' ')} failed: ${r.startError ?? r.output.trim()}`);
  }
  log.info(`DNS ${[...dns.servers, ...dns.searchDomains].join(', ')} set with ${m.tool} for ${m.target}`);
}

/**
 * Restores what the ledger says DNS changed for `name`; nothing recorded is
 * fine. Returns what it undid, one line each. A tool that fails leaves the
 * entry for the next root process to try again (and is logged).
 */
export async function restoreDns(name: string, log: Logger, host: DnsHost = THIS_HOST): Promise<string[]> {
  const v = readLedger(name)[SECTION] as Partial<DnsLedger> | undefined;
  if (!v || (v.tool !== 'resolvconf' && v.tool !== 'resolvectl') || typeof v.target !== 'string') return [];
  const program = host.program(v.tool);
  if (program === null) {
    log.error(`${name}: DNS was set with ${v.tool}, which is no longer installed; it cannot be restored here`);
    return [];
  }
  const argv = revertCommand(v.tool, program, v.target);
  const r = await runCommand(argv);
  // resolved forgets a link's settings when the link goes, and then no longer knows its name: nothing left to revert.
  const gone = v.tool === 'resolvectl' && r.code !== 0 && !host.exists(`/sys/class/net/${v.target}`);
  if (r.code !== 0 && !gone) {
    log.error(`${name}: DNS: ${argv.join(' ')} failed: ${r.startError ?? r.output.trim()}`);
    return [];
  }
  recordInLedger(name, SECTION, undefined);
  return [`DNS settings of ${v.target} (${v.tool})`];
}

/** What `sealtun check` shows for DNS: the settings, and the commands `up` would run (or why it would refuse). */
export interface DnsPlan {
  servers: string[];
  searchDomains: string[];
  /** The commands, as a shell would show them; empty when DNS is not set. */
  commands: string[];
  /** Set when `up` would refuse: no tool on this host. */
  problem: string | null;
}

export function dnsPlan(config: TunnelConfig, host: DnsHost = THIS_HOST): DnsPlan {
  const { dns } = config.iface;
  const plan: DnsPlan = { servers: dns.servers, searchDomains: dns.searchDomains, commands: [], problem: null };
  if (!hasDns(dns)) return plan;
  const m = dnsMethod(config.iface.name, host);
  if (m === null) plan.problem = NO_DNS_TOOL;
  else plan.commands = applyCommands(m, dns).map(({ argv, input }) => `${argv.join(' ')}${input ? ` <<< '${input.trimEnd().replaceAll('\n', '\\n')}'` : ''}`);
  return plan;
}
