// Data-path crypto benchmark (`make bench-crypto`), three tables:
//  1. each available XChaCha20-Poly1305 backend's raw library call against
//     sealtun's DataSealer.seal / DataOpener.open on native memory; the
//     project path must keep at least MIN_RATIO of raw speed;
//  2. the same library call reached different ways (JS-heap arrays, views of
//     koffi memory as the daemon's packet slots are, BigInt pointers), and
//     sealtun's path on each native backend, to see what the call costs
//     around the cipher;
//  3. koffi's own cost per call (trivial libc calls): the floor.
//
// Method: per row, a warm-up, then RUNS short rounds rotating through the
// contenders (so drift hits all alike), each ~RUN_MS of CPU time; the median
// round counts. Open rows restore the sealed message before every call in
// every loop (one copy of the same size), because the project opens in place.
// Exit code is 0 whatever the verdicts; the tables are the result.
import { createRequire } from 'node:module';
import { randomBytes } from 'node:crypto';
import koffi from 'koffi';
import type { Aead } from '../src/crypto/aead/aead.js';
import { TAG_BYTES, XNONCE_BYTES } from '../src/crypto/aead/aead.js';
import { availableAeads } from '../src/crypto/aead/select.js';
import { isSodiumNativeBinding, type SodiumNativeBinding } from '../src/crypto/aead/sodium-native.js';
import { loadSystemLibsodium, type SystemLibsodiumBinding } from '../src/crypto/aead/system-libsodium.js';
import { DATA_HEADER_BYTES, DATA_OVERHEAD, DataOpener, DataSealer } from '../src/crypto/data-packet.js';
import { initSodium, type Sodium } from '../src/crypto/sodium.js';
import { allocNative } from '../src/sys/libc.js';
import { compareRates, cpuClock, rotateRates } from './measure/calls.js';

const SIZES = [64, 1420, 16384] as const;
const RUNS = 15;
const RUN_MS = 100;
const WARMUP_MS = 100;
const MIN_RATIO = 0.8;
/** CPU time, not wall time: the bench host is shared, and a descheduled round would count as slow. */
const ROUNDS = { runs: RUNS, runMs: RUN_MS, warmupMs: WARMUP_MS, clock: cpuClock };

type Op = 'seal' | 'open';

/** Median rates of raw and project, measured in alternating rounds. */
function compare(raw: () => void, project: () => void): { raw: number; project: number } {
  const [rawRate, projectRate] = compareRates(raw, project, ROUNDS);
  return { raw: rawRate, project: projectRate };
}

/** A seal and an open of one size through one call path. */
type Calls = Record<Op, () => void>;

/**
 * Seal and open for `size` bytes with `seal(c, m, ad)` / `open(m, c, ad)`
 * writing into the given memory; the open restores the sealed message first
 * (the project opens in place, so every loop pays the same copy).
 */
function callsOn(
  mem: { plaintext: Uint8Array; sealed: Uint8Array; work: Uint8Array; opened: Uint8Array; ad: Uint8Array },
  seal: (c: Uint8Array, m: Uint8Array, ad: Uint8Array) => void,
  open: (m: Uint8Array, c: Uint8Array, ad: Uint8Array) => void,
): Calls {
  seal(mem.sealed, mem.plaintext, mem.ad);
  return {
    seal: () => seal(mem.work, mem.plaintext, mem.ad),
    open: () => {
      mem.work.set(mem.sealed);
      open(mem.opened, mem.work, mem.ad);
    },
  };
}

/** Buffers for one size: JS-heap arrays, or views of koffi-allocated native memory as the data path has. */
function buffersFor(size: number, native: boolean) {
  const total = DATA_HEADER_BYTES + 2 * (size + TAG_BYTES) + size;
  const all = native ? allocNative(total).view : new Uint8Array(total);
  let at = 0;
  const take = (n: number): Uint8Array => all.subarray(at, (at += n));
  const mem = { ad: take(DATA_HEADER_BYTES), sealed: take(size + TAG_BYTES), work: take(size + TAG_BYTES), opened: take(size) };
  const plaintext = mem.sealed.subarray(0, size).slice(); // JS memory either way: only read
  plaintext.set(randomBytes(size));
  return { ...mem, plaintext };
}

interface Libraries {
  native: SodiumNativeBinding | null;
  system: SystemLibsodiumBinding | null;
  wasm: Sodium;
}

