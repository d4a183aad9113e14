// `sealtun check` as users run it: the real CLI in a child process, on
// configs written to a temporary directory. It must report what `up` would
// do and do none of it.
import { expect } from 'chai';
import { execFile, execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { EffectiveSettings } from '../../src/tunnel/effective-settings.js';
import { SEALTUN } from '../helpers/tunnel-pair.js';

interface Out {
  code: number;
  stdout: string;
  stderr: string;
}

function run(cmd: string, args: string[], env: NodeJS.ProcessEnv = process.env): Promise<Out> {
  return new Promise((resolve) => {
    execFile(cmd, args, { env }, (err, stdout, stderr) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

const sealtun = (args: string[], env?: NodeJS.ProcessEnv): Promise<Out> => run(process.execPath, [SEALTUN, ...args], env);

function hasStrace(): boolean {
  try {
    execFileSync('strace', ['-V'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

describe('sealtun check', function () {
  this.timeout(30_000);
  let dir: string;
  let psk: string;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'sealtun-check-'));
    for (const k of ['a', 'b']) expect((await sealtun(['keygen', join(dir, k)])).code).to.equal(0);
    psk = (await sealtun(['genpsk'])).stdout.trim();
    writeFileSync(join(dir, 'ab.psk'), `${psk}\n`, { mode: 0o600 });
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  function config(name: string, iface: string, peer: string): string {
    const path = join(dir, name);
    writeFileSync(path, `[Interface]\nName = stc0\nPrivateKey = a.key\n${iface}\n\n[Peer]\nPublicKey = b.pub\n${peer}\n`, { mode: 0o600 });
    return path;
  }

  it('prints the effective settings of an initiator over UDP: derived MTU with its formula, routes, role, PSK yes', async () => {
    const path = config(
      'udp.conf',
      'Address = 10.77.0.1/24, fd77::1/64',
      'PresharedKey = ab.psk\nEndpoint = 192.0.2.2:51820\nAllowedIPs = 10.77.0.2/32, fd77::2/128\nPersistentKeepalive = 25',
    );
    const r = await sealtun(['check', path]);
    expect(r.code, r.stderr).to.equal(0);
    expect(r.stdout).to.include(`${path}: valid`);
    expect(r.stdout).to.include('interface: stc0');
    expect(r.stdout).to.include('addresses: 10.77.0.1/24, fd77::1/64');
    expect(r.stdout).to.include('transport: udp');
    expect(r.stdout).to.match(/mtu: 1420 \(derived: 1500 − 40 .* − 8 .* − 32 .* = 1420\)/);
    expect(r.stdout).to.include('listening: *:ephemeral');
    expect(r.stdout).to.match(/role: initiates/);
    expect(r.stdout).to.include('endpoint: 192.0.2.2:51820');
    expect(r.stdout).to.include('preshared key: yes');
    expect(r.stdout).to.include('persistent keepalive: every 25 s');
    expect(r.stdout).to.match(/routes to be added:\n {2}10\.77\.0\.2\/32 dev stc0\n {2}fd77::2\/128 dev stc0/);
    expect(r.stdout).to.match(/privileges: kept/);
    expect(r.stdout).to.include('keep warm: across pauses up to 50 ms');
    expect(r.stdout).to.include('metrics: off');
    expect(r.stdout + r.stderr, 'the PSK never appears').to.not.include(psk);
  });

  it('shows the DNS settings and the hooks `up` would apply, %i replaced; --json has them as data', async () => {
    const path = config('dns.conf', 'Address = 10.77.0.1/24\nDNS = 192.0.2.53, corp.example\nPostUp = echo up %i\nPreDown = echo down %i ; true\nPostUp = echo again', 'Endpoint = 192.0.2.2:51820\nAllowedIPs = 10.77.0.2/32');
    const r = await sealtun(['check', path]);
    // This machine has openresolv (scripts/install-deps.sh) and no systemd-resolved.
    expect(r.code, r.stderr).to.equal(0);
    expect(r.stdout).to.include('dns: servers 192.0.2.53; search domains corp.example');
    expect(r.stdout).to.match(/\n {2}\S*resolvconf -a stc0 -m 0 -x <<< 'nameserver 192\.0\.2\.53\\nsearch corp\.example'\n/);
    expect(r.stdout).to.include('hooks (run as root with /bin/sh -c, in this order):\n  PostUp (once it is configured): echo up stc0\n  PostUp (once it is configured): echo again\n  PreDown (before it goes): echo down stc0 ; true');
    const j = JSON.parse((await sealtun(['check', path, '--json'])).stdout) as { dns: unknown; hooks: unknown };
    expect(j.hooks).to.deep.equal({ preUp: [], postUp: ['echo up stc0', 'echo again'], preDown: ['echo down stc0 ; true'], postDown: [] });
    expect(j.dns).to.deep.include({ servers: ['192.0.2.53'], searchDomains: ['corp.example'], problem: null });
    // A host without either tool: test/host/dns.test.ts (check's problem line and up's error).
    const none = await sealtun(['check', config('dns-none.conf', 'Address = 10.77.0.1/24', 'Endpoint = 192.0.2.2:51820\nAllowedIPs = 10.77.0.2/32')]);
    expect(none.stdout).to.include('dns: not set (the resolver is left as it is)\nhooks: none');
  });

  it('--json gives the same as data: an accepting TCP side', async () => {
    const path = config('tcp.conf', 'Address = 10.77.0.2/24\nListenPort = 4433\nListenAddress = 198.51.100.7\nTransport = tcp\nUser = nobody\nKeepWarm = off\nMetricsListen = [::1]:9586', 'AllowedIPs = 10.77.0.1/32, 10.99.0.0/16');
    const r = await sealtun(['check', path, '--json']);
    expect(r.code, r.stderr).to.equal(0);
    const s = JSON.parse(r.stdout) as EffectiveSettings;
    expect(s.interface.name).to.equal('stc0');
    expect(s.interface.transport).to.equal('tcp');
    expect(s.interface.mtu).to.deep.include({ value: 1406, derived: true });
    expect(s.interface.listen).to.equal('198.51.100.7:4433');
    expect(s.interface.user).to.equal('nobody');
    expect(s.interface.dropsPrivileges).to.equal(true);
    expect(s.interface.keepWarmMs).to.equal(0);
    expect(s.interface.metricsListen).to.equal('[::1]:9586');
    expect(s.interface.publicKey).to.match(/^[A-Za-z0-9+/]{43}=$/);
    expect(s.role).to.equal('accepts');
    expect(s.peers[0]!.endpoint).to.equal(null);
    expect(s.peers[0]!.presharedKey).to.equal(false);
    expect(s.peers[0]!.persistentKeepalive).to.equal(null);
    expect(s.routes).to.deep.equal([
      { destination: '10.77.0.1/32', device: 'stc0' },
      { destination: '10.99.0.0/16', device: 'stc0' },
    ]);
    expect(s.problems).to.deep.equal([]);
  });

  it('an initiator over TCP without ListenPort does not listen; both roles; an explicit MTU is shown as set', async () => {
    const tcp = await sealtun(['check', config('tcp-init.conf', 'Address = 10.77.0.1/24\nTransport = tcp', 'Endpoint = [2001:db8::2]:443\nAllowedIPs = 10.77.0.2/32'), '--json']);
    const t = JSON.parse(tcp.stdout) as EffectiveSettings;
    expect(t.interface.listen).to.equal(null);
    expect(t.peers[0]!.endpoint).to.equal('[2001:db8::2]:443');
    const both = await sealtun(['check', config('both.conf', 'Address = 10.77.0.1/24\nListenPort = 51820\nMTU = 1200', 'Endpoint = vpn.example.org:51820\nAllowedIPs = 10.77.0.2/32'), '--json']);
    const b = JSON.parse(both.stdout) as EffectiveSettings;
    expect(b.role).to.equal('both');
    expect(b.interface.mtu).to.deep.include({ value: 1200, derived: false });
    expect(b.interface.mtu!.formula).to.match(/^set by MTU; the default would be/);
    expect(b.peers[0]!.endpoint).to.equal('vpn.example.org:51820');
    expect(b.warnings).to.deep.equal([]);
  });

  it('warns about an Endpoint inside AllowedIPs and an MTU above the default', async () => {
    const path = join(dir, 'warn.conf');
    writeFileSync(path, '[Interface]\nName = stc0\nPrivateKey = a.key\nAddress = 10.77.0.1/24\nMTU = 1500\n\n[Peer]\nPublicKey = b.pub\nEndpoint = 192.0.2.2:51820\nAllowedIPs = 192.0.0.0/8\n', { mode: 0o600 });
    const r = await sealtun(['check', path]);
    expect(r.code, 'warnings do not fail the check').to.equal(0);
    expect(r.stdout).to.match(/warning: the Endpoint 192\.0\.2\.2 is inside AllowedIPs 192\.0\.0\.0\/8/);
    expect(r.stdout).to.match(/warning: MTU 1500 is above the 1420/);
  });

  it('shows a full tunnel\'s rules, mark and kill switch, and no endpoint warning for its default route', async () => {
    const path = config('full.conf', 'Address = 10.77.0.1/24, fd77::1/64\nFwMark = 0x1234\nKillSwitch = on\nKillSwitchAllowLan = on',
      'Endpoint = 192.0.2.2:51820\nAllowedIPs = 0.0.0.0/0, ::/0, 10.9.0.0/16');
    const r = await sealtun(['check', path]);
    expect(r.code, r.stderr).to.equal(0);
    expect(r.stdout).to.match(/routes to be added:\n {2}10\.9\.0\.0\/16 dev stc0\nhost changes/);
    for (const line of [
      'ip -4 route add default dev stc0 table 4660',
      'ip -4 rule add not fwmark 4660 table 4660',
      'ip -4 rule add table main suppress_prefixlength 0',
      'ip -6 route add default dev stc0 table 4660',
      'ip -6 rule add not fwmark 4660 table 4660',
      'ip -6 rule add table main suppress_prefixlength 0',
      'sysctl net.ipv4.conf.all.src_valid_mark=1',
      "socket mark: 4660 (0x1234) on the tunnel's UDP and TCP sockets",
      'table inet sealtun-stc0 {',
      'elements = { 192.0.2.2 . udp . 51820 }',
      'oifname "stc0" accept',
      'udp sport 68 udp dport 67 accept',
    ]) expect(r.stdout).to.include(line);
    expect(r.stdout).to.not.match(/warning: the Endpoint/);
    const json = JSON.parse((await sealtun(['check', '--json', path])).stdout) as EffectiveSettings;
    expect(json.routes).to.deep.equal([{ destination: '10.9.0.0/16', device: 'stc0' }]);
    expect(json.host).to.include('ip -4 rule add not fwmark 4660 table 4660');

    const numbered = config('table.conf', 'Address = 10.77.0.1/24\nTable = 1000', 'Endpoint = 192.0.2.2:51820\nAllowedIPs = 0.0.0.0/0');
    const t = await sealtun(['check', numbered]);
    expect(t.stdout).to.match(/routes to be added:\n {2}0\.0\.0\.0\/0 dev stc0 table 1000\n/).and.include('socket mark: none').and.include('kill switch: off');
    const off = config('off.conf', 'Address = 10.77.0.1/24\nTable = off', 'Endpoint = 192.0.2.2:51820\nAllowedIPs = 0.0.0.0/0');
    expect((await sealtun(['check', off])).stdout).to.match(/routes to be added:\n {2}\(none\)\nhost changes[^\n]*\n {2}no routes \(Table = off\)/);
  });

  it('warns when a full tunnel or kill switch leaves DNS to the host\'s resolver, and when 0.0.0.0/0 alone leaves IPv6 outside', async () => {
    const warningsOf = async (iface: string, allowed: string) => {
      const r = await sealtun(['check', '--json', config('leak.conf', `Address = 10.77.0.1/24, fd77::1/64\n${iface}`, `Endpoint = 192.0.2.2:51820\nAllowedIPs = ${allowed}`)]);
      expect(r.code, r.stderr).to.equal(0);
      return (JSON.parse(r.stdout) as EffectiveSettings).warnings;
    };
    const dropped = await warningsOf('KillSwitch = on', '0.0.0.0/0, ::/0');
    expect(dropped).to.have.length(1);
    expect(dropped[0]).to.match(/^a full tunnel without DNS: .*the kill switch drops every query.*set DNS = a resolver on the tunnel side/);
    const leaks = await warningsOf('', '0.0.0.0/0');
    expect(leaks).to.have.length(2);
    expect(leaks[0]).to.match(/^a full tunnel without DNS: .*every query leaks in cleartext/);
    expect(leaks[1]).to.match(/0\.0\.0\.0\/0 but not ::\/0, and KillSwitch is off: IPv6 traffic still leaves outside the tunnel/);
    expect(await warningsOf('KillSwitch = on', '10.9.0.0/16')).to.deep.equal([
      "KillSwitch = on without DNS: the host's resolver is used, and one on the LAN is reached outside the tunnel (the kill switch drops every query); set DNS = a resolver on the tunnel side",
    ]);
    expect(await warningsOf('KillSwitch = on', '0.0.0.0/0'), 'the kill switch holds IPv6 back').to.have.length(1);
    expect(await warningsOf('DNS = 10.77.0.2', '0.0.0.0/0, ::/0')).to.deep.equal([]);
    expect(await warningsOf('', '10.9.0.0/16')).to.deep.equal([]);
  });

  it('never prints a private key given as PublicKey; refuses our own key as the peer', async () => {
    const privateText = readFileSync(join(dir, 'a.key'), 'utf8').trim();
    for (const [peerKey, why] of [
      ['a.key', `${join(dir, 'a.key')}: public key file is not readable by others (mode 0600), as secret key files are not`],
      ['a.pub', "PublicKey: is this interface's own public key (from PrivateKey at line 3)"],
    ] as const) {
      const path = join(dir, 'self.conf');
      writeFileSync(path, `[Interface]\nName = stc0\nPrivateKey = a.key\nAddress = 10.77.0.1/24\n\n[Peer]\nPublicKey = ${peerKey}\nEndpoint = 192.0.2.2:51820\nAllowedIPs = 10.77.0.2/32\n`, { mode: 0o600 });
      for (const args of [['check', path], ['check', '--json', path]]) {
        const r = await sealtun(args);
        expect(r.code, peerKey).to.equal(1);
        expect(r.stderr).to.include(`${path}:7: `).and.include(why);
        expect(r.stdout + r.stderr, 'the private key is not shown').to.not.include(privateText.slice(0, 43));
      }
    }
  });

  it('reports config mistakes as FILE:LINE: Key: detail and exits 1, as `up` does', async () => {
    const path = config('bad.conf', 'Address = 10.77.0.1/24\nListenPort = 99999', 'AllowedIPs = 10.77.0.2/32');
    const r = await sealtun(['check', path]);
    expect(r.code).to.equal(1);
    expect(r.stdout).to.equal('');
    expect(r.stderr.trim()).to.equal(`sealtun: ${path}:5: ListenPort: 99999 is out of range; expected 1-65535`);
    const missing = await sealtun(['check', join(dir, 'nope.conf')]);
    expect(missing.code).to.equal(1);
    expect(missing.stderr).to.include('nope.conf: cannot read config file: no such file');
  });

  it('Transport = auto: the TCP overhead sets the MTU (the path may change), UDP and TCP listen on ListenPort', async () => {
    const r = await sealtun(['check', config('auto.conf', 'Address = 10.77.0.1/24\nTransport = auto', 'Endpoint = 192.0.2.2:51820\nAllowedIPs = 10.77.0.2/32')]);
    expect(r.code, r.stderr).to.equal(0);
    expect(r.stdout).to.include(': valid');
    expect(r.stdout).to.match(/transport: auto \(UDP first, TCP on the same port when UDP does not get through\)/);
    expect(r.stdout).to.match(/mtu: 1406 \(derived: 1500 − 40 .* − 22 \(TCP header \+ 2-byte length: auto may move to either transport\) − 32 .* = 1406\)/);
    expect(r.stdout).to.match(/listening: \*:ephemeral \(UDP only\)/);
    const listener = await sealtun(['check', config('auto-b.conf', 'Address = 10.77.0.2/24\nTransport = auto\nListenPort = 51820\nMTU = 1420', 'AllowedIPs = 10.77.0.1/32'), '--json']);
    const s = JSON.parse(listener.stdout) as EffectiveSettings;
    expect(s.interface.transport).to.equal('auto');
    expect(s.interface.listen).to.equal('*:51820');
    expect(s.interface.mtu).to.deep.include({ value: 1420, derived: false });
    expect(s.warnings).to.deep.equal(['MTU 1420 is above the 1406 that fits a 1500-byte underlay over tcp, which auto may use; sealed packets will be fragmented (or dropped) on such a path']);
    expect(s.problems).to.deep.equal([]);
    const text = await sealtun(['check', config('auto-b.conf', 'Address = 10.77.0.2/24\nTransport = auto\nListenPort = 51820', 'AllowedIPs = 10.77.0.1/32')]);
    expect(text.stdout).to.match(/listening: \*:51820 \(UDP and TCP\)/);
  });

  it('many peers pass check, over udp and over tcp', async () => {
    expect((await sealtun(['keygen', join(dir, 'c')])).code).to.equal(0);
    const second = 'AllowedIPs = 10.77.0.2/32\n\n[Peer]\nPublicKey = c.pub\nAllowedIPs = 10.77.0.3/32';
    for (const transport of ['udp', 'tcp']) {
      const r = await sealtun(['check', config(`two-${transport}.conf`, `Address = 10.77.0.1/24\nListenPort = 51820\nTransport = ${transport}`, second)]);
      expect(r.code, r.stderr).to.equal(0);
      expect(r.stdout).to.include('10.77.0.3/32');
    }
  });

  it('touches nothing: no socket, no TUN, no child process, no run directory', async function () {
    if (!hasStrace()) this.skip();
    const path = config('quiet.conf', 'Address = 10.77.0.1/24\nListenPort = 51820', 'Endpoint = 192.0.2.2:51820\nAllowedIPs = 10.77.0.2/32');
    const runDir = join(dir, 'run');
    const trace = join(dir, 'trace.txt');
    const r = await run('strace', ['-f', '-qq', '-o', trace, '-e', 'trace=socket,execve,openat,mkdir,mkdirat', process.execPath, SEALTUN, 'check', path], {
      ...process.env,
      SEALTUN_RUN_DIR: runDir,
    });
    expect(r.code, r.stderr).to.equal(0);
    const calls = readFileSync(trace, 'utf8');
    expect(calls).to.not.match(/socket\(AF_(INET|INET6|NETLINK)/);
    expect(calls).to.not.include('/dev/net/tun');
    expect(calls.match(/execve\(/g) ?? [], 'only the CLI itself is executed').to.have.length(1);
    expect(existsSync(runDir)).to.equal(false);
  });
});
