// One running tunnel: the TUN interface, the socket or listener, the
// data-path workers and the peers with their sessions, started in that order
// and stopped in reverse. Each peer has a slot in the data path, its own
// sessions (peer/peer.ts) and its own link (its endpoint on the interface's
// UDP socket, or the TCP connection); the interface's peers (peer/peer-set.ts)
// route handshake messages to them. It offers what the daemon above it needs
// (status(), addPeer/removePeer/changePeer for live changes, stop()) and
// knows nothing of control sockets, run files or config files: the daemon
// (src/daemon/) owns those.
import type { Cidr } from '../config/cidr.js';
import type { Endpoint, PeerConfig, TunnelConfig } from '../config/config.js';
import { encodeKey, publicKeyOf } from '../crypto/keys.js';
import { initSodium } from '../crypto/sodium.js';
import { DATA_OVERHEAD } from '../crypto/data-packet.js';
import { openTun, setOffloads, TSO_OFFLOADS, VNET_HDR_BYTES, type TunDevice } from '../tun/device.js';
import { changeRoutes, configureInterface, routedPrefixes, type RoutePlacement } from '../tun/netconfig.js';
import { isHostName } from '../transport/resolve.js';
import { formatAddress } from '../transport/sockaddr.js';
import * as libc from '../sys/libc.js';
import type { SocketAddress } from '../transport/sockaddr.js';
import { openBoundSocket, SocketError, type BindSpec, type BoundSocket } from '../transport/socket.js';
import type { EndpointSpec } from '../transport/resolve.js';
import { defaultMtu, GSO_MAX_SIZE, mtuTransport } from '../transport/mtu.js';
import type { TransportKind } from '../transport/transport.js';
import type { Logger } from '../log.js';
import { Datapath } from './datapath/datapath.js';
import { endpointProblem } from './link/endpoint-name.js';
import { Handshake, localIdentity, type LocalIdentity } from './peer/handshake.js';
import type { Link } from './link/link.js';
import { FEATURE_CSUM_PARTIAL, FEATURE_VNET_HDR, MESSAGE_INITIATION_BYTES, mac1Key } from './messages.js';
import { Peer } from './peer/peer.js';
import { PeerSet, type Ingress } from './peer/peer-set.js';
import { createPeerStats, createStats, DROP_REASONS, PEER, PEER_SLOTS, peerCounters, reservePeerSlot, RX, TX, type Stats } from './stats.js';
import { autoIngress, udpIngress } from './link/udp-ingress.js';
import type { RouteSpec } from './datapath/worker-messages.js';
import { AutoLink } from './link/auto-link.js';
import { TcpLink } from './link/tcp-link.js';
import { TcpConns } from './link/tcp-conns.js';
import { UdpLink } from './link/udp-link.js';
import type { FromWorker } from './datapath/worker-messages.js';

/** A listening port someone else holds, named as the config names it. */
function portInUse(err: unknown): unknown {
  if (!(err instanceof SocketError) || err.bind?.code !== 'EADDRINUSE') return err;
  return new SocketError(`ListenPort ${err.bind.port} (${err.bind.type}): address in use`, err.bind);
}

/** One peer in `status` (issue 15's contract: scripts and the metrics endpoint read it). */
export interface PeerStatus {
  /** Base64. */
  publicKey: string;
  /** Where the peer is sought now ("ADDR:PORT"). */
  endpoint: string | null;
  /** The configured Endpoint when it is a host name ("NAME:PORT"); absent otherwise. */
  endpointName?: string;
  /** The address that name last resolved to (it differs from `endpoint` once the peer roamed); only with endpointName. */
  endpointResolved?: string | null;
  allowedIPs: string[];
  /** Unix seconds (integer) of the latest confirmed handshake; null: none yet. */
  latestHandshakeAt: number | null;
  /** Handshakes completed since the daemon started (rekeys included). */
  handshakes: number;
  rx: { bytes: number; packets: number };
  tx: { bytes: number; packets: number };
  /** Seconds; 0: off. */
  persistentKeepalive: number;
  /** Transport = auto only: the path this peer's data takes now. */
  path?: TransportKind;
}

