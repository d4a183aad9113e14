// routingPlan: what Table and FwMark make of a config's AllowedIPs (wg-quick's rules).
import { expect } from 'chai';
import { parseConfig } from '../../src/config/config.js';
import { initSodium } from '../../src/crypto/sodium.js';
import { routingPlan } from '../../src/host/policy-routing.js';
import { killSwitchScript } from '../../src/host/kill-switch.js';

const PRIV = 'uD6Ffy03NnZzYyoQhGwsIPTUP4vHst+lFWyr7LAVDMo=';
const PUB = 'TKIgkMPJwnMgoq7y1C0DBXBLGen47EN+W4lJXd5+hBs=';

function plan(ifaceLines: string, allowed: string) {
  const text = `[Interface]\nName = st0\nPrivateKey = ${PRIV}\nAddress = 10.77.0.1/24\n${ifaceLines}\n[Peer]\nPublicKey = ${PUB}\nEndpoint = 192.0.2.2:51820\nAllowedIPs = ${allowed}\n`;
  return routingPlan(parseConfig(text, 'plan.conf'));
}

describe('routingPlan (Table, FwMark)', () => {
  before(() => initSodium());

  it('Table = auto without a default route: every prefix into main, no rules, no mark', () => {
    expect(plan('', '10.77.0.2/32, 10.9.0.0/16')).to.deep.equal({ routes: ['10.77.0.2/32', '10.9.0.0/16'], routeTable: 'main', policy: null, socketMark: null, connectMark: null });
  });

  it('Table = auto with default routes: those by policy rules (mark 51820, table 51820) for the IP versions that have one', () => {
    expect(plan('', '0.0.0.0/0, 10.9.0.0/16')).to.deep.equal({
      routes: ['10.9.0.0/16'], routeTable: 'main', policy: { mark: 51820, table: 51820, families: [4] }, socketMark: 51820, connectMark: 51820,
    });
    expect(plan('FwMark = 0x10', '::/0, 0.0.0.0/0').policy).to.deep.equal({ mark: 16, table: 16, families: [4, 6] });
  });

  it('Table = NUMBER: every prefix, a default one too, into that table, no rules; a set FwMark still marks', () => {
    expect(plan('Table = 1000\nFwMark = 7', '0.0.0.0/0, 10.9.0.0/16')).to.deep.equal({ routes: ['0.0.0.0/0', '10.9.0.0/16'], routeTable: 1000, policy: null, socketMark: 7, connectMark: 7 });
    expect(plan('Table = main', '10.9.0.0/16').routeTable).to.equal('main');
  });

  it('Table = off: no routes, no rules', () => {
    expect(plan('Table = off', '0.0.0.0/0, 10.9.0.0/16')).to.deep.equal({ routes: [], routeTable: null, policy: null, socketMark: null, connectMark: null });
  });

  it('KillSwitch = on marks the UDP socket and TCP listener even without a full tunnel (the kill switch lets them out by it), not the TCP connections', () => {
    expect(plan('KillSwitch = on', '10.9.0.0/16')).to.include({ socketMark: 51820, connectMark: null });
    expect(plan('KillSwitch = on\nTable = off', '0.0.0.0/0')).to.include({ socketMark: 51820, connectMark: null });
    expect(plan('KillSwitch = on\nFwMark = 9', '10.9.0.0/16')).to.include({ socketMark: 9, connectMark: 9 });
    expect(plan('KillSwitch = on', '0.0.0.0/0')).to.include({ socketMark: 51820, connectMark: 51820 });
    expect(() => plan('KillSwitch = on\nFwMark = off', '10.9.0.0/16')).to.throw(/plan.conf:\d+: FwMark: is off, but KillSwitch = on/);
  });

  it('the kill switch lets out the marked packets (output only), and nothing by its source port', () => {
    const text = `[Interface]\nName = st0\nPrivateKey = ${PRIV}\nAddress = 10.77.0.1/24\nListenPort = 51820\nKillSwitch = on\n[Peer]\nPublicKey = ${PUB}\nAllowedIPs = 10.9.0.0/16\n`;
    const script = killSwitchScript(parseConfig(text, 'ks.conf'), []);
    expect(script).to.not.match(/sport/);
    const [output, forward] = [script.slice(script.indexOf('chain output'), script.indexOf('chain forward')), script.slice(script.indexOf('chain forward'))];
    expect(output).to.include('meta mark 51820 accept');
    expect(forward).to.not.include('meta mark');
    expect(output, 'neighbour discovery and MLD reports pass').to.include('icmpv6 type { nd-neighbor-solicit, nd-neighbor-advert, nd-router-solicit, mld-listener-report, mld-listener-done, mld2-listener-report } accept');
  });
});
