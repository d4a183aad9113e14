// bench/install-deps.sh derives a bookworm-backports entry from the machine's
// own Debian source (it names no mirror itself). Run here in --print-entry
// mode against apt directories made in a temp dir: nothing is installed and
// the host's /etc/apt is not read.
import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const SCRIPT = fileURLToPath(new URL('../../../bench/install-deps.sh', import.meta.url));

describe('bench/install-deps.sh: the backports entry', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'sealtun-apt-'));
    mkdirSync(join(dir, 'sources.list.d'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const entry = (): string =>
    execFileSync('bash', [SCRIPT, '--print-entry'], { env: { ...process.env, BENCH_APT_DIR: dir, BENCH_CODENAME: 'bookworm' } }).toString();

  it('copies the deb822 stanza of the release (not security, not deb-src, not a disabled one) with the backports suite', () => {
    writeFileSync(
      join(dir, 'sources.list.d', 'debian.sources'),
      [
        'Types: deb-src',
        'URIs: http://src.example.invalid/debian',
        'Suites: bookworm',
        'Components: main',
        '',
        'Types: deb',
        'URIs: http://off.example.invalid/debian',
        'Suites: bookworm',
        'Components: main',
        'Enabled: no',
        '',
        'Types: deb',
        '# a comment inside the stanza',
        'URIs: http://mirror.example.invalid/debian',
        'Suites: bookworm bookworm-updates',
        'Components: main contrib',
        'Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg',
        '',
        'Types: deb',
        'URIs: http://mirror.example.invalid/debian-security',
        'Suites: bookworm-security',
        'Components: main',
        '',
      ].join('\n'),
    );
    writeFileSync(join(dir, 'sources.list.d', 'other.sources.disabled'), 'Types: deb\nURIs: http://no.example.invalid\nSuites: bookworm\nComponents: main\n');
    expect(entry()).to.equal(
      'Types: deb\nURIs: http://mirror.example.invalid/debian\nSuites: bookworm-backports\nComponents: main contrib\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n',
    );
  });

  it('copies a one-line entry of sources.list with its options and components', () => {
    writeFileSync(
      join(dir, 'sources.list'),
      '# deb http://commented.example.invalid/debian bookworm main\n' +
        'deb-src http://src.example.invalid/debian bookworm main\n' +
        'deb http://mirror.example.invalid/debian-security bookworm-security main\n' +
        'deb [arch=amd64 signed-by=/usr/share/keyrings/k.gpg] http://mirror.example.invalid/debian bookworm main non-free-firmware\n',
    );
    expect(entry()).to.equal('deb [arch=amd64 signed-by=/usr/share/keyrings/k.gpg] http://mirror.example.invalid/debian bookworm-backports main non-free-firmware\n');
  });

  it('prints nothing without a Debian source for the release', () => {
    writeFileSync(join(dir, 'sources.list'), 'deb http://mirror.example.invalid/debian trixie main\n');
    expect(entry()).to.equal('');
  });

  it('names no mirror in the script itself', () => {
    expect(readFileSync(SCRIPT, 'utf8')).not.to.match(/https?:\/\//);
  });
});
