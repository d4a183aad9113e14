// `sealtun status` for people, in the spirit of `wg show`.
import type { TunnelStatus } from '../tunnel/tunnel.js';

function bytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) {
    n /= 1024;
    i++;
  }
  return `${i === 0 ? n : n.toFixed(2)} ${units[i]}`;
}

function age(seconds: number | null): string {
  if (seconds === null) return 'never';
  if (seconds < 60) return `${seconds} s ago`;
  const m = Math.floor(seconds / 60);
  return m < 60 ? `${m} min ${seconds % 60} s ago` : `${Math.floor(m / 60)} h ${m % 60} min ago`;
}

export function formatStatus(s: TunnelStatus): string {
  const drops = Object.entries(s.dropped);
  return [
    `interface: ${s.interface} (pid ${s.pid})`,
    `  transport: ${s.transport === 'auto' ? `auto (${s.path} now)` : s.transport}, mtu ${s.mtu}`,
    `  address: ${s.addresses.join(', ')}`,
    `  listening: ${s.listen ?? 'no'}`,
    `  public key: ${s.publicKey}`,
    `peer: ${s.peer.publicKey}`,
    `  endpoint: ${s.peer.endpoint ?? '(none yet)'}${s.peer.endpointName ? ` (${s.peer.endpointName} last resolved to ${s.peer.endpointResolved ?? 'nothing yet'})` : ''}`,
    `  allowed ips: ${s.peer.allowedIPs.join(', ')}`,
    `  latest handshake: ${age(s.peer.latestHandshakeAgeSeconds)}`,
    `  transfer: ${bytes(s.rx.bytes)} received (${s.rx.packets} packets), ${bytes(s.tx.bytes)} sent (${s.tx.packets} packets)`,
    `  dropped: ${drops.length === 0 ? 'none' : drops.map(([r, n]) => `${r} ${n}`).join(', ')}`,
  ].join('\n');
}
