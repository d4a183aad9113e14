// The TCP link's bookkeeping of connections across threads, driven through
// its worker-report handler with a stand-in for the workers and real
// connections from socat (child processes, so this process's descriptor
// numbers are the listener's alone and a closed one is reused by the next
// accepted connection, as in the daemon).
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, fstatSync, openSync } from 'node:fs';
import { expect } from 'chai';
import type { Datapath } from '../../../src/tunnel/datapath/datapath.js';
import type { Logger } from '../../../src/log.js';
import { TcpLink } from '../../../src/tunnel/link/tcp-link.js';
import { TcpConns } from '../../../src/tunnel/link/tcp-conns.js';
import type { ToRx, ToTx } from '../../../src/tunnel/datapath/worker-messages.js';
import { eventually } from '../../helpers/netns.js';

const quiet: Logger = { error() {}, warn() {}, info() {}, debug() {} };

/** Stands in for the data-path workers: records what the link tells them. */
class Workers {
  readonly rx: ToRx[] = [];
  readonly tx: ToTx[] = [];
  toRx(m: ToRx): void {
    this.rx.push(m);
  }
  toTx(m: ToTx): void {
    this.tx.push(m);
  }
  added(): Array<{ fd: number; conn: number }> {
    return this.rx.flatMap((m) => (m.t === 'tcp-add' ? [{ fd: m.fd, conn: m.conn }] : []));
  }
  removed(fd: number): boolean {
    return this.rx.some((m) => m.t === 'tcp-remove' && m.fd === fd);
  }
}

function isOpen(fd: number): boolean {
  try {
    fstatSync(fd);
    return true;
  } catch {
    return false;
  }
}

/**
 * Holds every free descriptor number below `fd` (so the kernel's next one is
 * `fd`, as in a daemon whose numbers are all in use); returns them to close.
 */
function holdNumbersBelow(fd: number): number[] {
  const held: number[] = [];
  for (;;) {
    const n = openSync('/dev/null', 'r');
    if (n >= fd) {
      closeSync(n);
      return held;
    }
    held.push(n);
  }
}

