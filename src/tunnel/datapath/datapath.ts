// The main thread's handle on the data-path workers (one over UDP, one per
// direction over TCP and auto): starts them, posts control messages (waking
// each worker's poll() through its eventfd) and relays what they report.
import { EventEmitter } from 'node:events';
import { Worker } from 'node:worker_threads';
import * as libc from '../../sys/libc.js';
import type { DatapathInit, FromWorker, PeerMessage, ToRx, ToTx } from './worker-messages.js';
import { WAKE } from './worker-port.js';

class WorkerHandle {
  readonly worker: Worker;
  readonly wakeFd: number;

  constructor(file: string, init: Omit<DatapathInit, 'wakeFd'>, onMessage: (m: FromWorker) => void, onExit: (code: number) => void) {
    this.wakeFd = libc.check(libc.eventfd(0, libc.EFD_CLOEXEC | libc.EFD_NONBLOCK), 'eventfd');
    this.worker = new Worker(new URL(file, import.meta.url), {
      workerData: { ...init, wakeFd: this.wakeFd },
      // The packet path allocates almost nothing that survives; a small young
      // generation and a capped old one keep each worker's footprint small and
      // flat under load.
      resourceLimits: { maxYoungGenerationSizeMb: 4, maxOldGenerationSizeMb: 32 },
    });
    this.worker.on('message', onMessage);
    this.worker.on('error', (err) => onMessage({ t: 'error', message: `${file}: ${err.message}` }));
    this.worker.on('exit', onExit);
  }

  post(msg: unknown): void {
    this.worker.postMessage(msg);
    libc.write(this.wakeFd, WAKE, 8);
  }
}

export interface DatapathEvents {
  message: [FromWorker];
  exit: [string];
}

export class Datapath extends EventEmitter<DatapathEvents> {
  /** The AEAD backend the workers loaded (see crypto/aead/select.ts). */
  aead = '';
  private readonly tx: WorkerHandle;
  private readonly rx: WorkerHandle;
  private readonly workers: number;
  private stopping = false;
  private readonly exited: Promise<void>;

  private constructor(init: Omit<DatapathInit, 'wakeFd'>) {
    super();
    // UDP: one thread for both directions (see udp-worker.ts); TCP and auto: one per direction.
    const one = init.transport === 'udp';
    this.workers = one ? 1 : 2;
    let pending = this.workers;
    let done!: () => void;
    this.exited = new Promise((r) => (done = r));
    const onExit = (name: string) => (code: number) => {
      if (!this.stopping) this.emit('exit', `${name} worker exited with code ${code}`);
      if (--pending === 0) done();
    };
    const relay = (m: FromWorker) => this.emit('message', m);
    if (one) {
      this.tx = this.rx = new WorkerHandle('./udp-worker.js', init, relay, onExit('data path'));
    } else {
      this.tx = new WorkerHandle('./tx-worker.js', init, relay, onExit('tx'));
      this.rx = new WorkerHandle('./rx-worker.js', init, relay, onExit('rx'));
    }
  }

  /** Starts both workers and resolves once each has loaded its crypto and entered its loop. */
  static start(init: Omit<DatapathInit, 'wakeFd'>): Promise<Datapath> {
    const dp = new Datapath(init);
    return new Promise((resolve, reject) => {
      let ready = 0;
      const onMessage = (m: FromWorker) => {
        if (m.t === 'ready') dp.aead = m.aead;
        if (m.t === 'ready' && ++ready === dp.workers) {
          dp.off('message', onMessage);
          dp.off('exit', onExit);
          resolve(dp);
        } else if (m.t === 'error') {
          onExit(m.message);
        }
      };
      const onExit = (why: string) => {
        dp.off('message', onMessage);
        dp.off('exit', onExit);
        // Settled once the other worker is gone too, so whoever undoes the
        // start closes no descriptor a worker still uses.
        void dp.stop().finally(() => reject(new Error(`data path failed to start: ${why}`)));
      };
      dp.on('message', onMessage);
      dp.on('exit', onExit);
    });
  }

  toTx(msg: ToTx): void {
    this.tx.post(msg);
  }

  toRx(msg: ToRx): void {
    this.rx.post(msg);
  }

  /** A message both directions need (peers and their AllowedIPs); one post when one worker runs both. */
  toBoth(msg: PeerMessage): void {
    this.tx.post(msg);
    if (this.rx !== this.tx) this.rx.post(msg);
  }

  /** Asks both workers to leave their loops and waits until they have. */
  async stop(): Promise<void> {
    if (this.stopping) return this.exited;
    this.stopping = true;
    this.tx.post({ t: 'stop' });
    if (this.rx !== this.tx) this.rx.post({ t: 'stop' });
    const timer = setTimeout(() => {
      void this.tx.worker.terminate();
      void this.rx.worker.terminate();
    }, 3000);
    await this.exited;
    clearTimeout(timer);
    libc.close(this.tx.wakeFd);
    if (this.rx !== this.tx) libc.close(this.rx.wakeFd);
  }
}
