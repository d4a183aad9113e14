// `make install DESTDIR=TMP PREFIX=/usr/local`: the package, the systemd
// unit and its docs land under TMP, and `systemd-analyze verify` accepts the
// unit as installed there (--root=TMP: the ExecStart binary is looked for in
// TMP; the host's own targets are copied in for the unit's dependencies).
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { mustRun } from '../helpers/must-run.js';

const PREFIX = '/usr/local';
const UNIT = `${PREFIX}/lib/systemd/system/sealtun@.service`;
const HOST_UNITS = '/usr/lib/systemd/system';

/** The `key=` values of a unit file, in order. */
function settings(unit: string, key: string): string[] {
  return unit
    .split('\n')
    .filter((l) => l.startsWith(`${key}=`))
    .map((l) => l.slice(key.length + 1));
}

describe('make install DESTDIR= PREFIX=/usr/local', function () {
  this.timeout(300_000);
  let root = '';
  let unit = '';

  before(() => {
    root = mkdtempSync(join(tmpdir(), 'sealtun-destdir-'));
    const r = mustRun('make', ['--no-print-directory', 'install', `DESTDIR=${root}`, `PREFIX=${PREFIX}`]);
    process.stderr.write(`      (make install took ${r.ms} ms)\n`);
    unit = readFileSync(join(root, UNIT), 'utf8');
  });
  after(() => rmSync(root, { recursive: true, force: true }));

  it('installs bin/sealtun (a link into lib/node_modules/sealtun, with its production dependencies), the unit and the docs its Documentation= names', () => {
    expect(lstatSync(join(root, PREFIX, 'bin', 'sealtun')).isSymbolicLink()).to.equal(true);
    const lib = join(root, PREFIX, 'lib', 'node_modules', 'sealtun');
    for (const dep of ['koffi', 'sodium-native', 'commander']) expect(existsSync(join(lib, 'node_modules', dep)), dep).to.equal(true);
    expect(existsSync(join(lib, 'node_modules', 'typescript')), 'no dev dependencies').to.equal(false);
    const docs = settings(unit, 'Documentation');
    expect(docs).to.have.length.above(0);
    for (const d of docs) {
      expect(d).to.match(/^file:\//);
      expect(existsSync(join(root, d.slice('file:'.length))), d).to.equal(true);
    }
  });

  it('the unit runs `sealtun up` in the foreground as Type=notify; reload and stop go through sealtun', () => {
    expect(settings(unit, 'Type')).to.deep.equal(['notify']);
    expect(settings(unit, 'ExecStart')).to.deep.equal([`${PREFIX}/bin/sealtun up /etc/sealtun/%i.conf`]);
    expect(settings(unit, 'ExecReload')).to.deep.equal([`${PREFIX}/bin/sealtun reload /etc/sealtun/%i.conf`]);
    expect(settings(unit, 'ExecStop')).to.deep.equal([`${PREFIX}/bin/sealtun down %i`]);
    expect(settings(unit, 'PIDFile'), 'a foreground service has no pid file for systemd').to.deep.equal([]);
  });

  it('passes `systemd-analyze verify` as installed, with nothing said about it', () => {
    // The targets the unit and its default dependencies name, from the host (copies, so nothing points outside the root).
    const units = join(root, 'usr', 'lib', 'systemd', 'system');
    mkdirSync(units, { recursive: true });
    for (const f of readdirSync(HOST_UNITS).filter((f) => f.endsWith('.target'))) {
      if (!lstatSync(join(HOST_UNITS, f)).isSymbolicLink()) copyFileSync(join(HOST_UNITS, f), join(units, f));
    }
    const r = spawnSync('systemd-analyze', ['verify', `--root=${root}`, join(root, UNIT.replace('@.service', '@st0.service'))], { encoding: 'utf8' });
    process.stderr.write(`      (systemd-analyze verify: exit ${r.status}${r.stderr.trim() ? `, said: ${r.stderr.trim()}` : ''})\n`);
    // verify exits 0 on unknown keys or bad values (it only warns): anything said is a failure here.
    expect(r.stderr.trim()).to.equal('');
    expect(r.status).to.equal(0);
  });

  it('`make uninstall` removes what it installed', () => {
    mustRun('make', ['--no-print-directory', 'uninstall', `DESTDIR=${root}`, `PREFIX=${PREFIX}`]);
    for (const p of ['bin/sealtun', 'lib/node_modules/sealtun', 'lib/systemd/system/sealtun@.service', 'share/doc/sealtun']) {
      expect(existsSync(join(root, PREFIX, p)), p).to.equal(false);
    }
  });
});
