// The tunnel config file: WireGuard-style INI with one [Interface] and one
// or more [Peer] sections. This file gives the keys their meaning and checks
// every value, so that everything after parseConfig() can trust a
// TunnelConfig.
//
// Every problem is a ConfigError whose message is `FILE:LINE: Key: what is
// wrong` (a stable contract: scripts grep for it). Values are repeated in
// messages to help the user find the typo, except anything that may be key
// material: the values of the *Key settings are never shown, and any other
// value that looks like base64 key text is withheld too.
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { KeyError, checkPeerPublicKey, decodeKey, publicKeyOf, readKeyFile, type KeyKind } from '../crypto/keys.js';
import { MTU_LIMITS } from '../transport/mtu.js';
import { AddressError, parseAddress, parseCidr, type Cidr } from './cidr.js';
import { IniSyntaxError, tokenizeIni, type IniEntry, type IniSection } from './ini.js';

export type { Cidr } from './cidr.js';

export type TransportKind = 'udp' | 'tcp' | 'auto';

export interface Endpoint {
  /** An IP literal in canonical form (IPv6 without brackets, maybe with %zone), or a DNS name as written. */
  host: string;
  port: number;
  /** Set when `host` is an IP literal; absent for a DNS name (resolved at start, on reconnect, unanswered handshakes and reload). */
  family?: 4 | 6;
  /** The config line it was set on, for errors about it found later (a name that does not resolve). */
  line?: number;
}

export interface InterfaceConfig {
  name: string;
  privateKey: Uint8Array;
  /** Host address with its prefix (10.77.0.1/24 keeps the host part). */
  addresses: Cidr[];
  listenPort?: number;
  /** Canonical IP literal; absent means all addresses. */
  listenAddress?: string;
  transport: TransportKind;
  /** Absent means: derive from the transport's overhead. */
  mtu?: number;
  user?: string;
  /** KeepWarm: milliseconds the data path stays warm after traffic; 0 when off. */
  keepWarmMs: number;
  /** MetricsListen: where the daemon serves Prometheus metrics (src/daemon/metrics.ts); absent: not served. */
  metricsListen?: ListenAddress;
  /** DNS: set for this interface while it is up (src/host/dns.ts); both lists empty when unset. */
  dns: DnsSettings;
  /** PreUp/PostUp/PreDown/PostDown: shell commands, each list in file order (src/host/hooks.ts). */
  hooks: Hooks;
  /** Table: where AllowedIPs routes go (src/host/policy-routing.ts); 'auto' by default. */
  table: RouteTable;
  /** FwMark: the mark on the tunnel's own sockets; absent: the default (a mark only when a full tunnel needs one). */
  fwMark?: number | 'off';
  /** KillSwitch (src/host/kill-switch.ts): off by default. */
  killSwitch: boolean;
  /** KillSwitchAllowLan: with the kill switch, DHCP and the local networks still reachable outside the tunnel. */
  killSwitchAllowLan: boolean;
}

/** Table = auto | off | NUMBER, as in wg-quick. */
export type RouteTable = 'auto' | 'off' | number;

/** DNS = IP[, IP…][, search-domain…], split: the addresses (canonical), then the search domains, each in file order. */
export interface DnsSettings {
  servers: string[];
  searchDomains: string[];
}

export interface Hooks {
  preUp: string[];
  postUp: string[];
  preDown: string[];
  postDown: string[];
}

/** One item of a DNS line: a name server address, or a search domain. */
interface DnsItem {
  server?: string;
  searchDomain?: string;
}

/** An IP literal (canonical, IPv6 without brackets) and a port to listen on. */
export interface ListenAddress {
  address: string;
  port: number;
  family: 4 | 6;
}

/** ADDRESS:PORT, with brackets around IPv6, as a config writes it. */
export function listenAddressText(a: ListenAddress): string {
  return `${a.family === 6 ? `[${a.address}]` : a.address}:${a.port}`;
}

export interface PeerConfig {
  publicKey: Uint8Array;
  presharedKey?: Uint8Array;
  endpoint?: Endpoint;
  /** Normalised to network addresses: "10.77.0.5/24" becomes 10.77.0.0/24. */
  allowedIPs: Cidr[];
  /** Seconds; absent when disabled ("0" or "off"). */
  persistentKeepalive?: number;
  /** The line of this peer's [Peer] header, for errors about the peer found later. */
  line: number;
}

export interface TunnelConfig {
  file: string;
  iface: InterfaceConfig;
  /** In file order; at least one. No two share a PublicKey or an AllowedIPs prefix. */
  peers: PeerConfig[];
  /**
   * accepts: [Interface] has a ListenPort. initiates: some [Peer] has an
   * Endpoint; per peer, this side initiates to exactly the peers with one.
   * Every peer is reachable one way or the other: one without an Endpoint
   * needs a ListenPort.
   */
  role: { initiates: boolean; accepts: boolean };
}

