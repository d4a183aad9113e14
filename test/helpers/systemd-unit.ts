// contrib/systemd/sealtun@.service without systemd: its command lines, run
// in the environment it gives them (root, but only the capabilities of
// CapabilityBoundingSet, NoNewPrivileges, and /proc mounted with
// hidepid=invisible as ProtectProc=invisible does), so a test can run
// ExecReload and ExecStop as the unit would.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO, SEALTUN } from './tunnel-pair.js';

const UNIT = join(REPO, 'contrib', 'systemd', 'sealtun@.service');

/** The value of `key=` in the unit (the last one, as systemd takes it). */
export function unitSetting(key: string): string {
  const lines = readFileSync(UNIT, 'utf8').split('\n').filter((l) => l.startsWith(`${key}=`));
  if (lines.length === 0) throw new Error(`${UNIT}: no ${key}=`);
  return lines.at(-1)!.slice(key.length + 1).trim();
}

/**
 * A command line of the unit with its specifiers filled in: %i, $MAINPID,
 * /usr/local/bin/sealtun (this checkout's CLI) and /etc/sealtun/ (`configDir`).
 */
export function unitCommand(key: 'ExecStart' | 'ExecReload' | 'ExecStop', v: { instance: string; mainPid: number; configDir: string }): string[] {
  return unitSetting(key)
    .split(/\s+/)
    .flatMap((word) => {
      const w = word.replaceAll('%i', v.instance).replaceAll('$MAINPID', String(v.mainPid)).replace(/^\/etc\/sealtun\//, `${v.configDir}/`);
      return w === '/usr/local/bin/sealtun' ? [process.execPath, SEALTUN] : [w];
    });
}

/** `argv` wrapped to run as the unit runs its commands (see the top of this file). */
export function asUnitRuns(argv: string[]): string[] {
  const caps = unitSetting('CapabilityBoundingSet')
    .split(/\s+/)
    .map((c) => `+${c.replace(/^CAP_/, '').toLowerCase()}`);
  const noNewPrivs = unitSetting('NoNewPrivileges') === 'yes' ? ['--no-new-privs'] : [];
  const hidepid = unitSetting('ProtectProc') === 'invisible' ? 'mount -t proc -o hidepid=invisible proc /proc && ' : '';
  return [
    'unshare', '--mount', '--propagation', 'private', '--',
    'sh', '-c', `${hidepid}exec setpriv --bounding-set=-all,${caps.join(',')} --inh-caps=-all ${noNewPrivs.join(' ')} -- "$@"`,
    'sh', ...argv,
  ];
}
