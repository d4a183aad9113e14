// KillSwitch = on: an nftables table of sealtun's own, `inet sealtun-NAME`,
// that drops every packet leaving this host (output) or passing through it
// (forward) unless it
//   - leaves through the tunnel interface (matched by name, so the rule
//     holds while the interface is gone: a crashed daemon leaks nothing),
//   - is the tunnel's own traffic (output only): it carries the tunnel's
//     socket mark (SO_MARK, FwMark or 51820: routingPlan marks the sockets
//     whenever KillSwitch is on), which covers a listener's replies to peers
//     anywhere; or it goes to a peer's endpoint (address, protocol, port:
//     the set `endpoints4`/`endpoints6`), which covers the TCP connections
//     the tunnel makes unmarked (one made after a privilege drop cannot be
//     marked) and the handshake of a restarted daemon. No rule looks at the
//     source port: any process could send from the ListenPort (socat
//     sourceport=) while the daemon is dead.
//     Setting a mark needs CAP_NET_ADMIN: the kill switch guards against
//     accidents (a dead tunnel, a route gone) and unprivileged processes,
//     not against root, which can mark its packets or delete the table.
//   - stays on this host (loopback), or is IPv6 neighbour discovery (without
//     it no IPv6 next hop, the endpoint's included, could be found) or an
//     MLD report (which MLD-snooping switches need to keep forwarding the
//     solicited-node multicast that neighbour discovery uses),
//   - with KillSwitchAllowLan = on: is DHCP, or goes to a private, link-local
//     or multicast address (the local LAN).
//
// The table outlives the daemon: only `sealtun down` removes it. An `up`
// replaces it in one `nft -f` transaction (create, delete, create again),
// so there is never a moment without it. Endpoints that change while the
// tunnel runs (reload, `set`) replace the sets' elements, again in one
// transaction.
import { execFile } from 'node:child_process';
import type { Endpoint, TunnelConfig } from '../config/config.js';
import { resolveEndpointAll } from '../transport/resolve.js';
import type { Logger } from '../log.js';
import { readLedger, recordInLedger } from './ledger.js';
import { routingPlan } from './policy-routing.js';
import { findProgram } from './run-command.js';

export class KillSwitchError extends Error {
  override readonly name = 'KillSwitchError';
}

/** One allowed destination of the tunnel's own packets. */
export interface AllowedEndpoint {
  family: 4 | 6;
  address: string;
  proto: 'udp' | 'tcp';
  port: number;
}

const SECTION = 'killSwitch';

export function killSwitchTable(name: string): string {
  return `sealtun-${name}`;
}

/** Private, link-local and multicast ranges: "the local LAN" for KillSwitchAllowLan. */
const LAN4 = ['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16', '169.254.0.0/16', '224.0.0.0/4', '255.255.255.255'];
const LAN6 = ['fe80::/10', 'fc00::/7', 'ff00::/8'];

/** The nft statements of one chain, in order; `mark` (output only): the tunnel's socket mark. */
function chainRules(dev: string, mark: number | null, allowLan: boolean): string[] {
  const rules = [
    'oifname "lo" accept',
    `oifname "${dev}" accept`,
    ...(mark === null ? [] : [`meta mark ${mark} accept`]),
    'ip daddr . meta l4proto . th dport @endpoints4 accept',
    'ip6 daddr . meta l4proto . th dport @endpoints6 accept',
    // MLD reports too: an MLD-snooping switch stops forwarding multicast (neighbour solicitations included) to a port that never reports.
    'icmpv6 type { nd-neighbor-solicit, nd-neighbor-advert, nd-router-solicit, mld-listener-report, mld-listener-done, mld2-listener-report } accept',
  ];
  if (allowLan) {
    rules.push(
      'udp sport 68 udp dport 67 accept',
      'udp sport 546 udp dport 547 accept',
      `ip daddr { ${LAN4.join(', ')} } accept`,
      `ip6 daddr { ${LAN6.join(', ')} } accept`,
    );
  }
  return rules;
}

function elements(endpoints: readonly AllowedEndpoint[], family: 4 | 6): string {
  const e = endpoints.filter((x) => x.family === family).map((x) => `${x.address} . ${x.proto} . ${x.port}`);
  return e.length === 0 ? '' : ` elements = { ${[...new Set(e)].join(', ')} };`;
}

/**
 * The whole table as one `nft -f` script: create (so the delete cannot
 * fail), delete, create with the rules. nft applies a file as one
 * transaction: the old table's rules hold until the new one's do.
 */
