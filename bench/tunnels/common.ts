// Small helpers shared by the tunnel drivers.
import { readFileSync } from 'node:fs';
import { run } from '../exec.js';

/** The MTU an interface actually got, or null if it cannot be read. */
export async function linkMtu(ns: string, dev: string): Promise<number | null> {
  const r = await run(['ip', '-o', 'link', 'show', 'dev', dev], { ns });
  const m = / mtu (\d+) /.exec(r.stdout);
  return m ? Number(m[1]) : null;
}

/** The last `lines` lines of a log file, labelled, or '' if there is none. */
export function tail(label: string, file: string, lines = 15): string {
  try {
    const text = readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
    return text ? `--- ${label} (${file})\n${text}\n` : '';
  } catch {
    return '';
  }
}
