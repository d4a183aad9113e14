// `sealtun status` for people (format-status.ts), a pure function of the
// status and the time: the interface with its totals and drops, then a
// `wg show`-like block per peer.
import { expect } from 'chai';
import { formatStatus } from '../../src/cli/format-status.js';
import type { PeerStatus, TunnelStatus } from '../../src/tunnel/tunnel.js';

const NOW = 1_800_000_000;

const laptop: PeerStatus = {
  publicKey: 'LAPTOPKEY',
  endpoint: '203.0.113.10:51820',
  endpointName: 'vpn.example.org:51820',
  endpointResolved: '203.0.113.10:51820',
  allowedIPs: ['10.77.0.2/32', 'fd77::2/128'],
  latestHandshakeAt: NOW - 75,
  handshakes: 3,
  rx: { bytes: 1024, packets: 2 },
  tx: { bytes: 3 << 20, packets: 2600 },
  persistentKeepalive: 25,
  path: 'tcp',
};

const office: PeerStatus = {
  publicKey: 'OFFICEKEY',
  endpoint: null,
  allowedIPs: ['10.77.0.3/32', '192.168.10.0/24'],
  latestHandshakeAt: null,
  handshakes: 0,
  rx: { bytes: 0, packets: 0 },
  tx: { bytes: 0, packets: 0 },
  persistentKeepalive: 0,
};

const status: TunnelStatus = {
  interface: 'st0',
  pid: 4242,
  transport: 'auto',
  path: 'udp',
  mtu: 1406,
  addresses: ['10.77.0.1/24'],
  listen: '*:51820 (udp and tcp)',
  publicKey: 'OURKEY',
  peers: [laptop, office],
  rx: { bytes: 1024, packets: 2 },
  tx: { bytes: 3 << 20, packets: 2600 },
  dropped: { 'no-route': 2, 'no-session': 1 },
};

describe('sealtun status for people (format-status.ts)', () => {
  it('shows the interface with its totals and drops, then one peer block per peer', () => {
    expect(formatStatus(status, NOW)).to.equal(
      [
        'interface: st0 (pid 4242)',
        '  transport: auto (udp now), mtu 1406',
        '  address: 10.77.0.1/24',
        '  listening: *:51820 (udp and tcp)',
        '  public key: OURKEY',
        '  transfer: 1.00 KiB received (2 packets), 3.00 MiB sent (2600 packets)',
        '  dropped: no-route 2, no-session 1',
        '',
        'peer: LAPTOPKEY',
        '  endpoint: 203.0.113.10:51820 (vpn.example.org:51820 last resolved to 203.0.113.10:51820)',
        '  allowed ips: 10.77.0.2/32, fd77::2/128',
        '  latest handshake: 1 min 15 s ago',
        '  transfer: 1.00 KiB received (2 packets), 3.00 MiB sent (2600 packets)',
        '  persistent keepalive: every 25 s',
        '  path: tcp',
        '',
        'peer: OFFICEKEY',
        '  endpoint: (none yet)',
        '  allowed ips: 10.77.0.3/32, 192.168.10.0/24',
        '  latest handshake: never',
        '  transfer: 0 B received (0 packets), 0 B sent (0 packets)',
      ].join('\n'),
    );
  });

  it('turns latestHandshakeAt into an age against the given time (seconds, minutes, hours; never negative)', () => {
    const at = (latestHandshakeAt: number) =>
      formatStatus({ ...status, peers: [{ ...office, latestHandshakeAt }] }, NOW).match(/latest handshake: (.*)/)![1];
    expect(at(NOW - 12)).to.equal('12 s ago');
    expect(at(NOW - 3 * 3600 - 5 * 60)).to.equal('3 h 5 min ago');
    expect(at(NOW + 4), 'a clock stepped back').to.equal('0 s ago');
  });

  it('an interface without peers or drops', () => {
    expect(formatStatus({ ...status, transport: 'udp', peers: [], dropped: {} }, NOW)).to.match(/transport: udp, mtu 1406\n[^]*dropped: none$/);
  });
});
