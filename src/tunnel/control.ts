// The daemon's control socket: a unix stream socket (mode 0600, so only root
// reads it) answering one JSON request per connection with one JSON line.
// `identify` is answered here, with this process's pid and start time: what
// `down` checks before it signals anything (see process-identity.ts).
import { chmodSync, unlinkSync } from 'node:fs';
import { createConnection, createServer, type Server } from 'node:net';
import { ownIdentity } from './process-identity.js';

export type ControlRequest = { cmd: 'status' } | { cmd: 'identify' };

export function serveControl(path: string, handle: (req: { cmd: 'status' }) => unknown): Promise<Server> {
  const identity = ownIdentity();
  try {
    unlinkSync(path); // left by a daemon that was killed
  } catch {
    /* not there */
  }
  const server = createServer((sock) => {
    let buf = '';
    sock.setEncoding('utf8');
    sock.on('data', (chunk: string) => {
      buf += chunk;
      if (buf.length > 4096) {
        sock.destroy();
        return;
      }
      const nl = buf.indexOf('\n');
      if (nl < 0) return;
      let reply: unknown;
      try {
        const req = JSON.parse(buf.slice(0, nl)) as ControlRequest;
        reply = req.cmd === 'identify' ? identity : handle(req);
      } catch (err) {
        reply = { error: (err as Error).message };
      }
      sock.end(JSON.stringify(reply) + '\n');
    });
    sock.on('error', () => sock.destroy());
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(path, () => {
      chmodSync(path, 0o600);
      resolve(server);
    });
  });
}

/** Sends one request to a daemon's control socket and returns its reply. */
export function queryControl(path: string, req: ControlRequest, timeoutMs = 3000): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const sock = createConnection(path);
    let buf = '';
    const timer = setTimeout(() => {
      sock.destroy();
      reject(new Error(`${path}: no reply within ${timeoutMs} ms`));
    }, timeoutMs);
    sock.setEncoding('utf8');
    sock.on('connect', () => sock.write(JSON.stringify(req) + '\n'));
    sock.on('data', (c: string) => (buf += c));
    sock.on('end', () => {
      clearTimeout(timer);
      try {
        resolve(JSON.parse(buf));
      } catch {
        reject(new Error(`${path}: malformed reply`));
      }
    });
    sock.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
  });
}
