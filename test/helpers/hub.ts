// A sealtun server with K clients, each host in its own network namespace,
// all on one server interface (many peers): for the many-peers integration
// tests. Underlay: one veth per client, its own /30 out of TEST-NET-2
// (198.51.100.4i+1 on the server, .4i+2 on client i). Inside the tunnel the
// server is 10.88.0.1/24 and client i is 10.88.0.(i+2); the server's [Peer]
// for a client allows that client's /32, and each client's [Peer] (the
// server, its Endpoint) allows the whole 10.88.0.0/24, so client-to-client
// traffic goes through the server. Clients can be added later (addClient)
// and left out of the server's config (onServer) for reload tests.
// Namespaces, daemons and the temp dir go away in destroy(), also when a
// test fails (TestNet sweeps its namespaces on exit).
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parsePidFile } from '../../src/daemon/process-identity.js';
import { namespaceRunDir } from '../../src/daemon/rundir.js';
import { eventually, TestNet, type RunResult } from './netns.js';
import { SEALTUN } from './tunnel-pair.js';

export type Transport = 'udp' | 'tcp' | 'auto';

export interface HubOptions {
  transport: Transport;
  /** How many clients start with the server (at least 1). */
  clients: number;
  /** Extra [Interface] lines for the server (e.g. MetricsListen). */
  extraServer?: string;
  /** Extra arguments to every `sealtun up` (e.g. --verbose). */
  upArgs?: string[];
}

export interface HubClient {
  /** 0, 1, 2, ... in the order added. */
  readonly index: number;
  readonly ns: string;
  /** The client's address inside the tunnel. */
  readonly inner: string;
  /** The client's underlay address (where the server sees it come from). */
  readonly underlay: string;
  /** The server's underlay address on this client's link (the client's Endpoint). */
  readonly serverUnderlay: string;
  /** The client's public key, base64. */
  readonly publicKey: string;
  readonly config: string;
  /** The server's AllowedIPs for this client (its inner /32 first); edit, then writeServerConfig(). */
  serverAllowedIPs: string[];
  /** Whether writeServerConfig() writes this client's [Peer]. */
  onServer: boolean;
}

export interface PeerStatus {
  publicKey: string;
  endpoint: string | null;
  allowedIPs: string[];
  latestHandshakeAt: number | null;
  handshakes: number;
  rx: { bytes: number; packets: number };
  tx: { bytes: number; packets: number };
  path?: string;
}

export interface TunnelStatus {
  pid: number;
  peers: PeerStatus[];
  dropped: Record<string, number>;
}

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

export class Hub {
  /** The interface name on every host (each in its own namespace). */
  readonly name = 'sth0';
  readonly serverInner = '10.88.0.1';
  readonly port = 51820;
  readonly dir: string;
  readonly env: NodeJS.ProcessEnv;
  readonly clients: HubClient[] = [];
  /** The server's namespace. */
  readonly server: string;
  readonly serverConfig: string;

  private constructor(
    readonly net: TestNet,
    readonly opts: HubOptions,
  ) {
    this.dir = mkdtempSync(join(tmpdir(), 'sealtun-hub-'));
    this.env = { ...process.env, SEALTUN_RUN_DIR: join(this.dir, 'run') };
    this.server = net.a;
    this.serverConfig = join(this.dir, 'server.conf');
  }

  /** Namespaces, keys, configs; the server and `opts.clients` clients up. Everything is removed if a step fails. */
  static async start(opts: HubOptions): Promise<Hub> {
    const hub = new Hub(TestNet.create(), opts);
    try {
      await hub.keygen('server');
      for (let i = 0; i < opts.clients; i++) await hub.addClient();
      hub.writeServerConfig();
      await hub.up(hub.server, hub.serverConfig);
      for (const c of hub.clients) await hub.up(c.ns, c.config);
      return hub;
    } catch (err) {
      for (const ns of hub.hosts) process.stderr.write(`--- ${ns} log ---\n${hub.log(ns)}\n`);
      await hub.destroy();
      throw err;
    }
  }

  /** Runs the sealtun CLI in `ns` with this hub's run directory. */
  cli(ns: string, args: string[]): Promise<RunResult> {
    return this.net.run(ns, [process.execPath, SEALTUN, ...args], { env: this.env, timeoutMs: 30_000 });
  }

