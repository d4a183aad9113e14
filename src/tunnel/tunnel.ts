// One running tunnel: the TUN interface, the link to the peer, the two
// data-path workers, the peer's sessions and the control socket, started in
// that order and stopped in reverse.
import { mkdirSync, unlinkSync, writeFileSync } from 'node:fs';
import type { Server } from 'node:net';
import { ConfigError, loadConfig, type Endpoint, type TunnelConfig } from '../config/config.js';
import { encodeKey, KeyError, publicKeyOf, readKeyFile, type KeyKind } from '../crypto/keys.js';
import { initSodium } from '../crypto/sodium.js';
import { DATA_OVERHEAD } from '../crypto/data-packet.js';
import { openTun, setOffloads, TSO_OFFLOADS, VNET_HDR_BYTES, type TunDevice } from '../tun/device.js';
import { configureInterface } from '../tun/netconfig.js';
import { isHostName, resolveEndpoint, ResolveError, type Lookup } from '../transport/resolve.js';
import type { SocketAddress } from '../transport/sockaddr.js';
import { SocketError, type BindSpec } from '../transport/socket.js';
import type { TransportKind } from '../transport/transport.js';
import { serveControl, type ControlRequest } from './control.js';
import { DropLog } from './drop-log.js';
import { configChanges, parseReloadView, reloadView, type ReloadView } from './reload.js';
import { TIMERS } from './timers.js';
import { Datapath } from './datapath.js';
import { Handshake } from './handshake.js';
import type { Link } from './link.js';
import type { Logger } from './log.js';
import { FEATURE_VNET_HDR, MESSAGE_INITIATION_BYTES, mac1Key } from './messages.js';
import { defaultMtu, GSO_MAX_SIZE, mtuTransport } from './mtu.js';
import { Peer } from './peer.js';
import { controlSocket, endpointFile, pidFile, runDir } from './rundir.js';
import { createStats, DROP_REASONS, RX, TX, type Stats } from './stats.js';
import { AutoLink } from './auto-link.js';
import { TcpLink } from './tcp-link.js';
import { UdpLink } from './udp-link.js';
import type { FromWorker } from './worker-messages.js';

/** A listening port someone else holds, named as the config names it. */
function portInUse(err: unknown): unknown {
  if (!(err instanceof SocketError) || err.bind?.code !== 'EADDRINUSE') return err;
  return new SocketError(`ListenPort ${err.bind.port} (${err.bind.type}): address in use`, err.bind);
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
  peer: {
    publicKey: string;
    /** Where the peer is sought now (an address). */
    endpoint: string | null;
    /** The configured Endpoint when it is a host name (HOST:PORT), else null. */
    endpointName: string | null;
    /** The address that name last resolved to (it differs from `endpoint` once the peer roamed). */
    endpointResolved: string | null;
    allowedIPs: string[];
    latestHandshakeAgeSeconds: number | null;
    /** Handshakes completed since the daemon started (rekeys included). */
    handshakes: number;
  };
  rx: { bytes: number; packets: number };
  tx: { bytes: number; packets: number };
  dropped: Record<string, number>;
}

/** What a reload did (each line also logged), or why it did nothing. */
export type ReloadResult = { notes: string[] } | { error: string };

