// A unix datagram socket standing in for systemd's notify socket (socat
// receives; the test reads what arrived).
import { spawn, type ChildProcess } from 'node:child_process';

/** Listens at `address` (a socat address: UNIX-RECV:PATH or ABSTRACT-RECV:NAME); kill `child` when done. */
export function notifySocket(address: string): { child: ChildProcess; received: () => string } {
  let got = '';
  const child = spawn('socat', ['-u', address, 'STDOUT'], { stdio: ['ignore', 'pipe', 'inherit'] });
  child.stdout!.on('data', (d: Buffer) => (got += d.toString()));
  return { child, received: () => got };
}
