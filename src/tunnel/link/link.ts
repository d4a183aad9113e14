// How the tunnel reaches its peer: the transport seen from the main thread.
// The data path (workers) does the per-packet I/O; a Link decides where
// handshake messages go, which endpoint or connection is the peer's, and
// keeps the connection alive.
import type { EndpointSpec } from '../../transport/resolve.js';
import type { TransportKind } from '../../transport/transport.js';
import type { FromWorker } from '../datapath/worker-messages.js';

export interface LinkEvents {
  /** A path to the peer is ready for a handshake (TCP: connected). */
  up: [];
  /** The path to the peer was lost (TCP: connection closed). */
  down: [reason: string];
}

export interface Link {
  /** The transport data goes over now (Transport = auto: UDP or TCP, as the path allows). */
  readonly kind: TransportKind;
  /** Sends a handshake message to the peer (the initiator's endpoint, or where the initiation came from). */
  send(message: Uint8Array): void;
  /**
   * A handshake message of `type` (initiation or response) from `source`
   * (UDP) or connection `fd` (TCP) authenticated: the peer is there now.
   */
  confirmPeer(source: Uint8Array | null, fd: number, type: number): void;
  /**
   * A handshake message from `source` (UDP) or connection `fd` (TCP) carried
   * a valid mac1: its sender knows our public key (TCP: that connection is
   * not evicted to make room for new ones, see pending-conns.ts).
   */
  passedMac1?(source: Uint8Array | null, fd: number): void;
  /**
   * A handshake message from `source` (UDP) or connection `fd` (TCP) passed
   * mac1 but failed the Noise handshake (forged with our public key, or a
   * replay): TCP closes that connection if it is still unauthenticated, so
   * a valid mac1 alone never keeps a slot of pending-conns.ts.
   */
  failedHandshake?(source: Uint8Array | null, fd: number): void;
  /** Something authenticated came from the peer that is not a handshake (a cookie reply), from `source` (UDP) or `fd` (TCP). */
  heardFrom?(source: Uint8Array | null, fd: number): void;
  /**
   * Sends a message back to where a handshake message came from (a cookie
   * reply): UDP `source`, or TCP connection `fd`, which need not be the peer's.
   */
  reply(message: Uint8Array, source: Uint8Array | null, fd: number): void;
  /** The raw sockaddr a handshake message came from (UDP source, TCP connection's remote), or null. */
  sourceOf(source: Uint8Array | null, fd: number): Uint8Array | null;
  /** Whether a handshake can be sent now. */
  canSend(): boolean;
  /** Worker reports the link owns (connections closed, endpoint moved); true if handled. */
  onWorkerMessage(msg: FromWorker): boolean;
  /** For status: where we listen, and where the peer is. */
  listenText(): string | null;
  endpointText(): string | null;
  /**
   * A new Endpoint from a reloaded config (null: none). UDP: sends go there
   * from now on; TCP: the connection is re-made to it.
   */
  setEndpoint(endpoint: EndpointSpec | null): Promise<void>;
  /**
   * Handshakes go unanswered, or a reload: looks a host-name Endpoint up
   * again and (UDP) goes back to the configured Endpoint from an address
   * learned since. True when the peer is now sought at another address,
   * which deserves a handshake at once. Never throws; a failed lookup is logged.
   */
  reresolve(): Promise<boolean>;
  /** For status: the address the Endpoint's host name last resolved to (null: an IP literal, or none). */
  resolvedText(): string | null;
  close(): Promise<void>;
  on<E extends keyof LinkEvents>(event: E, listener: (...args: LinkEvents[E]) => void): this;
}