/**
 * A config problem. `message` is `FILE:LINE: Key: detail`, or `FILE: detail`
 * when the file itself cannot be read (then `line` is 0 and `key` is '').
 */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  constructor(
    readonly file: string,
    readonly line: number,
    readonly key: string,
    readonly detail: string,
    options?: { cause?: unknown },
  ) {
    super(line > 0 ? `${file}:${line}: ${key}: ${detail}` : `${file}: ${detail}`, options);
  }
}

/** Internal: a bad value; the walker adds file, line and key. */
class BadValue extends Error {}

/** What each key parses to. */
interface InterfaceValues {
  Name: string;
  PrivateKey: Uint8Array;
  Address: Cidr[];
  ListenPort: number;
  ListenAddress: string;
  Transport: TransportKind;
  MTU: number;
  User: string;
  KeepWarm: number;
  MetricsListen: ListenAddress;
  DNS: DnsItem[];
  PreUp: string[];
  PostUp: string[];
  PreDown: string[];
  PostDown: string[];
  Table: RouteTable;
  FwMark: number | 'off';
  KillSwitch: boolean;
  KillSwitchAllowLan: boolean;
}
interface PeerValues {
  PublicKey: Uint8Array;
  PresharedKey: Uint8Array;
  Endpoint: Endpoint;
  AllowedIPs: Cidr[];
  /** undefined: disabled. */
  PersistentKeepalive: number | undefined;
}

/** One parser per key; the table's key order is the order shown in "expected one of". */
type Parsers<V> = { [K in keyof V]: (value: string, keys: KeyFiles) => V[K] };

/** Where key file paths are relative to, and how key files are read. */
interface KeyFiles {
  baseDir: string;
  read: (path: string, kind: KeyKind) => Uint8Array;
}

export interface ParseOptions {
  /**
   * Reads a key file (default: readKeyFile). A daemon reloading after it
   * dropped root passes one that keeps its running keys for files it can no
   * longer read (tunnel.ts).
   */
  readKey?: (path: string, kind: KeyKind) => Uint8Array;
}
/** A parsed value and the line it was set on (the first line, for lists). */
interface Setting<T> {
  value: T;
  line: number;
  /** For a list key: the line of each item, in step with `value`. */
  itemLines?: number[];
}
type Settings<V> = { [K in keyof V]?: Setting<V[K]> };

const INTERFACE_PARSERS: Parsers<InterfaceValues> = {
  Name: parseInterfaceName,
  PrivateKey: (v, keys) => parseKey(v, 'private key', keys),
  Address: (v) => parseCidrList(v, 'keep'),
  ListenPort: parsePort,
  ListenAddress: parseListenAddress,
  Transport: parseTransport,
  MTU: (v) => parseInteger(v, 576, 65535, 'an MTU'),
  User: parseUser,
  KeepWarm: parseKeepWarm,
  MetricsListen: parseMetricsListen,
  DNS: parseDns,
  PreUp: parseHook,
  PostUp: parseHook,
  PreDown: parseHook,
  PostDown: parseHook,
  Table: parseTable,
  FwMark: parseFwMark,
  KillSwitch: (v) => parseOnOff(v),
  KillSwitchAllowLan: (v) => parseOnOff(v),
};
const PEER_PARSERS: Parsers<PeerValues> = {
  PublicKey: parsePeerPublicKey,
  PresharedKey: (v, keys) => parseKey(v, 'pre-shared key', keys),
  Endpoint: parseEndpoint,
  AllowedIPs: (v) => parseCidrList(v, 'clear'),
  PersistentKeepalive: parseKeepalive,
};

/**
 * The settings a reload view carries as plain values (src/daemon/reload.ts),
 * each with the parser a config file's value goes through.
 */
const PLAIN_PARSERS = {
  Name: INTERFACE_PARSERS.Name,
  ListenPort: INTERFACE_PARSERS.ListenPort,
  ListenAddress: INTERFACE_PARSERS.ListenAddress,
  Transport: INTERFACE_PARSERS.Transport,
  MTU: INTERFACE_PARSERS.MTU,
  User: INTERFACE_PARSERS.User,
  KeepWarm: INTERFACE_PARSERS.KeepWarm,
  MetricsListen: INTERFACE_PARSERS.MetricsListen,
  Endpoint: PEER_PARSERS.Endpoint,
  AllowedIPs: PEER_PARSERS.AllowedIPs,
  PersistentKeepalive: PEER_PARSERS.PersistentKeepalive,
};
export type PlainSetting = keyof typeof PLAIN_PARSERS;
type PlainValue<K extends PlainSetting> = ReturnType<(typeof PLAIN_PARSERS)[K]>;

/**
 * One setting's value, written as in a config file, checked by the same
 * parser (same ranges, same canonical form), for a value that reaches the
 * daemon another way: a reload view on the control socket. Throws a
 * ConfigError `SOURCE: KEY: detail`.
 */
