// Entry of the TCP transport's receiving worker thread (see rx-loop.ts).
import { workerData } from 'node:worker_threads';
import { loadAead } from '../../crypto/aead/select.js';
import { RxLoop } from './rx-loop.js';
import { warmUpTcpReceiver } from './warm-up-tcp.js';
import type { DatapathInit } from './worker-messages.js';
import { post } from './worker-port.js';

const init = workerData as DatapathInit;
const aead = await loadAead();
warmUpTcpReceiver(init, aead, (i) => new RxLoop(i, aead));
// Made after the warm-up: by then its classes' fields have taken the types
// the packets gave them (a timestamp, a key list), so this loop's objects
// match what the optimized code expects instead of sending the first real
// packets back to the interpreter.
const loop = new RxLoop(init, aead);
post({ t: 'ready', aead: aead.name });
loop.run();
process.exit(0);