export class Tunnel {
  private control: Server | null = null;
  private stopped: Promise<void> | null = null;
  private readonly dropLog: DropLog;
  private readonly dropTimer: NodeJS.Timeout;
  /** The config as last (re)loaded: what `status` shows and reloads compare with. */
  private config: TunnelConfig;
  /** Ours, derived once: status never touches the private key. */
  private readonly publicKey: string;
  /** The running config as reloads compare it (reload.ts): no secrets in it. */
  private view: ReloadView;

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
    this.view = reloadView(config);
    this.dropLog = new DropLog(() => this.status().dropped, log);
    this.dropTimer = setInterval(() => this.dropLog.report(), TIMERS.dropLogMs).unref();
  }

  /**
   * SIGHUP, or `sealtun reload NAME`: re-reads the config file, as whatever
   * user the daemon now runs as. A config that no longer parses, or can no
   * longer be read, is reported and the tunnel runs on unchanged.
   */
  async reloadFile(): Promise<ReloadResult> {
    const kept: string[] = [];
    let next: TunnelConfig;
    try {
      next = loadConfig(this.config.file, { readKey: (path, kind) => this.keyForReload(path, kind, kept) });
    } catch (err) {
      const uid = process.getuid?.() ?? 0;
      const hint = uid === 0 ? '' : ` (running as uid ${uid} since the privilege drop: \`sealtun reload ${this.config.file}\`, run as root, reads the config itself)`;
      const error = `reload: ${(err as Error).message}${hint}; keeping the running configuration`;
      this.log.error(error);
      return { error };
    }
    for (const k of kept) this.log.info(k);
    const view = reloadView(next);
    next.iface.privateKey.fill(0);
    next.peer.presharedKey?.fill(0);
    const result = await this.reload(view);
    return 'notes' in result ? { notes: [...kept, ...result.notes] } : result;
  }

  /**
   * After the privilege drop the key files are usually readable by root
   * only. A reload never applies a key (a new key takes a restart), so a key
   * file that can no longer be read keeps the running key rather than
   * failing the whole reload; `kept` says which, for the log.
   */
  private keyForReload(path: string, kind: KeyKind, kept: string[]): Uint8Array {
    try {
      return readKeyFile(path, kind);
    } catch (err) {
      const { iface, peer } = this.config;
      const running = kind === 'private key' ? iface.privateKey : kind === 'public key' ? peer.publicKey : peer.presharedKey;
      const uid = process.getuid?.() ?? 0;
      if (!(err instanceof KeyError) || err.errno !== 'EACCES' || running === undefined || uid === 0) throw err;
      kept.push(`reload: ${path}: not readable as uid ${uid} since the privilege drop; the running ${kind} is kept (a new key takes a restart)`);
      return running.slice();
    }
  }

  /**
   * Applies a reloaded config (see reload.ts): the peer's Endpoint and
   * PersistentKeepalive without dropping anything; other changes are named
   * as needing a restart. Returns what it did, as logged.
   */
  async reload(next: ReloadView): Promise<ReloadResult> {
    const notes: string[] = [];
    const problem = await endpointProblem(this.config.file, next.endpoint, 'reload');
    if (problem) {
      const error = `reload: ${problem.message}; keeping the running configuration`;
      this.log.error(error);
      return { error };
    }
    const changes = configChanges(this.view, next);
    if (changes.needRestart.length > 0) {
      notes.push(`reload: ${changes.needRestart.join(', ')} changed; that takes a restart (sealtun down, then up)`);
      this.log.warn(notes.at(-1)!);
    }
    this.peer.reconfigure({ initiates: next.initiates, persistentKeepalive: next.persistentKeepalive ?? 0 });
    if (changes.endpoint) {
      const ep = next.endpoint;
      notes.push(`reload: peer endpoint ${ep ? `now ${ep.host}:${ep.port}` : 'removed'}`);
      this.log.info(notes.at(-1)!);
      try {
        await this.link.setEndpoint(ep ? { host: ep.host, port: ep.port } : null);
      } catch (err) {
        notes.push(`reload: endpoint: ${(err as Error).message}`);
        this.log.error(notes.at(-1)!);
      }
    } else if (next.endpoint && isHostName(next.endpoint)) {
      notes.push(await this.resolveAgain(next.endpoint.host));
    }
    if (changes.persistentKeepalive) {
      notes.push(`reload: persistent keepalive ${next.persistentKeepalive ?? 0} s`);
      this.log.info(notes.at(-1)!);
    }
    // Keep what needs a restart as it runs; take the rest.
    const endpoint = next.endpoint ?? undefined;
    const persistentKeepalive = next.persistentKeepalive ?? undefined;
    this.config = {
      ...this.config,
      peer: { ...this.config.peer, endpoint, persistentKeepalive },
      role: { ...this.config.role, initiates: next.initiates },
    };
    this.view = { ...this.view, endpoint: next.endpoint, persistentKeepalive: next.persistentKeepalive, initiates: next.initiates };
    return { notes };
  }

  /** The control socket's requests (control.ts); only root can connect. */
  private onControl(req: ControlRequest): unknown {
    switch (req.cmd) {
      case 'status':
        return this.status();
      case 'reload':
        return req.view === undefined ? this.reloadFile() : this.reload(parseReloadView(req.view));
      case 'stop':
        // The way `sealtun down` reaches a daemon it may not signal (it
        // dropped to User=, and the caller lacks CAP_KILL): the same stop as SIGTERM.
        process.kill(process.pid, 'SIGTERM');
        return { stopping: process.pid };
      default:
        throw new Error('unknown request');
    }
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

  /** Brings the tunnel up; on any failure everything started so far is undone. */
  static async start(config: TunnelConfig, log: Logger): Promise<Tunnel> {
    await initSodium();
    const problem = await endpointProblem(config.file, config.peer.endpoint, 'up');
    if (problem) throw problem;
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
        void t.stop().then(() => process.exit(1));
      });
      p.start();
      const udpLink = link instanceof AutoLink ? link.udp : link instanceof UdpLink ? link : null;
      if (udpLink) udpLink.memory = { path: endpointFile(iface.name), peer: encodeKey(peer.publicKey) };
      await link.attach(datapath);
      if (udpLink?.resumed) p.resume();
      mkdirSync(runDir(), { recursive: true, mode: 0o700 });
      t.control = await serveControl(controlSocket(tun.name), (req) => t.onControl(req));
      writeFileSync(pidFile(tun.name), `${process.pid}\n`);
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
    const hs = this.peer.lastHandshakeAt;
    const ep = this.config.peer.endpoint;
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
        endpointName: ep && isHostName(ep) ? `${ep.host}:${ep.port}` : null,
        endpointResolved: this.link.resolvedText(),
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

/**
 * A host-name Endpoint must resolve for `up` (and a reload) to go on: the
 * resolver's answer as FILE:LINE: Endpoint: ..., found before anything is
 * set up or changed; null when it resolves (or is an IP literal, or absent).
 * At `up` only a name with no address (ENOTFOUND, ENODATA) is refused: a
 * resolver that cannot answer yet (EAI_AGAIN, as at boot before the network
 * is up) leaves the link retrying (udp-link.ts seek, tcp-link.ts dial). A
 * reload keeps the running configuration on any failure; it can be repeated.
 * Later failures, while running, are logged and retried.
 */
export async function endpointProblem(file: string, ep: Endpoint | null | undefined, at: 'up' | 'reload', lookup?: Lookup): Promise<ConfigError | null> {
  if (!ep || !isHostName(ep)) return null;
  try {
    await resolveEndpoint(ep, lookup);
    return null;
  } catch (err) {
    if (!(err instanceof ResolveError)) throw err;
    if (at === 'up' && !err.permanent) return null;
    return new ConfigError(file, ep.line ?? 0, 'Endpoint', err.message, { cause: err });
  }
}
