// The data-path workers (real worker threads, a socketpair for the TUN):
// nothing the main thread sends may end them, and a bound no TCP frame can
// carry is refused when they start, not on the first connection. Before,
// Transport = auto with MTU 65535 started, and the receive worker died on
// the first TCP connection anyone made (`maxFrame 65567 out of range`).
import { expect } from 'chai';
import * as libc from '../../../src/sys/libc.js';
import { Datapath } from '../../../src/tunnel/datapath/datapath.js';
import { createPeerStats, createStats } from '../../../src/tunnel/stats.js';
import { socketPair } from '../../../src/tunnel/datapath/warm-up-packets.js';
import type { DatapathInit, FromWorker } from '../../../src/tunnel/datapath/worker-messages.js';
import { eventually } from '../../helpers/netns.js';

function tcpInit(tunFd: number, mtu: number): Omit<DatapathInit, 'wakeFd'> {
  return {
    transport: 'tcp',
    tunFd,
    udpFd: -1,
    stats: createStats().sab,
    peerStats: createPeerStats(),
    warmUpRoutes: [],
    mtu,
    tunVnetHdr: false,
    wireVnetHdr: false,
    maxPlaintext: mtu,
    maxMessage: mtu + 32,
    keepWarmMs: 0,
    mac1Key: new Uint8Array(32),
  };
}

describe('data-path workers', function () {
  this.timeout(30_000);
  let tun: [number, number];

  beforeEach(() => {
    tun = socketPair();
  });

  afterEach(() => {
    for (const fd of tun) libc.close(fd);
  });

  it('a control message that throws is reported, and both workers go on and stop when asked', async () => {
    const dp = await Datapath.start(tcpInit(tun[0], 1406));
    const errors: string[] = [];
    const exits: string[] = [];
    dp.on('message', (m: FromWorker) => {
      if (m.t === 'error') errors.push(m.message);
    });
    dp.on('exit', (why) => exits.push(why));
    // Keys of the wrong size, and a handshake message larger than its slot, for a peer both workers know.
    dp.toBoth({ t: 'peer-add', peer: 0, allowedIPs: [] });
    dp.toTx({ t: 'send-key', peer: 0, keypair: { remoteIndex: 1, key: new Uint8Array(16) } });
    dp.toRx({ t: 'receive-key-add', peer: 0, keypair: { localIndex: 1, key: new Uint8Array(16) } });
    dp.toTx({ t: 'send', peer: 0, message: new Uint8Array(4096), via: 'tcp' });
    await eventually(async () => errors.length >= 3, 10_000, 20);
    process.stdout.write(`      reported: ${errors.join(' | ')}\n`);
    expect(errors.join('\n')).to.match(/control message 'send-key' failed: .*32 bytes/);
    expect(errors.join('\n')).to.match(/control message 'receive-key-add' failed: .*32 bytes/);
    expect(errors.join('\n')).to.match(/control message 'send' failed/);
    // Still running: a good key is taken, and 'stop' is obeyed (stop() would otherwise terminate them after 3 s).
    dp.toTx({ t: 'send-key', peer: 0, keypair: { remoteIndex: 1, key: new Uint8Array(32) } });
    await new Promise((r) => setTimeout(r, 200));
    expect(exits, 'no worker exited').to.deep.equal([]);
    const started = Date.now();
    await dp.stop();
    expect(Date.now() - started, 'both workers left their loops on stop').to.be.below(2500);
    expect(errors).to.have.length(3);
  });

  it('the receive worker lets go only of the connection a tcp-remove names, not a newer one on its descriptor', async () => {
    const dp = await Datapath.start(tcpInit(tun[0], 1406));
    const stream = socketPair(libc.SOCK_STREAM);
    const reports: FromWorker[] = [];
    dp.on('message', (m: FromWorker) => reports.push(m));
    try {
      dp.toRx({ t: 'tcp-add', fd: stream[0], conn: 2 });
      // A late tcp-remove for connection 1, which held this descriptor number before.
      dp.toRx({ t: 'tcp-remove', fd: stream[0], conn: 1 });
      await eventually(async () => reports.some((m) => m.t === 'tcp-removed'), 5000, 20);
      // Connection 2 is still read: its end of stream is reported, as connection 2's.
      libc.shutdown(stream[1], libc.SHUT_RDWR);
      await eventually(async () => reports.some((m) => m.t === 'tcp-closed'), 5000, 20);
      expect(reports.filter((m) => m.t.startsWith('tcp-'))).to.deep.equal([
        { t: 'tcp-removed', fd: stream[0], conn: 1 },
        { t: 'tcp-closed', fd: stream[0], conn: 2, reason: 'eof' },
      ]);
    } finally {
      await dp.stop();
      for (const fd of stream) libc.close(fd);
    }
  });

  it('refuses to start with a message bound no TCP frame can carry', async () => {
    let failure: Error | null = null;
    let dp: Datapath | null = null;
    try {
      dp = await Datapath.start(tcpInit(tun[0], 65535));
    } catch (err) {
      failure = err as Error;
    }
    await dp?.stop();
    expect(failure?.message).to.match(/data path failed to start: .*65567 cannot be framed/);
  });
});
