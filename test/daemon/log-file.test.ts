// The `--daemon` log (src/daemon/log-file.ts): a fresh file per start, and
// within a run, past its cap, a move to NAME.log.1 that every writer follows.
import { expect } from 'chai';
import { closeSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openFreshLog, rotateIfPast } from '../../src/daemon/log-file.js';

describe('daemon log file (src/daemon/log-file.ts)', () => {
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'sealtun-log-'))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('past the cap, the running log moves to .log.1 and the writers go on in a new one', () => {
    const path = join(dir, 'st0.log');
    const out = openFreshLog(path);
    const err = openSync(path, 'a'); // as stdout and stderr: two descriptors on one file
    try {
      writeSync(out, 'x'.repeat(1000) + '\n');
      expect(rotateIfPast(path, 4096, [out, err]), 'under the cap').to.equal('kept');
      writeSync(err, 'y'.repeat(4000) + '\n');
      expect(rotateIfPast(path, 4096, [out, err])).to.equal('rotated');
      writeSync(out, 'after, on stdout\n');
      writeSync(err, 'after, on stderr\n');
      expect(readFileSync(`${path}.1`, 'utf8')).to.have.length(5002);
      expect(readFileSync(path, 'utf8')).to.equal('after, on stdout\nafter, on stderr\n');
    } finally {
      closeSync(out);
      closeSync(err);
    }
  });

  it('a log that cannot be moved (a daemon that dropped root) is emptied in place, saying so', () => {
    const path = join(dir, 'st1.log');
    const out = openFreshLog(path);
    mkdirSync(`${path}.1`); // the rename fails, as it would for a user who may not write the run directory
    try {
      writeSync(out, 'z'.repeat(5000));
      expect(rotateIfPast(path, 4096, [out])).to.equal('truncated');
      writeSync(out, 'next line\n');
      expect(readFileSync(path, 'utf8')).to.match(/log passed 4096 bytes and could not be moved to .*st1\.log\.1 \(EISDIR\): emptied\nnext line\n$/);
    } finally {
      closeSync(out);
    }
  });
});
