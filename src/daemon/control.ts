// The daemon's control socket: a unix stream socket (mode 0600, so only root
// reads it) answering one JSON request per connection with one JSON line.
// `identify` is answered here, with this process's pid and start time: what
// `down` checks before it signals anything (see process-identity.ts); and
// whether it still runs as root, which decides who runs PreDown (hooks.ts).
// It stays reachable after the daemon drops to User=: the listening socket
// was made as root, and a client needs neither the daemon's /proc entry nor
// the right to signal it, so `down` and `reload` work from the systemd
// unit, whose commands lack CAP_KILL.
import { chmodSync, unlinkSync } from 'node:fs';
import { createConnection, createServer, type Server } from 'node:net';
import { ownIdentity } from './process-identity.js';

export type ControlRequest =
  | { cmd: 'status' }
  | { cmd: 'identify' }
  /** `view`: a ReloadView (reload.ts) read by the caller; absent: the daemon re-reads its config file. */
  | { cmd: 'reload'; view?: unknown }
  /** `peer`: a SetView (peer-set.ts), the pre-shared key read by the caller. */
  | { cmd: 'set'; peer: unknown }
  | { cmd: 'stop' };

/**
 * A reload request carries a whole config's view, about 250 bytes a peer:
 * room for some 100 000 peers. Only root can connect; the bound stops a
 * runaway client, not an attacker.
 */
const MAX_REQUEST_BYTES = 32 * 1024 * 1024;

/** What the daemon itself answers; `identify` never reaches it. */
export type DaemonRequest = Exclude<ControlRequest, { cmd: 'identify' }>;

export function serveControl(path: string, handle: (req: DaemonRequest) => unknown): Promise<Server> {
  const identity = ownIdentity();
  try {
    unlinkSync(path); // left by a daemon that was killed
  } catch {
    /* not there */
  }
  const server = createServer((sock) => {
    let buf = '';
    let answered = false; // one request per connection
    sock.setEncoding('utf8');
    sock.on('data', (chunk: string) => {
      if (answered) return;
      buf += chunk;
      if (buf.length > MAX_REQUEST_BYTES) {
        sock.destroy();
        return;
      }
      // Only the new chunk is searched: a large request arrives in many.
      const nl = chunk.indexOf('\n');
      if (nl < 0) return;
      const request = buf.slice(0, buf.length - chunk.length + nl);
      answered = true;
      void (async () => {
        let reply: unknown;
        try {
          const req = JSON.parse(request) as ControlRequest;
          reply = req.cmd === 'identify' ? { ...identity, root: process.getuid?.() === 0 } : await handle(req);
        } catch (err) {
          reply = { error: (err as Error).message };
        }
        sock.end(JSON.stringify(reply) + '\n');
      })();
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