export interface TunnelStatus {
  interface: string;
  pid: number;
  /** As configured. */
  transport: TransportKind | 'auto';
  /** The transport data goes over now: the same as `transport`, or under auto whichever works. */
  path: TransportKind;
  mtu: number;
  addresses: string[];
  listen: string | null;
  publicKey: string;
  /** Every peer, in the order added. Replaces the single `peer` object of earlier versions. */
  peers: PeerStatus[];
  /** Interface totals. */
  rx: { bytes: number; packets: number };
  tx: { bytes: number; packets: number };
  dropped: Record<string, number>;
}

/**
 * What a running peer takes without a restart (see changePeer): each field
 * is present only when it changes.
 */
export interface PeerChange {
  endpoint?: Endpoint | null;
  persistentKeepalive?: number | null;
  allowedIPs?: Cidr[];
}

export interface TunnelOptions {
  /** Where a listener's UDP link remembers its one peer's last address (endpoint-memory.ts); none: not remembered. */
  endpointMemoryFile?: string;
  /** The data path died: called once the tunnel has stopped itself. */
  onFailure(): void;
  /** Where AllowedIPs routes go (Table; src/host/policy-routing.ts); absent: each prefix into main. */
  routes?: RoutePlacement;
  /** SO_MARK on the tunnel's UDP socket and TCP listener (FwMark, KillSwitch); absent: none. */
  socketMark?: number;
  /** SO_MARK on the TCP connections it makes (FwMark, a full tunnel); absent: none. */
  connectMark?: number;
}

/** One peer as the tunnel holds it: its config as last applied, and its sessions. */
interface PeerEntry {
  config: PeerConfig;
  peer: Peer;
}

/** Removed peers whose initiation timestamps are kept (Tunnel.formerTimestamps). */
const FORMER_PEERS = 10_000;

const routeSpecs = (cidrs: readonly Cidr[]): RouteSpec[] => cidrs.map((c) => ({ family: c.family, bytes: c.bytes, prefix: c.prefix }));
const endpointSpec = (ep: Endpoint | undefined | null): EndpointSpec | null => (ep ? { host: ep.host, port: ep.port } : null);

export class Tunnel {
  private stopped: Promise<void> | null = null;
  /** By base64 public key, in the order added. */
  private readonly entries = new Map<string, PeerEntry>();
  /** Ours, derived once: status never touches the private key. */
  private readonly publicKey: string;
  /** Every peer's counters (stats.ts PEER), one view of the growable buffer. */
  private readonly counters: Float64Array;
  /** The data path's socket over UDP (every peer's link shares it); null over TCP and auto. */
  private socket: BoundSocket | null = null;
  private bind: BindSpec | null = null;
  /** Over TCP and auto: the listener and every connection, which peers' links claim (tcp-conns.ts). */
  private conns: TcpConns | null = null;
  private peers!: PeerSet;
  /**
   * Removed peers' newest initiation timestamps, by key (the oldest forgotten
   * past FORMER_PEERS): a peer added again (a reload changing its
   * PresharedKey is a removal and an addition) does not take a recorded
   * initiation of its earlier self as new.
   */
  private readonly formerTimestamps = new Map<string, Uint8Array>();
  /** Each AllowedIPs prefix (as text) to the key of the peer that holds it: one owner per prefix, checked without a scan. */
  private readonly owners = new Map<string, string>();
  private offloads = -1;

  private constructor(
    private config: TunnelConfig,
    readonly tun: TunDevice,
    readonly mtu: number,
    readonly transport: TransportKind | 'auto',
    private readonly datapath: Datapath,
    private readonly stats: Stats,
    private readonly peerStats: SharedArrayBuffer,
    private readonly local: LocalIdentity,
    private readonly options: TunnelOptions,
    private readonly log: Logger,
  ) {
    this.publicKey = encodeKey(local.keyPair.publicKey);
    this.counters = peerCounters(peerStats);
  }

