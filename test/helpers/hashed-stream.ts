// One TCP connection at full rate for a fixed time, hashed at both ends as it
// flows (nothing lands on disk), for soak tests:
//   node hashed-stream.js recv BIND_ADDR PORT      accepts one connection, reads it to the end
//   node hashed-stream.js send HOST PORT SECONDS   writes as fast as the socket takes it, then closes
// Each prints one JSON line {"bytes":N,"sha256":"…","seconds":S} and exits 0
// once the connection closed cleanly.
import { createHash, randomBytes } from 'node:crypto';
import { createServer, connect, type Socket } from 'node:net';

/** Random bytes the sender takes its writes from. */
const POOL = randomBytes(16 << 20);
const CHUNK = 64 << 10;
/**
 * Each write starts this far past the previous one (not a divisor of the
 * pool), so no two nearby writes carry the same bytes: a lost, repeated or
 * swapped write changes the hash, not just the count.
 */
const STRIDE = CHUNK + 4099;
/** A connection with no progress for this long fails the run. */
const IDLE_MS = 30_000;

interface Result {
  bytes: number;
  sha256: string;
  seconds: number;
}

function fail(message: string): never {
  process.stderr.write(`hashed-stream: ${message}\n`);
  process.exit(1);
}

function finish(sock: Socket, r: Result): void {
  sock.on('close', (hadError) => {
    if (hadError) fail('connection closed with an error');
    process.stdout.write(`${JSON.stringify(r)}\n`);
    process.exit(0);
  });
}

function receive(bind: string, port: number): void {
  const server = createServer((sock) => {
    server.close();
    const hash = createHash('sha256');
    const started = performance.now();
    let bytes = 0;
    sock.setTimeout(IDLE_MS, () => sock.destroy(new Error(`idle for ${IDLE_MS} ms`)));
    sock.on('data', (d: Buffer) => {
      hash.update(d);
      bytes += d.length;
    });
    sock.on('end', () => {
      finish(sock, { bytes, sha256: hash.digest('hex'), seconds: (performance.now() - started) / 1000 });
      sock.end();
    });
    sock.on('error', (err) => fail(err.message));
  });
  server.on('error', (err) => fail(err.message));
  server.listen(port, bind);
}

function send(host: string, port: number, seconds: number): void {
  const hash = createHash('sha256');
  const sock = connect({ host, port });
  sock.setTimeout(IDLE_MS, () => sock.destroy(new Error(`idle for ${IDLE_MS} ms`)));
  sock.on('error', (err) => fail(err.message));
  // Read (and discard) so the receiver's close is seen.
  sock.resume();
  let bytes = 0;
  let at = 0;
  let started = 0;
  const pump = (): void => {
    for (;;) {
      if (performance.now() - started >= seconds * 1000) {
        finish(sock, { bytes, sha256: hash.digest('hex'), seconds: (performance.now() - started) / 1000 });
        sock.end();
        return;
      }
      const chunk = POOL.subarray(at, at + CHUNK);
      at = (at + STRIDE) % (POOL.length - CHUNK);
      hash.update(chunk);
      bytes += chunk.length;
      if (!sock.write(chunk)) {
        sock.once('drain', pump);
        return;
      }
    }
  };
  sock.on('connect', () => {
    started = performance.now();
    pump();
  });
}

const [mode, host, port, seconds] = process.argv.slice(2);
if (mode === 'recv') receive(host!, Number(port));
else if (mode === 'send') send(host!, Number(port), Number(seconds));
else fail('usage: hashed-stream.js recv BIND_ADDR PORT | send HOST PORT SECONDS');
