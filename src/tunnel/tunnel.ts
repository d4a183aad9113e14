// One running tunnel: the TUN interface, the link to the peer, the
// data-path workers and the peer's sessions, started in that order and
// stopped in reverse. It offers what the daemon above it needs (status(),
// apply() for a reload's live changes, stop()) and knows nothing of control
// sockets, run files or config files: the daemon (src/daemon/) owns those.
import type { Cidr } from '../config/cidr.js';
import type { Endpoint, PeerConfig, TunnelConfig } from '../config/config.js';
import { encodeKey, publicKeyOf } from '../crypto/keys.js';
import { initSodium } from '../crypto/sodium.js';
import { DATA_OVERHEAD } from '../crypto/data-packet.js';
import { openTun, setOffloads, TSO_OFFLOADS, VNET_HDR_BYTES, type TunDevice } from '../tun/device.js';
import { changeRoutes, configureInterface } from '../tun/netconfig.js';
import { isHostName } from '../transport/resolve.js';
import type { SocketAddress } from '../transport/sockaddr.js';
import { SocketError, type BindSpec } from '../transport/socket.js';
import { defaultMtu, GSO_MAX_SIZE, mtuTransport } from '../transport/mtu.js';
import type { TransportKind } from '../transport/transport.js';
import type { Logger } from '../log.js';
import { Datapath } from './datapath/datapath.js';
import { endpointProblem } from './link/endpoint-name.js';
import { Handshake } from './peer/handshake.js';
import type { Link } from './link/link.js';
import { FEATURE_VNET_HDR, MESSAGE_INITIATION_BYTES, mac1Key } from './messages.js';
import { Peer } from './peer/peer.js';
import { createStats, DROP_REASONS, RX, TX, type Stats } from './stats.js';
import { AutoLink } from './link/auto-link.js';
import { TcpLink } from './link/tcp-link.js';
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
  /** Every configured peer (one today). Replaces the single `peer` object of earlier versions. */
  peers: PeerStatus[];
  /** Interface totals. */
  rx: { bytes: number; packets: number };
  tx: { bytes: number; packets: number };
  dropped: Record<string, number>;
}

/**
 * What a running tunnel takes without a restart (see apply). `endpoint`,
 * `persistentKeepalive` and `allowedIPs` are present only when they changed.
 */
export interface PeerChange {
  endpoint?: Endpoint | null;
  persistentKeepalive?: number | null;
  allowedIPs?: Cidr[];
}

export interface TunnelOptions {
  /** Where a listener's UDP link remembers its peer's last address (endpoint-memory.ts); none: not remembered. */
  endpointMemoryFile?: string;
  /** The data path died: called once the tunnel has stopped itself. */
  onFailure(): void;
}

export class Tunnel {
  private stopped: Promise<void> | null = null;
  /** The config as last applied: what `status` shows. */
  private config: TunnelConfig;
  /** Ours, derived once: status never touches the private key. */
  private readonly publicKey: string;

  private constructor(
    config: TunnelConfig,
    readonly tun: TunDevice,
    readonly mtu: number,
    readonly transport: TransportKind | 'auto',
    private readonly link: Link & { close(): Promise<void> },
    private readonly datapath: Datapath,
    private readonly peer: Peer,
    private readonly stats: Stats,
    private readonly log: Logger,
  ) {
    this.config = config;
    this.publicKey = encodeKey(publicKeyOf(config.iface.privateKey));
  }

  /**
   * Applies a reload's live changes (the daemon's reload.ts works out which):
   * the peer's Endpoint, PersistentKeepalive and AllowedIPs without
   * dropping anything (the session and its keys stay: no new handshake);
   * the same host-name Endpoint is looked up again. Returns what it did, as
   * logged.
   */
  async apply(change: PeerChange & { initiates: boolean }): Promise<string[]> {
    const notes: string[] = [];
    const persistentKeepalive = 'persistentKeepalive' in change ? change.persistentKeepalive : this.config.peers[0].persistentKeepalive;
    const endpoint = 'endpoint' in change ? change.endpoint : this.config.peers[0].endpoint;
    this.peer.reconfigure({ initiates: change.initiates, persistentKeepalive: persistentKeepalive ?? 0 });
    if ('endpoint' in change) {
      const ep = change.endpoint;
      notes.push(`reload: peer endpoint ${ep ? `now ${ep.host}:${ep.port}` : 'removed'}`);
      this.log.info(notes.at(-1)!);
      try {
        await this.link.setEndpoint(ep ? { host: ep.host, port: ep.port } : null);
      } catch (err) {
        notes.push(`reload: endpoint: ${(err as Error).message}`);
        this.log.error(notes.at(-1)!);
      }
    } else if (endpoint && isHostName(endpoint)) {
      notes.push(await this.resolveAgain(endpoint.host));
    }
    if ('persistentKeepalive' in change) {
      notes.push(`reload: persistent keepalive ${persistentKeepalive ?? 0} s`);
      this.log.info(notes.at(-1)!);
    }
    const allowedIPs = change.allowedIPs ?? this.config.peers[0].allowedIPs;
    if (change.allowedIPs) notes.push(...(await this.changeAllowedIPs(change.allowedIPs)));
    this.config = {
      ...this.config,
      peers: [{ ...this.config.peers[0], endpoint: endpoint ?? undefined, persistentKeepalive: persistentKeepalive ?? undefined, allowedIPs }],
      role: { ...this.config.role, initiates: change.initiates },
    };
    return notes;
  }

