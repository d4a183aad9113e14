// The warm-ups run the real loop classes over throwaway descriptors: they
// must move packets end to end (sealed, sent, received, opened, written) and
// leave the tunnel's own counters and descriptors alone.
import { expect } from 'chai';
import { loadAead } from '../../../src/crypto/aead/select.js';
import { RxLoop } from '../../../src/tunnel/datapath/rx-loop.js';
import * as libc from '../../../src/sys/libc.js';
import { createPeerStats, createStats, RX, TX } from '../../../src/tunnel/stats.js';
import { TxLoop } from '../../../src/tunnel/datapath/tx-loop.js';
import { UdpLoop } from '../../../src/tunnel/datapath/udp-loop.js';
import { warmUp } from '../../../src/tunnel/datapath/warm-up.js';
import { warmUpTcpReceiver, warmUpTcpSender } from '../../../src/tunnel/datapath/warm-up-tcp.js';
import type { DatapathInit } from '../../../src/tunnel/datapath/worker-messages.js';

describe('data-path warm-up', function () {
  this.timeout(10_000);

  function init(warmUpRoutes: DatapathInit['warmUpRoutes']): DatapathInit {
    return {
      transport: 'udp',
      tunFd: -1,
      wakeFd: -1,
      udpFd: -1,
      stats: createStats().sab,
      peerStats: createPeerStats(),
      warmUpRoutes,
      mtu: 1420,
      tunVnetHdr: true,
      wireVnetHdr: false,
      maxPlaintext: 1420,
      maxMessage: 1452,
      keepWarmMs: 50, // KeepWarm's default
      mac1Key: new Uint8Array(32),
    };
  }

  for (const [family, bytes] of [
    [4, [10, 77, 0, 2]],
    [6, [0xfd, 0x77, ...new Array<number>(13).fill(0), 2]],
  ] as const) {
    it(`moves IPv${family} packets through sealing and opening, on its own counters`, async () => {
      const aead = await loadAead();
      // A real wake eventfd with a control message pending: the warm-up must leave it alone.
      const wakeFd = libc.eventfd(1, libc.EFD_CLOEXEC | libc.EFD_NONBLOCK);
      const real = { ...init([{ family, bytes: Uint8Array.from(bytes), prefix: family === 4 ? 32 : 128 }]), wakeFd };
      const seen: DatapathInit[] = [];
      const moved = warmUp(real, (i) => {
        seen.push(i);
        return new UdpLoop(i, new TxLoop(i, aead), new RxLoop(i, aead));
      });
      expect(moved).to.be.greaterThan(1000);
      expect(new Float64Array(real.stats).every((v) => v === 0)).to.equal(true, 'the real counters stay at zero');
      const warm = new Float64Array(seen[0]!.stats);
      expect(seen[0]!.tunFd).to.not.equal(real.tunFd);
      // Control messages (keys, destinations) reach it through a wake descriptor of its own.
      expect(seen[0]!.wakeFd).to.be.at.least(0).and.not.equal(wakeFd);
      const count = Buffer.alloc(8);
      expect(libc.read(wakeFd, count, 8)).to.equal(8);
      expect(count.readBigUInt64LE(0)).to.equal(1n, 'the real wake count is untouched');
      libc.close(wakeFd);
      expect(warm[TX.packets]).to.be.greaterThan(1000);
      // What was sealed was opened (the last batch may still sit in the socket
      // when the warm-up ends): no forgeries, no unknown keys, no replays.
      expect(warm[RX.packets]).to.be.within(warm[TX.packets]! - 64, warm[TX.packets]!);
      expect(warm[RX.dropForged]).to.equal(0);
      expect(warm[RX.dropUnknownIndex]).to.equal(0);
      expect(warm[RX.dropReplay]).to.equal(0);
    });
  }

  for (const [family, bytes] of [
    [4, [10, 77, 0, 2]],
    [6, [0xfd, 0x77, ...new Array<number>(13).fill(0), 2]],
  ] as const) {
    it(`moves IPv${family} packets and super-packets through each half over a stream, on its own counters (TCP)`, async () => {
      const aead = await loadAead();
      const real: DatapathInit = {
        ...init([{ family, bytes: Uint8Array.from(bytes), prefix: family === 4 ? 32 : 128 }]),
        transport: 'tcp',
        keepWarmMs: 0, // KeepWarm off: the warm-up does not tick
        wireVnetHdr: true,
        // As tunnel.ts sets them for super-packets: virtio_net_hdr + GSO_MAX_SIZE.
        maxPlaintext: 10 + 65_000,
        maxMessage: 32 + 10 + 65_000,
      };
      let sending: DatapathInit | null = null;
      let receiving: DatapathInit | null = null;
      const sent = warmUpTcpSender(real, (i) => new TxLoop((sending = i), aead));
      const got = warmUpTcpReceiver(real, aead, (i) => new RxLoop((receiving = i), aead));
      expect(sent).to.be.greaterThan(1000);
      expect(got).to.be.greaterThan(1000);
      for (const i of [sending!, receiving!]) expect(i.wakeFd).to.be.at.least(0).and.not.equal(real.wakeFd);
      expect(new Float64Array(real.stats).every((v) => v === 0)).to.equal(true, 'the real counters stay at zero');
      const tx = new Float64Array(sending!.stats);
      const rx = new Float64Array(receiving!.stats);
      expect(tx[TX.packets]).to.be.greaterThan(1000);
      expect(tx[TX.dropSendFailed]).to.equal(0);
      // Every frame sealed for the receiver was opened and written: a stream loses nothing.
      expect(rx[RX.packets]).to.be.greaterThan(1000);
      expect(rx[RX.dropForged]).to.equal(0);
      expect(rx[RX.dropBadFrame]).to.equal(0);
      expect(rx[RX.dropBadVnetHeader]).to.equal(0);
      expect(rx[RX.dropUnknownIndex]).to.equal(0);
    });
  }

  it('skips a transport it does not know how to warm', async () => {
    const aead = await loadAead();
    const tcp = { ...init([{ family: 4, bytes: Uint8Array.from([10, 0, 0, 1]), prefix: 32 }]), transport: 'tcp' as const };
    expect(warmUp(tcp, (i) => new UdpLoop(i, new TxLoop(i, aead), new RxLoop(i, aead)))).to.equal(0);
  });
});
