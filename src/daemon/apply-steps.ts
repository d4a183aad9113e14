// Applies a reload's or a set's steps (peer-steps.ts) to the running
// tunnel through its peer API, in order, and gathers what each did: one
// line per change, as the tunnel words them (and logs them).
import { encodeKey } from '../crypto/keys.js';
import type { Logger } from '../log.js';
import type { Tunnel } from '../tunnel/tunnel.js';
import type { PeerStep } from './peer-steps.js';

/** What a reload or set did (each line also logged), or why it did not do it all. */
export type ChangeResult = { notes: string[] } | { error: string };

/** The part of the tunnel the steps use. */
export type PeerTable = Pick<Tunnel, 'addPeer' | 'removePeer' | 'changePeer'>;

/**
 * Runs the steps in order. A step that fails is reported with what was
 * applied before it, and the rest are not tried (everything that can be
 * checked beforehand was: served-tunnel.ts).
 */
export async function applySteps(tunnel: PeerTable, steps: readonly PeerStep[], what: 'reload' | 'set', log: Logger): Promise<ChangeResult> {
  const notes: string[] = [];
  // A new pre-shared key is one change to the operator: its remove and add are said as one line.
  const rekeyed = new Set<string>();
  const unlessRekeyed = (key: Uint8Array, said: string, lines: string[]) =>
    rekeyed.has(encodeKey(key)) ? lines.filter((l) => l !== `peer ${encodeKey(key)}: ${said}`) : lines;
  for (const step of steps) {
    try {
      if (step.kind === 'remove') {
        if (step.rekeyed) {
          rekeyed.add(encodeKey(step.publicKey));
          notes.push(`peer ${encodeKey(step.publicKey)}: pre-shared key changed; its session starts over`);
          log.info(notes.at(-1)!);
        }
        notes.push(...unlessRekeyed(step.publicKey, 'removed', await tunnel.removePeer(step.publicKey)));
      } else if (step.kind === 'add') {
        // The tunnel keeps a copy of its own: the caller zeroes this one once done.
        const { presharedKey, publicKey } = step.peer;
        const added = await tunnel.addPeer({ ...step.peer, ...(presharedKey ? { presharedKey: presharedKey.slice() } : {}) });
        notes.push(...unlessRekeyed(publicKey, 'added', added));
      } else {
        notes.push(...(await tunnel.changePeer(step.publicKey, step.change)));
      }
    } catch (err) {
      const error = `${what}: ${(err as Error).message}; ${notes.length > 0 ? `applied before it: ${notes.join('; ')}` : 'nothing was applied'}`;
      log.error(error);
      return { error };
    }
  }
  return { notes };
}
