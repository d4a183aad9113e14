// What a reloaded config may change in a running tunnel, the way
// `wg syncconf` does: peers come and go, and a peer's Endpoint,
// PersistentKeepalive, AllowedIPs and PresharedKey change live (peer-steps.ts
// orders the steps); a peer whose PublicKey and PresharedKey stay keeps its
// session. ([Peer] routes need CAP_NET_ADMIN: after a privilege drop a route
// that cannot change is named in the reload's notes, and the packet checks
// follow the config anyway.) The [Interface] settings shape the interface,
// its addresses, the sockets or the keys, which the daemon set up as root
// (and may no longer be): those need `down` and `up`, and a reload that
// changes one is refused whole, naming them, rather than half-applied.
//
// A reload request is a ReloadView: a config as plain JSON, the private key
// replaced by a digest. A daemon that dropped root (User=) can usually no
// longer read its config or key files (/etc/sealtun is 0700), so
// `sealtun reload CONFIG`, run as root, reads the config itself and sends
// the daemon its view over the control socket (root's alone, control.ts);
// the view carries each peer's pre-shared key itself, since the daemon may
// have to key a new session with it and could not read its file. SIGHUP
// makes the daemon read the file as whatever user it now runs as.
import { createHash } from 'node:crypto';
import { listenAddressText, loadConfig, parseSetting, type Endpoint, type InterfaceConfig, type ParseOptions, type PeerConfig, type PlainSetting, type TunnelConfig } from '../config/config.js';
import { checkPeerPublicKey, decodeKey, encodeKey } from '../crypto/keys.js';

/** The [Interface] settings as a reload compares them: any change takes a restart. */
export interface InterfaceView {
  name: string;
  /** A digest (see secretDigest), never the key itself. */
  privateKey: string;
  addresses: string[];
  listenPort: number | null;
  listenAddress: string | null;
  transport: string;
  mtu: number | null;
  user: string | null;
  keepWarmMs: number;
  /** ADDRESS:PORT, or null when metrics are off. */
  metricsListen: string | null;
  /** DNS and the four hook lists as one JSON text: applied and run at start (src/host/), compared only. */
  dnsAndHooks: string;
  /** Table, FwMark, KillSwitch and KillSwitchAllowLan as one text (hostRoutingText): installed at start, compared only. */
  hostRouting: string;
}

/** One [Peer] as a reload request carries it. */
export interface PeerView {
  /** Base64. */
  publicKey: string;
  /** Base64, the key itself (see above): never logged nor shown. */
  presharedKey: string | null;
  allowedIPs: string[];
  endpoint: Endpoint | null;
  persistentKeepalive: number | null;
}

export interface ReloadView extends InterfaceView {
  peers: PeerView[];
}

/** Tells two secrets apart without carrying them: SHA-256 of a label and the 32-byte key. */
function secretDigest(key: Uint8Array): string {
  return createHash('sha256').update('sealtun reload view\0').update(key).digest('hex');
}

export function interfaceView(iface: InterfaceConfig): InterfaceView {
  return {
    name: iface.name,
    privateKey: secretDigest(iface.privateKey),
    addresses: iface.addresses.map((c) => c.text),
    listenPort: iface.listenPort ?? null,
    listenAddress: iface.listenAddress ?? null,
    transport: iface.transport,
    mtu: iface.mtu ?? null,
    user: iface.user ?? null,
    keepWarmMs: iface.keepWarmMs,
    metricsListen: iface.metricsListen ? listenAddressText(iface.metricsListen) : null,
    dnsAndHooks: JSON.stringify({ dns: iface.dns, hooks: iface.hooks }),
    hostRouting: hostRoutingText(iface),
  };
}

/** The full-tunnel and kill-switch settings as a config would write them, for a reload to compare. */
function hostRoutingText(iface: InterfaceConfig): string {
  const onOff = (b: boolean) => (b ? 'on' : 'off');
  return `Table = ${iface.table}, FwMark = ${iface.fwMark ?? 'default'}, KillSwitch = ${onOff(iface.killSwitch)}, KillSwitchAllowLan = ${onOff(iface.killSwitchAllowLan)}`;
}

export function peerView(peer: PeerConfig): PeerView {
  return {
    publicKey: encodeKey(peer.publicKey),
    presharedKey: peer.presharedKey ? encodeKey(peer.presharedKey) : null,
    allowedIPs: peer.allowedIPs.map((c) => c.text),
    endpoint: peer.endpoint ? { ...peer.endpoint } : null,
    persistentKeepalive: peer.persistentKeepalive ?? null,
  };
}

export function reloadView(config: TunnelConfig): ReloadView {
  return { ...interfaceView(config.iface), peers: config.peers.map(peerView) };
}

