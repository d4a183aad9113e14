// One running tunnel: the TUN interface, the link to the peer, the two
// data-path workers, the peer's sessions and the control socket, started in
// that order and stopped in reverse.
import { mkdirSync, unlinkSync, writeFileSync } from 'node:fs';
import type { Server } from 'node:net';
import { loadConfig, type TunnelConfig } from '../config/config.js';
import { encodeKey, publicKeyOf } from '../crypto/keys.js';
import { initSodium } from '../crypto/sodium.js';
import { DATA_OVERHEAD } from '../crypto/data-packet.js';
import { openTun, setOffloads, TSO_OFFLOADS, VNET_HDR_BYTES, type TunDevice } from '../tun/device.js';
import { configureInterface } from '../tun/netconfig.js';
import type { SocketAddress } from '../transport/sockaddr.js';
import type { BindSpec } from '../transport/socket.js';
import type { TransportKind } from '../transport/transport.js';
import { serveControl } from './control.js';
import { DropLog } from './drop-log.js';
import { configChanges } from './reload.js';
import { TIMERS } from './timers.js';
import { Datapath } from './datapath.js';
import { Handshake } from './handshake.js';
import type { Link } from './link.js';
import type { Logger } from './log.js';
import { FEATURE_VNET_HDR, MESSAGE_INITIATION_BYTES } from './messages.js';
import { defaultMtu, GSO_MAX_SIZE, mtuTransport } from './mtu.js';
import { Peer } from './peer.js';
import { controlSocket, endpointFile, pidFile, runDir } from './rundir.js';
import { createStats, DROP_REASONS, RX, TX, type Stats } from './stats.js';
import { AutoLink } from './auto-link.js';
import { TcpLink } from './tcp-link.js';
import { UdpLink } from './udp-link.js';
import type { FromWorker } from './worker-messages.js';

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
  peer: {
    publicKey: string;
    endpoint: string | null;
    allowedIPs: string[];
    latestHandshakeAgeSeconds: number | null;
    /** Handshakes completed since the daemon started (rekeys included). */
    handshakes: number;
  };
  rx: { bytes: number; packets: number };
  tx: { bytes: number; packets: number };
  dropped: Record<string, number>;
}

export class Tunnel {
  private control: Server | null = null;
  private stopped: Promise<void> | null = null;
  private readonly dropLog: DropLog;
  private readonly dropTimer: NodeJS.Timeout;
  /** The config as last (re)loaded: what `status` shows and reloads compare with. */
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
    this.dropLog = new DropLog(() => this.status().dropped, log);
    this.dropTimer = setInterval(() => this.dropLog.report(), TIMERS.dropLogMs).unref();
  }

  /**
   * SIGHUP: re-reads the config file. The peer's Endpoint and
   * PersistentKeepalive apply without dropping anything; other changes are
   * named in the log as needing a restart (see reload.ts). A config that no
   * longer parses is reported and the tunnel runs on unchanged.
   */
  async reload(): Promise<void> {
    let next: TunnelConfig;
    try {
      next = loadConfig(this.config.file);
    } catch (err) {
      this.log.error(`reload: ${(err as Error).message}; keeping the running configuration`);
      return;
    }
    const changes = configChanges(this.config, next);
    if (changes.needRestart.length > 0) {
      this.log.warn(`reload: ${changes.needRestart.join(', ')} changed; that takes a restart (sealtun down, then up)`);
    }
    this.peer.reconfigure({ initiates: next.role.initiates, persistentKeepalive: next.peer.persistentKeepalive ?? 0 });
    if (changes.endpoint) {
      const ep = next.peer.endpoint;
      this.log.info(`reload: peer endpoint ${ep ? `now ${ep.host}:${ep.port}` : 'removed'}`);
      try {
        await this.link.setEndpoint(ep ? { host: ep.host, port: ep.port } : null);
      } catch (err) {
        this.log.error(`reload: endpoint: ${(err as Error).message}`);
      }
    }
    if (changes.persistentKeepalive) this.log.info(`reload: persistent keepalive ${next.peer.persistentKeepalive ?? 0} s`);
    // Keep what needs a restart as it runs; take the rest.
    next.iface.privateKey.fill(0);
    next.peer.presharedKey?.fill(0);
    this.config = {
      ...this.config,
      peer: { ...this.config.peer, endpoint: next.peer.endpoint, persistentKeepalive: next.peer.persistentKeepalive },
      role: { ...this.config.role, initiates: next.role.initiates },
    };
  }

  /** Brings the tunnel up; on any failure everything started so far is undone. */
  static async start(config: TunnelConfig, log: Logger): Promise<Tunnel> {
    await initSodium();
    const { iface, peer } = config;
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
        void t.stop().then(() => process.exit(1));
      });
      p.start();
      const udpLink = link instanceof AutoLink ? link.udp : link instanceof UdpLink ? link : null;
      if (udpLink) udpLink.memory = { path: endpointFile(iface.name), peer: encodeKey(peer.publicKey) };
      await link.attach(datapath);
      if (udpLink?.resumed) p.resume();
      mkdirSync(runDir(), { recursive: true, mode: 0o700 });
      t.control = await serveControl(controlSocket(tun.name), () => t.status());
      writeFileSync(pidFile(tun.name), `${process.pid}\n`);
      log.info(
        `${tun.name} up: ${transport}, mtu ${mtu}, ${link.listenText() ? `listening on ${link.listenText()}` : 'not listening'}` +
          `${endpoint ? `, peer endpoint ${endpoint.host}:${endpoint.port}` : ''}, aead ${datapath.aead}`,
      );
      return t;
    } catch (err) {
      for (const u of undo.reverse()) await u();
      throw err;
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
    for (const [reason, n] of this.peer.handshakeDrops) dropped[`handshake-${reason}`] = n;
    const hs = this.peer.lastHandshakeAt;
    return {
      interface: this.tun.name,
      pid: process.pid,
      transport: this.transport,
      path: this.link.kind,
      mtu: this.mtu,
      addresses: this.config.iface.addresses.map((a) => a.text),
      listen: this.link.listenText(),
      publicKey: this.publicKey,
      peer: {
        publicKey: encodeKey(this.config.peer.publicKey),
        endpoint: this.link.endpointText(),
        allowedIPs: this.config.peer.allowedIPs.map((a) => a.text),
        latestHandshakeAgeSeconds: hs === null ? null : Math.round((Date.now() - hs) / 1000),
        handshakes: this.peer.handshakeCount,
      },
      rx: { bytes: f[RX.bytes]!, packets: f[RX.packets]! },
      tx: { bytes: f[TX.bytes]!, packets: f[TX.packets]! },
      dropped,
    };
  }

  /** Stops everything; the interface (and its routes) go when the TUN closes. */
  stop(): Promise<void> {
    this.stopped ??= (async () => {
      clearInterval(this.dropTimer);
      this.peer.stop();
      this.control?.close();
      await this.datapath.stop();
      await this.link.close();
      this.tun.close();
      for (const f of [pidFile(this.tun.name), controlSocket(this.tun.name)]) {
        try {
          unlinkSync(f);
        } catch {
          /* already gone */
        }
      }
      this.config.iface.privateKey.fill(0);
      this.config.peer.presharedKey?.fill(0);
      this.log.info(`${this.tun.name} down`);
    })();
    return this.stopped;
  }
}