export function parseSetting<K extends PlainSetting>(key: K, value: string, source: string): PlainValue<K> {
  try {
    return (PLAIN_PARSERS[key] as (v: string) => PlainValue<K>)(value);
  } catch (err) {
    if (err instanceof BadValue) throw new ConfigError(source, 0, key, `${key}: ${err.message}`);
    throw err;
  }
}

/** Keys that may repeat, each occurrence adding to the list (as in wg-quick). */
const LIST_KEYS: ReadonlySet<string> = new Set(['Address', 'AllowedIPs', 'DNS', 'PreUp', 'PostUp', 'PreDown', 'PostDown']);

/** The hooks' keys (lower case): their values are shell commands, where ";" is not a comment (ini.ts). */
const HOOK_KEYS: ReadonlySet<string> = new Set(['preup', 'postup', 'predown', 'postdown']);

/** Examples for "missing" messages, so the fix is one copy-paste away. */
const EXAMPLES: Record<string, string> = {
  Name: 'Name = st0',
  PrivateKey: 'PrivateKey = keys/this.key',
  Address: 'Address = 10.77.0.1/24',
  PublicKey: 'PublicKey = keys/peer.pub',
  AllowedIPs: 'AllowedIPs = 10.77.0.2/32',
};

const MAX_CONFIG_BYTES = 1 << 20;
/**
 * KeepWarm: the longest pause between packets that the data path keeps
 * itself warm across, with cheap wake-ups every millisecond
 * (src/tunnel/datapath/warm-spell.ts), so that a packet after it is not slowed by
 * cold caches; a spell starts once traffic has come back within that time.
 * 50 ms covers streams of 20 packets a second and more (games, voice,
 * request/response chatter) and not human-paced traffic like a keystroke
 * every 200 ms, where ticking through every pause cost 40–60× OpenVPN's CPU
 * (docs/performance.md). "off" or 0 saves that CPU where latency matters less.
 */
const DEFAULT_KEEP_WARM_MS = 50;
/** A minute: longer would keep an idle tunnel busy for no gain a user would see. */
const MAX_KEEP_WARM_MS = 60_000;