  /** Runs a command in `ns`, failing with its output unless it exits 0. */
  async must(ns: string, cmd: string[]): Promise<string> {
    const r = await this.net.run(ns, cmd);
    if (r.code !== 0) throw new Error(`${cmd.join(' ')} in ${ns} failed (${r.code}): ${r.stderr}${r.stdout}`);
    return r.stdout;
  }

  /** PREFIX.key and PREFIX.pub in the hub's dir; returns the public key (base64). */
  private async keygen(prefix: string): Promise<string> {
    const r = await this.cli(this.server, ['keygen', join(this.dir, prefix)]);
    if (r.code !== 0) throw new Error(`keygen ${prefix} failed: ${r.stderr}`);
    return readFileSync(join(this.dir, `${prefix}.pub`), 'utf8').trim();
  }

  /**
   * A new client: its namespace (client 0 takes the TestNet's second one),
   * its veth to the server, keys and config. Not started, and the server's
   * config is not rewritten: call writeServerConfig() and up() / reload.
   */
  async addClient(): Promise<HubClient> {
    const index = this.clients.length;
    if (index > 62) throw new Error('a hub has room for 63 clients (one /30 each in 198.51.100.0/24)');
    const ns = index === 0 ? this.net.b : this.net.addNamespace(`c${index}`);
    const serverUnderlay = `198.51.100.${4 * index + 1}`;
    const clientUnderlay = `198.51.100.${4 * index + 2}`;
    const [vethS, vethC] = [`sv${this.net.tag}s${index}`, `sv${this.net.tag}c${index}`];
    await this.must(this.server, ['ip', 'link', 'add', vethS, 'type', 'veth', 'peer', 'name', vethC, 'netns', ns]);
    for (const [n, dev, addr] of [
      [this.server, vethS, serverUnderlay],
      [ns, vethC, clientUnderlay],
    ] as const) {
      await this.must(n, ['ip', 'address', 'add', `${addr}/30`, 'dev', dev]);
      await this.must(n, ['ip', 'link', 'set', dev, 'up']);
    }
    const publicKey = await this.keygen(`c${index}`);
    const inner = `10.88.0.${index + 2}`;
    const config = join(this.dir, `c${index}.conf`);
    writeFileSync(
      config,
      `[Interface]
Name = ${this.name}
PrivateKey = c${index}.key
Address = ${inner}/24
Transport = ${this.opts.transport}

[Peer]
PublicKey = server.pub
Endpoint = ${serverUnderlay}:${this.port}
AllowedIPs = 10.88.0.0/24
`,
    );
    const client: HubClient = { index, ns, inner, underlay: clientUnderlay, serverUnderlay, publicKey, config, serverAllowedIPs: [`${inner}/32`], onServer: true };
    this.clients.push(client);
    return client;
  }

  /** Writes the server's config: one [Peer] for every client that is onServer. */
  writeServerConfig(): void {
    const peers = this.clients
      .filter((c) => c.onServer)
      .map((c) => `[Peer]\nPublicKey = c${c.index}.pub\nAllowedIPs = ${c.serverAllowedIPs.join(', ')}\n`);
    writeFileSync(
      this.serverConfig,
      `[Interface]
Name = ${this.name}
PrivateKey = server.key
Address = ${this.serverInner}/24
ListenPort = ${this.port}
Transport = ${this.opts.transport}
${this.opts.extraServer ?? ''}

${peers.join('\n')}`,
    );
  }

  async up(ns: string, config: string): Promise<void> {
    const r = await this.cli(ns, ['up', '--daemon', ...(this.opts.upArgs ?? []), config]);
    if (r.code !== 0) throw new Error(`sealtun up ${config} in ${ns} failed (${r.code}): ${r.stderr}${r.stdout}`);
  }

  /** `ping -c COUNT` from `ns` (source `from` when given): how many of `count` came back. */
  async ping(ns: string, target: string, opts: { count?: number; from?: string } = {}): Promise<{ sent: number; received: number; out: string }> {
    const count = opts.count ?? 3;
    const r = await this.net.run(ns, ['ping', '-n', '-c', String(count), '-i', '0.2', '-W', '1', ...(opts.from ? ['-I', opts.from] : []), target]);
    const m = /(\d+) packets transmitted, (\d+) received/.exec(r.stdout);
    return { sent: Number(m?.[1] ?? 0), received: Number(m?.[2] ?? 0), out: r.stdout + r.stderr };
  }

