// `sealtun set NAME peer KEY ...`: one peer changed at run time, as
// `wg set` does; the config file is not touched (a reload or a restart goes
// back to it). The request carries the values as the command line wrote
// them (the pre-shared key read from its file by the caller, as root) and
// is checked here by the parsers a config file's values go through, both
// by the CLI before sending and by the daemon on receipt.
import { parseSetting, type Endpoint, type PeerConfig } from '../config/config.js';
import type { Cidr } from '../config/cidr.js';
import { checkPeerPublicKey, decodeKey, encodeKey } from '../crypto/keys.js';

/** The request as it travels on the control socket. */
export interface SetView {
  /** Base64. */
  publicKey: string;
  remove: boolean;
  /** HOST:PORT. */
  endpoint?: string;
  /** CIDR[,CIDR...]. */
  allowedIPs?: string;
  /** Seconds, or "off". */
  persistentKeepalive?: string;
  /** Base64, the key itself (never logged nor shown); null: the peer has none from now on. */
  presharedKey?: string | null;
}

/** What the command line gives (src/cli/set-args.ts): the pre-shared key as a file for the caller to read. */
export type SetArgs = Omit<SetView, 'presharedKey'> & { presharedKeyFile?: string };

/** `preshared-key /dev/null`: the peer has no pre-shared key from now on, as in `wg set`. */
export const NO_KEY_FILE = '/dev/null';

/** A checked request; a field is present only when the command sets it. */
export interface PeerSet {
  publicKey: Uint8Array;
  remove: boolean;
  endpoint?: Endpoint;
  allowedIPs?: Cidr[];
  /** undefined: off. */
  persistentKeepalive?: number | undefined;
  /** null: none. */
  presharedKey?: Uint8Array | null;
}

const SOURCE = 'set';

/** Checks a request (from the command line or the control socket); throws naming the bad value's setting. */
export function parseSetView(x: unknown): PeerSet {
  const v = x as Partial<Record<keyof SetView, unknown>> | null;
  const optional = (key: keyof SetView) => v?.[key] === undefined || typeof v[key] === 'string';
  const ok =
    v !== null && typeof v === 'object' && typeof v.publicKey === 'string' && typeof v.remove === 'boolean' &&
    optional('endpoint') && optional('allowedIPs') && optional('persistentKeepalive') && (v.presharedKey === null || optional('presharedKey'));
  if (!ok) throw new Error('malformed set request');
  const view = v as unknown as SetView;
  const set: PeerSet = { publicKey: checkPeerPublicKey(decodeKey(view.publicKey, SOURCE, 'public key'), SOURCE), remove: view.remove };
  if (view.endpoint !== undefined) set.endpoint = parseSetting('Endpoint', view.endpoint, SOURCE);
  if (view.allowedIPs !== undefined) set.allowedIPs = parseSetting('AllowedIPs', view.allowedIPs, SOURCE);
  if (view.persistentKeepalive !== undefined) set.persistentKeepalive = parseSetting('PersistentKeepalive', view.persistentKeepalive, SOURCE);
  if (view.presharedKey !== undefined) set.presharedKey = view.presharedKey === null ? null : decodeKey(view.presharedKey, SOURCE, 'pre-shared key');
  if (set.remove && Object.keys(set).length > 2) throw new Error(`${SOURCE}: remove takes no other setting`);
  return set;
}

/**
 * The peers after `set` (copies where changed; `running` is not modified).
 * Throws when removing a peer that is not there, or when a new peer lacks
 * AllowedIPs. The caller checks the result as a config's peers (checkPeers).
 */
export function peersAfterSet(running: readonly PeerConfig[], set: PeerSet): PeerConfig[] {
  const key = encodeKey(set.publicKey);
  const at = running.findIndex((p) => Buffer.from(p.publicKey).equals(Buffer.from(set.publicKey)));
  if (set.remove) {
    if (at < 0) throw new Error(`peer ${key} is not a peer of this interface; nothing to remove`);
    return running.filter((_, i) => i !== at);
  }
  const old = at < 0 ? undefined : running[at]!;
  if (!old && !set.allowedIPs) throw new Error(`peer ${key} is new: give its allowed-ips (a peer owns the addresses it may send from and is sent to)`);
  const peer: PeerConfig = old ? { ...old } : { publicKey: set.publicKey, allowedIPs: [], line: 0 };
  if (set.endpoint) peer.endpoint = set.endpoint;
  if (set.allowedIPs) peer.allowedIPs = set.allowedIPs;
  if ('persistentKeepalive' in set) {
    if (set.persistentKeepalive === undefined) delete peer.persistentKeepalive;
    else peer.persistentKeepalive = set.persistentKeepalive;
  }
  if (set.presharedKey === null) delete peer.presharedKey;
  else if (set.presharedKey) peer.presharedKey = set.presharedKey;
  return old ? running.map((p, i) => (i === at ? peer : p)) : [...running, peer];
}
