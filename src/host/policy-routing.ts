// Where AllowedIPs are routed (Table) and the full tunnel (a default route
// in AllowedIPs), done the way wg-quick does it:
//
//   the tunnel's own sockets carry a mark (SO_MARK, FwMark, 51820 unless set)
//   ip route add default dev TUN table T          (T = the mark, as wg-quick)
//   ip rule add not fwmark M table T               (unmarked traffic: the tunnel)
//   ip rule add table main suppress_prefixlength 0 (but the main table's more
//                                                   specific routes win: the LAN,
//                                                   the endpoint's own subnet)
//
// so the sealed packets (marked) still leave by the main table's default
// route, and the operator's default route is never touched. Rules outlive
// the interface, so each is written into the ledger (ledger.ts) before it is
// added, and removed from there by whichever root process comes next.
import { readFileSync, writeFileSync } from 'node:fs';
import type { TunnelConfig } from '../config/config.js';
import { ip, NetConfigError } from '../tun/netconfig.js';
import type { Logger } from '../log.js';
import { readLedger, recordInLedger } from './ledger.js';

/** wg-quick's default mark and table for a full tunnel. */
export const DEFAULT_FWMARK = 51820;
/** The kernel's main routing table (ip route's default). */
const MAIN_TABLE = 254;

export interface RoutingPlan {
  /** Prefixes routed through the interface as any other route (everything but a full tunnel's default routes). */
  routes: string[];
  /** The table those go into: 'main' unless Table = NUMBER; null with Table = off (no routes at all). */
  routeTable: number | 'main' | null;
  /** A full tunnel: the default routes of these IP versions go by policy rules into `table`. */
  policy: { mark: number; table: number; families: Array<4 | 6> } | null;
  /** The mark on the tunnel's own UDP socket and TCP listener, if any (the kill switch lets marked packets out). */
  socketMark: number | null;
  /**
   * The mark on the TCP connections the tunnel makes. null when only the
   * kill switch asks for a mark: a connection goes to a peer's endpoint,
   * which the kill switch lets out by its set, and one made after a
   * privilege drop could not be marked (SO_MARK needs CAP_NET_ADMIN).
   */
  connectMark: number | null;
}

/** What Table, FwMark and KillSwitch make of the peers' AllowedIPs (wg-quick's rules; see the top of this file). */
export function routingPlan(config: TunnelConfig): RoutingPlan {
  const { table, fwMark, killSwitch } = config.iface;
  const prefixes = config.peers.flatMap((p) => p.allowedIPs);
  const configuredMark = typeof fwMark === 'number' ? fwMark : null;
  // The kill switch lets the tunnel's own packets out by their mark (kill-switch.ts); config.ts refuses FwMark = off with it.
  const marks = (policyMark: number | null) => {
    const connectMark = policyMark ?? configuredMark;
    return { socketMark: connectMark ?? (killSwitch ? DEFAULT_FWMARK : null), connectMark };
  };
  if (table === 'off') return { routes: [], routeTable: null, policy: null, ...marks(null) };
  if (table !== 'auto') {
    return { routes: prefixes.map((c) => c.text), routeTable: table === MAIN_TABLE ? 'main' : table, policy: null, ...marks(null) };
  }
  const families = policyFamilies(config.peers);
  const routes = prefixes.filter((c) => c.prefix !== 0).map((c) => c.text);
  if (families.length === 0) return { routes, routeTable: 'main', policy: null, ...marks(null) };
  // config.ts refuses FwMark = off here: without a mark the sealed packets would loop into the tunnel.
  const mark = configuredMark ?? DEFAULT_FWMARK;
  return { routes, routeTable: 'main', policy: { mark, table: mark, families: [...families] }, ...marks(mark) };
}

/** The IP versions whose default route (0.0.0.0/0, ::/0) is in some peer's AllowedIPs: those Table = auto routes by policy rules. */
export function policyFamilies(peers: Readonly<TunnelConfig['peers']>): Array<4 | 6> {
  const prefixes = peers.flatMap((p) => p.allowedIPs);
  return ([4, 6] as const).filter((f) => prefixes.some((c) => c.prefix === 0 && c.family === f));
}

/**
 * Why a reload or `set` that takes the peers from `running` to `next`
 * needs a restart, or null: with Table = auto, which IP versions a full
 * tunnel routes by policy rules is decided at start (the rules, the table's
 * default route and src_valid_mark are set up as root then), so adding or
 * removing 0.0.0.0/0 or ::/0 would half-apply.
 */
export function policyChange(config: TunnelConfig, running: Readonly<TunnelConfig['peers']>, next: Readonly<TunnelConfig['peers']>): string | null {
  if (config.iface.table !== 'auto') return null;
  const text = (families: Array<4 | 6>) => families.map((f) => (f === 4 ? '0.0.0.0/0' : '::/0')).join(', ') || 'none';
  const before = text(policyFamilies(running));
  const after = text(policyFamilies(next));
  if (before === after) return null;
  return `AllowedIPs: the default routes of the full tunnel change (${before} -> ${after}); Table = auto installs their policy rules at start, so that takes a restart (sealtun down, then up)`;
}

/** One `ip -4|-6 rule` selector, as added and as deleted. */
interface RuleRecord {
  family: 4 | 6;
  selector: string[];
}

/**
 * The ledger's section for this file: the rules added. (A ledger written by
 * an earlier version may also hold `srcValidMarkBefore`: ignored, see below.)
 */
