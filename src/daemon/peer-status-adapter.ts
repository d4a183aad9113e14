// TEMPORARY, for the merge of issue 15: today's status() has one `peer`;
// the many-peers status (built on another branch) has `peers: PeerStatus[]`
// with the shape below. The metrics (metrics.ts) read only `peers`, so this
// file is the one place that turns the old shape into the new. At the merge,
// delete it, import PeerStatus from src/tunnel/tunnel.ts in metrics.ts, and
// hand served-tunnel.ts's metrics `() => this.tunnel.status()` directly.
import type { TunnelStatus } from '../tunnel/tunnel.js';

export interface PeerStatus {
  publicKey: string;
  endpoint: string | null;
  allowedIPs: string[];
  /** Unix seconds of the latest confirmed handshake; null if none. */
  latestHandshakeAt: number | null;
  handshakes: number;
  rx: { bytes: number; packets: number };
  tx: { bytes: number; packets: number };
  persistentKeepalive: number;
  /** Transport = auto: the path this peer's data takes now. */
  path?: 'udp' | 'tcp';
}

/** A status with `peers` in place of `peer`: one peer, whose counters are the interface's. */
export function withPeers(s: TunnelStatus): TunnelStatus & { peers: PeerStatus[] } {
  const age = s.peer.latestHandshakeAgeSeconds;
  const peer: PeerStatus = {
    publicKey: s.peer.publicKey,
    endpoint: s.peer.endpoint,
    allowedIPs: s.peer.allowedIPs,
    latestHandshakeAt: age === null ? null : Math.round(Date.now() / 1000) - age,
    handshakes: s.peer.handshakes,
    rx: s.rx,
    tx: s.tx,
    persistentKeepalive: 0, // not in today's status; the metrics do not show it
  };
  if (s.transport === 'auto') peer.path = s.path;
  return { ...s, peers: [peer] };
}
