// One line per event on stderr, with a level. Never given secrets.

export type Level = 'error' | 'warn' | 'info' | 'debug';
const ORDER: Record<Level, number> = { error: 0, warn: 1, info: 2, debug: 3 };

export interface Logger {
  error(msg: string): void;
  warn(msg: string): void;
  info(msg: string): void;
  debug(msg: string): void;
}

export function createLogger(name: string, level: Level, out: NodeJS.WritableStream = process.stderr): Logger {
  const max = ORDER[level];
  const line = (l: Level) => (msg: string) => {
    if (ORDER[l] <= max) out.write(`${new Date().toISOString()} ${name} ${l}: ${msg}\n`);
  };
  return { error: line('error'), warn: line('warn'), info: line('info'), debug: line('debug') };
}
