// Looking a host-name Endpoint up again (endpoint-name.ts, udp-link.ts) and
// checking it at `up` (tunnel.ts), with a stand-in resolver whose answers
// the test controls.
import { expect } from 'chai';
import type { Lookup } from '../../../src/transport/resolve.js';
import { encodeSockaddr, SOCKADDR_IN_BYTES, type SocketAddress } from '../../../src/transport/sockaddr.js';
import type { Datapath } from '../../../src/tunnel/datapath/datapath.js';
import { endpointProblem, EndpointName } from '../../../src/tunnel/link/endpoint-name.js';
import type { Logger } from '../../../src/log.js';
import { UdpLink } from '../../../src/tunnel/link/udp-link.js';

/** A logger that keeps its warnings. */
function recorder(): Logger & { warnings: string[]; infos: string[] } {
  const warnings: string[] = [];
  const infos: string[] = [];
  return { warnings, infos, error() {}, warn: (m) => warnings.push(m), info: (m) => infos.push(m), debug() {} };
}

/** A resolver answering from `zone`; a name mapped to a code fails with it; `hold` delays a name's answer until released. */
function resolver(zone: Record<string, string[] | string>) {
  const held = new Map<string, () => void>();
  const holding = new Set<string>();
  const lookup: Lookup = async (host) => {
    if (holding.has(host)) await new Promise<void>((r) => held.set(host, r));
    const z = zone[host];
    if (z === undefined || typeof z === 'string') throw Object.assign(new Error(`lookup ${host}`), { code: z ?? 'ENOTFOUND' });
    return z.map((address) => ({ address, family: address.includes(':') ? 6 : 4 }));
  };
  return {
    lookup,
    hold: (host: string) => holding.add(host),
    release: (host: string) => {
      holding.delete(host);
      held.get(host)?.();
    },
  };
}

const none = () => false;
const ep = (host: string) => ({ host, port: 51820 });

describe('a host-name Endpoint looked up again (endpoint-name.ts)', () => {
  it('a lookup started for the old name applies nothing after a reload to a new name', async () => {
    const dns = resolver({ 'old.test': ['192.0.2.1'], 'new.test': ['198.51.100.1'] });
    const name = new EndpointName(recorder(), dns.lookup);
    dns.hold('old.test');
    const old = name.again(ep('old.test'), none);
    name.forget(); // the reload
    // The old name's answer comes while the new name is being looked up.
    setTimeout(() => dns.release('old.test'), 50);
    const fresh = await name.again(ep('new.test'), none);
    expect(await old, 'the old lookup, overtaken').to.equal(null);
    expect(fresh?.address, 'the new name\'s own answer').to.equal('198.51.100.1');
    expect(name.text()).to.equal('198.51.100.1:51820');
  });

  it('round-robin DNS is no move: the address in use stays while it is among the answers', async () => {
    const dns = resolver({ 'rr.test': ['192.0.2.1', '192.0.2.2', '192.0.2.3'] });
    const name = new EndpointName(recorder(), dns.lookup);
    const inUse = (a: SocketAddress) => a.address === '192.0.2.2';
    expect((await name.again(ep('rr.test'), inUse))?.address).to.equal('192.0.2.2');
    expect((await name.again(ep('rr.test'), none))?.address, 'not among the answers: the first one').to.equal('192.0.2.1');
  });
});

