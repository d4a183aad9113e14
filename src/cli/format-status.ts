// `sealtun status` for people, in the spirit of `wg show`.
import type { PeerStatus, TunnelStatus } from '../tunnel/tunnel.js';

function bytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) {
    n /= 1024;
    i++;
  }
  return `${i === 0 ? n : n.toFixed(2)} ${units[i]}`;
}

function age(latestHandshakeAt: number | null, nowSeconds: number): string {
  if (latestHandshakeAt === null) return 'never';
  // A clock stepped back since the handshake: show it as just now rather than in the future.
  const seconds = Math.max(0, nowSeconds - latestHandshakeAt);
  if (seconds < 60) return `${seconds} s ago`;
  const m = Math.floor(seconds / 60);
  return m < 60 ? `${m} min ${seconds % 60} s ago` : `${Math.floor(m / 60)} h ${m % 60} min ago`;
}

function transfer(t: { rx: TunnelStatus['rx']; tx: TunnelStatus['tx'] }): string {
  return `${bytes(t.rx.bytes)} received (${t.rx.packets} packets), ${bytes(t.tx.bytes)} sent (${t.tx.packets} packets)`;
}

function formatPeer(p: PeerStatus, nowSeconds: number): string {
  return [
    `peer: ${p.publicKey}`,
    `  endpoint: ${p.endpoint ?? '(none yet)'}${p.endpointName ? ` (${p.endpointName} last resolved to ${p.endpointResolved ?? 'nothing yet'})` : ''}`,
    `  allowed ips: ${p.allowedIPs.join(', ')}`,
    `  latest handshake: ${age(p.latestHandshakeAt, nowSeconds)}`,
    `  transfer: ${transfer(p)}`,
    ...(p.persistentKeepalive > 0 ? [`  persistent keepalive: every ${p.persistentKeepalive} s`] : []),
    ...(p.path ? [`  path: ${p.path}`] : []),
  ].join('\n');
}

/** `nowSeconds` (unix seconds) turns each peer's latestHandshakeAt into an age. */
export function formatStatus(s: TunnelStatus, nowSeconds: number): string {
  const drops = Object.entries(s.dropped);
  const iface = [
    `interface: ${s.interface} (pid ${s.pid})`,
    `  transport: ${s.transport === 'auto' ? `auto (${s.path} now)` : s.transport}, mtu ${s.mtu}`,
    `  address: ${s.addresses.join(', ')}`,
    `  listening: ${s.listen ?? 'no'}`,
    `  public key: ${s.publicKey}`,
    `  transfer: ${transfer(s)}`,
    `  dropped: ${drops.length === 0 ? 'none' : drops.map(([r, n]) => `${r} ${n}`).join(', ')}`,
  ].join('\n');
  // As `wg show`: the interface, then a block per peer, a blank line between.
  return [iface, ...s.peers.map((p) => formatPeer(p, nowSeconds))].join('\n\n');
}
