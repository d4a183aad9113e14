// A warm-up rehearses the data-path loop with control messages of its own:
// they must reach the loop the way the main thread's do (through the wake
// eventfd, structured-cloned) and nothing may reach the main thread.
import { expect } from 'chai';
import * as libc from '../../../src/sys/libc.js';
import { post, rehearse, takeMessages } from '../../../src/tunnel/datapath/worker-port.js';

type Msg = { t: string; key?: Uint8Array };

const F_GETFD = 1;
const EBADF = 9;

describe('worker port: rehearsals', () => {
  it('delivers its control messages through its own wake descriptor, as copies, in order', () => {
    let fd = -1;
    rehearse<Msg>((control) => {
      fd = control.wakeFd;
      const key = Uint8Array.of(1, 2, 3);
      control.send({ t: 'receive-key-add', key });
      control.send({ t: 'keepalive' });
      key.fill(0);
      const got: Msg[] = [];
      expect(takeMessages<Msg>(control.wakeFd, (m) => got.push(m) > 0)).to.equal(true);
      expect(got.map((m) => m.t)).to.deep.equal(['receive-key-add', 'keepalive']);
      expect([...got[0]!.key!], 'a copy, as the main thread sends').to.deep.equal([1, 2, 3]);
      // The eventfd was cleared: nothing is waiting.
      expect(libc.read(control.wakeFd, Buffer.alloc(8), 8)).to.equal(-1);
      expect(libc.errno()).to.equal(libc.EAGAIN);
    });
    // Its eventfd is closed afterwards (F_GETFD: never blocks, whatever the number is now).
    expect(libc.fcntl(fd, F_GETFD, 0)).to.equal(-1);
    expect(libc.errno()).to.equal(EBADF);
  });

  it('restores the real port and reports when the rehearsal throws', () => {
    let fd = -1;
    expect(() =>
      rehearse((control) => {
        fd = control.wakeFd;
        throw new Error('warm-up failed');
      }),
    ).to.throw('warm-up failed');
    expect(libc.fcntl(fd, F_GETFD, 0)).to.equal(-1);
    // Reports are no longer dropped (outside a worker, posting throws).
    expect(() => post({ t: 'ready', aead: 'x' })).to.throw();
  });

  it('stops taking messages at one the loop refuses (stop)', () => {
    rehearse<Msg>((control) => {
      for (const t of ['a', 'stop', 'b']) control.send({ t });
      const got: string[] = [];
      expect(takeMessages<Msg>(control.wakeFd, (m) => (got.push(m.t), m.t !== 'stop'))).to.equal(false);
      expect(got).to.deep.equal(['a', 'stop']);
    });
  });

  it('drops reports meant for the main thread while it runs', () => {
    // Outside a worker there is no main thread to post to: a report that
    // was not dropped would throw here.
    expect(() => rehearse(() => post({ t: 'ready', aead: 'x' }))).to.not.throw();
    expect(() => post({ t: 'ready', aead: 'x' })).to.throw();
  });
});