  /** Brings the tunnel up with the config's peers; on any failure everything started so far is undone. */
  static async start(config: TunnelConfig, log: Logger, options: TunnelOptions): Promise<Tunnel> {
    await initSodium();
    for (const p of config.peers) {
      const problem = await endpointProblem(config.file, p.endpoint, 'up');
      if (problem) throw problem;
    }
    const { iface, peers } = config;
    const transport = iface.transport;
    const mtu = iface.mtu ?? defaultMtu(mtuTransport(transport));
    // Over TCP the stream has no datagram limit, so whole TSO super-packets
    // travel as one message (offloads switched on once the peer announces it
    // can take them): measured 4–5× the per-packet rate on this kind of host.
    // Not under auto: its path may turn into UDP at any time.
    const superPackets = transport === 'tcp';
    const maxPlaintext = superPackets ? VNET_HDR_BYTES + GSO_MAX_SIZE : mtu;
    // Over UDP (and under auto) each message carries one plain packet, but the
    // TUN still has IFF_VNET_HDR so the receiver can hand the kernel merged TCP segments.
    const undo: Array<() => Promise<void> | void> = [];
    try {
      const tun = openTun(iface.name, { vnetHdr: true });
      undo.push(() => tun.close());
      // UDP and auto: the data path reads TCP super-packets and splits them
      // itself (tso-split.ts); peers still get MTU-sized packets. Without
      // the offloads (a kernel that refuses them) it reads plain packets.
      if (!superPackets) {
        try {
          setOffloads(tun, TSO_OFFLOADS);
        } catch (err) {
          log.warn(`${tun.name}: reading packets one by one: ${(err as Error).message}`);
        }
      }
      await configureInterface({
        name: tun.name,
        mtu,
        addresses: iface.addresses.map((a) => a.text),
        routes: routedPrefixes(peers.flatMap((p) => p.allowedIPs), options.routes),
        ...(options.routes?.table ? { table: options.routes.table } : {}),
        ...(superPackets ? { gsoMaxSize: GSO_MAX_SIZE } : {}),
      });
      const listenAddress: SocketAddress | null = iface.listenAddress
        ? { family: iface.listenAddress.includes(':') ? 6 : 4, address: iface.listenAddress, port: iface.listenPort ?? 0 }
        : null;
      const bind: BindSpec = { address: listenAddress, port: iface.listenPort ?? 0 };
      if (options.socketMark !== undefined) bind.mark = options.socketMark;
      const families = new Set(peers.flatMap((p) => (p.endpoint?.family ? [p.endpoint.family] : [])));
      // Every Endpoint of one IP version (a client): a socket of that version; otherwise dual-stack.
      if (!listenAddress && families.size === 1) bind.family = [...families][0]!;
      const stats = createStats();
      const peerStats = createPeerStats();
      let socket: BoundSocket | null = null;
      let conns: TcpConns | null = null;
      if (transport !== 'tcp') {
        // UDP and auto: one socket, every peer's link on it.
        socket = openBoundSocket('udp', bind);
        const fd = socket.fd;
        undo.push(() => void libc.close(fd));
      }
      if (transport !== 'udp') {
        // TCP and auto: a listener with ListenPort; auto binds it to the UDP socket's port.
        const port = socket?.port ?? bind.port;
        conns = new TcpConns(iface.listenPort ? { ...bind, port } : null, log, options.connectMark);
        conns.bind();
        const c = conns;
        undo.push(() => c.close());
      }
      const udpFd = socket?.fd ?? -1;
      const datapath = await Datapath.start({
        transport,
        tunFd: tun.fd,
        udpFd,
        stats: stats.sab,
        peerStats,
        warmUpRoutes: routeSpecs(peers.flatMap((p) => p.allowedIPs)),
        mtu,
        tunVnetHdr: true,
        wireVnetHdr: superPackets,
        maxPlaintext,
        maxMessage: Math.max(DATA_OVERHEAD + maxPlaintext, MESSAGE_INITIATION_BYTES),
        keepWarmMs: iface.keepWarmMs,
        mac1Key: mac1Key(publicKeyOf(iface.privateKey)),
      });
      undo.push(() => datapath.stop());
      const local = localIdentity(iface.privateKey);
      const t = new Tunnel(config, tun, mtu, transport, datapath, stats, peerStats, local, options, log);
      t.socket = socket;
      t.bind = bind;
      t.conns = conns;
      if (conns) {
        conns.peerCount = () => t.entries.size;
        conns.attach(datapath);
      }
      const ingress: Ingress = !conns ? udpIngress(socket!.fd) : !socket ? conns : autoIngress(udpIngress(socket.fd), conns);
      t.peers = new PeerSet(local, ingress, stats, log);
      undo.push(() => t.peers.stop());
      datapath.on('message', (m) => t.onWorkerMessage(m));
      datapath.on('exit', (why) => {
        log.error(why);
        void t.stop().then(() => options.onFailure());
      });
      for (const p of peers) await t.startPeer(p);
      const listen = t.listenText();
      const endpoints = peers.filter((p) => p.endpoint).map((p) => `${p.endpoint!.host}:${p.endpoint!.port}`);
      log.info(
        `${tun.name} up: ${transport}, mtu ${mtu}, ${listen ? `listening on ${listen}` : 'not listening'}, ` +
          `${peers.length === 1 ? '1 peer' : `${peers.length} peers`}${endpoints.length === 1 ? `, peer endpoint ${endpoints[0]}` : ''}, aead ${datapath.aead}`,
      );
      return t;
    } catch (err) {
      for (const u of undo.reverse()) await u();
      throw portInUse(err);
    }
  }

