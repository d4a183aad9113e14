// Entry of the TCP transport's sending worker thread (see tx-loop.ts).
import { workerData } from 'node:worker_threads';
import { loadAead } from '../../crypto/aead/select.js';
import { TxLoop } from './tx-loop.js';
import { warmUpTcpSender } from './warm-up-tcp.js';
import type { DatapathInit } from './worker-messages.js';
import { post } from './worker-port.js';

const init = workerData as DatapathInit;
const aead = await loadAead();
warmUpTcpSender(init, (i) => new TxLoop(i, aead));
// Made after the warm-up: by then its classes' fields have taken the types
// the packets gave them (a timestamp, a key list), so this loop's objects
// match what the optimized code expects instead of sending the first real
// packets back to the interpreter.
const loop = new TxLoop(init, aead);
post({ t: 'ready', aead: aead.name });
loop.run();
process.exit(0);
