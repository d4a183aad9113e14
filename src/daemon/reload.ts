// What a reloaded config may change in a running tunnel.
//
// The peer's Endpoint, PersistentKeepalive and AllowedIPs apply at once,
// without dropping the session or the interface (AllowedIPs' routes need
// CAP_NET_ADMIN: after a privilege drop a route that cannot change is named
// in the reload's notes, and the packet checks follow the config anyway).
// Everything else shapes the interface, its addresses, the sockets or the
// keys, which the daemon set up as root (and may no longer be): those need
// `down` and `up`, and a reload says which ones changed instead of
// half-applying them.
//
// A reload compares two ReloadViews: a config as plain JSON with its secret
// keys replaced by digests. A daemon that dropped root (User=) can usually
// no longer read its config or key files (/etc/sealtun is 0700), so
// `sealtun reload CONFIG`, run as root, reads the config itself and sends
// the daemon its view over the control socket; SIGHUP makes the daemon read
// the file as whatever user it now runs as.
import { createHash } from 'node:crypto';
import { listenAddressText, loadConfig, parseSetting, refuseManyOverTcp, type Endpoint, type ParseOptions, type PlainSetting, type TunnelConfig } from '../config/config.js';
import { encodeKey } from '../crypto/keys.js';

export interface ReloadView {
  name: string;
  /** Digests (see secretDigest), never the keys themselves. */
  privateKey: string;
  presharedKey: string | null;
  addresses: string[];
  listenPort: number | null;
  listenAddress: string | null;
  transport: string;
  mtu: number | null;
  user: string | null;
  keepWarmMs: number;
  /** ADDRESS:PORT, or null when metrics are off. */
  metricsListen: string | null;
  publicKey: string;
  allowedIPs: string[];
  endpoint: Endpoint | null;
  persistentKeepalive: number | null;
  initiates: boolean;
}

export interface ConfigChanges {
  /** Settings that changed but only take effect after a restart. */
  needRestart: string[];
  endpoint: boolean;
  persistentKeepalive: boolean;
  allowedIPs: boolean;
}

/** Tells two secrets apart without carrying them: SHA-256 of a label and the 32-byte key. */
function secretDigest(key: Uint8Array): string {
  return createHash('sha256').update('sealtun reload view\0').update(key).digest('hex');
}

export function reloadView(config: TunnelConfig): ReloadView {
  const { iface, peers: [peer] } = config;
  return {
    name: iface.name,
    privateKey: secretDigest(iface.privateKey),
    presharedKey: peer.presharedKey ? secretDigest(peer.presharedKey) : null,
    addresses: iface.addresses.map((c) => c.text),
    listenPort: iface.listenPort ?? null,
    listenAddress: iface.listenAddress ?? null,
    transport: iface.transport,
    mtu: iface.mtu ?? null,
    user: iface.user ?? null,
    keepWarmMs: iface.keepWarmMs,
    metricsListen: iface.metricsListen ? listenAddressText(iface.metricsListen) : null,
    publicKey: encodeKey(peer.publicKey),
    allowedIPs: peer.allowedIPs.map((c) => c.text),
    endpoint: peer.endpoint ? { ...peer.endpoint } : null,
    persistentKeepalive: peer.persistentKeepalive ?? null,
    initiates: config.role.initiates,
  };
}

/**
 * Reads a config file and returns its view. Every key buffer `readKey` hands
 * out (the daemon's are copies of its running keys, tunnel.ts) is zeroed
 * before this returns or throws: a config that fails after its keys were
 * read leaves no copy of them behind.
 */
