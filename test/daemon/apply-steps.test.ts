// A reload's steps applied to the tunnel's peer API (apply-steps.ts), with a
// stand-in for the tunnel that records the calls.
import { expect } from 'chai';
import { parseCidr } from '../../src/config/cidr.js';
import type { PeerConfig } from '../../src/config/config.js';
import { encodeKey } from '../../src/crypto/keys.js';
import { applySteps, type PeerTable } from '../../src/daemon/apply-steps.js';
import type { PeerStep } from '../../src/daemon/peer-steps.js';
import type { Logger } from '../../src/log.js';

const key = (n: number) => new Uint8Array(32).fill(n);
const k = (n: number) => encodeKey(key(n));
const peer = (n: number, extra: Partial<PeerConfig> = {}): PeerConfig => ({ publicKey: key(n), allowedIPs: [parseCidr(`10.0.0.${n}`, { hostBits: 'clear' })], line: 0, ...extra });

/** Records calls; answers as the tunnel words its notes (multipeer design); `failAt` makes that call throw. */
function fakeTunnel(failAt = -1): PeerTable & { calls: string[]; added: PeerConfig[] } {
  const calls: string[] = [];
  const added: PeerConfig[] = [];
  const answer = async (call: string, lines: string[]) => {
    calls.push(call);
    if (calls.length - 1 === failAt) throw new Error(`${call} failed`);
    return lines;
  };
  return {
    calls,
    added,
    addPeer: (p) => (added.push(p), answer(`add ${p.publicKey[0]}`, [`peer ${encodeKey(p.publicKey)}: added`])),
    removePeer: (pk) => answer(`remove ${pk[0]}`, [`peer ${encodeKey(pk)}: removed`]),
    changePeer: (pk, c) => answer(`change ${pk[0]}`, c.allowedIPs ? [`peer ${encodeKey(pk)}: allowed IPs now ${c.allowedIPs.map((x) => x.text).join(', ')}`] : []),
  };
}

function recordingLog(): Logger & { lines: string[] } {
  const lines: string[] = [];
  const at = (l: string) => (m: string) => void lines.push(`${l}: ${m}`);
  return { lines, error: at('error'), warn: at('warn'), info: at('info'), debug: at('debug') };
}

describe('applying reload steps (apply-steps.ts)', () => {
  it('calls the tunnel in the steps’ order and returns its notes, one line per change', async () => {
    const t = fakeTunnel();
    const steps: PeerStep[] = [
      { kind: 'remove', publicKey: key(2), rekeyed: false },
      { kind: 'change', publicKey: key(1), change: { allowedIPs: [parseCidr('10.9.0.0/16', { hostBits: 'clear' })] } },
      { kind: 'add', peer: peer(3) },
    ];
    const r = await applySteps(t, steps, 'reload', recordingLog());
    expect(t.calls).to.deep.equal(['remove 2', 'change 1', 'add 3']);
    expect(r).to.deep.equal({ notes: [`peer ${k(2)}: removed`, `peer ${k(1)}: allowed IPs now 10.9.0.0/16`, `peer ${k(3)}: added`] });
  });

  it('a new pre-shared key is one line, not "removed" and "added"; the tunnel gets its own copy of the key', async () => {
    const t = fakeTunnel();
    const psk = new Uint8Array(32).fill(7);
    const log = recordingLog();
    const r = await applySteps(t, [{ kind: 'remove', publicKey: key(2), rekeyed: true }, { kind: 'add', peer: peer(2, { presharedKey: psk }) }], 'reload', log);
    expect(r).to.deep.equal({ notes: [`peer ${k(2)}: pre-shared key changed; its session starts over`] });
    psk.fill(0); // what the caller does once done
    expect(t.added[0]!.presharedKey!.every((b) => b === 7), "the tunnel's copy survives the caller zeroing its own").to.equal(true);
    expect(log.lines.join('\n')).to.not.include(encodeKey(new Uint8Array(32).fill(7)));
  });

  it('a step that fails stops the rest and says what was applied before it', async () => {
    const t = fakeTunnel(1);
    const log = recordingLog();
    const r = await applySteps(t, [{ kind: 'remove', publicKey: key(2), rekeyed: false }, { kind: 'add', peer: peer(3) }, { kind: 'add', peer: peer(4) }], 'set', log);
    expect(t.calls).to.deep.equal(['remove 2', 'add 3']);
    expect(r).to.deep.equal({ error: `set: add 3 failed; applied before it: peer ${k(2)}: removed` });
    expect(log.lines).to.deep.equal([`error: set: add 3 failed; applied before it: peer ${k(2)}: removed`]);
    expect(await applySteps(fakeTunnel(0), [{ kind: 'add', peer: peer(3) }], 'set', log)).to.deep.equal({ error: 'set: add 3 failed; nothing was applied' });
  });
});