interface PolicyLedger {
  rules: RuleRecord[];
}
const SECTION = 'policyRouting';

/**
 * Makes the packets coming back to a marked socket pass reverse-path
 * filtering, which otherwise looks up their source without the mark and
 * finds the tunnel. Per network namespace. Set to 1 and never put back, as
 * wg-quick does: a second full tunnel (another FwMark) may still need it
 * when the first goes down, and putting it back is one more write that can
 * fail (a read-only /proc/sys) and leave `down` stuck.
 */
const SRC_VALID_MARK = '/proc/sys/net/ipv4/conf/all/src_valid_mark';

/** Sets src_valid_mark to 1 unless it is; a failure is an error that names the sysctl, and nothing is recorded. */
function setSrcValidMark(): void {
  try {
    if (readFileSync(SRC_VALID_MARK, 'utf8').trim() !== '1') writeFileSync(SRC_VALID_MARK, '1\n');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const hint = code === 'EROFS' ? ' (/proc/sys is read-only: under systemd, ProtectKernelTunables=yes does that; see contrib/systemd/sealtun@.service)' : '';
    throw new NetConfigError(`a full tunnel over IPv4 needs net.ipv4.conf.all.src_valid_mark=1: ${SRC_VALID_MARK}: ${code ?? (err as Error).message}${hint}`);
  }
}

/** The lines `check` prints for a plan: routes, rules, the mark. */
export function describePlan(plan: RoutingPlan, dev: string): string[] {
  const lines: string[] = [];
  const table = plan.routeTable === null || plan.routeTable === 'main' ? '' : ` table ${plan.routeTable}`;
  for (const r of plan.routes) lines.push(`ip route add ${r} dev ${dev}${table}`);
  if (plan.routeTable === null) lines.push('no routes (Table = off)');
  if (plan.policy) {
    for (const f of plan.policy.families) {
      lines.push(`ip -${f} route add default dev ${dev} table ${plan.policy.table}`);
      for (const r of policyRules(plan.policy, f)) lines.push(`ip -${f} rule add ${r.selector.join(' ')}`);
    }
    if (plan.policy.families.includes(4)) lines.push('sysctl net.ipv4.conf.all.src_valid_mark=1 (kept on down, as wg-quick)');
  }
  const hex = (m: number) => `${m} (0x${m.toString(16)})`;
  if (plan.socketMark === null) lines.push('socket mark: none');
  else if (plan.connectMark === plan.socketMark) lines.push(`socket mark: ${hex(plan.socketMark)} on the tunnel's UDP and TCP sockets`);
  else lines.push(`socket mark: ${hex(plan.socketMark)} on the tunnel's UDP socket and TCP listener (for the kill switch; its TCP connections go to an endpoint unmarked)`);
  return lines;
}

function policyRules(policy: NonNullable<RoutingPlan['policy']>, family: 4 | 6): RuleRecord[] {
  return [
    { family, selector: ['not', 'fwmark', String(policy.mark), 'table', String(policy.table)] },
    { family, selector: ['table', 'main', 'suppress_prefixlength', '0'] },
  ];
}

/**
 * A full tunnel's default routes and rules, each rule recorded before it
 * is added. (A crash between the record and the add leaves a record of a
 * rule never added; undoing it then deletes an identical rule if one
 * exists, e.g. wg-quick's suppress rule: a window of one `ip` call.)
 */
export async function applyPolicyRouting(config: TunnelConfig, log: Logger): Promise<void> {
  const { policy } = routingPlan(config);
  if (!policy) return;
  const name = config.iface.name;
  const ledger: PolicyLedger = { rules: [] };
  if (policy.families.includes(4)) setSrcValidMark();
  for (const f of policy.families) {
    await ip([`-${f}`, 'route', 'add', 'default', 'dev', name, 'table', String(policy.table)]).catch((err: Error) => {
      if (!/File exists/.test(err.message)) throw err;
      throw new NetConfigError(`${err.message}: table ${policy.table} already has a default route (another full tunnel, or wg-quick?); set FwMark to another number`);
    });
    for (const rule of policyRules(policy, f)) {
      ledger.rules.push(rule);
      recordInLedger(name, SECTION, ledger);
      await ip([`-${f}`, 'rule', 'add', ...rule.selector]);
    }
  }
  log.info(`full tunnel: ${policy.families.map((f) => (f === 4 ? '0.0.0.0/0' : '::/0')).join(', ')} via table ${policy.table}, own packets marked ${policy.mark}`);
}

/** Removes what the ledger says was added (absent is fine); returns what it removed, one line each. */
export async function undoPolicyRouting(name: string, log: Logger): Promise<string[]> {
  const ledger = readLedger(name)[SECTION] as PolicyLedger | undefined;
  if (!ledger) return [];
  const done: string[] = [];
  const kept: RuleRecord[] = [];
  for (const rule of [...ledger.rules].reverse()) {
    try {
      await ip([`-${rule.family}`, 'rule', 'del', ...rule.selector]);
      done.push(`ip -${rule.family} rule ${rule.selector.join(' ')}`);
    } catch (err) {
      // Absent is fine (undone before, or never added); anything else stays recorded for the next try.
      if (err instanceof NetConfigError && /No such file or directory/.test(err.message)) continue;
      log.warn(`could not remove ip -${rule.family} rule ${rule.selector.join(' ')}: ${(err as Error).message}`);
      kept.unshift(rule);
    }
  }
  recordInLedger(name, SECTION, kept.length > 0 ? { rules: kept } : undefined);
  return done;
}
