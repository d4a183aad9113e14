// The per-Name lock (src/daemon/name-lock.ts): one `up` of a Name at a
// time, held while the process lives, never inherited by what it starts.
import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { symlinkSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { lockFile, lockHolder, NameLock, NameLockHeld } from '../../src/daemon/name-lock.js';
import { ownIdentity } from '../../src/daemon/process-identity.js';
import { privateRunDir } from '../helpers/private-run-dir.js';

describe('per-Name lock (src/daemon/name-lock.ts)', () => {
  before(() => privateRunDir());

  it('a second take of the same Name is refused, naming the holder, until the first lets go', () => {
    expect(lockHolder('stl0'), 'never taken: nobody holds it').to.equal(null);
    const first = NameLock.take('stl0');
    let thrown: unknown;
    try {
      NameLock.take('stl0');
    } catch (err) {
      thrown = err;
    }
    expect(thrown).to.be.instanceOf(NameLockHeld);
    expect((thrown as Error).message).to.equal(`stl0: already starting or running (pid ${process.pid}); stop it first with: sealtun down stl0`);
    expect(lockHolder('stl0')).to.deep.equal(ownIdentity());
    const other = NameLock.take('stl1');
    other.release();
    first.release();
    expect(lockHolder('stl0')).to.equal(null);
    NameLock.take('stl0').release();
  });

  it('a process started while it is held does not keep it (close-on-exec)', async () => {
    const lock = NameLock.take('stl2');
    const child = spawn('sleep', ['5'], { stdio: 'ignore' });
    try {
      await new Promise((r) => child.once('spawn', r));
      lock.release();
      expect(lockHolder('stl2'), 'free once the holder let go, though its child runs on').to.equal(null);
    } finally {
      child.kill('SIGKILL');
    }
  });

  it('does not follow a symlink put in its place', () => {
    const target = join(privateRunDir(), 'elsewhere');
    symlinkSync(target, lockFile('stl3'));
    try {
      expect(() => NameLock.take('stl3')).to.throw(/ELOOP/);
    } finally {
      unlinkSync(lockFile('stl3'));
    }
  });
});
