// Sends a file over one TCP connection at a steady rate (so a test can break
// things mid-transfer): node paced-send.js HOST PORT FILE BYTES_PER_SECOND.
// Exits 0 once every byte was written and the connection closed cleanly.
import { readFileSync } from 'node:fs';
import { connect } from 'node:net';

const [host, port, file, rate] = process.argv.slice(2);
const data = readFileSync(file!);
const chunk = 64 << 10;
const perTick = Math.max(chunk, Math.floor(Number(rate) / 20));
const sock = connect({ host: host!, port: Number(port) });
sock.setTimeout(120_000, () => sock.destroy(new Error('idle for 120 s')));
let at = 0;
sock.on('connect', function pump(): void {
  const end = Math.min(data.length, at + perTick);
  const ok = sock.write(data.subarray(at, end));
  at = end;
  if (at >= data.length) {
    sock.end();
    return;
  }
  if (ok) setTimeout(pump, 50);
  else sock.once('drain', () => setTimeout(pump, 50));
});
sock.on('error', (err) => {
  process.stderr.write(`paced-send: ${err.message}\n`);
  process.exit(1);
});
sock.on('close', (hadError) => process.exit(hadError ? 1 : 0));