/** The library call itself, with preallocated buffers (JS memory) where the library allows it. */
function rawCalls(aead: Aead, libs: Libraries, size: number, key: Uint8Array, native = false): Calls {
  const mem = buffersFor(size, native);
  const nonce = new Uint8Array(XNONCE_BYTES);
  if (aead.name === 'system-libsodium') {
    const sys = libs.system;
    if (!sys) throw new Error('system-libsodium listed but its library did not load');
    return callsOn(
      mem,
      (c, m, ad) => sys.encrypt(c, null, m, m.length, ad, ad.length, null, nonce, key),
      (m, c, ad) => sys.decrypt(m, null, null, c, c.length, ad, ad.length, nonce, key),
    );
  }
  if (aead.name === 'sodium-native') {
    const sn = libs.native;
    if (!sn) throw new Error('sodium-native listed but its binding did not load');
    return callsOn(
      mem,
      (c, m, ad) => sn.crypto_aead_xchacha20poly1305_ietf_encrypt(c, m, ad, null, nonce, key),
      (m, c, ad) => sn.crypto_aead_xchacha20poly1305_ietf_decrypt(m, null, c, ad, nonce, key),
    );
  }
  const wasm = libs.wasm;
  return callsOn(
    mem,
    (c, m, ad) => c.set(wasm.crypto_aead_xchacha20poly1305_ietf_encrypt(m, ad, null, nonce, key)),
    (m, c, ad) => m.set(wasm.crypto_aead_xchacha20poly1305_ietf_decrypt(null, c, ad, nonce, key)),
  );
}

/**
 * The system library called with BigInt pointers into native memory for
 * every argument (key and nonce too): what a data path that handed the AEAD
 * its slot pointers (src/transport/batch.ts slotPtrs) instead of Buffers would get.
 */
function pointerCalls(sys: SystemLibsodiumBinding, size: number, key: Uint8Array): Calls {
  const { ptr, view } = allocNative(DATA_HEADER_BYTES + 2 * (size + TAG_BYTES) + XNONCE_BYTES + key.length);
  const ad = ptr;
  const sealed = ad + BigInt(DATA_HEADER_BYTES);
  const work = sealed + BigInt(size + TAG_BYTES);
  const nonce = work + BigInt(size + TAG_BYTES);
  const keyPtr = nonce + BigInt(XNONCE_BYTES);
  view.set(key, Number(keyPtr - ptr));
  view.set(randomBytes(size), Number(sealed - ptr));
  sys.encrypt(sealed, null, sealed, size, ad, DATA_HEADER_BYTES, null, nonce, keyPtr);
  const sealedAt = Number(sealed - ptr);
  const workAt = Number(work - ptr);
  return {
    seal: () => sys.encrypt(work, null, work, size, ad, DATA_HEADER_BYTES, null, nonce, keyPtr),
    open: () => {
      view.copyWithin(workAt, sealedAt, sealedAt + size + TAG_BYTES);
      sys.decrypt(work, null, null, work, size + TAG_BYTES, ad, DATA_HEADER_BYTES, nonce, keyPtr);
    },
  };
}

/**
 * sealtun's path: DataSealer/DataOpener on buffers with header room in
 * koffi-allocated native memory, as the daemon's packet slots are.
 */
function projectCalls(aead: Aead, size: number, key: Uint8Array): Calls {
  const sealer = new DataSealer(aead, key, 0x01020304);
  const opener = new DataOpener(aead, key);
  const sendBuf = allocNative(size + DATA_OVERHEAD).view;
  sendBuf.set(randomBytes(size), DATA_HEADER_BYTES);
  const sealedMsg = new Uint8Array(size + DATA_OVERHEAD);
  sealedMsg.set(sendBuf);
  const wireLength = sealer.seal(sealedMsg, size);
  const recvBuf = allocNative(size + DATA_OVERHEAD).view;
  return {
    seal: () => sealer.seal(sendBuf, size),
    open: () => {
      recvBuf.set(sealedMsg);
      if (opener.open(recvBuf, wireLength) !== size) throw new Error('open failed in benchmark');
    },
  };
}

function fmt(n: number, digits = 0): string {
  return n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

/** Prints rows as an aligned table; the first `left` columns are left-aligned. */
function printTable(header: string[], rows: string[][], left: number): void {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]): string =>
    cells.map((c, i) => (i < left ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  console.log(line(header));
  console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const row of rows) console.log(line(row));
}

function loadLibraries(wasm: Sodium): Libraries {
  let native: SodiumNativeBinding | null = null;
  try {
    const loaded: unknown = createRequire(import.meta.url)('sodium-native');
    if (isSodiumNativeBinding(loaded)) native = loaded;
  } catch {
    native = null;
  }
  return { native, system: loadSystemLibsodium().binding, wasm };
}

