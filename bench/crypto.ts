// Data-path crypto benchmark: for each available XChaCha20-Poly1305 backend
// and packet size, the raw library call against sealtun's DataSealer.seal /
// DataOpener.open. The project path must keep at least MIN_RATIO of raw speed.
//
//   npx tsc -p tsconfig.json && node dist/bench/crypto.js
//
// Method: per row, a warm-up, then RUNS rounds alternating raw and project
// (so drift hits both alike), each ~RUN_MS; the median round counts. Open
// rows restore the sealed message before every call in BOTH loops (one copy
// of the same size), because the project opens in place. Exit code is 0
// whatever the verdicts; the table is the result.
import { createRequire } from 'node:module';
import { randomBytes } from 'node:crypto';
import type { Aead } from '../src/crypto/aead/aead.js';
import { TAG_BYTES, XNONCE_BYTES } from '../src/crypto/aead/aead.js';
import { availableAeads } from '../src/crypto/aead/select.js';
import { isSodiumNativeBinding, type SodiumNativeBinding } from '../src/crypto/aead/sodium-native.js';
import { DATA_HEADER_BYTES, DATA_OVERHEAD, DataOpener, DataSealer } from '../src/crypto/data-packet.js';
import { initSodium, type Sodium } from '../src/crypto/sodium.js';
import { compareRates } from './measure/calls.js';

const SIZES = [64, 1420] as const;
const RUNS = 5;
const RUN_MS = 500;
const WARMUP_MS = 200;
const MIN_RATIO = 0.8;

type Op = 'seal' | 'open';

/** Median rates of raw and project, measured in alternating rounds. */
function compare(raw: () => void, project: () => void): { raw: number; project: number } {
  const [rawRate, projectRate] = compareRates(raw, project, { runs: RUNS, runMs: RUN_MS, warmupMs: WARMUP_MS });
  return { raw: rawRate, project: projectRate };
}

/** The library call itself, with preallocated buffers where the library allows it. */
function rawCalls(
  aead: Aead,
  native: SodiumNativeBinding | null,
  wasm: Sodium,
  size: number,
  key: Uint8Array,
): Record<Op, () => void> {
  const plaintext = new Uint8Array(randomBytes(size));
  const ad = new Uint8Array(DATA_HEADER_BYTES);
  const nonce = new Uint8Array(XNONCE_BYTES);
  const sealed = new Uint8Array(size + TAG_BYTES);
  const work = new Uint8Array(size + TAG_BYTES);
  const opened = new Uint8Array(size);
  if (aead.name === 'sodium-native') {
    if (!native) throw new Error('sodium-native listed but its binding did not load');
    native.crypto_aead_xchacha20poly1305_ietf_encrypt(sealed, plaintext, ad, null, nonce, key);
    return {
      seal: () => native.crypto_aead_xchacha20poly1305_ietf_encrypt(work, plaintext, ad, null, nonce, key),
      open: () => {
        work.set(sealed);
        native.crypto_aead_xchacha20poly1305_ietf_decrypt(opened, null, work, ad, nonce, key);
      },
    };
  }
  sealed.set(wasm.crypto_aead_xchacha20poly1305_ietf_encrypt(plaintext, ad, null, nonce, key));
  return {
    seal: () => wasm.crypto_aead_xchacha20poly1305_ietf_encrypt(plaintext, ad, null, nonce, key),
    open: () => {
      work.set(sealed);
      wasm.crypto_aead_xchacha20poly1305_ietf_decrypt(null, work, ad, nonce, key);
    },
  };
}

/** sealtun's path: DataSealer/DataOpener on a buffer with header room, as the daemon uses them. */
function projectCalls(aead: Aead, size: number, key: Uint8Array): Record<Op, () => void> {
  const sealer = new DataSealer(aead, key, 0x01020304);
  const opener = new DataOpener(aead, key);
  const sendBuf = new Uint8Array(size + DATA_OVERHEAD);
  sendBuf.set(randomBytes(size), DATA_HEADER_BYTES);
  const sealedMsg = new Uint8Array(size + DATA_OVERHEAD);
  sealedMsg.set(sendBuf);
  const wireLength = sealer.seal(sealedMsg, size);
  const recvBuf = new Uint8Array(size + DATA_OVERHEAD);
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

async function main(): Promise<void> {
  const wasm = await initSodium();
  const aeads = await availableAeads();
  let native: SodiumNativeBinding | null = null;
  try {
    const loaded: unknown = createRequire(import.meta.url)('sodium-native');
    if (isSodiumNativeBinding(loaded)) native = loaded;
  } catch {
    native = null;
  }
  const key = new Uint8Array(randomBytes(32));

  console.log(`sealtun data-path crypto bench — node ${process.version}, ${RUNS} runs × ${RUN_MS} ms, median`);
  console.log(`backends: ${aeads.map((a) => a.name).join(', ')}\n`);
  const header = ['backend', 'bytes', 'op', 'raw pkt/s', 'raw MB/s', 'sealtun pkt/s', 'sealtun MB/s', 'ratio', 'verdict'];
  const rows: string[][] = [];
  for (const aead of aeads) {
    for (const size of SIZES) {
      const raw = rawCalls(aead, native, wasm, size, key);
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
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]): string =>
    cells.map((c, i) => (i < 3 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  console.log(line(header));
  console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const row of rows) console.log(line(row));
  console.log(`\nMB/s counts plaintext bytes. PASS = sealtun path ≥ ${MIN_RATIO} × raw library call.`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
