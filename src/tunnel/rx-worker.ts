// Entry of the TCP transport's receiving worker thread (see rx-loop.ts).
import { workerData } from 'node:worker_threads';
import { loadAead } from '../crypto/aead/select.js';
import { RxLoop } from './rx-loop.js';
import type { DatapathInit } from './worker-messages.js';
import { post } from './worker-port.js';

const aead = await loadAead();
const loop = new RxLoop(workerData as DatapathInit, aead);
post({ t: 'ready', aead: aead.name });
loop.run();
process.exit(0);
