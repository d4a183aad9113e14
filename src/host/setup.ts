// Everything a tunnel changes on the host outside its own interface, in
// the order it is done and undone (plan: PreUp hooks → interface → routes
// and rules → kill switch → DNS → PostUp hooks; on the way down PreDown →
// DNS → routes and rules → PostDown, the kill switch only on `down`). Each
// step records what it changes in the ledger (ledger.ts) before changing it,
// and its undo works from the ledger alone, so any root process can undo
// what a dead daemon left. One flat list of steps per direction: each
// concern's module (policy-routing.ts, kill-switch.ts, dns.ts, hooks.ts)
// adds its line.
import type { TunnelConfig } from '../config/config.js';
import type { Logger } from '../log.js';
import { applyDns, dnsMethodFor, restoreDns } from './dns.js';
import { runPostDown, runPostUp, runPreDown, runPreUp } from './hooks.js';
import { installKillSwitch, removeKillSwitch, updateKillSwitchEndpoints } from './kill-switch.js';
import { applyPolicyRouting, undoPolicyRouting } from './policy-routing.js';

/** Before the interface exists: refuses what this host cannot apply (DNS without a tool), then PreUp. */
export async function prepareHost(config: TunnelConfig, log: Logger): Promise<void> {
  dnsMethodFor(config);
  await runPreUp(config, log);
}

/** Called once the interface is configured (addresses, routes); on failure the caller undoes with undoHost. */
export async function applyHost(config: TunnelConfig, log: Logger): Promise<void> {
  await applyPolicyRouting(config, log);
  await installKillSwitch(config, log);
  await applyDns(config, log);
  await runPostUp(config, log);
}

/**
 * The undo steps that need the interface still there: PreDown, then DNS
 * (resolvectl forgets a link that is gone). The daemon's own stop calls
 * this before it closes the TUN, `sealtun down` before it signals a daemon
 * that dropped root; undoHost runs whatever is left of them.
 */
export async function beforeInterfaceGoes(name: string, log: Logger): Promise<string[]> {
  return [...(await runPreDown(name, log)), ...(await restoreDns(name, log))];
}

export interface UndoOptions {
  /** The daemon's own stop and `up`'s clean-up keep the kill switch: only `down` lifts it. */
  keepKillSwitch: boolean;
}

/**
 * Undoes what the ledger of `name` records (absent is fine; run twice, the
 * second does nothing). Returns what it removed, one line each. Needs root:
 * a daemon that dropped privileges leaves this to `sealtun down`.
 */
export async function undoHost(name: string, log: Logger, opts: UndoOptions): Promise<string[]> {
  const undone: string[] = [];
  undone.push(...(await beforeInterfaceGoes(name, log)));
  undone.push(...(await undoPolicyRouting(name, log)));
  if (!opts.keepKillSwitch) undone.push(...(await removeKillSwitch(name)));
  undone.push(...(await runPostDown(name, log)));
  for (const u of undone) log.info(`removed ${u}`);
  return undone;
}

/** After a reload or `set` changed the peers: what depends on their endpoints follows. */
export async function refreshHost(config: TunnelConfig, peers: TunnelConfig['peers'], log: Logger): Promise<void> {
  await updateKillSwitchEndpoints(config, peers, log);
}