export function killSwitchScript(config: TunnelConfig, endpoints: readonly AllowedEndpoint[]): string {
  const { name, killSwitchAllowLan } = config.iface;
  const table = `inet ${killSwitchTable(name)}`;
  // Never null with KillSwitch = on (policy-routing.ts); forwarded packets are never the tunnel's own.
  const mark = routingPlan(config).socketMark;
  const chain = (hook: 'output' | 'forward') => [
    `  chain ${hook} {`,
    `    type filter hook ${hook} priority filter; policy drop;`,
    ...chainRules(name, hook === 'output' ? mark : null, killSwitchAllowLan).map((r) => `    ${r}`),
    '  }',
  ];
  return [
    `table ${table}`,
    `delete table ${table}`,
    `table ${table} {`,
    `  set endpoints4 { type ipv4_addr . inet_proto . inet_service;${elements(endpoints, 4)} }`,
    `  set endpoints6 { type ipv6_addr . inet_proto . inet_service;${elements(endpoints, 6)} }`,
    ...chain('output'),
    ...chain('forward'),
    '}',
    '',
  ].join('\n');
}

/** What `check` prints: the table `up` would install, endpoints given by name shown as such (resolved only by `up`). */
export function describeKillSwitch(config: TunnelConfig): string[] {
  if (!config.iface.killSwitch) return ['kill switch: off'];
  const literal = config.peers.filter((p) => p.endpoint?.family !== undefined);
  const named = config.peers.filter((p) => p.endpoint && p.endpoint.family === undefined).map((p) => `${p.endpoint!.host}:${p.endpoint!.port}`);
  const protos: Array<'udp' | 'tcp'> = config.iface.transport === 'auto' ? ['udp', 'tcp'] : [config.iface.transport];
  const endpoints: AllowedEndpoint[] = literal.flatMap((p) =>
    protos.map((proto) => ({ family: p.endpoint!.family!, address: p.endpoint!.host.split('%')[0]!, proto, port: p.endpoint!.port })),
  );
  const lines = [`kill switch: nft -f (one transaction), kept until \`sealtun down\`${named.length ? `; endpoints resolved at up: ${named.join(', ')}` : ''}:`];
  return [...lines, ...killSwitchScript(config, endpoints).trimEnd().split('\n').map((l) => `  ${l}`)];
}

/** The sets' new elements in one transaction: a changed endpoint is never missing from both. */
function endpointsScript(name: string, endpoints: readonly AllowedEndpoint[]): string {
  const table = `inet ${killSwitchTable(name)}`;
  const lines = [`flush set ${table} endpoints4`, `flush set ${table} endpoints6`];
  for (const f of [4, 6] as const) {
    const e = elements(endpoints, f);
    if (e) lines.push(`add element ${table} endpoints${f} {${e.replace(/^ elements = \{/, '').replace(/;$/, '')}`);
  }
  return lines.join('\n') + '\n';
}

/** The tunnel's own destinations: each peer's Endpoint (every address of a name) over the transports in use. */
export async function allowedEndpoints(config: TunnelConfig, peers = config.peers, log?: Logger): Promise<AllowedEndpoint[]> {
  const protos: Array<'udp' | 'tcp'> = config.iface.transport === 'auto' ? ['udp', 'tcp'] : [config.iface.transport];
  const out: AllowedEndpoint[] = [];
  for (const p of peers) {
    if (!p.endpoint) continue;
    for (const a of await addressesOf(p.endpoint, log)) {
      for (const proto of protos) out.push({ family: a.family, address: a.address.split('%')[0]!, proto, port: a.port });
    }
  }
  return out;
}

async function addressesOf(ep: Endpoint, log?: Logger): Promise<Array<{ family: 4 | 6; address: string; port: number }>> {
  try {
    return await resolveEndpointAll(ep);
  } catch (err) {
    // The tunnel itself refuses a name that does not resolve; one that fails only here cannot be let through.
    log?.warn(`kill switch: Endpoint ${ep.host}: ${(err as Error).message}; not allowed through`);
    return [];
  }
}

/** nft is not installed: a kill switch cannot be installed, nor can one be in place. */
export class NftMissingError extends KillSwitchError {}

const NFT_MISSING = 'nft is not installed (Debian: apt-get install nftables)';

function nftProgram(): string {
  const program = findProgram('nft');
  if (program === null) throw new NftMissingError(`kill switch: ${NFT_MISSING}`);
  return program;
}

/** KillSwitch = on needs nft: refused before anything is changed (prepareHost, `check`). */
export function requireNft(config: TunnelConfig): void {
  if (config.iface.killSwitch) nftProgram();
}

