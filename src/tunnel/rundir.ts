// Where a running tunnel leaves its pid file, control socket and log:
// /run/sealtun/NAME.{pid,sock,log}. SEALTUN_RUN_DIR moves them (tests use a
// private directory so they never meet a tunnel the operator runs).
import { join } from 'node:path';

export function runDir(): string {
  return process.env['SEALTUN_RUN_DIR'] ?? '/run/sealtun';
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
