// The package as a user installs it: `npm pack` in this checkout, then
// `npm install -g` of the tarball into a temporary prefix (not the host's),
// with install scripts off. The installed `sealtun` must print its version
// from PATH and bring a tunnel up between two namespaces on its own files.
import { expect } from 'chai';
import { mkdtempSync, readFileSync, readlinkSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { mustRun } from '../helpers/must-run.js';
import { REPO, withPair } from '../helpers/tunnel-pair.js';

const VERSION = (JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as { version: string }).version;

describe('npm pack, then npm install -g of the tarball into a temporary prefix', function () {
  this.timeout(300_000);
  // Known when the nested describe's tunnel pair is defined, before any hook runs.
  const dir = mkdtempSync(join(tmpdir(), 'sealtun-pack-'));
  const prefix = join(dir, 'prefix');
  const installed = join(prefix, 'bin', 'sealtun');
  let tarball = '';
  let install = { stdout: '', stderr: '', ms: 0 };

  before(() => {
    const pack = mustRun('npm', ['pack', '--silent', '--pack-destination', dir]);
    tarball = join(dir, pack.stdout.trim().split('\n').at(-1)!);
    install = mustRun('npm', ['install', '--global', '--prefix', prefix, '--ignore-scripts', '--prefer-offline', '--no-audit', '--no-fund', tarball]);
    process.stderr.write(`      (${tarball.slice(dir.length + 1)}: ${(statSync(tarball).size / 1024).toFixed(0)} KiB packed in ${pack.ms} ms; installed in ${install.ms} ms)\n`);
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('the tarball holds the compiled CLI, the systemd unit and the docs; no tests, benchmarks, TypeScript sources or source maps', () => {
    const files = mustRun('tar', ['-tzf', tarball]).stdout.trim().split('\n').map((f) => f.replace(/^package\//, ''));
    for (const f of ['package.json', 'bin/sealtun', 'dist/src/cli/main.js', 'dist/src/tunnel/datapath/udp-worker.js', 'contrib/systemd/sealtun@.service', 'docs/operations.md', 'README.md']) {
      expect(files, f).to.include(f);
    }
    const unwanted = files.filter((f) => /^(test|bench|src|dist\/test|dist\/bench|scripts|keys)\/|\.ts$|\.map$/.test(f));
    expect(unwanted).to.deep.equal([]);
    const pkg = JSON.parse(mustRun('tar', ['-xzOf', tarball, 'package/package.json']).stdout) as { private?: boolean };
    expect(pkg.private, 'a private package cannot be published').to.not.equal(true);
  });

  it('`sealtun --version` from PATH prints the package version', () => {
    expect(readlinkSync(installed)).to.equal('../lib/node_modules/sealtun/bin/sealtun');
    const r = mustRun('sealtun', ['--version'], { cwd: dir, env: { ...process.env, PATH: `${join(prefix, 'bin')}:${process.env['PATH']}` } });
    expect(r.stdout.trim()).to.equal(VERSION);
  });

  it('needs no install script: none is left unreviewed in this checkout, and koffi and sodium-native load from their prebuilt packages', () => {
    // koffi's only script checks that its prebuilt binary loads and builds one with cmake otherwise (package.json: allowScripts).
    const pending = mustRun('npm', ['install-scripts', 'ls']);
    expect(pending.stdout + pending.stderr).to.not.match(/koffi|sodium-native/);
    expect(install.stderr).to.not.match(/install-scripts/);
    const lib = join(prefix, 'lib', 'node_modules', 'sealtun');
    const probe = mustRun(process.execPath, ['-e', "const r = require('module').createRequire(process.argv[1] + '/'); r('koffi'); r('sodium-native'); console.log('loaded')", lib]);
    expect(probe.stdout.trim()).to.equal('loaded');
  });

  describe('the installed sealtun', () => {
    withPair({ transport: 'udp', cli: installed }, (get) => {
      it('brings a tunnel up between two namespaces (its daemons run from the prefix) and down again', async () => {
        const pair = get();
        for (const pid of pair.daemonPids()) {
          const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
          expect(argv[1], `pid ${pid}`).to.equal(join(prefix, 'lib', 'node_modules', 'sealtun', 'dist', 'src', 'cli', 'main.js'));
        }
        for (const [ns, name] of pair.ends) {
          const r = await pair.down(ns, name);
          expect(r.code, r.stderr).to.equal(0);
          expect(r.stdout.trim()).to.equal(`${name} down`);
          expect((await pair.net.run(ns, ['ip', 'link', 'show', 'dev', name])).code, `${name} is gone`).to.not.equal(0);
        }
      });
    });
  });
});
