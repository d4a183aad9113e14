// Hostile TCP clients for a sealtun TCP listener, for SECONDS seconds:
//   node tcp-garbage.js HOST PORT SECONDS [SOURCE...]
// (SOURCE: local addresses to connect from, taken in turn; default: any).
// Keeps up to 32 connections open at once, each doing one bad thing: random
// bytes, a frame length beyond any bound, a well-framed but forged handshake,
// or nothing at all (it must be closed for not completing a handshake).
// Prints one JSON line: how many connections were made and how many the
// daemon closed on its own.
import { randomBytes } from 'node:crypto';
import { connect } from 'node:net';

const [host, port, seconds, ...sources] = process.argv.slice(2);
const end = Date.now() + Number(seconds) * 1000;
let opened = 0;
let closedByPeer = 0;
let open = 0;
const MAX_OPEN = 32;

function one(kind: number): void {
  open++;
  opened++;
  const localAddress = sources.length > 0 ? sources[opened % sources.length] : undefined;
  const sock = connect({ host: host!, port: Number(port), ...(localAddress ? { localAddress } : {}) });
  let mine = false;
  sock.on('connect', () => {
    if (kind === 0) sock.write(randomBytes(4096));
    else if (kind === 1) sock.write(Buffer.from([0xff, 0xff, 1, 2, 3]));
    else if (kind === 2) {
      const m = randomBytes(152);
      m[0] = 1;
      m[1] = m[2] = m[3] = 0;
      sock.write(Buffer.concat([Buffer.from([0, 152]), m]));
    } // kind 3: idle
    setTimeout(() => {
      mine = true;
      sock.destroy();
    }, 3000);
  });
  sock.on('error', () => {});
  sock.on('close', () => {
    if (!mine) closedByPeer++;
    open--;
    if (Date.now() < end) setTimeout(() => one((kind + 1) % 4), 5);
  });
}

for (let i = 0; i < MAX_OPEN; i++) one(i % 4);
const timer = setInterval(() => {
  if (Date.now() >= end && open === 0) {
    clearInterval(timer);
    process.stdout.write(`${JSON.stringify({ opened, closedByPeer })}\n`);
    process.exit(0);
  }
}, 100);