  /**
   * New AllowedIPs: the kernel's routes follow (netconfig.ts changeRoutes;
   * one that fails is named and the rest apply), then both data-path loops
   * check against the new set. Returns what it did, as logged.
   */
  private async changeAllowedIPs(next: Cidr[]): Promise<string[]> {
    const before = this.config.peers[0].allowedIPs.map((c) => c.text);
    const after = next.map((c) => c.text);
    const failed = await changeRoutes(this.tun.name, before, after);
    this.datapath.setAllowedIPs(next.map((c) => ({ family: c.family, bytes: c.bytes, prefix: c.prefix })));
    const notes = [`reload: allowed IPs now ${after.join(', ')}`, ...failed.map((f) => `reload: route: ${f}`)];
    this.log.info(notes[0]!);
    for (const f of notes.slice(1)) this.log.error(f);
    return notes;
  }

  /**
   * A reload with the same host-name Endpoint: the name may point elsewhere
   * now (the server moved), and reloading is how an operator says so.
   * Returns what it did, as logged.
   */
  private async resolveAgain(host: string): Promise<string> {
    const moved = await this.link.reresolve();
    if (moved) this.peer.endpointMoved();
    const note = `reload: Endpoint ${host} ${moved ? 'now resolves to' : 'still resolves to'} ${this.link.resolvedText() ?? 'the same address'}`;
    this.log.info(note);
    return note;
  }

  // TEMPORARY shim of the many-peer API (/work multipeer design) so the
  // daemon's reload/set compile and run against one peer until the core's
  // Tunnel lands; the core's version replaces all four.
  addPeer(_peer: PeerConfig): Promise<string[]> {
    return Promise.reject(new Error('adding a peer: not yet (this tunnel carries one peer)'));
  }
  removePeer(_publicKey: Uint8Array): Promise<string[]> {
    return Promise.reject(new Error('removing a peer: not yet (this tunnel carries one peer)'));
  }
  changePeer(_publicKey: Uint8Array, change: PeerChange): Promise<string[]> {
    const endpoint = 'endpoint' in change ? change.endpoint : this.config.peers[0].endpoint;
    return this.apply({ ...change, initiates: endpoint != null });
  }
  peerConfigs(): PeerConfig[] {
    return this.config.peers.map((p) => ({ ...p, allowedIPs: [...p.allowedIPs], ...(p.presharedKey ? { presharedKey: p.presharedKey.slice() } : {}) }));
  }

