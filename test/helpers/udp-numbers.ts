// Numbered UDP datagrams through the tunnel, for replay tests.
//   node udp-numbers.js recv BIND_ADDR PORT        prints each datagram on its own line until SIGTERM
//   node udp-numbers.js send HOST PORT COUNT GAP_MS sends "n-0" .. "n-(COUNT-1)"
import { createSocket } from 'node:dgram';

const [mode, host, port, count, gap] = process.argv.slice(2);
if (mode === 'recv') {
  const s = createSocket('udp4');
  s.on('message', (m) => process.stdout.write(`${m.toString()}\n`));
  s.bind(Number(port), host, () => process.stderr.write('listening\n'));
  process.on('SIGTERM', () => s.close(() => process.exit(0)));
} else {
  const s = createSocket('udp4');
  let i = 0;
  const next = (): void => {
    if (i >= Number(count)) {
      s.close();
      return;
    }
    s.send(`n-${i++}`, Number(port), host, () => setTimeout(next, Number(gap)));
  };
  next();
}
