// Which run directory a process uses, by network namespace: the decision in
// rundir.ts, on real namespaces (a child in one of its own, `unshare -n`).
import { expect } from 'chai';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readlinkSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { namespaceSubdir } from '../../src/daemon/rundir.js';

describe('run directory per network namespace', () => {
  let child: ChildProcess;
  let names: string;
  let other: string;
  before(async () => {
    child = spawn('unshare', ['-n', 'sleep', '60'], { stdio: 'ignore' });
    other = `/proc/${child.pid}/ns/net`;
    // unshare execs sleep once the namespace is made.
    for (let i = 0; i < 100 && readlinkSync(other) === readlinkSync('/proc/self/ns/net'); i++) await new Promise((r) => setTimeout(r, 20));
    names = mkdtempSync(join(tmpdir(), 'sealtun-netns-'));
  });
  after(() => {
    child.kill('SIGKILL');
    rmSync(names, { recursive: true, force: true });
  });

  it('the initial namespace uses the run directory itself', () => {
    expect(namespaceSubdir('/proc/self/ns/net', '/proc/self/ns/net', names)).to.equal('');
  });

  it('another namespace without an `ip netns` name uses netns/inode-N', () => {
    const inode = readlinkSync(other).match(/\[(\d+)\]/)![1];
    expect(namespaceSubdir(other, '/proc/self/ns/net', names)).to.equal(`netns/inode-${inode}`);
  });

  it('a namespace `ip netns` names uses netns/NAME, also when the initial one cannot be read', () => {
    const dir = mkdtempSync(join(tmpdir(), 'sealtun-netns-'));
    try {
      symlinkSync(other, join(dir, 'blue')); // as `ip netns add` binds it, seen through stat
      expect(namespaceSubdir(other, '/proc/self/ns/net', dir)).to.equal('netns/blue');
      expect(namespaceSubdir(other, '/nonexistent', dir)).to.equal('netns/blue');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('when the initial namespace cannot be read (non-root, a narrowed unit), an unnamed one uses the run directory itself', () => {
    expect(namespaceSubdir(other, '/nonexistent', names)).to.equal('');
  });
});
