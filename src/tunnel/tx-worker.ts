// The sending half of the data path, on its own thread:
//   TUN read (non-blocking, up to a batch) → seal in place → one batched send.
// Control messages from the main thread arrive on the port and are pulled
// synchronously when the wake eventfd fires, so the loop never returns to an
// event loop and nothing on the packet path allocates.
import { parentPort, receiveMessageOnPort, workerData } from 'node:worker_threads';
import { loadAead } from '../crypto/aead/select.js';
import type { Aead } from '../crypto/aead/aead.js';
import { DataSealer, DATA_HEADER_BYTES } from '../crypto/data-packet.js';
import * as libc from '../sys/libc.js';
import { MSG_OFFSET, PacketBatch } from '../transport/batch.js';
import { TcpBatchSender } from '../transport/tcp-stream.js';
import { UdpBatchSender } from '../transport/udp-batch.js';
import { AllowedIPs } from './allowed-ips.js';
import { wrapStats, TX } from './stats.js';
import type { DatapathInit, FromWorker, ToTx } from './worker-messages.js';
import { PollSet } from './poll-set.js';
import { VNET_HDR_BYTES } from '../tun/device.js';

/** The main thread is asked for a handshake at most this often while packets wait for a session. */
const NEED_HANDSHAKE_INTERVAL_MS = 1000;

class TxLoop {
  private readonly batch: PacketBatch;
  private readonly payloadPtrs: libc.Pointer[];
  private readonly maxPayload: number;
  /** Where the IP header starts in a message (after the virtio_net_hdr, if the wire carries it). */
  private readonly ipOffset: number;
  /** virtio_net_hdr bytes read from the TUN that the wire does not carry (read into header room). */
  private readonly stripped: number;
  private readonly udp: UdpBatchSender | null;
  private readonly tcp: TcpBatchSender | null;
  private readonly allowed: AllowedIPs;
  private readonly stats: Float64Array;
  private readonly poller: PollSet;
  private readonly wakeBuf = Buffer.alloc(8);
  private sealer: DataSealer | null = null;
  private lastNeedHandshake = 0;

  constructor(
    private readonly init: DatapathInit,
    private readonly aead: Aead,
  ) {
    this.batch = new PacketBatch(MSG_OFFSET + init.maxMessage);
    this.stripped = init.tunVnetHdr && !init.wireVnetHdr ? VNET_HDR_BYTES : 0;
    this.payloadPtrs = this.batch.slotPtrs.map((p) => p + BigInt(MSG_OFFSET + DATA_HEADER_BYTES - this.stripped));
    this.maxPayload = init.maxPlaintext + this.stripped;
    this.ipOffset = DATA_HEADER_BYTES + (init.wireVnetHdr ? VNET_HDR_BYTES : 0);
    this.udp = init.transport === 'udp' ? new UdpBatchSender(init.udpFd, this.batch) : null;
    this.tcp = init.transport === 'tcp' ? new TcpBatchSender(this.batch) : null;
    this.allowed = new AllowedIPs(init.allowedIPs);
    this.stats = wrapStats(init.stats).f64;
    this.poller = new PollSet([init.tunFd, init.wakeFd]);
  }

  run(): void {
    for (;;) {
      this.poller.wait(-1);
      if (this.poller.readable(1)) {
        libc.read(this.init.wakeFd, this.wakeBuf, 8);
        if (!this.control()) return;
      }
      if (this.poller.readable(0)) this.drainTun();
    }
  }

  /** Applies queued control messages; false when told to stop. */
  private control(): boolean {
    for (let m = receiveMessageOnPort(parentPort!); m; m = receiveMessageOnPort(parentPort!)) {
      const msg = m.message as ToTx;
      switch (msg.t) {
        case 'send-key':
          this.sealer?.destroy();
          this.sealer = msg.keypair ? new DataSealer(this.aead, msg.keypair.key, msg.keypair.remoteIndex) : null;
          msg.keypair?.key.fill(0);
          break;
        case 'udp-destination':
          this.udp?.setDestination(msg.sockaddr, msg.len);
          break;
        case 'tcp-connection': {
          const old = this.tcp?.connection ?? -1;
          this.tcp?.setConnection(msg.fd);
          if (old >= 0 && old !== msg.fd) post({ t: 'tcp-released', fd: old });
          break;
        }
        case 'send':
          this.batch.messages[0]!.set(msg.message);
          this.batch.lens[0] = msg.message.length;
          this.flush(1, false);
          break;
        case 'keepalive':
          if (this.sealer) {
            this.batch.lens[0] = this.sealer.seal(this.batch.messages[0]!, 0);
            this.flush(1, true);
            this.stats[TX.keepalives]!++;
          }
          break;
        case 'stop':
          this.sealer?.destroy();
          return false;
      }
    }
    return true;
  }

  /** Reads up to a batch of packets from the TUN, seals them and sends them. */
  private drainTun(): void {
    const { messages, lens, size } = this.batch;
    const tunFd = this.init.tunFd;
    let count = 0;
    while (count < size) {
      const got = libc.read(tunFd, this.payloadPtrs[count]!, this.maxPayload);
      if (got <= this.stripped) {
        if (got < 0 && libc.errno() === libc.EINTR) continue;
        if (got < 0) break; // EAGAIN: drained
        continue;
      }
      const n = got - this.stripped;
      const msg = messages[count]!;
      if (!this.allowed.containsDestination(msg, this.ipOffset, n + DATA_HEADER_BYTES - this.ipOffset)) {
        this.stats[TX.dropNoRoute]!++;
        continue;
      }
      if (!this.sealer) {
        this.stats[TX.dropNoSession]!++;
        this.askForHandshake();
        continue;
      }
      try {
        lens[count] = this.sealer.seal(msg, n);
      } catch {
        // The key reached its message limit: never reuse a nonce, wait for a new key.
        this.sealer.destroy();
        this.sealer = null;
        this.stats[TX.dropNoSession]!++;
        this.askForHandshake();
        continue;
      }
      count++;
    }
    if (count > 0) this.flush(count, true);
  }

  private flush(count: number, data: boolean): void {
    let ok = true;
    if (this.udp) ok = this.udp.send(count) === count && this.udp.hasDestination;
    else if (this.tcp) {
      const fd = this.tcp.connection;
      ok = this.tcp.send(count);
      if (!ok && fd >= 0) {
        this.tcp.setConnection(-1);
        post({ t: 'send-failed', fd });
        post({ t: 'tcp-released', fd });
      }
    }
    if (!data) return;
    const s = this.stats;
    if (!ok) {
      s[TX.dropSendFailed]! += count;
      return;
    }
    let bytes = 0;
    for (let i = 0; i < count; i++) bytes += this.batch.lens[i]!;
    s[TX.packets]! += count;
    s[TX.bytes]! += bytes;
    s[TX.lastDataMs] = Date.now();
    s[TX.counter] = this.sealer ? this.sealer.counter : 0;
  }

  private askForHandshake(): void {
    const now = Date.now();
    if (now - this.lastNeedHandshake < NEED_HANDSHAKE_INTERVAL_MS) return;
    this.lastNeedHandshake = now;
    post({ t: 'need-handshake' });
  }
}

function post(msg: FromWorker): void {
  parentPort!.postMessage(msg);
}

const init = workerData as DatapathInit;
const loop = new TxLoop(init, await loadAead());
post({ t: 'ready' });
loop.run();
process.exit(0);
