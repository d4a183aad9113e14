// What the main thread and the data-path loops (TxLoop, RxLoop; one worker
// thread over UDP, one each over TCP) say to each other.
// Messages are rare (handshakes, rekeys, connections), never per packet.

import type { TransportKind } from '../../transport/transport.js';

/** A CIDR as the packet path needs it. */
export interface RouteSpec {
  family: 4 | 6;
  bytes: Uint8Array;
  prefix: number;
}

export interface DatapathInit {
  /** 'auto': both a UDP socket and TCP connections, data over the one chosen by a 'path' message (UDP at first). */
  transport: TransportKind | 'auto';
  tunFd: number;
  /** eventfd the main thread (in a warm-up, its rehearsal) writes after posting, to wake the worker's poll(). */
  wakeFd: number;
  /** UDP socket (both workers), -1 for TCP alone. */
  udpFd: number;
  stats: SharedArrayBuffer;
  /** Each peer's counters (stats.ts PEER), growable: slots are added as peers are. */
  peerStats: SharedArrayBuffer;
  /** Prefixes of the peers configured at start: the warm-up rehearses with one of them (warm-up-packets.ts). */
  warmUpRoutes: RouteSpec[];
  mtu: number;
  /** The TUN has IFF_VNET_HDR: every read and write starts with a virtio_net_hdr. */
  tunVnetHdr: boolean;
  /** Plaintexts on the wire are virtio_net_hdr ‖ packet, up to a GSO super-packet (TCP transport). */
  wireVnetHdr: boolean;
  /** Largest plaintext read from the TUN (MTU, or header + GSO super-packet). */
  maxPlaintext: number;
  /** Largest wire message accepted (data header + MTU + tag, or a handshake message). */
  maxMessage: number;
  /** mac1 key of handshake messages to us (messages.ts mac1Key of our public key; nothing secret): checked before queuing. */
  mac1Key: Uint8Array;
  /** KeepWarm: how long after traffic the loops keep their path warm (warm-spell.ts); 0: never. */
  keepWarmMs: number;
}

export interface SendingKeypair {
  remoteIndex: number;
  key: Uint8Array;
  /**
   * A responder's key: sealed with only once the peer has used it, i.e. once
   * the receive side confirms our index `confirmIndex` (stats.ts PEER
   * rxConfirmedIndex); the key in use until then stays. Absent: at once.
   */
  confirmIndex?: number;
}

export interface ReceivingKeypair {
  localIndex: number;
  key: Uint8Array;
}

/**
 * Both loops hear of each peer, by its slot (a small integer, reused once a
 * removed peer's is free; its counters live at that slot of peerStats), and
 * of its AllowedIPs: each loop keeps its own routing table (routing-table.ts).
 */
export type PeerMessage =
  | { t: 'peer-add'; peer: number; allowedIPs: RouteSpec[] }
  /** The peer's sessions, keys, routes and path go; its slot may be reused by a later peer-add. */
  | { t: 'peer-remove'; peer: number }
  /** The peer's AllowedIPs from now on (a reload or `set` changed them). */
  | { t: 'allowed-ips'; peer: number; allowedIPs: RouteSpec[] };

/** Main thread → TxLoop. `peer`: the peer's slot. */
export type ToTx =
  | PeerMessage
  | { t: 'send-key'; peer: number; keypair: SendingKeypair }
  /** What the peer announced in its latest handshake: it takes partial checksums (FEATURE_CSUM_PARTIAL). */
  | { t: 'peer-features'; peer: number; csumPartial: boolean }
  /** The key the peer knows as `remoteIndex` expired: sealing with it stops (a newer key already taken up stays). */
  | { t: 'send-key-expired'; peer: number; remoteIndex: number }
  /**
   * The main thread saw the peer's first data under our index `localIndex`:
   * a responder key waiting for it is taken up, if the receive side's
   * shared note of it (stats.ts rxConfirmedIndex) was overwritten meanwhile.
   */
  | { t: 'key-confirmed'; peer: number; localIndex: number }
  | { t: 'udp-destination'; peer: number; sockaddr: Uint8Array; len: number }
  /** `conn`: the connection's id (tcp-link.ts), echoed in reports about it; 0 with fd -1 (none). */
  | { t: 'tcp-connection'; peer: number; fd: number; conn: number }
  /** A handshake message; `via` picks the path under Transport = auto (default: the peer's data path). */
  | { t: 'send'; peer: number; message: Uint8Array; via?: TransportKind }
  /** Transport = auto: the peer's data and keepalives go this way from now on. */
  | { t: 'path'; peer: number; kind: TransportKind }
  | { t: 'keepalive'; peer: number }
  | { t: 'stop' };

/** Main thread → RxLoop. */
export type ToRx =
  | PeerMessage
  | { t: 'receive-key-add'; peer: number; keypair: ReceivingKeypair }
  | { t: 'receive-key-remove'; localIndex: number }
  /** `conn`: the connection's id (tcp-link.ts); a descriptor number is reused once closed, an id never is. */
  | { t: 'tcp-add'; fd: number; conn: number }
  | { t: 'tcp-remove'; fd: number; conn: number }
  /**
   * The peer's UDP endpoint, each time the main thread moves it (a handshake
   * message, a reload, a report of ours): authenticated data from any other
   * address is reported as an 'endpoint', whoever moved it last.
   */
  | { t: 'udp-peer'; peer: number; sockaddr: Uint8Array }
  /**
   * We are about to send a handshake message (initiation or response) with
   * this sender index: one cookie reply to it may come, and only to the
   * peer's latest (cookie.ts CookieJar keeps the same one).
   */
  | { t: 'handshake-sent'; peer: number; senderIndex: number }
  | { t: 'stop' };

/** Workers → main thread. */
export type FromWorker =
  | { t: 'ready'; aead: string }
  | { t: 'need-handshake'; peer: number }
  | { t: 'send-failed'; fd: number; conn: number }
  | { t: 'handshake'; message: Uint8Array; source: Uint8Array | null; fd: number }
  | { t: 'first-data'; peer: number; localIndex: number }
  | { t: 'endpoint'; peer: number; sockaddr: Uint8Array }
  /** Transport = auto: the peer's authenticated data now arrives over this path (reported when it changes). */
  | { t: 'data-path'; peer: number; kind: TransportKind }
  /** TCP reports name the connection by descriptor and id (tcp-add's, tcp-connection's `conn`). */
  | { t: 'tcp-closed'; fd: number; conn: number; reason: string }
  | { t: 'tcp-removed'; fd: number; conn: number }
  | { t: 'tcp-released'; fd: number; conn: number }
  | { t: 'error'; message: string };
