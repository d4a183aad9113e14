// Hostile TCP clients for a sealtun TCP listener, for SECONDS seconds:
//   node tcp-garbage.js HOST PORT SECONDS [--mac1 PUBFILE] [SOURCE...]
// (SOURCE: local addresses to connect from, taken in turn; default: any).
// Keeps up to 32 connections open at once, each doing one bad thing: random
// bytes, a frame length beyond any bound, a well-framed but forged handshake,
// or nothing at all (it must be closed for not completing a handshake).
// With --mac1 (the listener's public key: what anyone who knows it can do)
// it instead keeps 2 connections from each SOURCE, each sending an
// initiation with a valid mac1 and random contents at once and every 4 s,
// and reconnecting when closed (at once, or 4 s after it connected).
// Prints one JSON line: how many connections were made and how many the
// daemon closed on its own.
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { decodeKey } from '../../src/crypto/keys.js';
import { initSodium } from '../../src/crypto/sodium.js';
import { FRAME_HEADER_BYTES, writeFrameHeader } from '../../src/transport/framing.js';
import { INITIATION, MESSAGE_INITIATION, MESSAGE_INITIATION_BYTES, mac1Key, writeMac1, writeType } from '../../src/tunnel/messages.js';

const args = process.argv.slice(2);
const pubAt = args.indexOf('--mac1');
const pubFile = pubAt >= 0 ? args.splice(pubAt, 2)[1] : undefined;
const [host, port, seconds, ...sources] = args;
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

/** A framed initiation that passes mac1 and fails everything after it. */
function forgedInitiation(key: Uint8Array): Buffer {
  const m = randomBytes(MESSAGE_INITIATION_BYTES);
  writeType(m, MESSAGE_INITIATION);
  writeMac1(m, INITIATION.mac1, key);
  m.fill(0, INITIATION.mac2.offset);
  const frame = Buffer.alloc(FRAME_HEADER_BYTES + m.length);
  writeFrameHeader(frame, 0, m.length);
  m.copy(frame, FRAME_HEADER_BYTES);
  return frame;
}

function vouched(key: Uint8Array, localAddress: string): void {
  open++;
  opened++;
  const sock = connect({ host: host!, port: Number(port), localAddress });
  let timer: NodeJS.Timeout | null = null;
  const openedAt = Date.now();
  sock.on('connect', () => {
    sock.write(forgedInitiation(key));
    timer = setInterval(() => sock.write(forgedInitiation(key)), 4000);
  });
  sock.on('error', () => {});
  sock.on('close', () => {
    if (timer) clearInterval(timer);
    if (Date.now() < end) closedByPeer++;
    open--;
    // One initiation per connection slot every 4 s: closed sooner, it waits out the rest (a flood of such
    // initiations is what cookie replies are for); held longer (closed by the handshake timeout), it is back at once.
    if (Date.now() < end) setTimeout(() => vouched(key, localAddress), Math.max(5, 4000 - (Date.now() - openedAt)));
  });
  setTimeout(() => sock.destroy(), Math.max(0, end - Date.now()));
}

if (pubFile) {
  await initSodium();
  const key = mac1Key(decodeKey(readFileSync(pubFile, 'utf8'), 'pub', 'public key'));
  for (const s of sources) for (let i = 0; i < 2; i++) vouched(key, s);
} else {
  for (let i = 0; i < MAX_OPEN; i++) one(i % 4);
}
const timer = setInterval(() => {
  if (Date.now() >= end && open === 0) {
    clearInterval(timer);
    process.stdout.write(`${JSON.stringify({ opened, closedByPeer })}\n`);
    process.exit(0);
  }
}, 100);