  /** A peer's slot, counters, link and sessions; its routes are the caller's. */
  private async startPeer(config: PeerConfig): Promise<Peer> {
    const slot = this.peers.nextSlot();
    reservePeerSlot(this.peerStats, slot);
    // Before anything else about this slot reaches the workers.
    this.datapath.toBoth({ t: 'peer-add', peer: slot, allowedIPs: routeSpecs(config.allowedIPs) });
    const endpoint = endpointSpec(config.endpoint);
    const link = this.linkFor(slot, endpoint);
    const superPackets = this.transport === 'tcp';
    const key = encodeKey(config.publicKey);
    const former = this.formerTimestamps.get(key);
    this.formerTimestamps.delete(key);
    const handshake = new Handshake({
      staticPrivate: this.config.iface.privateKey,
      local: this.local,
      peerPublic: config.publicKey,
      psk: config.presharedKey ?? null,
      // Over UDP (and auto) the receive side delivers partial checksums with NEEDS_CSUM (rx-loop.ts).
      features: superPackets ? FEATURE_VNET_HDR : FEATURE_CSUM_PARTIAL,
      ...(former ? { greatestTimestamp: former } : {}),
    });
    const onSession = (peerFeatures: number) => {
      // Before the session's key reaches the sending side: its first packet already follows the peer's features.
      if (!superPackets) this.datapath.toTx({ t: 'peer-features', peer: slot, csumPartial: (peerFeatures & FEATURE_CSUM_PARTIAL) !== 0 });
      const want = superPackets && peerFeatures & FEATURE_VNET_HDR ? TSO_OFFLOADS : 0;
      if (superPackets && want !== this.offloads) {
        setOffloads(this.tun, want);
        this.offloads = want;
        this.log.debug(`TSO super-packets ${want ? 'on' : 'off'}`);
      }
    };
    const peer = new Peer(
      slot,
      handshake,
      link,
      this.datapath,
      this.counters,
      this.peers,
      { initiates: endpoint !== null, peerPublic: config.publicKey, persistentKeepalive: config.persistentKeepalive ?? 0, onSession },
      this.log,
    );
    // The caller may wipe the pre-shared key it handed over; the key and prefixes are never written.
    const copy: PeerConfig = { ...config, allowedIPs: [...config.allowedIPs] };
    if (config.presharedKey) copy.presharedKey = config.presharedKey.slice();
    this.peers.add(key, peer);
    this.entries.set(key, { config: copy, peer });
    for (const c of copy.allowedIPs) this.owners.set(c.text, key);
    peer.start();
    const udpLink = link instanceof AutoLink ? link.udp : link instanceof UdpLink ? link : null;
    // A listener's one peer: its last address is remembered across restarts (endpoint-memory.ts).
    if (udpLink && this.options.endpointMemoryFile && this.config.peers.length === 1) {
      udpLink.memory = { path: this.options.endpointMemoryFile, peer: encodeKey(config.publicKey) };
    }
    try {
      await link.attach(this.datapath);
    } catch (err) {
      // Not half added: everything of the peer's goes again (its routes are the caller's).
      await this.forget(key, config.publicKey, peer);
      throw err;
    }
    if (udpLink?.resumed) peer.resume();
    return peer;
  }

