// Entry of the UDP transport's data-path worker thread (see udp-loop.ts).
import { workerData } from 'node:worker_threads';
import { loadAead } from '../../crypto/aead/select.js';
import { RxLoop } from './rx-loop.js';
import { TxLoop } from './tx-loop.js';
import { UdpLoop } from './udp-loop.js';
import { warmUp } from './warm-up.js';
import type { DatapathInit } from './worker-messages.js';
import { post } from './worker-port.js';

const init = workerData as DatapathInit;
const aead = await loadAead();
const make = (i: DatapathInit): UdpLoop => new UdpLoop(i, new TxLoop(i, aead), new RxLoop(i, aead));
warmUp(init, make);
// Made after the warm-up: by then its classes' fields have taken the types
// the packets gave them (a timestamp, a key list), so this loop's objects
// match what the optimized code expects instead of sending the first real
// packets back to the interpreter.
const loop = make(init);
post({ t: 'ready', aead: aead.name });
loop.run();
process.exit(0);
