// Entry of the TCP transport's sending worker thread (see tx-loop.ts).
import { workerData } from 'node:worker_threads';
import { loadAead } from '../crypto/aead/select.js';
import { TxLoop } from './tx-loop.js';
import type { DatapathInit } from './worker-messages.js';
import { post } from './worker-port.js';

const aead = await loadAead();
const loop = new TxLoop(workerData as DatapathInit, aead);
post({ t: 'ready', aead: aead.name });
loop.run();
process.exit(0);
