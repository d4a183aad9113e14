// What `sealtun up CONFIG` would do with a config, worked out without doing
// any of it: no TUN, no socket, no `ip` call. `sealtun check` prints this,
// so an operator can see the derived MTU, the routes and the role before
// touching a host. Every value here mirrors a decision made in tunnel.ts
// (MTU, listener, routes) or daemon.ts; keep them in step.
import { networkBytes, parseAddress, type Cidr } from '../config/cidr.js';
import { listenAddressText, type TunnelConfig } from '../config/config.js';
import { encodeKey, publicKeyOf } from '../crypto/keys.js';
import type { TransportKind } from '../transport/transport.js';
import { defaultMtu, defaultMtuTerms, mtuTransport } from '../transport/mtu.js';

export type Role = 'initiates' | 'accepts' | 'both';

export interface EffectiveMtu {
  value: number;
  /** True when the config has no MTU and the value comes from the transport's overhead. */
  derived: boolean;
  /** How the value came about, e.g. "1500 − 40 (outer IP) − 8 (UDP) − 32 (data header and tag)". */
  formula: string;
}

export interface EffectiveSettings {
  file: string;
  interface: {
    name: string;
    /** Ours, derived from PrivateKey (public: safe to print and to hand to the peer's operator). */
    publicKey: string;
    addresses: string[];
    transport: TransportKind | 'auto';
    mtu: EffectiveMtu;
    /**
     * Where the daemon accepts the peer: "ADDRESS:PORT" ("*" for all
     * addresses; port "ephemeral" when the kernel picks one), or null when
     * it does not listen at all (TCP without ListenPort). Under auto, UDP
     * there and, with ListenPort, TCP on the same port.
     */
    listen: string | null;
    /** The configured User, if any. */
    user: string | null;
    /** Whether the daemon would switch to User after setup. */
    dropsPrivileges: boolean;
    /** KeepWarm: milliseconds the data path stays warm after traffic; 0 when off. */
    keepWarmMs: number;
    /** MetricsListen as ADDRESS:PORT (Prometheus text at /metrics, no authentication), or null when off. */
    metricsListen: string | null;
  };
  role: Role;
  /** Every [Peer], in file order. */
  peers: Array<{
    publicKey: string;
    /** As written: HOST:PORT, [IPv6]:PORT; a DNS name is resolved only by `up`. */
    endpoint: string | null;
    allowedIPs: string[];
    /** Seconds, or null when off. */
    persistentKeepalive: number | null;
    /** Whether a pre-shared key is configured (never its value). */
    presharedKey: boolean;
  }>;
  /** Routes `up` adds, one per AllowedIPs prefix of every peer, through the interface (in `table` with Table = NUMBER). */
  routes: Array<{ destination: string; device: string; table?: number }>;
  /** What `up` changes on the host beyond the interface (policy rules, mark, kill switch), as check prints it (src/host/). */
  host?: string[];
  /** Things that will work but are probably not what was meant. */
  warnings: string[];
  /** Things that make `up` refuse this config. */
  problems: string[];
}

