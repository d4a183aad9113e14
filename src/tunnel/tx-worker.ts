// Entry of the TCP transport's sending worker thread (see tx-loop.ts).
import { workerData } from 'node:worker_threads';
import { loadAead } from '../crypto/aead/select.js';
import { TxLoop } from './tx-loop.js';
import { warmUpTcpSender } from './warm-up-tcp.js';
import type { DatapathInit } from './worker-messages.js';
import { post } from './worker-port.js';

const init = workerData as DatapathInit;
const aead = await loadAead();
// Made before the warm-up, so the code it optimizes has seen this loop's own objects.
const loop = new TxLoop(init, aead);
warmUpTcpSender(init, (i) => new TxLoop(i, aead));
post({ t: 'ready', aead: aead.name });
loop.run();
process.exit(0);