export function viewForReload(file: string, readKey: NonNullable<ParseOptions['readKey']>): ReloadView {
  const handed: Uint8Array[] = [];
  try {
    const config = loadConfig(file, { readKey: (path, kind) => remember(handed, readKey(path, kind)) });
    // A reload must not silently ignore peers the tunnel cannot carry yet.
    refuseManyOverTcp(config);
    return reloadView(config);
  } finally {
    for (const key of handed) key.fill(0);
  }
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
 * value goes through (config.ts: the same ranges and canonical forms), and
 * the role rules a config obeys (initiates exactly when there is an
 * Endpoint; an Endpoint or a ListenPort), so a malformed request is refused
 * rather than applied.
 */
export function parseReloadView(x: unknown): ReloadView {
  const v = shapeChecked(x);
  const endpoint = v.endpoint && checkedEndpoint(v.endpoint);
  if (v.initiates !== (endpoint !== null)) {
    throw new Error(`malformed reload request: initiates is ${v.initiates} ${endpoint ? 'with' : 'without'} an Endpoint`);
  }
  if (endpoint === null && v.listenPort === null) {
    throw new Error('malformed reload request: neither Endpoint nor ListenPort is set');
  }
  return {
    ...v,
    name: checked('Name', v.name),
    listenPort: v.listenPort === null ? null : checked('ListenPort', v.listenPort),
    listenAddress: v.listenAddress === null ? null : checked('ListenAddress', v.listenAddress),
    transport: checked('Transport', v.transport),
    mtu: v.mtu === null ? null : checked('MTU', v.mtu),
    user: v.user === null ? null : checked('User', v.user),
    keepWarmMs: checked('KeepWarm', v.keepWarmMs),
    metricsListen: v.metricsListen === null ? null : listenAddressText(checked('MetricsListen', v.metricsListen)),
    endpoint,
    allowedIPs: checked('AllowedIPs', v.allowedIPs.join(', ')).map((c) => c.text),
    persistentKeepalive: v.persistentKeepalive === null ? null : (checked('PersistentKeepalive', v.persistentKeepalive) ?? null),
  };
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

function shapeChecked(x: unknown): ReloadView {
  const v = x as Record<string, unknown> | null;
  const is = (key: string, type: string, nullable = false) =>
    v !== null && typeof v === 'object' && ((nullable && v[key] === null) || typeof v[key] === type);
  const strings = (key: string) => Array.isArray(v?.[key]) && (v[key] as unknown[]).every((s) => typeof s === 'string');
  const ep = v?.['endpoint'] as Record<string, unknown> | null | undefined;
  const ok =
    is('name', 'string') && is('privateKey', 'string') && is('presharedKey', 'string', true) && strings('addresses') &&
    is('listenPort', 'number', true) && is('listenAddress', 'string', true) && is('transport', 'string') &&
    is('mtu', 'number', true) && is('user', 'string', true) && is('keepWarmMs', 'number') && is('metricsListen', 'string', true) && is('publicKey', 'string') &&
    strings('allowedIPs') && is('persistentKeepalive', 'number', true) && is('initiates', 'boolean') &&
    (ep === null || (typeof ep === 'object' && typeof ep['host'] === 'string' && typeof ep['port'] === 'number'));
  if (!ok) throw new Error('malformed reload request');
  return v as unknown as ReloadView;
}

/** Settings that take a restart, by config key, in the order a reload names them. */
const RESTART_KEYS: ReadonlyArray<readonly [configKey: string, field: keyof ReloadView]> = [
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
  ['PublicKey', 'publicKey'],
  ['PresharedKey', 'presharedKey'],
];

export function configChanges(old: ReloadView, next: ReloadView): ConfigChanges {
  return {
    needRestart: RESTART_KEYS.filter(([, f]) => JSON.stringify(old[f]) !== JSON.stringify(next[f])).map(([k]) => k),
    endpoint: endpointText(old.endpoint) !== endpointText(next.endpoint),
    persistentKeepalive: (old.persistentKeepalive ?? 0) !== (next.persistentKeepalive ?? 0),
    allowedIPs: JSON.stringify(old.allowedIPs) !== JSON.stringify(next.allowedIPs),
  };
}

const endpointText = (e: Endpoint | null) => (e ? `${e.host}:${e.port}` : '');
