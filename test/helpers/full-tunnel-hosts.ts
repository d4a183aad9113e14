// The hosts of a full tunnel, each in its own network namespace:
//
//   client ──(192.0.2.0/24, 2001:db8::/64)── router ──(198.51.100.0/24, 2001:db8:1::/64)── server
//                                               │
//                                     (203.0.113.0/24, 2001:db8:3::/64)
//                                               │
//                                           internet
//
// (client and router also share a private LAN, 192.168.50.0/24, on their link)
// The client's default route goes through the router, which forwards
// between all three links, so the client reaches the internet host directly
// (in cleartext on its underlay) unless its tunnel to the server takes that
// traffic; the server forwards what comes out of its tunnel and masquerades
// it behind its own underlay address (nft inside its namespace). The
// client's tunnel is a sealtun client whose [Peer] has AllowedIPs =
// 0.0.0.0/0, ::/0; the server's is an ordinary listener. Namespaces,
// daemons and the temp dir go in destroy(), also when a test fails.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parsePidFile } from '../../src/daemon/process-identity.js';
import { namespaceRunDir } from '../../src/daemon/rundir.js';
import { eventually, TestNet, type RunResult } from './netns.js';
import { SEALTUN } from './tunnel-pair.js';

export interface FullTunnelOptions {
  transport: 'udp' | 'tcp' | 'auto';
  /** Extra [Interface] lines for the client (e.g. KillSwitch = on). */
  extraClient?: string;
}

/** What a routing-table comparison looks at: every rule and every route, both IP versions. */
export interface RoutingSnapshot {
  rules4: string;
  rules6: string;
  routes4: string;
  routes6: string;
  /** nft's tables (the kill switch's is `inet sealtun-NAME`). */
  nftTables: string;
  /** net.ipv4.conf.all.src_valid_mark, which a full tunnel sets to 1. */
  srcValidMark: string;
}

export class FullTunnelHosts {
  readonly net: TestNet;
  /** Namespaces. */
  readonly client: string;
  readonly router: string;
  readonly server: string;
  readonly internet: string;
  /** The client's underlay device (on the link to the router). */
  readonly clientDev: string;
  readonly internetAddr = '203.0.113.2';
  readonly internetAddr6 = '2001:db8:3::2';
  /** The router's and the client's addresses on a private LAN (RFC 1918) on their link. */
  readonly lanRouter = '192.168.50.2';
  readonly lanClient = '192.168.50.1';
  readonly serverAddr = '198.51.100.2';
  readonly serverAddr6 = '2001:db8:1::2';
  readonly name = 'stf0';
  readonly serverName = 'stfs0';
  readonly port = 51820;
  readonly dir: string;
  readonly env: NodeJS.ProcessEnv;
  readonly clientConfig: string;
  readonly serverConfig: string;

  private constructor(readonly opts: FullTunnelOptions) {
    this.net = TestNet.create({ ipv6: true });
    this.client = this.net.a;
    this.router = this.net.b;
    this.clientDev = this.net.vethA;
    this.server = this.net.addNamespace('s');
    this.internet = this.net.addNamespace('i');
    this.dir = mkdtempSync(join(tmpdir(), 'sealtun-full-'));
    this.env = { ...process.env, SEALTUN_RUN_DIR: join(this.dir, 'run') };
    this.clientConfig = join(this.dir, 'client.conf');
    this.serverConfig = join(this.dir, 'server.conf');
  }

  static async create(opts: FullTunnelOptions): Promise<FullTunnelHosts> {
    const h = new FullTunnelHosts(opts);
    try {
      await h.wire();
      await h.writeConfigs();
    } catch (err) {
      await h.destroy();
      throw err;
    }
    return h;
  }

  private async sh(ns: string, ...cmd: string[]): Promise<string> {
    const r = await this.net.run(ns, cmd);
    if (r.code !== 0) throw new Error(`${ns}: ${cmd.join(' ')}: ${r.stderr}`);
    return r.stdout;
  }

