import { expect } from 'chai';
import { DropLog } from '../../src/daemon/drop-log.js';

describe('drop log', () => {
  it('logs one line with what was dropped since the last report, nothing when quiet', () => {
    const lines: string[] = [];
    const log = { error: () => {}, warn: () => {}, debug: () => {}, info: (m: string) => lines.push(m) };
    let counts: Record<string, number> = {};
    const d = new DropLog(() => counts, log);
    d.report();
    counts = { forged: 5, replay: 1 };
    d.report();
    counts = { forged: 5, replay: 3, short: 2 };
    d.report();
    d.report();
    expect(lines).to.deep.equal(['dropped in the last minute: forged 5, replay 1', 'dropped in the last minute: replay 2, short 2']);
  });
});