/** Reads and parses a config file; key file paths in it are relative to its directory. */
export function loadConfig(path: string, options: ParseOptions = {}): TunnelConfig {
  let raw: Buffer;
  try {
    raw = readFileSync(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why =
      code === 'ENOENT' ? 'no such file' :
      code === 'EACCES' ? 'permission denied' :
      code === 'EISDIR' ? 'is a directory' :
      String(err);
    throw new ConfigError(path, 0, '', `cannot read config file: ${why}`, { cause: err });
  }
  if (raw.length > MAX_CONFIG_BYTES) {
    throw new ConfigError(path, 0, '', `config file is larger than ${MAX_CONFIG_BYTES} bytes; is this the right file?`);
  }
  const text = raw.toString('utf8');
  const config = parseConfig(text, path, options);
  refuseExposedInlineSecrets(text, path);
  return config;
}

/**
 * A key file readable by group or others is refused (keys.ts); a config file
 * holding a secret inline is held to the same rule.
 */
function refuseExposedInlineSecrets(text: string, path: string): void {
  let mode: number;
  try {
    mode = statSync(path).mode & 0o777;
  } catch {
    return;
  }
  if ((mode & 0o077) === 0) return;
  for (const section of tokenizeIni(text).sections) {
    for (const e of section.entries) {
      const key = e.key.toLowerCase();
      if ((key === 'privatekey' || key === 'presharedkey') && INLINE_KEY.test(e.value)) {
        throw new ConfigError(
          path,
          e.line,
          keyLabel(e.key),
          `holds a secret inline, but the file is readable by group or others (mode ${mode.toString(8).padStart(4, '0')}); run: chmod 600 ${path}`,
        );
      }
    }
  }
}

/**
 * Parses config text. `file` names it in errors and is the base for relative
 * key file paths. Throws ConfigError (and nothing else) for any problem in the text.
 * Needs initSodium() to have resolved (our public key is derived to compare
 * it with the peer's).
 */
export function parseConfig(text: string, file: string, options: ParseOptions = {}): TunnelConfig {
  const fail = (line: number, key: string, detail: string, cause?: unknown): never => {
    throw new ConfigError(file, line, key, detail, cause === undefined ? undefined : { cause });
  };

  let doc;
  try {
    doc = tokenizeIni(text, { shellKeys: HOOK_KEYS });
  } catch (err) {
    if (!(err instanceof IniSyntaxError)) throw err;
    return fail(err.line, err.key === undefined ? 'syntax' : keyLabel(err.key), err.detail);
  }

  const keys: KeyFiles = { baseDir: dirname(resolve(file)), read: options.readKey ?? readKeyFile };
  let ifaceSection: IniSection | undefined;
  let iface: Settings<InterfaceValues> = {};
  const peerSections: Array<{ section: IniSection; settings: Settings<PeerValues> }> = [];

  // One pass in file order, so the error reported is the first one in the file.
  for (const section of doc.sections) {
    const kind = section.name.toLowerCase();
    if (kind === 'interface') {
      if (ifaceSection) {
        fail(section.line, '[Interface]', `duplicate section; only one [Interface] is allowed (the first is at line ${ifaceSection.line})`);
      }
      ifaceSection = section;
      iface = readSection(section, '[Interface]', INTERFACE_PARSERS, PEER_PARSERS, '[Peer]', keys, fail);
    } else if (kind === 'peer') {
      peerSections.push({ section, settings: readSection(section, '[Peer]', PEER_PARSERS, INTERFACE_PARSERS, '[Interface]', keys, fail) });
    } else {
      fail(section.line, `[${safeName(section.name)}]`, 'unknown section; expected [Interface] or [Peer]');
    }
  }

  if (!ifaceSection) return fail(doc.lastLine, '[Interface]', 'missing section; a config needs one [Interface] and one [Peer]');
  if (peerSections.length === 0) return fail(doc.lastLine, '[Peer]', 'missing section; a config needs one [Interface] and one [Peer]');
  const need = <T>(section: IniSection, name: string, setting: Setting<T> | undefined): Setting<T> =>
    setting ?? fail(section.line, name, `missing from ${section === ifaceSection ? '[Interface]' : '[Peer]'}; add e.g. "${EXAMPLES[name] ?? `${name} = ...`}"`);

  const name = need(ifaceSection, 'Name', iface.Name);
  const privateKey = need(ifaceSection, 'PrivateKey', iface.PrivateKey);
  const addresses = need(ifaceSection, 'Address', iface.Address);
  const peers = peerSections.map(({ section, settings }) => {
    const publicKey = need(section, 'PublicKey', settings.PublicKey);
    const allowedIPs = need(section, 'AllowedIPs', settings.AllowedIPs);
    refuseOwnKeyAsPeer(privateKey, publicKey, fail);
    return { section, settings, publicKey, allowedIPs };
  });
  const { ListenPort: listenPort, ListenAddress: listenAddress, Transport: transport, MTU: mtu, User: user, KeepWarm: keepWarm, MetricsListen: metricsListen } = iface;
  refuseHostRoutingMismatch(iface, peers, fail);

  if (listenAddress && !listenPort) {
    fail(listenAddress.line, 'ListenAddress', 'is set but ListenPort is not; add ListenPort, or remove ListenAddress');
  }
  for (const { section, settings } of peers) {
    if (!settings.Endpoint && !listenPort) {
      fail(section.line, 'Endpoint',
        'neither Endpoint (in [Peer]) nor ListenPort (in [Interface]) is set; ' +
        'set Endpoint to connect to the peer, ListenPort to accept it, or both');
    }
  }
  refuseSharedPeerSettings(peers, fail);
  if (mtu) {
    const v6 = [...addresses.value, ...peers.flatMap((p) => p.allowedIPs.value)].find((c) => c.family === 6);
    if (v6 && mtu.value < 1280) {
      fail(mtu.line, 'MTU', `is ${mtu.value}, but IPv6 (${v6.text}) needs at least 1280 (RFC 8200 §5)`);
    }
    // Beyond its transport's limit no packet of that size could be sent, and
    // over TCP the receiving worker could not even hold a frame that large.
    const kind = transport?.value ?? 'udp';
    const limit = MTU_LIMITS[kind];
    if (mtu.value > limit.max) {
      fail(mtu.line, 'MTU', `is ${mtu.value}, but Transport = ${kind} carries at most ${limit.max}: ${limit.why}`);
    }
  }

  const ifaceConfig: InterfaceConfig = {
    name: name.value,
    privateKey: privateKey.value,
    addresses: addresses.value,
    transport: transport?.value ?? 'udp',
    keepWarmMs: keepWarm?.value ?? DEFAULT_KEEP_WARM_MS,
    dns: dnsSettings(iface.DNS?.value ?? []),
    hooks: {
      preUp: iface.PreUp?.value ?? [],
      postUp: iface.PostUp?.value ?? [],
      preDown: iface.PreDown?.value ?? [],
      postDown: iface.PostDown?.value ?? [],
    },
    table: iface.Table?.value ?? 'auto',
    killSwitch: iface.KillSwitch?.value ?? false,
    killSwitchAllowLan: iface.KillSwitchAllowLan?.value ?? false,
  };
  if (iface.FwMark) ifaceConfig.fwMark = iface.FwMark.value;
  if (listenPort) ifaceConfig.listenPort = listenPort.value;
  if (listenAddress) ifaceConfig.listenAddress = listenAddress.value;
  if (mtu) ifaceConfig.mtu = mtu.value;
  if (user) ifaceConfig.user = user.value;
  if (metricsListen) ifaceConfig.metricsListen = metricsListen.value;

  const peerConfigs = peers.map(({ section, settings, publicKey, allowedIPs }): PeerConfig => {
    const { PresharedKey: presharedKey, Endpoint: endpoint, PersistentKeepalive: keepalive } = settings;
    const peerConfig: PeerConfig = { publicKey: publicKey.value, allowedIPs: allowedIPs.value, line: section.line };
    if (presharedKey) peerConfig.presharedKey = presharedKey.value;
    if (endpoint) peerConfig.endpoint = { ...endpoint.value, line: endpoint.line };
    if (keepalive?.value !== undefined) peerConfig.persistentKeepalive = keepalive.value;
    return peerConfig;
  });

  return {
    file,
    iface: ifaceConfig,
    peers: peerConfigs,
    role: { initiates: peerConfigs.some((p) => p.endpoint !== undefined), accepts: listenPort !== undefined },
  };
}

type Fail = (line: number, key: string, detail: string, cause?: unknown) => never;

/**
 * Settings of the full tunnel and kill switch that contradict each other:
 * a default route under Table = auto needs a mark to keep the tunnel's own
 * packets out of the tunnel (src/host/policy-routing.ts), and
 * KillSwitchAllowLan only loosens a kill switch that is on.
 */
function refuseHostRoutingMismatch(
  iface: Settings<InterfaceValues>,
  peers: ReadonlyArray<{ allowedIPs: Setting<Cidr[]> }>,
  fail: Fail,
): void {
  const { Table: table, FwMark: fwMark, KillSwitch: killSwitch, KillSwitchAllowLan: allowLan } = iface;
  const fullTunnel = peers.some((p) => p.allowedIPs.value.some((c) => c.prefix === 0));
  if (fwMark?.value === 'off' && fullTunnel && (table?.value ?? 'auto') === 'auto') {
    fail(fwMark.line, 'FwMark', 'is off, but AllowedIPs holds a default route (0.0.0.0/0 or ::/0) and Table = auto routes it by the mark; remove FwMark, or set Table = off');
  }
  if (fwMark?.value === 'off' && killSwitch?.value) {
    fail(fwMark.line, 'FwMark', 'is off, but KillSwitch = on lets the tunnel\'s own packets out by their mark; remove FwMark');
  }
  const transport = iface.Transport?.value ?? 'udp';
  // Under auto the UDP socket is marked before the drop; only its TCP fallback would fail (check warns).
  if (iface.User && fullTunnel && (table?.value ?? 'auto') === 'auto' && transport === 'tcp') {
    fail(iface.User.line, 'User',
      'a full tunnel over Transport = tcp marks each new TCP connection (SO_MARK needs CAP_NET_ADMIN), which a daemon that dropped to User cannot; use Transport = udp, or remove User');
  }
  if (allowLan?.value && !killSwitch?.value) {
    fail(allowLan.line, 'KillSwitchAllowLan', 'is on but KillSwitch is not; add KillSwitch = on, or remove KillSwitchAllowLan');
  }
}

/**
 * The peer's PublicKey must not be our own public key (we would talk to
 * ourselves) nor our private key (PublicKey naming our own .key file);
 * neither value is shown.
 */
function refuseOwnKeyAsPeer(privateKey: Setting<Uint8Array>, publicKey: Setting<Uint8Array>, fail: Fail): void {
  const same = (a: Uint8Array, b: Uint8Array) => Buffer.from(a).equals(Buffer.from(b));
  if (same(publicKey.value, privateKey.value)) {
    fail(publicKey.line, 'PublicKey', `is this interface's private key (the same as PrivateKey at line ${privateKey.line}), not the peer's public key; name the peer's .pub file`);
  }
  if (same(publicKey.value, publicKeyOf(privateKey.value))) {
    fail(publicKey.line, 'PublicKey', `is this interface's own public key (from PrivateKey at line ${privateKey.line}); use the peer's key`);
  }
}

/**
 * A packet from the tunnel is routed to exactly one peer (cryptokey
 * routing), so no two peers may share a public key, nor an AllowedIPs
 * prefix (compared as networks: 10.77.0.5/24 is 10.77.0.0/24). Different
 * prefixes may overlap: the longest match wins, as in WireGuard. Errors are
 * at the later setting and name the [Peer] line of the earlier peer.
 */
function refuseSharedPeerSettings(
  peers: ReadonlyArray<{ section: IniSection; publicKey: Setting<Uint8Array>; allowedIPs: Setting<Cidr[]> }>,
  fail: Fail,
): void {
  const keyOwners = new Map<string, number>();
  const prefixOwners = new Map<string, number>();
  for (const { section, publicKey, allowedIPs } of peers) {
    const key = Buffer.from(publicKey.value).toString('hex');
    const keyOwner = keyOwners.get(key);
    // The key is not shown: it may be key material pasted in the wrong place.
    if (keyOwner !== undefined) fail(publicKey.line, 'PublicKey', `this public key is already peer at line ${keyOwner}`);
    keyOwners.set(key, section.line);
    allowedIPs.value.forEach((cidr, i) => {
      const owner = prefixOwners.get(cidr.text);
      if (owner !== undefined && owner !== section.line) {
        fail(allowedIPs.itemLines?.[i] ?? allowedIPs.line, 'AllowedIPs', `${cidr.text} is already peer at line ${owner}`);
      }
      prefixOwners.set(cidr.text, section.line);
    });
  }
}

/** Checks each entry's key (known here? repeated?) and parses its value. */
function readSection<V>(
  section: IniSection,
  label: string,
  parsers: Parsers<V>,
  otherParsers: object,
  otherLabel: string,
  keyFiles: KeyFiles,
  fail: Fail,
): Settings<V> {
  const keys = Object.keys(parsers) as Array<keyof V & string>;
  const out: Settings<V> = {};
  for (const entry of section.entries) {
    const key = canonicalKey(entry, keys);
    if (key === undefined) {
      const elsewhere = canonicalKey(entry, Object.keys(otherParsers));
      if (elsewhere !== undefined) fail(entry.line, elsewhere, `belongs in ${otherLabel}, not ${label}`);
      return fail(entry.line, keyLabel(entry.key), `unknown key in ${label}; expected one of: ${keys.join(', ')}`);
    }
    const previous = out[key];
    if (previous && !LIST_KEYS.has(key)) {
      fail(entry.line, key, `is set twice; the first is at line ${previous.line}`);
    }
    if (entry.value === '') fail(entry.line, key, 'has no value');

    let value: V[typeof key];
    try {
      value = parsers[key](entry.value, keyFiles);
    } catch (err) {
      if (err instanceof BadValue) fail(entry.line, key, err.message);
      // KeyError messages name the file, never the key text (keys.ts).
      if (err instanceof KeyError) fail(entry.line, key, err.message, err);
      throw err;
    }
    const itemLines = Array.isArray(value) ? value.map(() => entry.line) : undefined;
    if (previous && Array.isArray(previous.value) && Array.isArray(value)) {
      previous.value.push(...value); // a list key seen again: add to it
      previous.itemLines?.push(...itemLines!);
    } else {
      out[key] = itemLines ? { value, line: entry.line, itemLines } : { value, line: entry.line };
    }
  }
  return out;
}

/** Key names are case-insensitive, as in wg-quick; returns the canonical spelling. */
function canonicalKey<K extends string>(entry: IniEntry, keys: readonly K[]): K | undefined {
  const lower = entry.key.toLowerCase();
  return keys.find((k) => k.toLowerCase() === lower);
}

// ---- values ---------------------------------------------------------------

/** Runs of base64 this long are treated as possible key material and not shown. */
const KEYLIKE = /[A-Za-z0-9+/]{32,}/;

/** A value quoted for an error message, unless it could be a secret. */
function shown(value: string): string {
  if (KEYLIKE.test(value)) return 'the value (not shown: it looks like key material)';
  return JSON.stringify(value.length > 80 ? `${value.slice(0, 80)}...` : value);
}

/**
 * A user-written key or section name, shown only if it is plainly a word:
 * real names are letters, while a fragment of a pasted key almost always
 * has digits, "+" or "/" in it.
 */
function safeName(name: string): string {
  return /^[A-Za-z][A-Za-z _-]{0,23}$/.test(name) ? name : '(unrecognised name)';
}

function keyLabel(key: string): string {
  return safeName(key);
}

/** Linux IFNAMSIZ is 16 including the NUL; '/' and whitespace are refused by the kernel. */
function parseInterfaceName(value: string): string {
  if (value.length > 15) {
    throw new BadValue(`${shown(value)} is ${value.length} characters; Linux interface names are at most 15`);
  }
  if (!/^[A-Za-z0-9_.-]+$/.test(value) || value === '.' || value === '..') {
    throw new BadValue(`${shown(value)} is not a valid interface name; use letters, digits, "_", "." and "-" (not "." or "..")`);
  }
  return value;
}

/** Exactly the shape of an encoded key: 43 base64 characters and one "=". */
const INLINE_KEY = /^[A-Za-z0-9+/]{43}=$/;

/**
 * Whether a value that is not a valid inline key still looks like key
 * material (a typo in an inline key, or key text pasted with extra
 * characters): a long base64 run with few "/" (paths have many), or
 * key-sized text that is nearly all base64.
 */
function looksLikeKeyMaterial(value: string): boolean {
  for (const run of value.matchAll(/[A-Za-z0-9+/]{32,}/g)) {
    if (run[0].split('/').length - 1 <= 3) return true;
  }
  if (value.length < 36 || value.length > 52) return false;
  return (value.match(/[^A-Za-z0-9+/=]/g)?.length ?? 0) <= 2;
}

function parseKey(value: string, kind: KeyKind, keys: KeyFiles): Uint8Array {
  if (INLINE_KEY.test(value)) return decodeKey(value, 'inline value', kind);
  const path = resolve(keys.baseDir, value);
  // A mistyped inline key would otherwise be taken as a file name and echoed
  // back in "no such file": do not print what is probably a secret.
  if (looksLikeKeyMaterial(value) && !existsSync(path)) {
    throw new BadValue(
      `is neither a valid inline ${kind} (44 base64 characters ending in "=") nor an existing file ` +
        '(value not shown: it may be a secret)',
    );
  }
  return keys.read(path, kind);
}

/** A peer key that can give no shared secret (keys.ts) is refused here, whether inline or from a file. */
function parsePeerPublicKey(value: string, keys: KeyFiles): Uint8Array {
  const source = INLINE_KEY.test(value) ? 'inline value' : resolve(keys.baseDir, value);
  return checkPeerPublicKey(parseKey(value, 'public key', keys), source);
}

function parseCidrList(value: string, hostBits: 'keep' | 'clear'): Cidr[] {
  return value.split(',').map((raw) => {
    const item = raw.trim();
    if (item === '') throw new BadValue('has an empty item; remove the stray comma');
    try {
      return parseCidr(item, { hostBits });
    } catch (err) {
      if (err instanceof AddressError) throw new BadValue(`${shown(item)} ${err.message}`);
      throw err;
    }
  });
}

function parseInteger(value: string, min: number, max: number, what: string): number {
  if (!/^\d{1,10}$/.test(value)) throw new BadValue(`${shown(value)} is not ${what}; expected a whole number ${min}-${max}`);
  const n = Number(value);
  if (n < min || n > max) throw new BadValue(`${n} is out of range; expected ${min}-${max}`);
  return n;
}

function parsePort(value: string): number {
  return parseInteger(value, 1, 65535, 'a port number');
}

function parseKeepalive(value: string): number | undefined {
  if (value.toLowerCase() === 'off') return undefined;
  const n = parseInteger(value, 0, 65535, 'a number of seconds or "off"');
  return n === 0 ? undefined : n;
}

function parseKeepWarm(value: string): number {
  if (value.toLowerCase() === 'off') return 0;
  return parseInteger(value, 0, MAX_KEEP_WARM_MS, 'a number of milliseconds or "off"');
}

function parseOnOff(value: string): boolean {
  const v = value.toLowerCase();
  if (v === 'on' || v === 'true' || v === 'yes') return true;
  if (v === 'off' || v === 'false' || v === 'no') return false;
  throw new BadValue(`${shown(value)} is not on or off`);
}

/** Routing table numbers the kernel reserves: 0 (unspec), 253 (default), 255 (local). main (254) is allowed, as in ip-route. */
const RESERVED_TABLES: ReadonlySet<number> = new Set([0, 253, 255]);

function parseTable(value: string): RouteTable {
  const v = value.toLowerCase();
  if (v === 'auto' || v === 'off') return v;
  if (v === 'main') return 254;
  const n = parseInteger(value, 1, 0xffffffff, 'auto, off, main or a routing table number');
  if (RESERVED_TABLES.has(n)) throw new BadValue(`${n} is a table the kernel reserves (253 default, 255 local); pick another number`);
  return n;
}

/** A 32-bit mark, decimal or 0x hex as wg-quick takes it; 0 or "off" is no mark. */
function parseFwMark(value: string): number | 'off' {
  const v = value.toLowerCase();
  if (v === 'off') return 'off';
  const n = /^0x[0-9a-f]{1,8}$/.test(v) ? parseInt(v.slice(2), 16) : /^\d{1,10}$/.test(v) ? Number(v) : NaN;
  if (!Number.isInteger(n) || n > 0xffffffff) throw new BadValue(`${shown(value)} is not a mark; expected a number 1-4294967295 (or 0x hex), or off`);
  return n === 0 ? 'off' : n;
}

function parseTransport(value: string): TransportKind {
  const v = value.toLowerCase();
  if (v === 'udp' || v === 'tcp' || v === 'auto') return v;
  throw new BadValue(`${shown(value)} is not a transport; expected udp, tcp or auto`);
}

/** A user name as useradd accepts it, or a numeric uid; looked up only when dropping privileges. */
function parseUser(value: string): string {
  if (/^[A-Za-z_][A-Za-z0-9_.-]{0,31}\$?$/.test(value) || /^\d{1,10}$/.test(value)) return value;
  throw new BadValue(`${shown(value)} is not a user name or numeric uid`);
}

function addressOrFail(text: string, shownAs: string): ReturnType<typeof parseAddress> {
  try {
    return parseAddress(text);
  } catch (err) {
    if (err instanceof AddressError) throw new BadValue(`${shown(shownAs)} ${err.message}`);
    throw err;
  }
}

/** An IP literal; IPv6 may be bracketed, as in Endpoint. */
function parseListenAddress(value: string): string {
  const bracketed = /^\[(.*)\]$/.exec(value);
  return addressOrFail(bracketed ? bracketed[1]! : value, value).address;
}

/**
 * MetricsListen: an IP literal and a port (IPv6 in brackets), never a host
 * name: the metrics carry no authentication, so where they are served must
 * be exactly what the operator wrote.
 */
function parseMetricsListen(value: string): ListenAddress {
  const m = /^(?:\[([^\]]*)\]|([^:[\]]*)):([^:]*)$/.exec(value);
  if (!m) throw new BadValue(`${shown(value)} is not ADDRESS:PORT; expected e.g. 127.0.0.1:9586 or [::1]:9586`);
  const [, v6, v4, portText = ''] = m;
  const host = v6 ?? v4!;
  if (host === '') throw new BadValue(`${shown(value)} has no address before ":"; e.g. 127.0.0.1 serves this host only`);
  const ip = addressOrFail(host, host);
  if (v6 !== undefined && ip.family !== 6) throw new BadValue(`${shown(value)}: brackets are only for IPv6; write ${ip.address}:${portText}`);
  if (portText === '') throw new BadValue('has no port after ":"; expected e.g. 127.0.0.1:9586');
  return { address: ip.address, port: parsePort(portText), family: ip.family };
}

