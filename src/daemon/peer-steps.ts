// The steps that take a running tunnel's peers to a new set of peers, as
// `wg syncconf` does: peers that went are removed, new ones added, and a
// peer whose PublicKey and PresharedKey stayed is changed in place
// (Endpoint, PersistentKeepalive, AllowedIPs) so that it keeps its session.
// A changed PresharedKey is a remove and an add: the session was keyed with
// the old one.
//
// The order matters because the tunnel refuses a prefix that another peer
// still owns (cryptokey routing has one owner per prefix): every step that
// gives a prefix up comes before any step that takes one over. So: removals
// first; then each changed peer shrinks to what it keeps (or takes its whole
// change at once when nothing it gains is another peer's now); then the
// additions; then the changed peers that gain a prefix another peer held.
// Pure: no tunnel, no I/O, so the order is unit-tested on its own.
import type { Endpoint, PeerConfig } from '../config/config.js';
import type { Cidr } from '../config/cidr.js';
import type { PeerChange } from '../tunnel/tunnel.js';

export type PeerStep =
  | { kind: 'remove'; publicKey: Uint8Array; /** The peer stays, with a new pre-shared key: an add follows. */ rekeyed: boolean }
  | { kind: 'add'; peer: PeerConfig }
  | { kind: 'change'; publicKey: Uint8Array; change: PeerChange };

const keyId = (key: Uint8Array) => Buffer.from(key).toString('hex');
const sameKey = (a: Uint8Array | undefined, b: Uint8Array | undefined) =>
  a === undefined || b === undefined ? a === b : Buffer.from(a).equals(Buffer.from(b));
const endpointText = (e: Endpoint | undefined) => (e ? `${e.host}:${e.port}` : '');
const texts = (cidrs: readonly Cidr[]) => cidrs.map((c) => c.text);

/** What changes for a peer that stays (same PublicKey and PresharedKey); a field is present only when it changes. */
export function peerChange(old: PeerConfig, next: PeerConfig): PeerChange {
  const change: PeerChange = {};
  if (endpointText(old.endpoint) !== endpointText(next.endpoint)) change.endpoint = next.endpoint ?? null;
  if ((old.persistentKeepalive ?? 0) !== (next.persistentKeepalive ?? 0)) change.persistentKeepalive = next.persistentKeepalive ?? null;
  if (texts(old.allowedIPs).join() !== texts(next.allowedIPs).join()) change.allowedIPs = next.allowedIPs;
  return change;
}

/**
 * The steps from `running` to `next`, in an order where no prefix is ever
 * owned by two peers. `next` must be a valid set of peers (no shared key or
 * prefix: the config parser and the request checks see to that).
 */
export function peerSteps(running: readonly PeerConfig[], next: readonly PeerConfig[]): PeerStep[] {
  const nextByKey = new Map(next.map((p) => [keyId(p.publicKey), p]));
  const removals: PeerStep[] = [];
  const shrinks: PeerStep[] = [];
  const adds: PeerStep[] = [];
  const grows: PeerStep[] = [];
  const staying: Array<{ old: PeerConfig; next: PeerConfig }> = [];
  for (const old of running) {
    const n = nextByKey.get(keyId(old.publicKey));
    if (n === undefined) removals.push({ kind: 'remove', publicKey: old.publicKey, rekeyed: false });
    else if (!sameKey(old.presharedKey, n.presharedKey)) {
      removals.push({ kind: 'remove', publicKey: old.publicKey, rekeyed: true });
      adds.push({ kind: 'add', peer: n });
    } else staying.push({ old, next: n });
  }
  const runningKeys = new Set(running.map((p) => keyId(p.publicKey)));
  for (const p of next) if (!runningKeys.has(keyId(p.publicKey))) adds.push({ kind: 'add', peer: p });
  // Prefixes held, after the removals, by peers that stay: a peer gaining one of these must wait until its owner let it go.
  const heldBy = new Map<string, string>();
  for (const { old } of staying) for (const c of old.allowedIPs) heldBy.set(c.text, keyId(old.publicKey));
  for (const { old, next: n } of staying) {
    const change = peerChange(old, n);
    if (Object.keys(change).length === 0) continue;
    const id = keyId(old.publicKey);
    const kept = new Set(texts(old.allowedIPs));
    const waits = change.allowedIPs?.some((c) => !kept.has(c.text) && heldBy.has(c.text) && heldBy.get(c.text) !== id) ?? false;
    if (!waits) {
      shrinks.push({ kind: 'change', publicKey: old.publicKey, change });
      continue;
    }
    const keeps = n.allowedIPs.filter((c) => kept.has(c.text));
    if (keeps.length < old.allowedIPs.length) shrinks.push({ kind: 'change', publicKey: old.publicKey, change: { allowedIPs: keeps } });
    grows.push({ kind: 'change', publicKey: old.publicKey, change });
  }
  return [...removals, ...shrinks, ...adds, ...grows];
}
