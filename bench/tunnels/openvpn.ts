// The reference users compare against: OpenVPN 2.6 in TLS point-to-point
// mode (static-key mode cannot use AEAD ciphers) with CHACHA20-POLY1305 as
// the only data cipher, over UDP or TCP. Certificates come from a tiny CA
// made here with the openssl CLI. DCO is disabled so both ends run in
// userspace like the other tunnels (and the kernel module is not there
// anyway); the tun MTU is 1420 like WireGuard's, so all tunnels carry the
// same inner packets.
import { join } from 'node:path';
import { writeFileSync } from 'node:fs';
import { mustRun, Proc, run } from '../exec.js';
import { waitReachable } from '../measure/ping.js';
import { linkMtu, tail } from './common.js';
import type { Tunnel, TunnelContext, TunnelInfo } from './types.js';

const TUN_MTU = 1420;

interface Pki {
  ca: string;
  server: { cert: string; key: string };
  client: { cert: string; key: string };
}

const pkis = new Map<string, Promise<Pki>>();

/** One throwaway CA with a server and a client certificate (P-256), shared by both OpenVPN tunnels of a run. */
function pki(dir: string): Promise<Pki> {
  let p = pkis.get(dir);
  if (!p) {
    p = makePki(dir);
    pkis.set(dir, p);
  }
  return p;
}

async function makePki(dir: string): Promise<Pki> {
  const f = (name: string) => join(dir, `ovpn-${name}`);
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  await mustRun(['openssl', 'req', '-x509', ...ec, '-keyout', f('ca.key'), '-out', f('ca.crt'), '-days', '2', '-subj', '/CN=sealtun-bench-ca']);
  for (const [name, usage] of [
    ['server', 'serverAuth'],
    ['client', 'clientAuth'],
  ] as const) {
    writeFileSync(f(`${name}.ext`), `extendedKeyUsage=${usage}\nkeyUsage=digitalSignature\n`);
    await mustRun(['openssl', 'req', ...ec, '-keyout', f(`${name}.key`), '-out', f(`${name}.csr`), '-subj', `/CN=${name}`]);
    await mustRun(['openssl', 'x509', '-req', '-in', f(`${name}.csr`), '-CA', f('ca.crt'), '-CAkey', f('ca.key'), '-CAcreateserial', '-out', f(`${name}.crt`), '-days', '2', '-extfile', f(`${name}.ext`)]);
  }
  return { ca: f('ca.crt'), server: { cert: f('server.crt'), key: f('server.key') }, client: { cert: f('client.crt'), key: f('client.key') } };
}

export class OpenVpnTunnel implements Tunnel {
  readonly id: string;
  readonly software = 'openvpn';
  readonly label: string;
  readonly target: string;
  private readonly source: string;
  private readonly port: number;
  private readonly devA: string;
  private readonly devB: string;
  private procs: Proc[] = [];

  constructor(
    private readonly ctx: TunnelContext,
    readonly transport: 'udp' | 'tcp',
  ) {
    const n = transport === 'udp' ? 1 : 2;
    this.id = `openvpn-${transport}`;
    this.label = `OpenVPN ${transport.toUpperCase()}`;
    this.source = `10.78.${n}.1`;
    this.target = `10.78.${n}.2`;
    this.port = 1193 + n;
    this.devA = `ov${ctx.tag}${transport[0]}a`;
    this.devB = `ov${ctx.tag}${transport[0]}b`;
  }

  private log(side: 'a' | 'b'): string {
    return join(this.ctx.dir, `${this.id}-${side}.log`);
  }

  async up(): Promise<void> {
    const p = await pki(this.ctx.dir);
    const common = ['--dev-type', 'tun', '--disable-dco', '--data-ciphers', 'CHACHA20-POLY1305', '--tun-mtu', String(TUN_MTU), '--ca', p.ca, '--verb', '3', '--suppress-timestamps'];
    const server = [
      'openvpn', ...common, '--dev', this.devB, '--tls-server', '--dh', 'none', '--cert', p.server.cert, '--key', p.server.key, '--remote-cert-tls', 'client',
      '--proto', this.transport === 'udp' ? 'udp' : 'tcp-server', '--lport', String(this.port), '--ifconfig', this.target, this.source,
    ];
    const client = [
      'openvpn', ...common, '--dev', this.devA, '--tls-client', '--cert', p.client.cert, '--key', p.client.key, '--remote-cert-tls', 'server',
      '--proto', this.transport === 'udp' ? 'udp' : 'tcp-client', '--remote', this.ctx.net.addrB, String(this.port), '--nobind', '--ifconfig', this.source, this.target,
    ];
    this.procs.push(new Proc(`openvpn ${this.devB}`, server, { ns: this.ctx.net.b, log: this.log('b') }));
    this.procs.push(new Proc(`openvpn ${this.devA}`, client, { ns: this.ctx.net.a, log: this.log('a') }));
    await waitReachable(this.ctx.net.a, this.target, 30_000);
  }

  pids(): number[] {
    return this.procs.map((p) => p.pid);
  }

  alive(): boolean {
    return this.procs.length === 2 && this.procs.every((p) => p.running());
  }

  async info(): Promise<TunnelInfo> {
    // `openvpn --version` exits 1 by design; its first line is what counts.
    const version = (await run(['openvpn', '--version'])).stdout.split('\n')[0]!.split(' ').slice(0, 2).join(' ');
    return {
      id: this.id,
      software: this.software,
      transport: this.transport,
      label: this.label,
      version,
      innerMtu: await linkMtu(this.ctx.net.a, this.devA),
      config: `TLS p2p, --data-ciphers CHACHA20-POLY1305, --disable-dco, --tun-mtu ${TUN_MTU}, proto ${this.transport}`,
    };
  }

  logTail(): string {
    return tail(`openvpn ${this.devA}`, this.log('a')) + tail(`openvpn ${this.devB}`, this.log('b'));
  }

  async down(): Promise<void> {
    for (const p of this.procs) await p.stop();
  }
}
