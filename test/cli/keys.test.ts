// The key commands as users run them: the real CLI in a child process.
import { expect } from 'chai';
import { execFile } from 'node:child_process';
import { chmodSync, lstatSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SEALTUN } from '../helpers/tunnel-pair.js';

interface Out {
  code: number;
  stdout: string;
  stderr: string;
}

function sealtun(args: string[], input?: string): Promise<Out> {
  return new Promise((resolve) => {
    const child = execFile(process.execPath, [SEALTUN, ...args], (err, stdout, stderr) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
    child.stdin!.end(input ?? '');
  });
}

const KEY = /^[A-Za-z0-9+/]{43}=$/;

describe('sealtun keygen / pubkey / genpsk', function () {
  this.timeout(20_000);
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'sealtun-keys-'))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('keygen writes a 0600 private key and the public key, creating the directory', async () => {
    const prefix = join(dir, 'sub', 'a');
    const r = await sealtun(['keygen', prefix]);
    expect(r.code, r.stderr).to.equal(0);
    const pub = r.stdout.trim();
    expect(pub).to.match(KEY);
    expect(statSync(`${prefix}.key`).mode & 0o777).to.equal(0o600);
    expect(readFileSync(`${prefix}.pub`, 'utf8').trim()).to.equal(pub);
    const derived = await sealtun(['pubkey'], readFileSync(`${prefix}.key`, 'utf8'));
    expect(derived.stdout.trim()).to.equal(pub);
  });

  it('keygen refuses to overwrite a key unless --force', async () => {
    const prefix = join(dir, 'a');
    await sealtun(['keygen', prefix]);
    const first = readFileSync(`${prefix}.key`, 'utf8');
    const again = await sealtun(['keygen', prefix]);
    expect(again.code).to.equal(1);
    expect(again.stderr).to.include('a.key').and.include('--force');
    expect(readFileSync(`${prefix}.key`, 'utf8')).to.equal(first);
    const forced = await sealtun(['keygen', '--force', prefix]);
    expect(forced.code).to.equal(0);
    expect(readFileSync(`${prefix}.key`, 'utf8')).to.not.equal(first);
  });

  it("keygen without --force leaves an existing .pub alone (it may be a peer's key) and writes nothing", async () => {
    const prefix = join(dir, 'peer');
    const peerKey = 'HIgo9xNzJMWLKASShiTqIybxZ0U3wGLiUeJ1PKf8ykw=\n';
    writeFileSync(`${prefix}.pub`, peerKey, { mode: 0o644 });
    const r = await sealtun(['keygen', prefix]);
    expect(r.code).to.equal(1);
    expect(r.stderr).to.include('peer.pub: already exists (a file); use --force');
    expect(readFileSync(`${prefix}.pub`, 'utf8')).to.equal(peerKey);
    expect(readdirSync(dir), 'no .key written either').to.deep.equal(['peer.pub']);
    const forced = await sealtun(['keygen', '--force', prefix]);
    expect(forced.code, forced.stderr).to.equal(0);
    expect(readFileSync(`${prefix}.pub`, 'utf8').trim()).to.equal(forced.stdout.trim());
  });

  describe('keygen --force on a planted symlink', () => {
    // Someone who can write to the key directory plants PREFIX.key -> a file
    // of theirs (or of root's): keygen must not write through the link.
    let victim: string;
    const before = 'precious contents\n';
    beforeEach(() => {
      victim = join(dir, 'victim');
      writeFileSync(victim, before, { mode: 0o644 });
      symlinkSync(victim, join(dir, 'a.key'));
    });

    it('replaces the link with a new 0600 key file; the file it pointed to is untouched', async () => {
      const r = await sealtun(['keygen', '--force', join(dir, 'a')]);
      expect(r.code, r.stderr).to.equal(0);
      expect(readFileSync(victim, 'utf8')).to.equal(before);
      expect(statSync(victim).mode & 0o777).to.equal(0o644);
      const st = lstatSync(join(dir, 'a.key'));
      expect(st.isFile(), 'a regular file, no longer a link').to.equal(true);
      expect(st.mode & 0o777).to.equal(0o600);
      const derived = await sealtun(['pubkey'], readFileSync(join(dir, 'a.key'), 'utf8'));
      expect(derived.stdout.trim()).to.equal(r.stdout.trim());
      expect(readdirSync(dir).filter((f) => f.endsWith('.tmp')), 'no temporary file left').to.deep.equal([]);
    });

    it('without --force refuses the link, even a dangling one, and leaves it as it was', async () => {
      const r = await sealtun(['keygen', join(dir, 'a')]);
      expect(r.code).to.equal(1);
      expect(r.stderr).to.include('a.key: already exists (a symlink); use --force');
      rmSync(victim);
      const dangling = await sealtun(['keygen', join(dir, 'a')]);
      expect(dangling.code).to.equal(1);
      expect(readlinkSync(join(dir, 'a.key'))).to.equal(victim);
      expect(() => statSync(victim), 'nothing created through the link').to.throw();
    });
  });

  it('keygen under umask 077 still writes a 0644 public key and a 0600 private key', async () => {
    const prefix = join(dir, 'u');
    const r = await new Promise<Out>((resolve) => {
      execFile('sh', ['-c', 'umask 077 && exec "$0" "$@"', process.execPath, SEALTUN, 'keygen', prefix], (err, stdout, stderr) =>
        resolve({ code: err ? 1 : 0, stdout, stderr }),
      );
    });
    expect(r.code, r.stderr).to.equal(0);
    expect(statSync(`${prefix}.pub`).mode & 0o777).to.equal(0o644);
    expect(statSync(`${prefix}.key`).mode & 0o777).to.equal(0o600);
  });

  it('pubkey matches a known X25519 pair (RFC 7748 §6.1)', async () => {
    const priv = Buffer.from('77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a', 'hex').toString('base64');
    const pub = Buffer.from('8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a', 'hex').toString('base64');
    const r = await sealtun(['pubkey'], priv + '\n');
    expect(r.stdout.trim()).to.equal(pub);
  });

  it('pubkey rejects malformed input with the reason', async () => {
    const r = await sealtun(['pubkey'], 'not a key');
    expect(r.code).to.equal(1);
    expect(r.stderr).to.match(/stdin: private key is not base64/);
    const short = await sealtun(['pubkey'], Buffer.alloc(16).toString('base64'));
    expect(short.stderr).to.match(/must be 32 bytes/);
  });

  it('genpsk prints a fresh 32-byte key each time', async () => {
    const a = (await sealtun(['genpsk'])).stdout.trim();
    const b = (await sealtun(['genpsk'])).stdout.trim();
    expect(a).to.match(KEY);
    expect(Buffer.from(a, 'base64')).to.have.length(32);
    expect(a).to.not.equal(b);
  });

  it('a group- or world-readable private key is refused with the chmod fix', async () => {
    const prefix = join(dir, 'a');
    await sealtun(['keygen', prefix]);
    await sealtun(['keygen', join(dir, 'b')]);
    chmodSync(`${prefix}.key`, 0o644);
    const conf = join(dir, 'a.conf');
    writeFileSync(conf, '[Interface]\nName = stx0\nPrivateKey = a.key\nAddress = 10.9.0.1/24\nListenPort = 5555\n\n[Peer]\nPublicKey = b.pub\nAllowedIPs = 10.9.0.2/32\n');
    const r = await sealtun(['up', conf]);
    expect(r.code).to.equal(1);
    expect(r.stderr).to.include(`${prefix}.key`).and.include(`chmod 600 ${prefix}.key`);
  });

  it('a PublicKey file others may not read (a 0640 .key) is refused by name and mode, its contents never printed', async () => {
    await sealtun(['keygen', join(dir, 'a')]);
    await sealtun(['keygen', join(dir, 'b')]);
    chmodSync(join(dir, 'b.key'), 0o640);
    const secret = readFileSync(join(dir, 'b.key'), 'utf8').trim();
    const conf = join(dir, 'a.conf');
    writeFileSync(conf, '[Interface]\nName = stx0\nPrivateKey = a.key\nAddress = 10.9.0.1/24\nListenPort = 5555\n\n[Peer]\nPublicKey = b.key\nAllowedIPs = 10.9.0.2/32\n', { mode: 0o600 });
    for (const args of [['check', conf], ['check', '--json', conf], ['up', conf]]) {
      const r = await sealtun(args);
      expect(r.code, args.join(' ')).to.equal(1);
      expect(r.stderr).to.include(`${conf}:8: PublicKey: ${join(dir, 'b.key')}: public key file is not readable by others (mode 0640)`);
      expect(r.stdout + r.stderr, 'the secret is not shown').to.not.include(secret.slice(0, 43));
    }
  });
});
