// routingPlan: what Table and FwMark make of a config's AllowedIPs (wg-quick's rules).
import { expect } from 'chai';
import { parseConfig } from '../../src/config/config.js';
import { initSodium } from '../../src/crypto/sodium.js';
import { routingPlan } from '../../src/host/policy-routing.js';

const PRIV = 'uD6Ffy03NnZzYyoQhGwsIPTUP4vHst+lFWyr7LAVDMo=';
const PUB = 'TKIgkMPJwnMgoq7y1C0DBXBLGen47EN+W4lJXd5+hBs=';

function plan(ifaceLines: string, allowed: string) {
  const text = `[Interface]\nName = st0\nPrivateKey = ${PRIV}\nAddress = 10.77.0.1/24\n${ifaceLines}\n[Peer]\nPublicKey = ${PUB}\nEndpoint = 192.0.2.2:51820\nAllowedIPs = ${allowed}\n`;
  return routingPlan(parseConfig(text, 'plan.conf'));
}

describe('routingPlan (Table, FwMark)', () => {
  before(() => initSodium());

  it('Table = auto without a default route: every prefix into main, no rules, no mark', () => {
    expect(plan('', '10.77.0.2/32, 10.9.0.0/16')).to.deep.equal({ routes: ['10.77.0.2/32', '10.9.0.0/16'], routeTable: 'main', policy: null, socketMark: null });
  });

  it('Table = auto with default routes: those by policy rules (mark 51820, table 51820) for the IP versions that have one', () => {
    expect(plan('', '0.0.0.0/0, 10.9.0.0/16')).to.deep.equal({
      routes: ['10.9.0.0/16'], routeTable: 'main', policy: { mark: 51820, table: 51820, families: [4] }, socketMark: 51820,
    });
    expect(plan('FwMark = 0x10', '::/0, 0.0.0.0/0').policy).to.deep.equal({ mark: 16, table: 16, families: [4, 6] });
  });

  it('Table = NUMBER: every prefix, a default one too, into that table, no rules; a set FwMark still marks', () => {
    expect(plan('Table = 1000\nFwMark = 7', '0.0.0.0/0, 10.9.0.0/16')).to.deep.equal({ routes: ['0.0.0.0/0', '10.9.0.0/16'], routeTable: 1000, policy: null, socketMark: 7 });
    expect(plan('Table = main', '10.9.0.0/16').routeTable).to.equal('main');
  });

  it('Table = off: no routes, no rules', () => {
    expect(plan('Table = off', '0.0.0.0/0, 10.9.0.0/16')).to.deep.equal({ routes: [], routeTable: null, policy: null, socketMark: null });
  });
});
