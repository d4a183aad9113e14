// A hostile sender for tests and measurements: floods a sealtun UDP port
// with forged handshake initiations (valid mac1 — the attacker knows the
// responder's public key — random everything else, so each one costs the
// responder the most it can), with keyless ones (initiations, responses and
// cookie replies of the right size and type, random mac1 and receiver index:
// what anyone can send; --types picks which, default 1,2) or with garbage of
// every message type.
//
//   node dist/bench/flood.js initiations|keyless|garbage --to ADDR:PORT [--bind ADDR]
//        [--pub FILE] [--types 1,2,3] [--seconds N] [--rate PER_SECOND (0: as fast as possible)]
//
// Messages leave in sendmmsg batches of 64. Prints one JSON line:
// {"mode", "sent", "seconds", "rate"}.
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { decodeKey } from '../src/crypto/keys.js';
import { initSodium } from '../src/crypto/sodium.js';
import * as libc from '../src/sys/libc.js';
import { encodeSockaddr, SOCKADDR_IN6_BYTES } from '../src/transport/sockaddr.js';
import {
  INITIATION,
  MESSAGE_COOKIE_REPLY,
  MESSAGE_COOKIE_REPLY_BYTES,
  MESSAGE_INITIATION,
  MESSAGE_INITIATION_BYTES,
  MESSAGE_RESPONSE,
  MESSAGE_RESPONSE_BYTES,
  mac1Key,
  writeMac1,
  writeType,
} from '../src/tunnel/messages.js';

const BATCH = 64;
/** Distinct messages cycled through (so nothing upstream can cache one answer). */
const DISTINCT = 1024;
const MAX_BYTES = 1500;

function arg(name: string, fallback?: string): string {
  const i = process.argv.indexOf(`--${name}`);
  const v = i >= 0 ? process.argv[i + 1] : fallback;
  if (v === undefined) throw new Error(`--${name} is required`);
  return v;
}

function split(hostPort: string): { address: string; port: number } {
  const at = hostPort.lastIndexOf(':');
  return { address: hostPort.slice(0, at), port: Number(hostPort.slice(at + 1)) };
}

async function main(): Promise<void> {
  await initSodium();
  const mode = process.argv[2];
  if (mode !== 'initiations' && mode !== 'keyless' && mode !== 'garbage') throw new Error('mode must be initiations, keyless or garbage');
  const to = split(arg('to'));
  const seconds = Number(arg('seconds', '5'));
  const rate = Number(arg('rate', '0'));

  const messages: Buffer[] = [];
  if (mode === 'initiations') {
    const key = mac1Key(decodeKey(readFileSync(arg('pub'), 'utf8'), 'pub', 'public key'));
    for (let i = 0; i < DISTINCT; i++) {
      const m = Buffer.from(randomBytes(MESSAGE_INITIATION_BYTES));
      writeType(m, MESSAGE_INITIATION);
      writeMac1(m, INITIATION.mac1, key);
      m.fill(0, INITIATION.mac2.offset);
      messages.push(m);
    }
  } else if (mode === 'keyless') {
    const types = arg('types', '1,2').split(',').map(Number);
    const bytes: Record<number, number> = {
      [MESSAGE_INITIATION]: MESSAGE_INITIATION_BYTES,
      [MESSAGE_RESPONSE]: MESSAGE_RESPONSE_BYTES,
      [MESSAGE_COOKIE_REPLY]: MESSAGE_COOKIE_REPLY_BYTES,
    };
    for (const t of types) if (!bytes[t]) throw new Error(`--types: ${t} is not a handshake message type (1, 2, 3)`);
    for (let i = 0; i < DISTINCT; i++) {
      const type = types[i % types.length]!;
      const m = Buffer.from(randomBytes(bytes[type]!));
      writeType(m, type);
      messages.push(m);
    }
  } else {
    for (let i = 0; i < DISTINCT; i++) {
      // Every type (1–4 and others), every size up to a full datagram, some with reserved bytes set.
      const len = [0, 1, 3, 4, 15, 16, 31, 32, 33, 64, 96, 148, 152, 200, 1420, MAX_BYTES][i % 16]!;
      const m = Buffer.from(randomBytes(len));
      if (len >= 4 && i % 3 !== 0) {
        m[0] = 1 + (i % 4);
        m[1] = m[2] = m[3] = 0;
      }
      messages.push(m);
    }
  }

  const fd = libc.check(libc.socket(libc.AF_INET, libc.SOCK_DGRAM | libc.SOCK_CLOEXEC, 0), 'socket');
  const bindAddr = Buffer.alloc(SOCKADDR_IN6_BYTES);
  const bindLen = encodeSockaddr({ family: 4, address: arg('bind', '0.0.0.0'), port: 0 }, bindAddr);
  libc.check(libc.bind(fd, bindAddr, bindLen), 'bind');
  const dest = libc.allocNative(SOCKADDR_IN6_BYTES);
  const destLen = encodeSockaddr({ family: 4, ...to }, dest.view);

  // All messages in native memory; per batch the iovecs point at the next 64.
  const payload = libc.allocNative(DISTINCT * MAX_BYTES);
  messages.forEach((m, i) => m.copy(payload.view, i * MAX_BYTES));
  const iov = libc.allocNative(BATCH * libc.SIZEOF_IOVEC);
  const mmsg = libc.allocNative(BATCH * libc.SIZEOF_MMSGHDR);
  for (let i = 0; i < BATCH; i++) {
    const h = i * libc.SIZEOF_MMSGHDR;
    mmsg.view.writeBigUInt64LE(dest.ptr, h);
    mmsg.view.writeUInt32LE(destLen, h + 8);
    mmsg.view.writeBigUInt64LE(iov.ptr + BigInt(i * libc.SIZEOF_IOVEC), h + 16);
    mmsg.view.writeBigUInt64LE(1n, h + 24);
  }

  const start = Date.now();
  const end = start + seconds * 1000;
  let sent = 0;
  let next = 0;
  for (let now = start; now < end; now = Date.now()) {
    if (rate > 0 && sent >= ((now - start) / 1000) * rate) {
      await new Promise((r) => setTimeout(r, 1));
      continue;
    }
    for (let i = 0; i < BATCH; i++) {
      const k = (next + i) % DISTINCT;
      iov.view.writeBigUInt64LE(payload.ptr + BigInt(k * MAX_BYTES), i * libc.SIZEOF_IOVEC);
      iov.view.writeBigUInt64LE(BigInt(messages[k]!.length), i * libc.SIZEOF_IOVEC + 8);
    }
    next = (next + BATCH) % DISTINCT;
    const n = libc.sendmmsg(fd, mmsg.ptr, BATCH, 0);
    if (n > 0) sent += n;
    else if ((sent & 0xffff) === 0) await new Promise((r) => setImmediate(r));
  }
  const elapsed = (Date.now() - start) / 1000;
  libc.close(fd);
  process.stdout.write(`${JSON.stringify({ mode, sent, seconds: elapsed, rate: Math.round(sent / elapsed) })}\n`);
}

await main();
