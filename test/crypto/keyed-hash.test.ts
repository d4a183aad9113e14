// The receive worker's mac1 hash (keyed BLAKE2b) comes from the library
// behind its AEAD. In a fresh thread where libsodium-wrappers was never
// initialised — as in rx-worker.ts and udp-worker.ts, which only call
// loadAead() — every native backend's keyed hash must work and give the
// same bytes as libsodium-wrappers.
import { expect } from 'chai';
import { randomBytes } from 'node:crypto';
import { Worker } from 'node:worker_threads';
import { availableAeads } from '../../src/crypto/aead/select.js';
import { initSodium } from '../../src/crypto/sodium.js';

const sodium = await initSodium();
const natives = (await availableAeads()).map((a) => a.name).filter((n) => n !== 'libsodium-wrappers');

const WORKER = `
const { parentPort, workerData } = require('node:worker_threads');
(async () => {
  const { loadAead } = await import(workerData.select);
  const { keyedHashFor } = await import(workerData.keyedHash);
  const aead = await loadAead(workerData.name);
  const out = new Uint8Array(16);
  keyedHashFor(aead)(out, Uint8Array.from(workerData.input), Uint8Array.from(workerData.key));
  parentPort.postMessage({ name: aead.name, out });
})().catch((err) => parentPort.postMessage({ error: String((err && err.stack) || err) }));
`;

function hashInFreshThread(name: string, input: Uint8Array, key: Uint8Array): Promise<{ name: string; out: Uint8Array }> {
  const workerData = {
    name,
    input: Array.from(input),
    key: Array.from(key),
    select: new URL('../../src/crypto/aead/select.js', import.meta.url).href,
    keyedHash: new URL('../../src/crypto/keyed-hash.js', import.meta.url).href,
  };
  return new Promise((resolve, reject) => {
    const worker = new Worker(WORKER, { eval: true, workerData });
    worker.once('message', (m: { name: string; out: Uint8Array } | { error: string }) => {
      void worker.terminate();
      if ('error' in m) reject(new Error(m.error));
      else resolve(m);
    });
    worker.once('error', reject);
  });
}

describe('keyed hash in a data-path thread', () => {
  for (const name of natives) {
    it(`${name}: works without libsodium-wrappers and matches it byte for byte`, async () => {
      const input = new Uint8Array(randomBytes(116));
      const key = new Uint8Array(randomBytes(32));
      const got = await hashInFreshThread(name, input, key);
      expect(got.name).to.equal(name);
      expect(Buffer.from(got.out).toString('hex')).to.equal(Buffer.from(sodium.crypto_generichash(16, input, key)).toString('hex'));
    });
  }
});