  /** A veth between two namespaces with an IPv4 and an IPv6 address on each end. */
  private async link(tag: string, [nsA, v4A, v6A]: [string, string, string], [nsB, v4B, v6B]: [string, string, string]): Promise<[string, string]> {
    const devA = `sv${this.net.tag}${tag}a`;
    const devB = `sv${this.net.tag}${tag}b`;
    await this.sh(nsA, 'ip', 'link', 'add', devA, 'type', 'veth', 'peer', 'name', devB, 'netns', nsB);
    for (const [ns, dev, v4, v6] of [[nsA, devA, v4A, v6A], [nsB, devB, v4B, v6B]] as const) {
      await this.sh(ns, 'ip', 'address', 'add', v4, 'dev', dev);
      await this.sh(ns, 'ip', '-6', 'address', 'add', v6, 'dev', dev, 'nodad');
      await this.sh(ns, 'ip', 'link', 'set', dev, 'up');
    }
    return [devA, devB];
  }

  private async wire(): Promise<void> {
    const { client, router, server, internet } = this;
    const [serverDev] = await this.link('s', [server, '198.51.100.2/24', '2001:db8:1::2/64'], [router, '198.51.100.1/24', '2001:db8:1::1/64']);
    await this.link('i', [internet, '203.0.113.2/24', '2001:db8:3::2/64'], [router, '203.0.113.1/24', '2001:db8:3::1/64']);
    // A private LAN on the client's link as well (KillSwitchAllowLan lets it through).
    await this.sh(client, 'ip', 'address', 'add', `${this.lanClient}/24`, 'dev', this.clientDev);
    await this.sh(router, 'ip', 'address', 'add', `${this.lanRouter}/24`, 'dev', this.net.vethB);
    for (const [ns, via4, via6] of [
      [client, '192.0.2.2', '2001:db8::2'],
      [server, '198.51.100.1', '2001:db8:1::1'],
      [internet, '203.0.113.1', '2001:db8:3::1'],
    ] as const) {
      await this.sh(ns, 'ip', 'route', 'add', 'default', 'via', via4);
      await this.sh(ns, 'ip', '-6', 'route', 'add', 'default', 'via', via6);
    }
    for (const ns of [router, server]) {
      await this.sh(ns, 'sysctl', '-qw', 'net.ipv4.ip_forward=1');
      await this.sh(ns, 'sysctl', '-qw', 'net.ipv6.conf.all.forwarding=1');
    }
    // The kernel adds each link-local address once its duplicate detection ends: before a test
    // takes its first snapshot of the client's routes, so that it is in both.
    await eventually(async () => {
      const r = await this.net.run(client, ['ip', '-6', 'address', 'show', 'dev', this.clientDev]);
      return /inet6 fe80::/.test(r.stdout) && !/tentative/.test(r.stdout);
    }, 10_000, 100);
    // The server hides its clients behind its own address, as a VPN server does.
    await this.net.run(server, ['nft', '-f', '-'], {
      input: `table inet fullnat {\n chain post {\n  type nat hook postrouting priority srcnat;\n  oifname "${serverDev}" masquerade\n }\n}\n`,
    }).then((r) => {
      if (r.code !== 0) throw new Error(`server nat: ${r.stderr}`);
    });
  }

  private async writeConfigs(): Promise<void> {
    for (const k of ['c', 's']) {
      const r = await this.cli(this.client, ['keygen', join(this.dir, k)]);
      if (r.code !== 0) throw new Error(`keygen: ${r.stderr}`);
    }
    writeFileSync(
      this.clientConfig,
      `[Interface]\nName = ${this.name}\nPrivateKey = c.key\nAddress = 10.99.0.2/24, fd99::2/64\nTransport = ${this.opts.transport}\n${this.opts.extraClient ?? ''}\n\n` +
        `[Peer]\nPublicKey = s.pub\nEndpoint = ${this.serverAddr}:${this.port}\nAllowedIPs = 0.0.0.0/0, ::/0\nPersistentKeepalive = 1\n`,
    );
    writeFileSync(
      this.serverConfig,
      `[Interface]\nName = ${this.serverName}\nPrivateKey = s.key\nAddress = 10.99.0.1/24, fd99::1/64\nListenPort = ${this.port}\nTransport = ${this.opts.transport}\n\n` +
        `[Peer]\nPublicKey = c.pub\nAllowedIPs = 10.99.0.2/32, fd99::2/128\n`,
    );
  }