function parseEndpoint(value: string): Endpoint {
  if (value.startsWith('[')) {
    const m = /^\[([^\]]*)\]:([^:]*)$/.exec(value);
    if (!m) throw new BadValue(`${shown(value)} is not [IPv6]:PORT; expected e.g. [2001:db8::1]:51820`);
    const [, hostText = '', portText = ''] = m;
    // A zone (fe80::1%eth0) is meaningful for a link-local endpoint.
    const pct = hostText.indexOf('%');
    const zone = pct < 0 ? '' : hostText.slice(pct + 1);
    if (pct >= 0 && !/^[A-Za-z0-9_.-]{1,15}$/.test(zone)) {
      throw new BadValue(`${shown(value)} has a bad zone after "%"; expected an interface name`);
    }
    const ip = addressOrFail(pct < 0 ? hostText : hostText.slice(0, pct), hostText);
    if (ip.family !== 6) throw new BadValue(`${shown(value)}: brackets are only for IPv6; write 192.0.2.2:51820`);
    return { host: pct < 0 ? ip.address : `${ip.address}%${zone}`, port: endpointPort(portText), family: 6 };
  }
  const colon = value.lastIndexOf(':');
  if (colon < 0) throw new BadValue(`${shown(value)} has no port; expected HOST:PORT, e.g. 192.0.2.2:51820`);
  const hostText = value.slice(0, colon);
  if (hostText.includes(':')) {
    throw new BadValue(`${shown(value)}: an IPv6 address needs brackets, e.g. [2001:db8::1]:51820`);
  }
  if (hostText === '') throw new BadValue(`${shown(value)} has no host before ":"`);
  const port = endpointPort(value.slice(colon + 1));
  // A name whose last label is all digits is an IPv4 address (or a typo of one);
  // no top-level domain is numeric.
  if (/(?:^|\.)\d+\.?$/.test(hostText)) {
    return { host: addressOrFail(hostText, hostText).address, port, family: 4 };
  }
  if (!isDnsName(hostText)) {
    throw new BadValue(`${shown(hostText)} is not an IPv4 address or a host name (letters, digits and "-" in dot-separated labels)`);
  }
  return { host: hostText, port };
}