/** Needs initSodium() to have resolved (for our public key). */
export function effectiveSettings(config: TunnelConfig): EffectiveSettings {
  const { iface, peers } = config;
  const warnings: string[] = [];
  const problems: string[] = [];

  const mtu = effectiveMtu(iface.transport, iface.mtu);
  const bound = defaultMtu(mtuTransport(iface.transport));
  if (iface.mtu !== undefined && iface.mtu > bound) {
    const over = iface.transport === 'auto' ? `${mtuTransport('auto')}, which auto may use` : iface.transport;
    warnings.push(
      `MTU ${iface.mtu} is above the ${bound} that fits a 1500-byte underlay over ${over}; ` +
        'sealed packets will be fragmented (or dropped) on such a path',
    );
  }

  const ourPublic = encodeKey(publicKeyOf(iface.privateKey));
  const endpointText = (ep: (typeof peers)[number]['endpoint']) => (ep ? `${ep.family === 6 ? `[${ep.host}]` : ep.host}:${ep.port}` : null);
  for (const peer of peers) {
    if (peer.endpoint?.family !== undefined) {
      const host = peer.endpoint.host.split('%')[0]!;
      // Only a route in the main table catches the sealed packets: a full tunnel's default route under
      // Table = auto lets them out by their mark (src/host/policy-routing.ts), Table = NUMBER or off routes nothing in main.
      const inMain = (prefix: number) => iface.table === 254 || (iface.table === 'auto' && prefix > 0);
      const inside = peer.allowedIPs.find((c) => contains(c, host) && inMain(c.prefix));
      if (inside) {
        warnings.push(
          `the Endpoint ${host} is inside AllowedIPs ${inside.text}: the sealed packets to the peer would be routed into the tunnel itself; ` +
            'narrow AllowedIPs or add a more specific route to the endpoint via the underlay',
        );
      }
    }
    if (iface.user !== undefined && iface.transport === 'auto' && iface.table === 'auto' && peer.allowedIPs.some((c) => c.prefix === 0)) {
      warnings.push('a full tunnel under Transport = auto with User: the TCP fallback cannot mark its connections (SO_MARK) after the privilege drop, so only UDP will work');
    }
    if (peer.endpoint === undefined && peer.persistentKeepalive !== undefined) {
      warnings.push('PersistentKeepalive has no effect until the peer has connected (this side has no Endpoint)');
    }
  }

  return {
    file: config.file,
    interface: {
      name: iface.name,
      publicKey: ourPublic,
      addresses: iface.addresses.map((a) => a.text),
      transport: iface.transport,
      mtu,
      listen: listenText(config),
      user: iface.user ?? null,
      // `up --user NAME` overrides this at start; see privileges.ts.
      dropsPrivileges: iface.user !== undefined,
      keepWarmMs: iface.keepWarmMs,
      metricsListen: iface.metricsListen ? listenAddressText(iface.metricsListen) : null,
    },
    role: config.role.initiates && config.role.accepts ? 'both' : config.role.initiates ? 'initiates' : 'accepts',
    peers: peers.map((peer) => ({
      publicKey: encodeKey(peer.publicKey),
      endpoint: endpointText(peer.endpoint),
      allowedIPs: peer.allowedIPs.map((c) => c.text),
      persistentKeepalive: peer.persistentKeepalive ?? null,
      presharedKey: peer.presharedKey !== undefined,
    })),
    routes: peers.flatMap((p) => p.allowedIPs.map((c) => ({ destination: c.text, device: iface.name }))),
    warnings,
    problems,
  };
}

function effectiveMtu(setting: TransportKind | 'auto', configured: number | undefined): EffectiveMtu {
  const transport = mtuTransport(setting);
  const t = defaultMtuTerms(transport);
  const header = transport === 'udp' ? 'UDP header' : 'TCP header + 2-byte length';
  const formula =
    `${t.underlay} − ${t.outerIp} (outer IPv6 header, the worst case) − ${t.transport} (${header}${setting === 'auto' ? ': auto may move to either transport' : ''}) ` +
    `− ${t.sealing} (data header and tag) = ${t.mtu}`;
  return configured === undefined ? { value: t.mtu, derived: true, formula } : { value: configured, derived: false, formula: `set by MTU; the default would be ${formula}` };
}

/**
 * Mirrors tunnel.ts: over UDP (and auto) there is always a socket (ListenPort,
 * or an ephemeral port for an initiator); over TCP only ListenPort makes a listener.
 * Without ListenAddress the wildcard is bound (dual stack where IPv6 exists).
 */
function listenText(config: TunnelConfig): string | null {
  const { iface } = config;
  if (iface.transport === 'tcp' && iface.listenPort === undefined) return null;
  const address = iface.listenAddress === undefined ? '*' : iface.listenAddress.includes(':') ? `[${iface.listenAddress}]` : iface.listenAddress;
  return `${address}:${iface.listenPort ?? 'ephemeral'}`;
}

/** Whether the IP literal `host` lies in `cidr`. */
function contains(cidr: Cidr, host: string): boolean {
  let ip;
  try {
    ip = parseAddress(host);
  } catch {
    return false;
  }
  if (ip.family !== cidr.family) return false;
  const net = networkBytes(ip.bytes, cidr.prefix);
  return net.every((b, i) => b === cidr.bytes[i]);
}
