// The log format for the journal (log.ts): a syslog priority in front of
// every line, no time stamp; only when stderr itself is the journal's stream.
import { expect } from 'chai';
import { closeSync, fstatSync, mkdtempSync, openSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { createLogger, stderrIsJournal } from '../../src/log.js';

function written(journal: boolean, use: (log: ReturnType<typeof createLogger>) => void): string {
  const out = new PassThrough();
  let text = '';
  out.on('data', (d: Buffer) => (text += d.toString()));
  use(createLogger('sealtun[st0]', 'info', out, journal));
  return text;
}

describe('log lines for the journal', () => {
  it('each level has its syslog priority (error 3, warn 4, info 6); debug is dropped at level info', () => {
    const text = written(true, (log) => {
      log.error('e');
      log.warn('w');
      log.info('i');
      log.debug('d');
    });
    expect(text).to.equal('<3>sealtun[st0] error: e\n<4>sealtun[st0] warn: w\n<6>sealtun[st0] info: i\n');
  });

  it('every line of a multi-line message carries the priority', () => {
    expect(written(true, (log) => log.warn('hook failed:\nline 1\nline 2'))).to.equal('<4>sealtun[st0] warn: hook failed:\n<4>line 1\n<4>line 2\n');
  });

  it('outside the journal: an ISO time stamp and no priority', () => {
    expect(written(false, (log) => log.info('i'))).to.match(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z sealtun\[st0\] info: i\n$/);
  });

  it('JOURNAL_STREAM counts only when it names the stream itself (a child logging to a file inherits the variable, not the stream)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'sealtun-journal-'));
    const [fd, other] = [openSync(join(dir, 'stream'), 'w'), openSync(join(dir, 'file'), 'w')];
    try {
      const st = fstatSync(fd, { bigint: true });
      const env = { JOURNAL_STREAM: `${st.dev}:${st.ino}` };
      expect(stderrIsJournal(env, fd)).to.equal(true);
      expect(stderrIsJournal(env, other)).to.equal(false);
      expect(stderrIsJournal({}, fd)).to.equal(false);
    } finally {
      closeSync(fd);
      closeSync(other);
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