/** A config as a reload applies it: the [Interface] to compare, the peers to apply (their pre-shared keys are the caller's to zero). */
export interface ReloadConfig {
  iface: InterfaceView;
  peers: PeerConfig[];
}

/**
 * Reads a config file for a reload. Every key buffer `readKey` hands out
 * (the daemon's are copies of its running keys, served-tunnel.ts) is zeroed
 * before this returns or throws, except the peers' pre-shared keys returned,
 * which the caller zeroes once applied: a config that fails after its keys
 * were read leaves no copy of them behind.
 */
export function configForReload(file: string, readKey: NonNullable<ParseOptions['readKey']>): ReloadConfig {
  const handed: Uint8Array[] = [];
  let peers: PeerConfig[] = [];
  try {
    const config = loadConfig(file, { readKey: (path, kind) => remember(handed, readKey(path, kind)) });
    // Copies, so that everything handed out can be zeroed here.
    peers = config.peers.map((p) => ({ ...p, publicKey: p.publicKey.slice(), ...(p.presharedKey ? { presharedKey: p.presharedKey.slice() } : {}) }));
    return { iface: interfaceView(config.iface), peers };
  } finally {
    for (const key of handed) key.fill(0);
  }
}

/** `sealtun reload CONFIG`: the view to send (keys read by the caller, as root). */
export function viewForReload(file: string, readKey: NonNullable<ParseOptions['readKey']>): ReloadView {
  const { iface, peers } = configForReload(file, readKey);
  try {
    return { ...iface, peers: peers.map(peerView) };
  } finally {
    zeroKeys(peers);
  }
}

/** Zeroes the peers' pre-shared keys (copies the tunnel no longer needs). */
export function zeroKeys(peers: readonly PeerConfig[]): void {
  for (const p of peers) p.presharedKey?.fill(0);
}

function remember(keys: Uint8Array[], key: Uint8Array): Uint8Array {
  keys.push(key);
  return key;
}

/** Where a view received on the control socket is said to come from, in errors. */
const REQUEST = 'reload request';

/**
 * A view as received on the control socket (only root can connect to it):
 * checked for shape, then each plain value by the parser a config file's
 * value goes through (config.ts: the same ranges and canonical forms), each
 * key as a key file's, and the rules a config's peers obey (checkPeers), so
 * a malformed request is refused rather than applied. The peers' pre-shared
 * keys are the caller's to zero.
 */
export function parseReloadView(x: unknown): ReloadConfig {
  const v = shapeChecked(x);
  const iface: InterfaceView = {
    name: checked('Name', v.name),
    privateKey: v.privateKey,
    addresses: v.addresses,
    listenPort: v.listenPort === null ? null : checked('ListenPort', v.listenPort),
    listenAddress: v.listenAddress === null ? null : checked('ListenAddress', v.listenAddress),
    transport: checked('Transport', v.transport),
    mtu: v.mtu === null ? null : checked('MTU', v.mtu),
    user: v.user === null ? null : checked('User', v.user),
    keepWarmMs: checked('KeepWarm', v.keepWarmMs),
    metricsListen: v.metricsListen === null ? null : listenAddressText(checked('MetricsListen', v.metricsListen)),
    dnsAndHooks: v.dnsAndHooks,
    hostRouting: v.hostRouting,
  };
  if (v.peers.length === 0) throw new Error('malformed reload request: no peers (a config has at least one [Peer])');
  const peers: PeerConfig[] = [];
  try {
    for (const p of v.peers) peers.push(parsePeerView(p));
    checkPeers(peers, iface.listenPort);
  } catch (err) {
    zeroKeys(peers);
    if (err instanceof PeersError) throw new Error(`${REQUEST}: ${err.message}`);
    throw err;
  }
  return { iface, peers };
}

/** One peer of a request, checked as its config lines would be. */
function parsePeerView(p: PeerView): PeerConfig {
  const peer: PeerConfig = {
    publicKey: checkPeerPublicKey(decodeKey(p.publicKey, REQUEST, 'public key'), REQUEST),
    allowedIPs: checked('AllowedIPs', p.allowedIPs.join(', ')),
    line: 0,
  };
  if (p.endpoint) peer.endpoint = checkedEndpoint(p.endpoint);
  const keepalive = p.persistentKeepalive === null ? undefined : checked('PersistentKeepalive', p.persistentKeepalive);
  if (keepalive !== undefined) peer.persistentKeepalive = keepalive;
  if (p.presharedKey !== null) peer.presharedKey = decodeKey(p.presharedKey, REQUEST, 'pre-shared key');
  return peer;
}

/** Peers that break a rule a config's peers obey (checkPeers). */
export class PeersError extends Error {
  override readonly name = 'PeersError';
}

