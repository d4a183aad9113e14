// PreUp, PostUp, PreDown and PostDown: the operator's shell commands, run
// as wg-quick runs them: `/bin/sh -c COMMAND` with every %i replaced by the
// interface name, in file order, each key's output in the log.
//
// Which process runs them (docs/operations.md, "DNS and hooks"):
// - PreUp and PostUp: the daemon, as root, before any privilege drop.
//   A failing one stops `up`: what was done is undone (the down hooks are
//   not run, as wg-quick does not: nothing was up) and the hook's output is
//   the error.
// - PreDown and PostDown are written into the ledger (ledger.ts) once PostUp
//   has passed, expanded, and each is taken out of it just before it runs,
//   so no process runs one twice. A daemon still root at its stop runs them
//   itself (PreDown while the interface is there, PostDown after it went).
//   One that dropped root cannot: `sealtun down` runs PreDown before it
//   signals the daemon and PostDown once the daemon is gone. After a crash
//   the interface is already gone; `sealtun down` or the next `up` of the
//   same Name runs what the ledger still holds (PreDown, then PostDown), so
//   what PostUp set up is still taken down.
import type { Hooks, TunnelConfig } from '../config/config.js';
import type { Logger } from '../log.js';
import { readLedger, recordInLedger } from './ledger.js';
import { runCommand } from './run-command.js';

export type HookKey = 'PreUp' | 'PostUp' | 'PreDown' | 'PostDown';

/** A PreUp or PostUp hook failed: the message is what the user sees, the hook's output included. */
export class HookError extends Error {
  override readonly name = 'HookError';
}

/** The ledger's section for the down hooks: commands with %i already replaced. */
interface HooksLedger {
  preDown: string[];
  postDown: string[];
}
const SECTION = 'hooks';

/** %i → the interface name, every occurrence (wg-quick's `${hook//%i/$INTERFACE}`). */
export function expandHook(command: string, iface: string): string {
  return command.replaceAll('%i', iface);
}

/** The hooks of a config with %i replaced, as `check` shows and `up` runs them. */
export function expandedHooks(config: TunnelConfig): Hooks {
  const name = config.iface.name;
  const { preUp, postUp, preDown, postDown } = config.iface.hooks;
  const expand = (list: string[]) => list.map((c) => expandHook(c, name));
  return { preUp: expand(preUp), postUp: expand(postUp), preDown: expand(preDown), postDown: expand(postDown) };
}

/** Output lines kept in an error message: the end of a long output is where the reason usually is. */
const ERROR_OUTPUT_LINES = 20;

/**
 * Runs `commands` one after the other, logging each and its output.
 * 'abort': the first failure stops the rest and is thrown as a HookError
 * carrying its output. 'continue' (the down hooks): a failure is logged and
 * the next command still runs; the tunnel goes down regardless.
 */
async function runHooks(key: HookKey, commands: readonly string[], iface: string, log: Logger, onFailure: 'abort' | 'continue'): Promise<void> {
  for (const command of commands) {
    log.info(`${key}: ${command}`);
    const r = await runCommand(['/bin/sh', '-c', command]);
    const lines = r.output.split('\n').filter((l, i, all) => l !== '' || i < all.length - 1);
    for (const l of lines) log.info(`${key}: | ${l}`);
    if (r.code === 0) continue;
    const how = r.startError ? `could not start /bin/sh (${r.startError})` : r.timedOut ? 'ran too long and was killed (with every process it started)' : r.signal ? `was killed by ${r.signal}` : `exited with code ${r.code}`;
    const message = `${iface}: ${key} hook ${how}: ${command}`;
    if (onFailure === 'continue') {
      log.error(message);
      continue;
    }
    const shown = lines.slice(-ERROR_OUTPUT_LINES);
    const output = shown.length === 0 ? ' (no output)' : `; its output${lines.length > shown.length ? ` (last ${shown.length} lines)` : ''}:\n${shown.map((l) => `  ${l}`).join('\n')}`;
    throw new HookError(`${message}${output}`);
  }
}

/** PreUp, before the interface exists. Throws HookError when one fails. */
export async function runPreUp(config: TunnelConfig, log: Logger): Promise<void> {
  await runHooks('PreUp', expandedHooks(config).preUp, config.iface.name, log, 'abort');
}

/**
 * PostUp, the last step of `up`; then PreDown and PostDown go into the
 * ledger, for whichever root process takes the tunnel down. Throws
 * HookError when one fails (the down hooks are then not recorded).
 */
export async function runPostUp(config: TunnelConfig, log: Logger): Promise<void> {
  const hooks = expandedHooks(config);
  await runHooks('PostUp', hooks.postUp, config.iface.name, log, 'abort');
  if (hooks.preDown.length + hooks.postDown.length > 0) {
    recordInLedger(config.iface.name, SECTION, { preDown: hooks.preDown, postDown: hooks.postDown } satisfies HooksLedger);
  }
}

function downHooks(name: string): HooksLedger {
  const v = readLedger(name)[SECTION] as Partial<HooksLedger> | undefined;
  const list = (l: unknown) => (Array.isArray(l) ? l.filter((c): c is string => typeof c === 'string') : []);
  return { preDown: list(v?.preDown), postDown: list(v?.postDown) };
}

/**
 * The recorded PreDown hooks of `name`, if still there: taken out of the
 * ledger first (a crash midway skips them rather than running them twice),
 * then run. Needs root, as every ledger change does.
 */
export async function runPreDown(name: string, log: Logger): Promise<string[]> {
  const { preDown, postDown } = downHooks(name);
  if (preDown.length === 0) return [];
  recordInLedger(name, SECTION, postDown.length > 0 ? { preDown: [], postDown } : undefined);
  await runHooks('PreDown', preDown, name, log, 'continue');
  return [`PreDown hooks from the ledger (${preDown.length} run)`];
}

/** The recorded PostDown hooks of `name`, as runPreDown does with PreDown; the section goes with them. */
export async function runPostDown(name: string, log: Logger): Promise<string[]> {
  if (!(SECTION in readLedger(name))) return [];
  const { postDown } = downHooks(name);
  recordInLedger(name, SECTION, undefined);
  await runHooks('PostDown', postDown, name, log, 'continue');
  return postDown.length === 0 ? [] : [`PostDown hooks from the ledger (${postDown.length} run)`];
}
