// sd_notify without libsystemd (src/daemon/sd-notify.ts): the address
// systemd's NOTIFY_SOCKET names, the datagram, and failures that are
// reported instead of thrown.
import { expect } from 'chai';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SystemdNotifier, unixAddress } from '../../src/daemon/sd-notify.js';
import { eventually } from '../helpers/netns.js';
import { notifySocket } from '../helpers/notify-socket.js';

describe('sd_notify to $NOTIFY_SOCKET', function () {
  this.timeout(30_000);
  let dir = '';
  before(() => (dir = mkdtempSync(join(tmpdir(), 'sealtun-notify-'))));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('a path is sent with its NUL, an "@" name in the abstract namespace without one', () => {
    const path = unixAddress('/run/systemd/notify');
    expect(path.len).to.equal(2 + '/run/systemd/notify'.length + 1);
    expect(path.addr.readUInt16LE(0)).to.equal(1); // AF_UNIX
    expect(path.addr.subarray(2, path.len).toString()).to.equal('/run/systemd/notify\0');
    const abstract = unixAddress('@sd-test');
    expect(abstract.len).to.equal(2 + 1 + 'sd-test'.length);
    expect([...abstract.addr.subarray(2, abstract.len)]).to.deep.equal([0, ...Buffer.from('sd-test')]);
    expect(() => unixAddress(`/${'x'.repeat(107)}`)).to.throw(/longer than 107 bytes/);
  });

  for (const kind of ['path', 'abstract'] as const) {
    it(`READY=1 arrives as one datagram (${kind === 'path' ? 'a path' : 'an abstract'} socket); NOTIFY_SOCKET is taken out of the environment the daemon passes on`, async () => {
      const name = `sealtun-notify-test-${process.pid}`;
      const [address, socatAddress] = kind === 'path' ? [join(dir, 'notify'), `UNIX-RECV:${join(dir, 'notify')}`] : [`@${name}`, `ABSTRACT-RECV:${name}`];
      const listener = notifySocket(socatAddress);
      try {
        const env: NodeJS.ProcessEnv = { NOTIFY_SOCKET: address };
        const notifier = SystemdNotifier.fromEnv(env);
        expect(env['NOTIFY_SOCKET']).to.equal(undefined);
        // Until socat has bound the socket, sending fails (ENOENT, ECONNREFUSED): retried.
        await eventually(async () => notifier.ready() === null, 5000, 20);
        await eventually(async () => listener.received() === 'READY=1', 5000, 20);
      } finally {
        listener.child.kill('SIGKILL');
      }
    });
  }

  it('without NOTIFY_SOCKET nothing is sent; a socket that is not there is reported, not thrown', () => {
    expect(SystemdNotifier.fromEnv({}).ready()).to.equal(null);
    const missing = join(dir, 'nobody-listens');
    expect(SystemdNotifier.fromEnv({ NOTIFY_SOCKET: missing }).ready()).to.equal(`could not notify systemd (READY=1): sendto(${missing}): ENOENT`);
  });
});