/**
 * The rules a config's peers obey (config.ts), for peers that reach the
 * daemon another way (a reload request, `sealtun set`): no two share a
 * public key or an AllowedIPs prefix, and each is reachable (an Endpoint,
 * or a ListenPort to accept it). Throws a PeersError naming the peers by
 * public key.
 */
export function checkPeers(peers: readonly PeerConfig[], listenPort: number | null): void {
  const keys = new Set<string>();
  const prefixOwners = new Map<string, string>();
  for (const p of peers) {
    const key = encodeKey(p.publicKey);
    if (keys.has(key)) throw new PeersError(`peer ${key} is given twice`);
    keys.add(key);
    if (!p.endpoint && listenPort === null) {
      throw new PeersError(`peer ${key}: neither its Endpoint nor the interface's ListenPort is set; it could never be reached`);
    }
    for (const c of p.allowedIPs) {
      const owner = prefixOwners.get(c.text);
      if (owner !== undefined && owner !== key) throw new PeersError(`peer ${key}: AllowedIPs: ${c.text} is already peer ${owner}`);
      prefixOwners.set(c.text, key);
    }
  }
}

/** A value checked as if written in a config file (a number as its decimal text: 1.5, -1 and 1e21 fail). */
function checked<K extends PlainSetting>(key: K, value: string | number): ReturnType<typeof parseSetting<K>> {
  return parseSetting(key, String(value), REQUEST);
}

/** The endpoint as the config would write it, parsed again; the config line it came from is kept for errors. */
function checkedEndpoint(e: Endpoint): Endpoint {
  const parsed = checked('Endpoint', `${e.host.includes(':') ? `[${e.host}]` : e.host}:${e.port}`);
  return Number.isInteger(e.line) && e.line! > 0 ? { ...parsed, line: e.line! } : parsed;
}

type Shape = Record<string, unknown> | null | undefined;
const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);
const has = (v: Shape, key: string, type: string, nullable = false) => isObject(v) && ((nullable && v[key] === null) || typeof v[key] === type);
const strings = (v: Shape, key: string) => Array.isArray(v?.[key]) && (v[key] as unknown[]).every((s) => typeof s === 'string');

function shapeChecked(x: unknown): ReloadView {
  const v = x as Shape;
  const ok =
    has(v, 'name', 'string') && has(v, 'privateKey', 'string') && strings(v, 'addresses') &&
    has(v, 'listenPort', 'number', true) && has(v, 'listenAddress', 'string', true) && has(v, 'transport', 'string') &&
    has(v, 'mtu', 'number', true) && has(v, 'user', 'string', true) && has(v, 'keepWarmMs', 'number') && has(v, 'metricsListen', 'string', true) &&
    has(v, 'dnsAndHooks', 'string') &&
    has(v, 'hostRouting', 'string') &&
    Array.isArray(v?.['peers']) && (v['peers'] as unknown[]).every(peerShaped);
  if (!ok) throw new Error('malformed reload request');
  return v as unknown as ReloadView;
}

function peerShaped(x: unknown): boolean {
  const p = x as Shape;
  const ep = p?.['endpoint'] as Shape;
  return (
    has(p, 'publicKey', 'string') && has(p, 'presharedKey', 'string', true) && strings(p, 'allowedIPs') &&
    has(p, 'persistentKeepalive', 'number', true) &&
    (ep === null || (isObject(ep) && typeof ep['host'] === 'string' && typeof ep['port'] === 'number'))
  );
}

/** [Interface] settings that take a restart, by config key, in the order a reload names them. */
const RESTART_KEYS: ReadonlyArray<readonly [configKey: string, field: keyof InterfaceView]> = [
  ['Name', 'name'],
  ['PrivateKey', 'privateKey'],
  ['Address', 'addresses'],
  ['ListenPort', 'listenPort'],
  ['ListenAddress', 'listenAddress'],
  ['Transport', 'transport'],
  ['MTU', 'mtu'],
  ['User', 'user'],
  ['KeepWarm', 'keepWarmMs'],
  // The metrics server is bound once at start, before a privilege drop (metrics.ts).
  ['MetricsListen', 'metricsListen'],
  // Set and run at start, as root (src/host/dns.ts, hooks.ts).
  ['DNS or a hook', 'dnsAndHooks'],
  // Rules, marks and the kill switch are installed once at start, as root (src/host/setup.ts).
  ['Table, FwMark, KillSwitch or KillSwitchAllowLan', 'hostRouting'],
];

/** The [Interface] settings that differ: each takes a restart. */
export function restartChanges(old: InterfaceView, next: InterfaceView): string[] {
  return RESTART_KEYS.filter(([, f]) => JSON.stringify(old[f]) !== JSON.stringify(next[f])).map(([k]) => k);
}
