// The host ledger (src/host/ledger.ts) holds commands root runs: only a
// regular file owned by root (or this user) and writable by its owner
// alone, in a run directory open to nobody else, is read.
import { expect } from 'chai';
import { chmodSync, chownSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runPreDown } from '../../src/host/hooks.js';
import { LedgerError, ledgerFile, readLedger, recordInLedger } from '../../src/host/ledger.js';
import type { Logger } from '../../src/log.js';
import { privateRunDir } from '../helpers/private-run-dir.js';

const quiet: Logger = { error: () => undefined, warn: () => undefined, info: () => undefined, debug: () => undefined };
const planted = (dir: string) => JSON.stringify({ hooks: { preDown: [`touch ${dir}/planted-ran`], postDown: [] } });

describe('host ledger trust (src/host/ledger.ts)', () => {
  let dir: string;
  before(() => (dir = privateRunDir()));

  it('reads a ledger root wrote', () => {
    recordInLedger('stg0', 'dns', { tool: 'resolvconf', target: 'stg0' });
    expect(readLedger('stg0')).to.deep.equal({ dns: { tool: 'resolvconf', target: 'stg0' } });
    recordInLedger('stg0', 'dns', undefined);
  });

  it('refuses a ledger that is a symbolic link, and runs none of its hooks', async () => {
    const elsewhere = join(dir, 'elsewhere.json');
    writeFileSync(elsewhere, planted(dir), { mode: 0o600 });
    symlinkSync(elsewhere, ledgerFile('stg1'));
    try {
      expect(() => readLedger('stg1')).to.throw(LedgerError, `${ledgerFile('stg1')}: it is a symbolic link; not trusted`);
      let thrown: unknown;
      await runPreDown('stg1', quiet).catch((e: unknown) => (thrown = e));
      expect(thrown).to.be.instanceOf(LedgerError);
    } finally {
      unlinkSync(ledgerFile('stg1'));
    }
  });

  it('refuses a ledger that others may write, or that another user owns', () => {
    writeFileSync(ledgerFile('stg2'), planted(dir));
    try {
      chmodSync(ledgerFile('stg2'), 0o666);
      expect(() => readLedger('stg2')).to.throw(LedgerError, 'it is group or world writable (mode 0666)');
      chmodSync(ledgerFile('stg2'), 0o600);
      chownSync(ledgerFile('stg2'), 65534, 65534);
      expect(() => readLedger('stg2')).to.throw(LedgerError, 'it is owned by uid 65534');
    } finally {
      unlinkSync(ledgerFile('stg2'));
    }
  });

  it('refuses every ledger while the run directory is group or world writable', () => {
    recordInLedger('stg3', 'dns', { tool: 'resolvconf', target: 'stg3' });
    chmodSync(dir, 0o777);
    try {
      expect(() => readLedger('stg3')).to.throw(LedgerError, `${dir}: the run directory is group or world writable (mode 0777)`);
    } finally {
      chmodSync(dir, 0o700);
      recordInLedger('stg3', 'dns', undefined);
    }
  });
});