describe('TCP link: connections across threads', function () {
  this.timeout(30_000);
  let link: TcpLink;
  let conns: TcpConns;
  let workers: Workers;
  let port = 0;
  const clients: ChildProcess[] = [];

  beforeEach(async () => {
    conns = new TcpConns({ address: { family: 4, address: '127.0.0.1', port: 0 }, port: 0 }, quiet);
    conns.bind();
    workers = new Workers();
    conns.attach(workers as unknown as Datapath);
    link = new TcpLink(conns, null, quiet, 0);
    await link.attach(workers as unknown as Datapath);
    port = Number(link.listenText()!.split(':').pop());
  });

  afterEach(async () => {
    for (const c of clients.splice(0)) c.kill('SIGKILL');
    conns.close();
    await link.close();
  });

  /** Connects from `source` (a loopback address) and resolves with what the link handed the receive worker. */
  async function connectFrom(source: string): Promise<{ fd: number; conn: number }> {
    const before = workers.added().length;
    clients.push(spawn('socat', ['-u', `TCP:127.0.0.1:${port},bind=${source}`, 'OPEN:/dev/null'], { stdio: 'ignore' }));
    await eventually(async () => workers.added().length > before, 5000, 10);
    return workers.added()[before]!;
  }

  it('a late report about a closed connection never touches a newer one holding the same descriptor', async () => {
    const old = await connectFrom('127.0.0.2');
    link.confirmPeer(null, old.fd);
    // The peer reconnects: the new connection authenticates and replaces the old one.
    const peer = await connectFrom('127.0.0.3');
    link.confirmPeer(null, peer.fd);
    expect(workers.removed(old.fd), 'the receive worker is asked to let go of the old connection').to.equal(true);
    // Both workers let go of it: the receive worker saw the end of the stream (the
    // link's shutdown) before the link's tcp-remove, the send worker moved on.
    link.onWorkerMessage({ t: 'tcp-closed', fd: old.fd, conn: old.conn, reason: 'eof' });
    link.onWorkerMessage({ t: 'tcp-released', fd: old.fd, conn: old.conn });
    expect(isOpen(old.fd), 'closed once both workers let go').to.equal(false);
    // A later connection gets the same descriptor number (not the next one:
    // accept() takes its number when it starts waiting, which the listener
    // did as soon as the previous connection came) ...
    const held = holdNumbersBelow(old.fd);
    await connectFrom('127.0.0.5');
    const next = await connectFrom('127.0.0.4');
    for (const n of held) closeSync(n);
    expect(next.fd, 'the descriptor number is reused').to.equal(old.fd);
    // ... and then the receive worker's answer to that tcp-remove arrives.
    link.onWorkerMessage({ t: 'tcp-removed', fd: old.fd, conn: old.conn });
    // Retiring the newer connection (two more from its source evict it) must
    // still ask the receive worker to let go of it, and keep its descriptor
    // open until it has: closed earlier, the number could be reused under
    // the worker's poll() and another connection's bytes read as this one's.
    const sentBefore = workers.rx.filter((m) => m.t === 'tcp-remove').length;
    await connectFrom('127.0.0.4');
    await connectFrom('127.0.0.4');
    const removes = workers.rx.filter((m) => m.t === 'tcp-remove').slice(sentBefore);
    expect(removes, 'tcp-remove sent for the newer connection').to.deep.equal([{ t: 'tcp-remove', fd: next.fd, conn: next.conn }]);
    expect(isOpen(next.fd), 'its descriptor stays open while the receive worker may poll it').to.equal(true);
    link.onWorkerMessage({ t: 'tcp-removed', fd: next.fd, conn: next.conn });
    expect(isOpen(next.fd)).to.equal(false);
  });

  it('never evicts a connection that delivered a valid mac1 (one per source); refuses a newcomer when only such remain', async () => {
    const vouched = await connectFrom('127.0.0.4');
    link.passedMac1(null, vouched.fd);
    const other = await connectFrom('127.0.0.4');
    // A second one from the same source is not protected: a few sources must not hold every slot.
    link.passedMac1(null, other.fd);
    await connectFrom('127.0.0.4');
    expect(workers.removed(vouched.fd), 'the one with a valid mac1 stays').to.equal(false);
    expect(workers.removed(other.fd), 'the other from its source gives way').to.equal(true);
    // 7 more sources, one protected connection each: the 8 slots hold only such.
    for (let i = 10; i < 17; i++) link.passedMac1(null, (await connectFrom(`127.0.0.${i}`)).fd);
    const accepted = workers.added().length;
    clients.push(spawn('socat', ['-u', `TCP:127.0.0.1:${port},bind=127.0.0.20`, 'OPEN:/dev/null'], { stdio: 'ignore' }));
    const refused = clients.at(-1)!;
    // The link closes the newcomer at once: socat sees the end and exits.
    await eventually(async () => refused.exitCode !== null, 5000, 20);
    expect(workers.added().length, 'no connection handed to the workers').to.equal(accepted);
  });

  it('closes a pending connection whose message passed mac1 and then failed the handshake', async () => {
    const forged = await connectFrom('127.0.0.4');
    link.passedMac1(null, forged.fd);
    link.failedHandshake(null, forged.fd);
    expect(workers.removed(forged.fd), 'closed: a valid mac1 alone keeps no slot').to.equal(true);
    // The peer's current connection is not ended by a stray message that fails.
    const peer = await connectFrom('127.0.0.5');
    link.confirmPeer(null, peer.fd);
    link.failedHandshake(null, peer.fd);
    expect(workers.removed(peer.fd)).to.equal(false);
  });

  it('carries many peers: each claims the connection its handshake came over, and losing one leaves the others', async () => {
    const second = new TcpLink(conns, null, quiet, 1);
    await second.attach(workers as unknown as Datapath);
    const a = await connectFrom('127.0.0.6');
    const b = await connectFrom('127.0.0.7');
    link.confirmPeer(null, a.fd);
    second.confirmPeer(null, b.fd);
    // A peer cannot take another's connection.
    second.confirmPeer(null, a.fd);
    const handed = workers.tx.filter((m) => m.t === 'tcp-connection');
    expect(handed).to.deep.equal([
      { t: 'tcp-connection', peer: 0, fd: a.fd, conn: a.conn },
      { t: 'tcp-connection', peer: 1, fd: b.fd, conn: b.conn },
    ]);
    expect(link.canSend() && second.canSend()).to.equal(true);
    // Peer 1's connection ends: only peer 1 is told it has none.
    conns.onWorkerMessage({ t: 'tcp-closed', fd: b.fd, conn: b.conn, reason: 'eof' });
    expect(workers.tx.filter((m) => m.t === 'tcp-connection').slice(2)).to.deep.equal([{ t: 'tcp-connection', peer: 1, fd: -1, conn: 0 }]);
    expect(second.canSend()).to.equal(false);
    expect(link.canSend()).to.equal(true);
    await second.close();
  });
});