/** Table 1: each backend's raw call against sealtun's DataSealer/DataOpener, both on native memory. */
function projectTable(aeads: Aead[], libs: Libraries, key: Uint8Array): void {
  const header = ['backend', 'bytes', 'op', 'raw pkt/s', 'raw MB/s', 'sealtun pkt/s', 'sealtun MB/s', 'ratio', 'verdict'];
  const rows: string[][] = [];
  for (const aead of aeads) {
    for (const size of SIZES) {
      const raw = rawCalls(aead, libs, size, key, true);
      const project = projectCalls(aead, size, key);
      for (const op of ['seal', 'open'] as const) {
        const result = compare(raw[op], project[op]);
        const ratio = result.project / result.raw;
        const row = [
          aead.name,
          String(size),
          op,
          fmt(result.raw),
          fmt((result.raw * size) / 1e6, 1),
          fmt(result.project),
          fmt((result.project * size) / 1e6, 1),
          ratio.toFixed(3),
          ratio >= MIN_RATIO ? 'PASS' : 'FAIL',
        ];
        rows.push(row);
        console.error(`  measured: ${row.join(' ')}`);
      }
    }
  }
  printTable(header, rows, 3);
  console.log(`\nMB/s counts plaintext bytes. PASS = sealtun path ≥ ${MIN_RATIO} × raw library call.\n`);
}

/**
 * Table 2: one library call through each way of reaching it, measured in
 * rotating rounds per size and op. "js" = Uint8Arrays in the JS heap,
 * "koffi mem" = views of koffi-allocated memory (the daemon's packet slots),
 * "pointers" = BigInt addresses for every argument.
 */
function callPathTable(aeads: Aead[], libs: Libraries, key: Uint8Array): void {
  const paths: { name: string; calls: (size: number) => Calls }[] = [];
  for (const aead of aeads) {
    paths.push({ name: `${aead.name}, js`, calls: (size) => rawCalls(aead, libs, size, key) });
    if (aead.name === 'libsodium-wrappers') continue;
    paths.push({ name: `${aead.name}, koffi mem`, calls: (size) => rawCalls(aead, libs, size, key, true) });
  }
  const sys = libs.system;
  if (sys) paths.push({ name: 'system-libsodium, pointers', calls: (size) => pointerCalls(sys, size, key) });
  // What the daemon runs: DataSealer/DataOpener on native slots, with each native backend.
  for (const aead of aeads.filter((a) => a.name !== 'libsodium-wrappers')) {
    paths.push({ name: `sealtun path, ${aead.name}`, calls: (size) => projectCalls(aead, size, key) });
  }
  const baseline = paths.findIndex((p) => p.name === 'sodium-native, koffi mem');

  const header = ['call path', 'bytes', 'op', 'pkt/s', 'MB/s', 'ns/call', baseline >= 0 ? 'vs sodium-native' : ''];
  const rows: string[][] = [];
  for (const size of SIZES) {
    const calls = paths.map((p) => p.calls(size));
    for (const op of ['seal', 'open'] as const) {
      const rates = rotateRates(
        calls.map((c) => c[op]),
        ROUNDS,
      );
      rates.forEach((r, i) => {
        const row = [paths[i]!.name, String(size), op, fmt(r), fmt((r * size) / 1e6, 1), fmt(1e9 / r)];
        row.push(baseline >= 0 ? `${(r / rates[baseline]!).toFixed(2)}×` : '');
        rows.push(row);
        console.error(`  measured: ${row.join(' ')}`);
      });
    }
  }
  printTable(header, rows, 3);
  console.log('\nns/call includes, for open, copying the sealed message back before each call (the same in every row).\n');
}

/** Table 3: the floor, what koffi costs per call before any work is done. */
function koffiFloor(): void {
  const libc = koffi.load('libc.so.6');
  const labs = libc.func('long labs(long)') as (n: number) => number;
  const memchr = libc.func('void *memchr(const void *s, int c, uintptr_t n)') as (s: Uint8Array | bigint, c: number, n: number) => unknown;
  const { ptr, view } = allocNative(64);
  const js = new Uint8Array(64);
  const names = ['labs(1): one int in, one out', 'memchr(js Uint8Array, 1, 16)', 'memchr(koffi mem view, 1, 16)', 'memchr(BigInt pointer, 1, 16)'];
  const rates = rotateRates(
    [() => labs(1), () => memchr(js, 1, 16), () => memchr(view, 1, 16), () => memchr(ptr, 1, 16)],
    ROUNDS,
  );
  printTable(
    ['koffi call', 'calls/s', 'ns/call'],
    names.map((n, i) => [n, fmt(rates[i]!), fmt(1e9 / rates[i]!)]),
    1,
  );
  console.log('');
}

async function main(): Promise<void> {
  const wasm = await initSodium();
  const aeads = await availableAeads();
  const libs = loadLibraries(wasm);
  const key = new Uint8Array(randomBytes(32));

  console.log(`sealtun data-path crypto bench — node ${process.version}, ${RUNS} runs × ${RUN_MS} ms of CPU time, median`);
  const sys = libs.system ? `, system libsodium ${libs.system.version} (${libs.system.soname})` : '';
  console.log(`backends: ${aeads.map((a) => a.name).join(', ')}${sys}\n`);
  projectTable(aeads, libs, key);
  callPathTable(aeads, libs, key);
  koffiFloor();
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
