// Re-injects recorded traffic from inside a namespace, as an attacker on the path would.
//   node inject.js udp HOST PORT RECORDS   each length-prefixed record as one datagram
//   node inject.js tcp HOST PORT STREAM    the bytes on a fresh connection, then a second to settle
import { createSocket } from 'node:dgram';
import { readFileSync } from 'node:fs';
import { connect } from 'node:net';

const [mode, host, port, file] = process.argv.slice(2);
const data = readFileSync(file!);
if (mode === 'udp') {
  const s = createSocket('udp4');
  const sendAll = async (): Promise<void> => {
    for (let at = 0; at + 4 <= data.length; ) {
      const len = data.readUInt32BE(at);
      const msg = data.subarray(at + 4, at + 4 + len);
      at += 4 + len;
      await new Promise<void>((r) => s.send(msg, Number(port), host, () => r()));
    }
    s.close();
  };
  void sendAll();
} else {
  const sock = connect({ host: host!, port: Number(port) }, () => {
    sock.write(data);
    setTimeout(() => sock.destroy(), 1000);
  });
  sock.on('error', () => process.exit(0)); // the daemon may close it: that is fine
}