describe('the UDP link and its configured Endpoint (udp-link.ts)', () => {
  const datapath = { toRx() {}, toTx() {} } as unknown as Datapath;
  const bind = { address: { family: 4 as const, address: '127.0.0.1', port: 0 }, port: 0 };
  const links: UdpLink[] = [];
  afterEach(async () => {
    for (const l of links.splice(0)) await l.close();
  });

  it('unanswered handshakes send the link back from a learned address to the configured IP-literal Endpoint', async () => {
    const log = recorder();
    const link = UdpLink.open(bind, { host: '127.0.0.2', port: 51820 }, log);
    links.push(link);
    await link.attach(datapath);
    const learned = new Uint8Array(SOCKADDR_IN_BYTES);
    encodeSockaddr({ family: 4, address: '127.0.0.66', port: 4444 }, learned);
    link.confirmPeer(learned); // an authenticated message (a spoofed copy of a response) from elsewhere
    expect(link.endpointText()).to.equal('127.0.0.66:4444');
    expect(await link.reresolve()).to.equal(true);
    expect(link.endpointText()).to.equal('127.0.0.2:51820');
    expect(await link.reresolve(), 'already there').to.equal(false);
  });

  it('round-robin DNS: retransmissions do not move the destination among the answers', async () => {
    let turn = 0;
    // The resolver rotates its answers at each lookup, as round-robin DNS does.
    const lookup: Lookup = async () => {
      const all = ['127.0.0.2', '127.0.0.3', '127.0.0.4'];
      const r = [...all.slice(turn % 3), ...all.slice(0, turn % 3)];
      turn++;
      return r.map((address) => ({ address, family: 4 }));
    };
    const link = UdpLink.open(bind, ep('rr.test'), recorder(), lookup);
    links.push(link);
    await link.attach(datapath);
    const first = link.endpointText();
    const moves: boolean[] = [];
    for (let i = 0; i < 5; i++) moves.push(await link.reresolve());
    expect(moves, `destination ${first}, then ${link.endpointText()}`).to.deep.equal([false, false, false, false, false]);
    expect(link.endpointText()).to.equal(first);
  });

  it('a name that resolves only to the other IP version is warned about once, not at every retransmission', async () => {
    let v6 = false;
    const lookup: Lookup = async () => [v6 ? { address: '2001:db8::1', family: 6 } : { address: '127.0.0.2', family: 4 }];
    const log = recorder();
    const link = UdpLink.open(bind, ep('moves.test'), log, lookup);
    links.push(link);
    await link.attach(datapath);
    v6 = true;
    for (let i = 0; i < 4; i++) expect(await link.reresolve()).to.equal(false);
    process.stderr.write(`      (4 retransmissions, ${log.warnings.length} warning(s): ${JSON.stringify(log.warnings)})\n`);
    expect(log.warnings).to.have.length(1);
  });

  it('a temporary resolver failure at start leaves the link retrying; it finds the peer once the resolver answers', async function () {
    this.timeout(20_000);
    const zone: Record<string, string[] | string> = { 'late.test': 'EAI_AGAIN' };
    const dns = resolver(zone);
    const log = recorder();
    const link = UdpLink.open(bind, ep('late.test'), log, dns.lookup);
    links.push(link);
    let ups = 0;
    link.on('up', () => ups++);
    await link.attach(datapath);
    expect(link.canSend()).to.equal(false);
    zone['late.test'] = ['127.0.0.2'];
    const t0 = Date.now();
    while (!link.canSend() && Date.now() - t0 < 15_000) await new Promise((r) => setTimeout(r, 50));
    process.stderr.write(`      (resolved on a retry ${Date.now() - t0} ms after the resolver came back; warnings: ${JSON.stringify(log.warnings)})\n`);
    expect(link.endpointText()).to.equal('127.0.0.2:51820');
    expect(ups, 'up at attach, and again once it has a destination').to.equal(2);
    expect(log.warnings).to.have.length(1);
  });
});

describe('the Endpoint check at up and reload (endpoint-name.ts endpointProblem)', () => {
  const dns = resolver({ 'gone.test': 'ENOTFOUND', 'empty.test': 'ENODATA', 'later.test': 'EAI_AGAIN' });
  const endpoint = (host: string) => ({ host, port: 51820, line: 9 });

  it('up refuses a name with no address, and goes on (retrying) when the resolver cannot answer yet', async () => {
    expect((await endpointProblem('st0.conf', endpoint('gone.test'), 'up', dns.lookup))?.message).to.match(/^st0\.conf:9: Endpoint: .*ENOTFOUND/);
    expect((await endpointProblem('st0.conf', endpoint('empty.test'), 'up', dns.lookup))?.message).to.match(/ENODATA/);
    expect(await endpointProblem('st0.conf', endpoint('later.test'), 'up', dns.lookup)).to.equal(null);
  });

  it('a reload keeps the running configuration on any failure, temporary ones too', async () => {
    expect((await endpointProblem('st0.conf', endpoint('later.test'), 'reload', dns.lookup))?.message).to.match(/EAI_AGAIN/);
  });
});
