// The docs say what the code does: figures and features the docs state are
// checked here against the code, so a change to either shows up as a failure.
import { expect } from 'chai';
import { readdirSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ReplayWindow } from '../../src/crypto/replay.js';
import { endpointFile } from '../../src/daemon/rundir.js';

const REPO = fileURLToPath(new URL('../../..', import.meta.url));
const DOCS = ['README.md', ...readdirSync(join(REPO, 'docs')).filter((f) => f.endsWith('.md')).map((f) => join('docs', f))];
const text = (file: string) => readFileSync(join(REPO, file), 'utf8').replace(/\s+/g, ' ');

/** The greatest d such that a counter d behind the newest is accepted, wherever the newest sits in its ring word. */
function usableReplayDepth(): number {
  let depth = Infinity;
  for (let top = 50_000; top < 50_000 + 32; top++) {
    // Accepting one counter sets only its own bit, so one window can be probed at every depth in turn.
    const w = new ReplayWindow();
    w.accept(top);
    let d = 1;
    while (w.accept(top - d)) d++;
    depth = Math.min(depth, d - 1);
  }
  return depth;
}

describe('docs agree with the code', () => {
  it('the replay window: every "N (messages) behind/back/late" is the depth ReplayWindow accepts (N or more: refused)', () => {
    const depth = usableReplayDepth();
    expect(depth).to.equal(8159);
    const seen = new Set<string>();
    for (const file of DOCS) {
      for (const m of text(file).matchAll(/\b(\d{4,5})( or more)? (?:messages )?(?:behind|back|late)\b/g)) {
        const n = Number(m[1]);
        expect(n, `${file}: "${m[0]}"`).to.equal(m[2] ? depth + 1 : depth);
        seen.add(file);
      }
    }
    expect([...seen].sort(), 'where the replay window is described').to.include.members(['docs/operations.md', 'docs/protocol.md', 'docs/threat-model.md']);
  });

  it('nothing implemented is called unimplemented (cookies, message-count rekey, User)', () => {
    for (const file of DOCS) {
      const t = text(file);
      expect(t, file).to.not.match(/not implemented|no cookie replies|no rekey-after-messages|parsed but not/i);
    }
  });

  it("a listener's NAME.endpoint file in the run directory is documented", () => {
    const suffix = basename(endpointFile('NAME')).slice('NAME'.length);
    expect(suffix).to.equal('.endpoint');
    expect(text('docs/operations.md')).to.match(/\b(?:NAME|st0)\.endpoint\b/);
  });
});
