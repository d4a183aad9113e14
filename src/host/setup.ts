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
import { installKillSwitch, removeKillSwitch, requireNft, updateKillSwitchEndpoints } from './kill-switch.js';
import { applyPolicyRouting, undoPolicyRouting } from './policy-routing.js';

/** Before the interface exists: refuses what this host cannot apply (DNS without a tool, a kill switch without nft), then PreUp. */
export async function prepareHost(config: TunnelConfig, log: Logger): Promise<void> {
  dnsMethodFor(config);
  requireNft(config);
  await runPreUp(config, log);
}

/** Called once the interface is configured (addresses, routes); on failure the caller undoes with undoHost. */
export async function applyHost(config: TunnelConfig, log: Logger): Promise<void> {
  await applyPolicyRouting(config, log);
  await installKillSwitch(config, log);
  await applyDns(config, log);
  await runPostUp(config, log);
}

/** Some undo steps failed (each named); the others ran, and what failed stays in the ledger for the next try. */
export class HostUndoError extends Error {
  override readonly name = 'HostUndoError';
}

type UndoStep = readonly [what: string, run: () => Promise<string[]>];

/**
 * Runs every step, also after one fails: a failing PreDown or a missing
 * tool must not leave the kill switch, the rules or PostDown behind. Logs
 * what each removed; throws one HostUndoError naming every failure, after
 * all ran.
 */
async function runUndoSteps(name: string, steps: readonly UndoStep[], log: Logger): Promise<string[]> {
  const undone: string[] = [];
  const failed: string[] = [];
  for (const [what, run] of steps) {
    try {
      undone.push(...(await run()));
    } catch (err) {
      const message = `${name}: undoing ${what}: ${(err as Error).message}`;
      log.error(message);
      failed.push(message);
    }
  }
  for (const u of undone) log.info(`removed ${u}`);
  if (failed.length > 0) throw new HostUndoError(failed.join('; '));
  return undone;
}

/** The undo steps that need the interface still there: PreDown, then DNS (resolvectl forgets a link that is gone). */
function stepsBeforeInterfaceGoes(name: string, log: Logger): UndoStep[] {
  return [
    ['PreDown', () => runPreDown(name, log)],
    ['DNS', () => restoreDns(name, log)],
  ];
}

/**
 * Those steps alone. The daemon's own stop calls this before it closes the
 * TUN, `sealtun down` before it signals a daemon that dropped root;
 * undoHost runs whatever is left of them.
 */
export function beforeInterfaceGoes(name: string, log: Logger): Promise<string[]> {
  return runUndoSteps(name, stepsBeforeInterfaceGoes(name, log), log);
}

export interface UndoOptions {
  /** The daemon's own stop and `up`'s clean-up keep the kill switch: only `down` lifts it. */
  keepKillSwitch: boolean;
}

/**
 * Undoes what the ledger of `name` records (absent is fine; run twice, the
 * second does nothing). Every step runs even when one before it failed
 * (then a HostUndoError names the failures, after all ran). Returns what it
 * removed, one line each. Needs root: a daemon that dropped privileges
 * leaves this to `sealtun down`.
 */
export function undoHost(name: string, log: Logger, opts: UndoOptions): Promise<string[]> {
  const steps: UndoStep[] = [
    ...stepsBeforeInterfaceGoes(name, log),
    ['routing rules', () => undoPolicyRouting(name, log)],
    ...(opts.keepKillSwitch ? [] : [['the kill switch', () => removeKillSwitch(name)] as const]),
    ['PostDown', () => runPostDown(name, log)],
  ];
  return runUndoSteps(name, steps, log);
}

/** After a reload or `set` changed the peers: what depends on their endpoints follows. */
export async function refreshHost(config: TunnelConfig, peers: TunnelConfig['peers'], log: Logger): Promise<void> {
  await updateKillSwitchEndpoints(config, peers, log);
}