  /** Waits until a ping from the client reaches the server through the tunnel. */
  async waitConnected(client: HubClient, timeoutMs = 20_000): Promise<void> {
    await eventually(async () => (await this.net.run(client.ns, ['ping', '-c', '1', '-W', '1', this.serverInner])).code === 0, timeoutMs, 100);
  }

  async status(ns = this.server): Promise<TunnelStatus> {
    const r = await this.cli(ns, ['status', this.name, '--json']);
    if (r.code !== 0) throw new Error(`status in ${ns} failed: ${r.stderr}`);
    return JSON.parse(r.stdout) as TunnelStatus;
  }

  /** The server's status entry for `client`, or undefined when the server has no such peer. */
  async serverPeer(client: HubClient): Promise<PeerStatus | undefined> {
    return (await this.status()).peers.find((p) => p.publicKey === client.publicKey);
  }

  /**
   * Moves `bytes` of random data over one TCP connection through the tunnel
   * from namespace `from` to `toAddr` in namespace `to` (socat at both ends);
   * returns the SHA-256 of what was sent and of what arrived.
   */
  async move(from: string, to: string, toAddr: string, bytes: number, port: number): Promise<{ sent: string; received: string }> {
    const data = randomBytes(bytes);
    const src = join(this.dir, `send-${port}.bin`);
    const dst = join(this.dir, `recv-${port}.bin`);
    writeFileSync(src, data);
    const sink = this.net.spawn(to, ['socat', '-u', `TCP-LISTEN:${port},bind=${toAddr},reuseaddr`, `OPEN:${dst},creat,trunc`]);
    const sinkDone = new Promise<number | null>((r) => sink.on('exit', r));
    await eventually(async () => (await this.net.run(to, ['ss', '-Hltn', `sport = :${port}`])).stdout.includes(String(port)), 5000, 50);
    const send = await this.net.run(from, ['socat', '-u', `OPEN:${src}`, `TCP:${toAddr}:${port}`], { timeoutMs: 120_000 });
    if (send.code !== 0) throw new Error(`sending from ${from} to ${toAddr} failed: ${send.stderr}`);
    if ((await sinkDone) !== 0) throw new Error(`the receiving socat in ${to} failed`);
    const received = readFileSync(dst);
    rmSync(src);
    rmSync(dst);
    return { sent: sha256(data), received: sha256(received) };
  }

  /** The server's /metrics text (it needs MetricsListen = 127.0.0.1:PORT in extraServer), fetched inside its namespace. */
  async metrics(port: number): Promise<string> {
    const get = `require('node:http').get('http://127.0.0.1:${port}/metrics', (r) => r.pipe(process.stdout)).on('error', (e) => { console.error(e.message); process.exit(1); })`;
    return this.must(this.server, [process.execPath, '-e', get]);
  }

  private runFile(ns: string, ext: 'pid' | 'log'): string {
    return join(namespaceRunDir(join(this.dir, 'run'), ns), `${this.name}.${ext}`);
  }

  /** The daemon's pid in `ns`, or null. */
  pidOf(ns: string): number | null {
    try {
      return parsePidFile(readFileSync(this.runFile(ns, 'pid'), 'utf8'))?.pid ?? null;
    } catch {
      return null;
    }
  }

  log(ns: string): string {
    try {
      return readFileSync(this.runFile(ns, 'log'), 'utf8');
    } catch {
      return '';
    }
  }

  /** Every namespace with a daemon: the server first. */
  get hosts(): string[] {
    return [this.server, ...this.clients.map((c) => c.ns)];
  }

  /** Stops the daemons (by PID), removes the namespaces and the temp dir. */
  async destroy(): Promise<void> {
    const pids = this.hosts.map((ns) => this.pidOf(ns)).filter((p): p is number => p !== null);
    await this.net.destroy(pids);
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/**
 * Starts a hub and waits until every client reaches the server, prints
 * every daemon's log if a test fails, tears it all down after.
 */
export function withHub(opts: HubOptions, body: (get: () => Hub) => void): void {
  let hub: Hub | undefined;
  before(async () => {
    hub = await Hub.start(opts);
    await Promise.all(hub.clients.map((c) => hub!.waitConnected(c)));
  });
  afterEach(function () {
    if (this.currentTest?.state === 'failed' && hub) {
      for (const ns of hub.hosts) process.stderr.write(`--- ${ns} log ---\n${hub.log(ns)}\n`);
    }
  });
  after(async () => {
    await hub?.destroy();
  });
  body(() => hub!);
}
