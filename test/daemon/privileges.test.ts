// The check after dropping root: uids, gids and all four capability sets
// of a thread, read from its /proc status text.
import { expect } from 'chai';
import { parseTaskStatus, privilegeLeft } from '../../src/daemon/privileges.js';

const NOBODY = { name: 'nobody', uid: 65534, gid: 65534 };

/** A task status as the kernel writes it, with the capability sets given. */
function status(caps: { inh?: string; prm?: string; eff?: string; amb?: string | null } = {}, uid = '65534'): string {
  return [
    'Name:\tnode',
    `Uid:\t${uid}\t${uid}\t${uid}\t${uid}`,
    'Gid:\t65534\t65534\t65534\t65534',
    `CapInh:\t${caps.inh ?? '0000000000000000'}`,
    `CapPrm:\t${caps.prm ?? '0000000000000000'}`,
    `CapEff:\t${caps.eff ?? '0000000000000000'}`,
    'CapBnd:\t000001ffffffffff',
    ...(caps.amb === null ? [] : [`CapAmb:\t${caps.amb ?? '0000000000000000'}`]),
    'NoNewPrivs:\t0',
  ].join('\n');
}

describe('privilege drop check (privileges.ts)', () => {
  it('a thread with the right ids and four empty capability sets passes (the bounding set does not count)', () => {
    expect(privilegeLeft(parseTaskStatus('7', status()), NOBODY)).to.equal(null);
  });

  it('refuses a thread with an empty effective set but capabilities in the permitted, inheritable or ambient set', () => {
    const cases = [
      [{ prm: '0000000000001000' }, 'permitted capabilities 0x1000 (CapPrm'],
      [{ inh: '0000000000001000' }, 'inheritable capabilities 0x1000 (CapInh'],
      [{ inh: '0000000000003000', amb: '0000000000001000' }, 'inheritable capabilities 0x3000 (CapInh'],
      [{ amb: '0000000000000400' }, 'ambient capabilities 0x400 (CapAmb'],
      [{ eff: '0000000000001000', prm: '0000000000001000' }, 'effective capabilities 0x1000 (CapEff'],
    ] as const;
    for (const [caps, why] of cases) {
      const t = parseTaskStatus('42', status(caps));
      const left = privilegeLeft(t, NOBODY);
      expect(left, JSON.stringify(caps)).to.be.a('string');
      expect(left).to.include(`thread 42 still has ${why}`);
    }
  });

  it('a capability line it cannot read counts as not dropped', () => {
    expect(privilegeLeft(parseTaskStatus('9', status({ amb: null })), NOBODY)).to.include('ambient capabilities unknown');
  });

  it('refuses a thread that kept another uid', () => {
    expect(privilegeLeft(parseTaskStatus('3', status({}, '0')), NOBODY)).to.equal('thread 3 still has uid 0 0 0 0 gid 65534 65534 65534 65534');
  });
});