  /** Brings the tunnel up; on any failure everything started so far is undone. */
  static async start(config: TunnelConfig, log: Logger, options: TunnelOptions): Promise<Tunnel> {
    await initSodium();
    const problem = await endpointProblem(config.file, config.peers[0].endpoint, 'up');
    if (problem) throw problem;
    const { iface, peers: [peer] } = config;
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
      await configureInterface({
        name: tun.name,
        mtu,
        addresses: iface.addresses.map((a) => a.text),
        routes: peer.allowedIPs.map((a) => a.text),
        ...(superPackets ? { gsoMaxSize: GSO_MAX_SIZE } : {}),
      });
      const listenAddress: SocketAddress | null = iface.listenAddress
        ? { family: iface.listenAddress.includes(':') ? 6 : 4, address: iface.listenAddress, port: iface.listenPort ?? 0 }
        : null;
      const bind: BindSpec = { address: listenAddress, port: iface.listenPort ?? 0 };
      if (!listenAddress && peer.endpoint?.family) bind.family = peer.endpoint.family;
      const endpoint = peer.endpoint ? { host: peer.endpoint.host, port: peer.endpoint.port } : null;
      const stats = createStats();
      let link: UdpLink | TcpLink | AutoLink;
      let udpFd = -1;
      if (transport === 'udp') {
        link = UdpLink.open(bind, endpoint, log);
        udpFd = link.socket.fd;
      } else if (transport === 'tcp') {
        link = new TcpLink(iface.listenPort ? bind : null, endpoint, log);
        link.bind();
      } else {
        const udp = UdpLink.open(bind, endpoint, log);
        const tcp = new TcpLink(iface.listenPort ? bind : null, endpoint, log, { standby: true });
        try {
          tcp.bind();
        } catch (err) {
          await udp.close();
          throw err;
        }
        link = new AutoLink(udp, tcp, endpoint, log);
        udpFd = udp.socket.fd;
      }
      undo.push(() => link.close());
      const datapath = await Datapath.start({
        transport,
        tunFd: tun.fd,
        udpFd,
        stats: stats.sab,
        allowedIPs: peer.allowedIPs.map((c) => ({ family: c.family, bytes: c.bytes, prefix: c.prefix })),
        mtu,
        tunVnetHdr: true,
        wireVnetHdr: superPackets,
        maxPlaintext,
        maxMessage: Math.max(DATA_OVERHEAD + maxPlaintext, MESSAGE_INITIATION_BYTES),
        keepWarmMs: iface.keepWarmMs,
        mac1Key: mac1Key(publicKeyOf(iface.privateKey)),
      });
      undo.push(() => datapath.stop());
      const handshake = new Handshake({
        staticPrivate: iface.privateKey,
        peerPublic: peer.publicKey,
        psk: peer.presharedKey ?? null,
        features: superPackets ? FEATURE_VNET_HDR : 0,
      });
      let offloads = -1;
      const onSession = (peerFeatures: number) => {
        const want = superPackets && peerFeatures & FEATURE_VNET_HDR ? TSO_OFFLOADS : 0;
        if (superPackets && want !== offloads) {
          setOffloads(tun, want);
          offloads = want;
          log.debug(`TSO super-packets ${want ? 'on' : 'off'}`);
        }
      };
      const p = new Peer(
        handshake,
        link,
        datapath,
        stats,
        { initiates: config.role.initiates, peerPublic: peer.publicKey, persistentKeepalive: peer.persistentKeepalive ?? 0, onSession },
        log,
      );
      const t = new Tunnel(config, tun, mtu, transport, link, datapath, p, stats, log);
      datapath.on('message', (m) => t.onWorkerMessage(m));
      datapath.on('exit', (why) => {
        log.error(why);
        void t.stop().then(() => options.onFailure());
      });
      p.start();
      const udpLink = link instanceof AutoLink ? link.udp : link instanceof UdpLink ? link : null;
      if (udpLink && options.endpointMemoryFile) udpLink.memory = { path: options.endpointMemoryFile, peer: encodeKey(peer.publicKey) };
      await link.attach(datapath);
      if (udpLink?.resumed) p.resume();
      log.info(
        `${tun.name} up: ${transport}, mtu ${mtu}, ${link.listenText() ? `listening on ${link.listenText()}` : 'not listening'}` +
          `${endpoint ? `, peer endpoint ${endpoint.host}:${endpoint.port}` : ''}, aead ${datapath.aead}`,
      );
      return t;
    } catch (err) {
      for (const u of undo.reverse()) await u();
      throw portInUse(err);
    }
  }

  private onWorkerMessage(m: FromWorker): void {
    if (this.peer.onWorkerMessage(m)) return;
    if (this.link.onWorkerMessage(m)) return;
    if (m.t === 'error') this.log.error(m.message);
  }

  status(): TunnelStatus {
    const f = this.stats.f64;
    const dropped: Record<string, number> = {};
    for (const [reason, slot] of DROP_REASONS) if (f[slot]! > 0) dropped[reason] = f[slot]!;
    // The receive worker and the main thread both count some handshake drops by the same name (handshake-bad-mac1).
    for (const [reason, n] of this.peer.handshakeDrops) dropped[`handshake-${reason}`] = (dropped[`handshake-${reason}`] ?? 0) + n;
    const rx = { bytes: f[RX.bytes]!, packets: f[RX.packets]! };
    const tx = { bytes: f[TX.bytes]!, packets: f[TX.packets]! };
    return {
      interface: this.tun.name,
      pid: process.pid,
      transport: this.transport,
      path: this.link.kind,
      mtu: this.mtu,
      addresses: this.config.iface.addresses.map((a) => a.text),
      listen: this.link.listenText(),
      publicKey: this.publicKey,
      // The one peer's counters are the interface's.
      peers: [this.peerStatus({ ...rx }, { ...tx })],
      rx,
      tx,
      dropped,
    };
  }

  private peerStatus(rx: PeerStatus['rx'], tx: PeerStatus['tx']): PeerStatus {
    const peer = this.config.peers[0];
    const ep = peer.endpoint;
    const hs = this.peer.lastHandshakeAt;
    return {
      publicKey: encodeKey(peer.publicKey),
      endpoint: this.link.endpointText(),
      ...(ep && isHostName(ep) ? { endpointName: `${ep.host}:${ep.port}`, endpointResolved: this.link.resolvedText() } : {}),
      allowedIPs: peer.allowedIPs.map((a) => a.text),
      latestHandshakeAt: hs === null ? null : Math.floor(hs / 1000),
      handshakes: this.peer.handshakeCount,
      rx,
      tx,
      persistentKeepalive: peer.persistentKeepalive ?? 0,
      ...(this.transport === 'auto' ? { path: this.link.kind } : {}),
    };
  }

  /** Stops everything; the interface (and its routes) go when the TUN closes. */
  stop(): Promise<void> {
    this.stopped ??= (async () => {
      this.peer.stop();
      await this.datapath.stop();
      await this.link.close();
      this.tun.close();
      this.config.iface.privateKey.fill(0);
      for (const p of this.config.peers) p.presharedKey?.fill(0);
      this.log.info(`${this.tun.name} down`);
    })();
    return this.stopped;
  }
}