/**
 * DNS: a comma-separated list of name server addresses (IPv4 or IPv6) and
 * search domains, as wg-quick reads it: what parses as an address is a
 * server, anything else must be a domain name. Something that looks like an
 * address (it has a ":" or ends in a number) but is not one is reported as
 * a bad address, not taken for a domain.
 */
function parseDns(value: string): DnsItem[] {
  return value.split(',').map((raw) => {
    const item = raw.trim();
    if (item === '') throw new BadValue('has an empty item; remove the stray comma');
    if (item.includes(':') || /(?:^|\.)\d+\.?$/.test(item)) return { server: addressOrFail(item, item).address };
    if (!isDnsName(item)) {
      throw new BadValue(`${shown(item)} is neither an IP address (a name server) nor a domain name (a search domain: letters, digits and "-" in dot-separated labels)`);
    }
    return { searchDomain: item };
  });
}

function dnsSettings(items: readonly DnsItem[]): DnsSettings {
  return {
    servers: items.flatMap((i) => (i.server === undefined ? [] : [i.server])),
    searchDomains: items.flatMap((i) => (i.searchDomain === undefined ? [] : [i.searchDomain])),
  };
}

/**
 * A hook: one shell command for /bin/sh -c, kept as written (src/host/hooks.ts
 * runs it). A list of one, so that each repetition of the key adds a command.
 * A NUL byte could never reach the shell.
 */
function parseHook(value: string): string[] {
  if (value.includes('\0')) throw new BadValue('contains a NUL byte, which no shell command can');
  return [value];
}

function endpointPort(text: string): number {
  if (text === '') throw new BadValue('has no port after ":"; expected e.g. 51820');
  return parsePort(text);
}

/** RFC 1123 host name syntax; checked here, resolved later. */
function isDnsName(name: string): boolean {
  const n = name.endsWith('.') ? name.slice(0, -1) : name;
  if (n.length === 0 || n.length > 253) return false;
  return n.split('.').every((label) => /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/.test(label));
}