  cli(ns: string, args: string[]): Promise<RunResult> {
    return this.net.run(ns, [process.execPath, SEALTUN, ...args], { env: this.env, timeoutMs: 30_000 });
  }

  async upServer(): Promise<void> {
    const r = await this.cli(this.server, ['up', '--daemon', this.serverConfig]);
    if (r.code !== 0) throw new Error(`server up: ${r.stderr}`);
  }

  /** `sealtun up --daemon` of the client; its result as it is (a test may expect a refusal). */
  upClient(...args: string[]): Promise<RunResult> {
    return this.cli(this.client, ['up', '--daemon', ...args, this.clientConfig]);
  }

  downClient(): Promise<RunResult> {
    return this.cli(this.client, ['down', this.name]);
  }

  /** Whether one ping from the client reaches `addr` (the internet host by default). */
  async pings(addr = this.internetAddr, waitS = 1): Promise<boolean> {
    return (await this.net.run(this.client, ['ping', '-c', '1', '-W', String(waitS), addr])).code === 0;
  }

  async snapshot(): Promise<RoutingSnapshot> {
    const show = (...args: string[]) => this.sh(this.client, 'ip', ...args);
    return {
      rules4: await show('-4', 'rule', 'show'),
      rules6: await show('-6', 'rule', 'show'),
      routes4: await show('-4', 'route', 'show', 'table', 'all'),
      routes6: await show('-6', 'route', 'show', 'table', 'all'),
      nftTables: await this.sh(this.client, 'nft', 'list', 'tables'),
      srcValidMark: (await this.sh(this.client, 'sysctl', '-n', 'net.ipv4.conf.all.src_valid_mark')).trim(),
    };
  }

  runFile(ns: string, name: string, ext: string): string {
    return join(namespaceRunDir(join(this.dir, 'run'), ns), `${name}.${ext}`);
  }

  pidOf(ns: string, name: string): number | null {
    try {
      return parsePidFile(readFileSync(this.runFile(ns, name, 'pid'), 'utf8'))?.pid ?? null;
    } catch {
      return null;
    }
  }

  log(ns: string, name: string): string {
    try {
      return readFileSync(this.runFile(ns, name, 'log'), 'utf8');
    } catch {
      return '';
    }
  }

  /** kill -9 the client's daemon and wait until it and its interface are gone. */
  async kill9Client(): Promise<void> {
    const pid = this.pidOf(this.client, this.name);
    if (pid === null) throw new Error('client: no pid');
    process.kill(pid, 'SIGKILL');
    await eventually(async () => {
      try {
        process.kill(pid, 0);
        return false;
      } catch {
        return (await this.net.run(this.client, ['ip', 'link', 'show', 'dev', this.name])).code !== 0;
      }
    }, 10_000, 50);
  }

  /**
   * tcpdump on `dev` in `ns` with `filter`, until stop(), which returns the
   * packets it saw, one text line each.
   */
  async capture(ns: string, dev: string, filter: string[]): Promise<{ stop(): Promise<string[]> }> {
    const pcap = join(this.dir, `capture-${ns}-${dev}-${Date.now()}.pcap`);
    // -Z root: keep writing into the test's private (0700) directory.
    const dump = this.net.spawn(ns, ['tcpdump', '-Z', 'root', '--immediate-mode', '-U', '-n', '-i', dev, '-w', pcap, ...filter]);
    const exited = new Promise((r) => dump.on('exit', r));
    let err = '';
    dump.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    await eventually(async () => err.includes('listening on'), 5000, 50);
    return {
      stop: async () => {
        await new Promise((r) => setTimeout(r, 200));
        dump.kill('SIGINT');
        await exited;
        const r = await this.net.run(ns, ['tcpdump', '-n', '-r', pcap]);
        return r.stdout.split('\n').filter((l) => l.trim() !== '');
      },
    };
  }

  async destroy(): Promise<void> {
    const pids = [this.pidOf(this.client, this.name), this.pidOf(this.server, this.serverName)].filter((p): p is number => p !== null);
    await this.net.destroy(pids);
    rmSync(this.dir, { recursive: true, force: true });
  }
}
