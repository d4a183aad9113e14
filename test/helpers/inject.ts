// Re-injects recorded traffic from inside a namespace, as an attacker on the path would.
//   node inject.js udp HOST PORT RECORDS   each length-prefixed record as one datagram
//   node inject.js tcp HOST PORT STREAM    the bytes on a fresh connection, then a second to settle
//   node inject.js from ADDR PORT          sends from ADDR:PORT (a spoofed source) each stdin line
//                                          "HOST PORT HEX" as one datagram; prints "sent" for each
import { createSocket } from 'node:dgram';
import { readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { createInterface } from 'node:readline';

const [mode, host, port, file] = process.argv.slice(2);
if (mode === 'from') {
  const s = createSocket('udp4');
  s.bind(Number(port), host, () => {
    process.stdout.write('ready\n');
    createInterface({ input: process.stdin }).on('line', (line) => {
      const [to, toPort, hex] = line.trim().split(/\s+/);
      s.send(Buffer.from(hex!, 'hex'), Number(toPort), to, () => process.stdout.write('sent\n'));
    });
  });
  // What the tunnel sends to the spoofed address arrives here and is ignored.
  s.on('message', () => {});
  process.stdin.on('end', () => s.close());
} else if (mode === 'udp') {
  const data = readFileSync(file!);
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
  const data = readFileSync(file!);
  const sock = connect({ host: host!, port: Number(port) }, () => {
    sock.write(data);
    setTimeout(() => sock.destroy(), 1000);
  });
  sock.on('error', () => process.exit(0)); // the daemon may close it: that is fine
}