  /** A new peer's link: its endpoint on the UDP socket, its connection among the TCP ones, or both under auto. */
  private linkFor(slot: number, endpoint: EndpointSpec | null): Link & { attach(d: Datapath): Promise<void>; close(): Promise<void> } {
    const udp = this.socket ? UdpLink.onSocket(this.socket, this.bind!, endpoint, this.log, slot) : null;
    const tcp = this.conns ? new TcpLink(this.conns, endpoint, this.log, slot, { standby: udp !== null }) : null;
    return udp && tcp ? new AutoLink(udp, tcp, endpoint, this.log) : (udp ?? tcp!);
  }

  /**
   * Adds a peer while the tunnel runs: its routes, its slot in the data
   * path, and a handshake at once if it has an Endpoint. Returns what it
   * did, as logged.
   */
  async addPeer(config: PeerConfig): Promise<string[]> {
    const key = encodeKey(config.publicKey);
    if (this.entries.has(key)) throw new Error(`peer ${key} is already a peer`);
    this.checkPrefixes(key, config.allowedIPs);
    const problem = await endpointProblem(this.config.file, config.endpoint, 'reload');
    if (problem) throw problem;
    const failed = await this.changeRoutes([], config.allowedIPs);
    try {
      await this.startPeer(config);
    } catch (err) {
      await this.changeRoutes(config.allowedIPs, []);
      throw err;
    }
    return this.note([`peer ${key}: added`, ...failed.map((f) => `peer ${key}: route: ${f}`)]);
  }

  /**
   * The routes for a peer's AllowedIPs going from `before` to `after`, in
   * the table Table says. A default route added at run time under a full
   * tunnel's policy routing gets no route (its rules are set up at start:
   * adding one takes a restart).
   */
  private changeRoutes(before: readonly Cidr[], after: readonly Cidr[]): Promise<string[]> {
    const p = this.options.routes;
    const table = p?.table === null ? undefined : p?.table;
    return changeRoutes(this.tun.name, routedPrefixes(before, p), routedPrefixes(after, p), table);
  }

  /** Ends a peer's sessions and removes its routes and its slot: nothing of its gets through after. */
  async removePeer(publicKey: Uint8Array): Promise<string[]> {
    const key = encodeKey(publicKey);
    const entry = this.entries.get(key);
    if (!entry) throw new Error(`peer ${key} is not a peer of ${this.tun.name}`);
    const { peer, config } = entry;
    await this.forget(key, publicKey, peer);
    const failed = await this.changeRoutes(config.allowedIPs, []);
    config.presharedKey?.fill(0);
    return this.note([`peer ${key}: removed`, ...failed.map((f) => `peer ${key}: route: ${f}`)]);
  }