function nft(script: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = execFile(nftProgram(), ['-f', '-'], { timeout: 10_000 }, (err, _stdout, stderr) => {
      if (!err) return resolve();
      const missing = (err as NodeJS.ErrnoException).code === 'ENOENT';
      reject(missing ? new NftMissingError(`kill switch: ${NFT_MISSING}`) : new KillSwitchError(`kill switch: nft: ${(stderr || err.message).trim()}`));
    });
    // An nft that fails before reading its script closes stdin: its exit status says why, not the EPIPE.
    child.stdin!.on('error', () => undefined);
    child.stdin!.end(script);
  });
}

/** Installs the kill switch, or replaces the one a previous run left, atomically. Recorded first. Without KillSwitch, removes a previous run's. */
export async function installKillSwitch(config: TunnelConfig, log: Logger): Promise<void> {
  const name = config.iface.name;
  if (!config.iface.killSwitch) {
    // One a run with KillSwitch = on left (its `up` keeps it): this config says there is none.
    for (const r of await removeKillSwitch(name)) log.info(`KillSwitch is off: removed ${r}`);
    return;
  }
  const endpoints = await allowedEndpoints(config, config.peers, log);
  recordInLedger(name, SECTION, { table: killSwitchTable(name) });
  await nft(killSwitchScript(config, endpoints));
  log.info(`kill switch on: nft table inet ${killSwitchTable(name)}; allowed outside ${name}: ${endpoints.map(endpointText).join(', ') || 'no endpoint'}${config.iface.killSwitchAllowLan ? ', DHCP and the LAN' : ''}`);
}

/** After a reload or `set`: the sets hold the peers' endpoints as they are now. */
export async function updateKillSwitchEndpoints(config: TunnelConfig, peers: TunnelConfig['peers'], log: Logger): Promise<void> {
  if (!config.iface.killSwitch) return;
  const endpoints = await allowedEndpoints(config, peers, log);
  await nft(endpointsScript(config.iface.name, endpoints));
  log.info(`kill switch: endpoints now ${endpoints.map(endpointText).join(', ') || 'none'}`);
}

/**
 * The same from a running daemon's status (where each peer is sought now,
 * and what its Endpoint name resolved to), for `sealtun reload` and `set`
 * run as root beside a daemon that dropped root and cannot change the
 * table itself. Does nothing without a kill switch in the ledger.
 */
export async function followKillSwitch(name: string, status: { transport: string; peers: ReadonlyArray<{ endpoint: string | null; endpointResolved?: string | null }> }): Promise<void> {
  if (readLedger(name)[SECTION] === undefined) return;
  const protos: Array<'udp' | 'tcp'> = status.transport === 'tcp' ? ['tcp'] : status.transport === 'udp' ? ['udp'] : ['udp', 'tcp'];
  const endpoints: AllowedEndpoint[] = [];
  for (const p of status.peers) {
    for (const text of [p.endpoint, p.endpointResolved]) {
      const m = text ? /^(?:\[([^\]%]+)(?:%[^\]]*)?\]|([\d.]+)):(\d+)$/.exec(text) : null;
      if (!m) continue;
      for (const proto of protos) endpoints.push({ family: m[1] ? 6 : 4, address: m[1] ?? m[2]!, proto, port: Number(m[3]) });
    }
  }
  await nft(endpointsScript(name, endpoints));
}

function endpointText(e: AllowedEndpoint): string {
  return `${e.family === 6 ? `[${e.address}]` : e.address}:${e.port}/${e.proto}`;
}

/**
 * Removes the table: the one the ledger names, and by its name also when
 * there is no ledger (it was deleted by hand); absent is fine. Returns what
 * it removed.
 */
export async function removeKillSwitch(name: string): Promise<string[]> {
  const table = `inet ${killSwitchTable(name)}`;
  const recorded = readLedger(name)[SECTION] !== undefined;
  // Without a record nor a table there is nothing to do (nor any need for nft to be installed).
  if (!recorded && !(await killSwitchPresent(name))) return [];
  try {
    // Creating it first makes the delete succeed whether or not it existed; one transaction.
    await nft(`table ${table}\ndelete table ${table}\n`);
  } catch (err) {
    // Recorded (the record comes before nft runs) but nft is gone or never was: no table can be in place.
    if (!(err instanceof NftMissingError)) throw err;
    recordInLedger(name, SECTION, undefined);
    return [];
  }
  recordInLedger(name, SECTION, undefined);
  return [`nft table ${table}`];
}

/** Whether the kill switch's table is in place (never, without nft). */
export function killSwitchPresent(name: string): Promise<boolean> {
  return new Promise((resolve) => {
    const program = findProgram('nft');
    if (program === null) return resolve(false);
    execFile(program, ['list', 'table', 'inet', killSwitchTable(name)], { timeout: 10_000 }, (err) => resolve(!err));
  });
}
