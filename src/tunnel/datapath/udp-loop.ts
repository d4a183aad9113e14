// The UDP data path: both halves (TxLoop, RxLoop) on one worker thread, one
// poll() over the wake eventfd, the TUN and the socket.
//
// Why one thread: a ping through an idle tunnel wakes one thread per host
// instead of two, and the reply the kernel queues on the TUN while a packet
// is written is read in the same turn, with no wake-up at all. Measured side
// by side against two threads (docs/performance.md): idle RTT lower, and no
// throughput lost, since sealing and opening of one transfer already run on
// different hosts' threads. TCP keeps a thread per direction
// (tx-loop.ts, rx-loop.ts): its super-packets make each direction's
// crypto the bottleneck.
import { PollSet } from './poll-set.js';
import { runKeptWarm, type SteppedLoop, type WarmSpell } from './warm-spell.js';
import type { RxLoop } from './rx-loop.js';
import type { TxLoop } from './tx-loop.js';
import type { DatapathInit, ToRx, ToTx } from './worker-messages.js';
import { takeMessages } from './worker-port.js';

export class UdpLoop implements SteppedLoop {
  private readonly poller: PollSet;

  constructor(
    private readonly init: DatapathInit,
    readonly tx: TxLoop,
    readonly rx: RxLoop,
  ) {
    this.poller = new PollSet([init.wakeFd, init.tunFd, init.udpFd]);
  }

  run(): void {
    runKeptWarm(this.tx.aead, this.init, this);
  }

  /**
   * Waits up to `timeoutMs` (-1: no limit) and handles what is ready; false
   * when the loop must end. `warm`: the running loop's keep-warm state.
   */
  step(timeoutMs: number, warm?: WarmSpell): boolean {
    const poller = this.poller;
    // Datagrams of a UDP_GRO read not yet handled: look, but do not wait.
    const pending = this.rx.udpPending;
    if (poller.wait(pending ? 0 : timeoutMs) === 0 && !pending) return this.touch(warm);
    if (poller.ready(0) && !takeMessages(this.init.wakeFd, (m: ToTx | ToRx) => this.apply(m))) return false;
    if (pending || poller.ready(2)) {
      // One batch, then the TUN: a reply to what was just written is often
      // there already, and leaves before the next batch is opened (a UDP_GRO
      // read can bring 8 runs of up to 64 datagrams).
      this.rx.receiveUdp(false);
      return this.tx.drainTun();
    }
    return poller.ready(1) ? this.tx.drainTun() : true;
  }

  /** Nothing was ready: the work a packet would cause, on nothing, to keep that path warm (warm-spell.ts). */
  private touch(warm: WarmSpell | undefined): boolean {
    warm?.exercise();
    this.rx.receiveUdp();
    return this.tx.drainTun();
  }

  /** Hands a control message to the half it concerns; false when told to stop. */
  private apply(msg: ToTx | ToRx): boolean {
    switch (msg.t) {
      case 'stop':
        this.tx.apply(msg);
        this.rx.apply(msg);
        return false;
      case 'peer-add':
      case 'peer-remove':
      case 'allowed-ips':
        // Both directions route by AllowedIPs (destination out, source in).
        return this.tx.apply(msg) && this.rx.apply(msg);
      case 'receive-key-add':
      case 'receive-key-remove':
      case 'tcp-add':
      case 'tcp-remove':
      case 'udp-peer':
      case 'handshake-sent':
        return this.rx.apply(msg);
      default:
        // A receive-side message missing above would not type-check here.
        return this.tx.apply(msg);
    }
  }

}