  /** A peer's sessions, slot and link go; its newest initiation timestamp is kept. */
  private async forget(key: string, publicKey: Uint8Array, peer: Peer): Promise<void> {
    for (const c of this.entries.get(key)?.config.allowedIPs ?? []) if (this.owners.get(c.text) === key) this.owners.delete(c.text);
    this.entries.delete(key);
    this.peers.remove(publicKey);
    this.formerTimestamps.set(key, peer.newestTimestamp.slice());
    if (this.formerTimestamps.size > FORMER_PEERS) this.formerTimestamps.delete(this.formerTimestamps.keys().next().value!);
    peer.stop();
    await peer.link.close();
    this.datapath.toBoth({ t: 'peer-remove', peer: peer.slot });
  }

  /**
   * A peer's Endpoint, PersistentKeepalive and AllowedIPs, without dropping
   * anything (the session and its keys stay: no new handshake); the same
   * host-name Endpoint is looked up again. Returns what it did, as logged.
   */
  async changePeer(publicKey: Uint8Array, change: PeerChange): Promise<string[]> {
    const key = encodeKey(publicKey);
    const entry = this.entries.get(key);
    if (!entry) throw new Error(`peer ${key} is not a peer of ${this.tun.name}`);
    if (change.allowedIPs) this.checkPrefixes(key, change.allowedIPs);
    const { peer, config } = entry;
    const notes: string[] = [];
    const endpoint = 'endpoint' in change ? (change.endpoint ?? undefined) : config.endpoint;
    const persistentKeepalive = 'persistentKeepalive' in change ? (change.persistentKeepalive ?? undefined) : config.persistentKeepalive;
    peer.reconfigure({ initiates: endpoint !== undefined, persistentKeepalive: persistentKeepalive ?? 0 });
    if ('endpoint' in change) {
      notes.push(`peer ${key}: endpoint ${endpoint ? `now ${endpoint.host}:${endpoint.port}` : 'removed'}`);
      try {
        await peer.link.setEndpoint(endpointSpec(endpoint));
      } catch (err) {
        notes.push(`peer ${key}: endpoint: ${(err as Error).message}`);
      }
    } else if (endpoint && isHostName(endpoint)) {
      const moved = await peer.link.reresolve();
      if (moved) peer.endpointMoved();
      notes.push(`peer ${key}: Endpoint ${endpoint.host} ${moved ? 'now resolves to' : 'still resolves to'} ${peer.link.resolvedText() ?? 'the same address'}`);
    }
    if ('persistentKeepalive' in change) notes.push(`peer ${key}: persistent keepalive ${persistentKeepalive ?? 0} s`);
    if (change.allowedIPs) {
      // Routes for added prefixes come before removed ones go (netconfig.ts changeRoutes); then both directions route by the new set.
      const failed = await this.changeRoutes(config.allowedIPs, change.allowedIPs);
      this.datapath.toBoth({ t: 'allowed-ips', peer: peer.slot, allowedIPs: routeSpecs(change.allowedIPs) });
      notes.push(`peer ${key}: allowed IPs now ${change.allowedIPs.map((c) => c.text).join(', ') || '(none)'}`, ...failed.map((f) => `peer ${key}: route: ${f}`));
      for (const c of config.allowedIPs) if (this.owners.get(c.text) === key) this.owners.delete(c.text);
      for (const c of change.allowedIPs) this.owners.set(c.text, key);
      config.allowedIPs = [...change.allowedIPs];
    }
    config.endpoint = endpoint;
    config.persistentKeepalive = persistentKeepalive;
    return this.note(notes);
  }

  /** The peers as last applied (copies; a presharedKey is a copy to zero after use). */
  peerConfigs(): PeerConfig[] {
    return [...this.entries.values()].map(({ config: c }) => ({
      ...c,
      publicKey: c.publicKey.slice(),
      allowedIPs: [...c.allowedIPs],
      ...(c.presharedKey ? { presharedKey: c.presharedKey.slice() } : {}),
    }));
  }

  /** A prefix has one owner: refused when another peer holds it already (the same text, as the config's check). */
  private checkPrefixes(key: string, cidrs: readonly Cidr[]): void {
    for (const c of cidrs) {
      const owner = this.owners.get(c.text);
      if (owner !== undefined && owner !== key) throw new Error(`AllowedIPs: ${c.text} is already peer ${owner}`);
    }
  }

