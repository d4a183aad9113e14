// Transport = auto: UDP first, TCP when UDP does not get through, UDP again
// once it does (as tinc does). A UdpLink and a standby TcpLink on the same
// port: a listener binds both to ListenPort; an initiator sends from an
// ephemeral UDP port and connects over TCP to the Endpoint's port.
//
// The initiator decides the path (auto-path.ts): initiations go over UDP;
// when an initiation and its retransmission go unanswered (about 7 s), it
// connects over TCP and the handshake and data follow; on TCP, every TIMERS.autoProbeMs one initiation
// goes over UDP instead, and a response that comes back over UDP moves data
// back (the TCP connection is closed a little later). A failed probe costs
// nothing but the handshake's retransmission, which goes over TCP.
//
// The listener follows: it answers a handshake message on the path it came
// on, and sends data on the path the peer's latest authenticated data came
// over, so a UDP that works one way only never swallows what it sends.
import { EventEmitter } from 'node:events';
import { resolveEndpoint, type EndpointSpec } from '../../transport/resolve.js';
import type { TransportKind } from '../../transport/transport.js';
import { AutoPath } from './auto-path.js';
import type { Datapath } from '../datapath/datapath.js';
import type { Link, LinkEvents } from './link.js';
import type { Logger } from '../../log.js';
import { MESSAGE_INITIATION, MESSAGE_RESPONSE } from '../messages.js';
import type { TcpLink } from './tcp-link.js';
import { TIMERS } from '../timers.js';
import type { UdpLink } from './udp-link.js';
import type { FromWorker } from '../datapath/worker-messages.js';

export class AutoLink extends EventEmitter<LinkEvents> implements Link {
  private datapath: Datapath | null = null;
  private readonly decide = new AutoPath({ fallbackMs: TIMERS.autoFallbackMs, answerMs: TIMERS.autoAnswerMs, probeMs: TIMERS.autoProbeMs });
  /** Where data goes: the initiator's decision, or (listener) the path the peer's data came over. */
  private dataPath: TransportKind = 'udp';
  /** The path of the latest authenticated handshake message, where a response goes. */
  private handshakePath: TransportKind = 'udp';
  /** Listener: the path the receive side last reported the peer's data on (followPeer()). */
  private peerDataPath: TransportKind | null = null;
  /** The side with an Endpoint decides the path; the other follows. */
  private initiates: boolean;
  private tick: NodeJS.Timeout | null = null;
  private closeTcp: NodeJS.Timeout | null = null;

  constructor(
    readonly udp: UdpLink,
    readonly tcp: TcpLink,
    endpoint: EndpointSpec | null,
    private readonly log: Logger,
  ) {
    super();
    this.initiates = endpoint !== null;
    udp.on('up', () => {
      if (this.dataPath === 'udp') this.emit('up');
    });
    tcp.on('up', () => {
      if (this.initiates && this.decide.path === 'tcp') this.setDataPath('tcp');
      if (this.dataPath === 'tcp') this.emit('up');
    });
    tcp.on('down', (reason) => this.onTcpDown(reason));
  }

  /** The peer's slot in the data path (the UDP link's). */
  get peer(): number {
    return this.udp.peer;
  }

  get kind(): TransportKind {
    return this.dataPath;
  }

  async attach(datapath: Datapath): Promise<void> {
    this.datapath = datapath;
    await this.tcp.attach(datapath);
    await this.udp.attach(datapath);
    this.ticking();
  }

  /**
   * Only the side that decides the path (it has an Endpoint) needs a tick: a
   * server's thousands of peers, which follow theirs, cost no timer.
   */
  private ticking(): void {
    if (this.initiates && !this.tick) this.tick = setInterval(() => this.onTick(), TIMERS.tickMs);
    if (!this.initiates && this.tick) {
      clearInterval(this.tick);
      this.tick = null;
    }
  }

  private link(kind: TransportKind): UdpLink | TcpLink {
    return kind === 'udp' ? this.udp : this.tcp;
  }

  private setDataPath(kind: TransportKind): void {
    if (kind === this.dataPath) return;
    this.dataPath = kind;
    this.datapath?.toTx({ t: 'path', peer: this.peer, kind });
  }

  private onTick(): void {
    if (!this.initiates) return;
    const action = this.decide.tick(Date.now());
    if (action === 'fall-back') this.fallBack();
    // Peer starts a handshake unless one is under way; its initiation goes over UDP (see send()).
    else if (action === 'probe') this.emit('up');
  }

  private fallBack(): void {
    this.log.info(`no handshake answer over UDP; falling back to TCP ${this.udp.endpointText() ?? ''}`.trimEnd());
    if (this.closeTcp) clearTimeout(this.closeTcp);
    this.closeTcp = null;
    // Forgets the initiation that UDP swallowed, so the next one goes out at once, over TCP.
    this.emit('down', 'falling back to TCP');
    // Data moves once the connection is there (the 'up' handler), not before.
    if (this.tcp.canSend()) {
      this.setDataPath('tcp');
      this.emit('up');
    } else this.tcp.connect();
  }