  private note(notes: string[]): string[] {
    for (const n of notes) (/: (route|endpoint): /.test(n) ? this.log.error : this.log.info).call(this.log, n);
    return notes;
  }

  private onWorkerMessage(m: FromWorker): void {
    if (this.peers.onWorkerMessage(m)) return;
    if (this.conns?.onWorkerMessage(m)) return;
    if (m.t === 'error') this.log.error(m.message);
  }

  /** Where we listen: the UDP socket, the TCP listener, or both under auto. */
  private listenText(): string | null {
    if (!this.socket) return this.conns!.listenText();
    const a = this.bind?.address;
    const udp = a ? formatAddress({ ...a, port: this.socket.port }) : `*:${this.socket.port}`;
    return this.conns ? `${udp} (${this.conns.listenText() ? 'udp and tcp' : 'udp'})` : udp;
  }

  status(): TunnelStatus {
    const f = this.stats.f64;
    const dropped: Record<string, number> = {};
    for (const [reason, slot] of DROP_REASONS) if (f[slot]! > 0) dropped[reason] = f[slot]!;
    // The receive worker and the main thread both count some handshake drops by the same name (handshake-bad-mac1).
    for (const [reason, n] of this.peers.handshakeDrops) dropped[`handshake-${reason}`] = (dropped[`handshake-${reason}`] ?? 0) + n;
    const first = this.entries.values().next().value as PeerEntry | undefined;
    const path = this.transport === 'tcp' ? 'tcp' : 'udp';
    return {
      interface: this.tun.name,
      pid: process.pid,
      transport: this.transport,
      path: first ? first.peer.link.kind : path,
      mtu: this.mtu,
      addresses: this.config.iface.addresses.map((a) => a.text),
      listen: this.listenText(),
      publicKey: this.publicKey,
      peers: [...this.entries.values()].map((e) => this.peerStatus(e)),
      rx: { bytes: f[RX.bytes]!, packets: f[RX.packets]! },
      tx: { bytes: f[TX.bytes]!, packets: f[TX.packets]! },
      dropped,
    };
  }

  private peerStatus({ config, peer }: PeerEntry): PeerStatus {
    const ep = config.endpoint;
    const hs = peer.lastHandshakeAt;
    const c = this.counters;
    const base = peer.slot * PEER_SLOTS;
    const link = peer.link;
    return {
      publicKey: encodeKey(config.publicKey),
      endpoint: link.endpointText(),
      ...(ep && isHostName(ep) ? { endpointName: `${ep.host}:${ep.port}`, endpointResolved: link.resolvedText() } : {}),
      allowedIPs: config.allowedIPs.map((a) => a.text),
      latestHandshakeAt: hs === null ? null : Math.floor(hs / 1000),
      handshakes: peer.handshakeCount,
      rx: { bytes: c[base + PEER.rxBytes]!, packets: c[base + PEER.rxPackets]! },
      tx: { bytes: c[base + PEER.txBytes]!, packets: c[base + PEER.txPackets]! },
      persistentKeepalive: config.persistentKeepalive ?? 0,
      ...(this.transport === 'auto' ? { path: link.kind } : {}),
    };
  }

  /** Stops everything; the interface (and its routes) go when the TUN closes. */
  stop(): Promise<void> {
    this.stopped ??= (async () => {
      this.peers.stop();
      await this.datapath.stop();
      // The connections first: a link that closes after them asks the stopped workers for nothing.
      this.conns?.close();
      for (const { peer } of this.entries.values()) await peer.link.close();
      if (this.socket) libc.close(this.socket.fd);
      this.tun.close();
      this.config.iface.privateKey.fill(0);
      this.local.keyPair.privateKey.fill(0);
      for (const p of this.config.peers) p.presharedKey?.fill(0);
      for (const { config } of this.entries.values()) config.presharedKey?.fill(0);
      this.log.info(`${this.tun.name} down`);
    })();
    return this.stopped;
  }
}