  private movedBack(): void {
    this.log.info('UDP works again; moving back from TCP');
    this.setDataPath('udp');
    if (this.closeTcp) clearTimeout(this.closeTcp);
    this.closeTcp = setTimeout(() => {
      this.closeTcp = null;
      if (this.dataPath === 'udp') this.tcp.disconnect('UDP works again');
    }, TIMERS.autoTcpLingerMs);
  }

  private onTcpDown(reason: string): void {
    if (this.dataPath !== 'tcp') return;
    // A listener whose peer's connection went: UDP is all it has left to send on.
    if (!this.initiates) this.setDataPath('udp');
    this.emit('down', reason);
  }

  send(message: Uint8Array): void {
    let via = this.handshakePath;
    if (message[0] === MESSAGE_INITIATION) {
      via = this.initiates ? this.decide.initiationSent(Date.now()) : this.dataPath;
      if (via !== this.dataPath) this.log.debug('probing UDP: handshake initiation over UDP');
    }
    this.datapath?.toTx({ t: 'send', peer: this.udp.peer, message, via });
  }

  /** A cookie reply from the peer authenticated: over UDP, that shows UDP gets through. */
  heardFrom(source: Uint8Array | null): void {
    if (source && this.initiates) this.decide.heardOverUdp();
  }

  passedMac1(source: Uint8Array | null, fd: number): void {
    if (!source) this.tcp.passedMac1(source, fd);
  }

  /** A handshake that failed at the peer (a replayed timestamp, say): a pending TCP connection it came on closes. */
  failedHandshake(source: Uint8Array | null, fd: number): void {
    if (!source) this.tcp.failedHandshake(source, fd);
  }

  confirmPeer(source: Uint8Array | null, fd: number, type: number): void {
    const path: TransportKind = source ? 'udp' : 'tcp';
    this.link(path).confirmPeer(source, fd);
    this.handshakePath = path;
    if (type === MESSAGE_RESPONSE && this.initiates && this.decide.responseOver(path)) this.movedBack();
    // The peer's data may have come over this connection before it was confirmed.
    this.followPeer();
  }

  reply(message: Uint8Array, source: Uint8Array | null, fd: number): void {
    this.link(source ? 'udp' : 'tcp').reply(message, source, fd);
  }

  sourceOf(source: Uint8Array | null, fd: number): Uint8Array | null {
    return this.link(source ? 'udp' : 'tcp').sourceOf(source, fd);
  }

  canSend(): boolean {
    if (!this.initiates) return this.link(this.dataPath).canSend();
    // A probe due goes over UDP whatever the state of the TCP connection.
    return this.decide.probeDue(Date.now()) ? this.udp.canSend() : this.link(this.decide.path).canSend();
  }

  onWorkerMessage(msg: FromWorker): boolean {
    if (msg.t === 'data-path') {
      if (this.initiates && msg.kind === 'udp') this.decide.heardOverUdp();
      this.peerDataPath = msg.kind;
      this.followPeer();
      return true;
    }
    return this.udp.onWorkerMessage(msg) || this.tcp.onWorkerMessage(msg);
  }

  /**
   * A listener sends where the peer's data comes from. The receive side
   * reports a path once, when it changes; if this side cannot send there yet
   * (data on a TCP connection whose handshake is still on its way), the
   * report is kept and followed when the connection is confirmed.
   */
  private followPeer(): void {
    const kind = this.peerDataPath;
    if (this.initiates || kind === null || kind === this.dataPath || !this.link(kind).canSend()) return;
    this.log.info(`the peer's data now comes over ${kind.toUpperCase()}; sending over ${kind.toUpperCase()} too`);
    this.setDataPath(kind);
  }

  listenText(): string | null {
    const tcp = this.tcp.listenText();
    return `${this.udp.listenText()} (${tcp ? 'udp and tcp' : 'udp'})`;
  }

  endpointText(): string | null {
    return this.link(this.dataPath).endpointText() ?? this.udp.endpointText();
  }

  /** Both links look the Endpoint's name up again; true when either moved. */
  async reresolve(): Promise<boolean> {
    const [udp, tcp] = await Promise.all([this.udp.reresolve(), this.tcp.reresolve()]);
    return udp || tcp;
  }

  resolvedText(): string | null {
    return this.link(this.dataPath).resolvedText() ?? this.udp.resolvedText();
  }

  /**
   * Both links take the new Endpoint (null: none, this side then follows the
   * peer). A new Endpoint starts over on UDP: the path to it may differ.
   */
  async setEndpoint(endpoint: EndpointSpec | null): Promise<void> {
    // A name that does not resolve changes nothing: checked before either link moves.
    if (endpoint) await resolveEndpoint(endpoint);
    this.initiates = endpoint !== null;
    if (this.datapath) this.ticking();
    if (endpoint) {
      this.decide.reset();
      if (this.dataPath === 'tcp') {
        this.setDataPath('udp');
        this.tcp.disconnect('endpoint changed; trying UDP first');
        this.emit('down', 'endpoint changed');
      }
    }
    await this.tcp.setEndpoint(endpoint);
    await this.udp.setEndpoint(endpoint);
  }

  async close(): Promise<void> {
    if (this.tick) clearInterval(this.tick);
    if (this.closeTcp) clearTimeout(this.closeTcp);
    await this.udp.close();
    await this.tcp.close();
  }
}
