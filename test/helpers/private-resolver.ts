// A namespace's own resolver configuration, for tests of DNS = (src/host/dns.ts)
// that must not touch the host's /etc/resolv.conf.
//
// `ip netns exec NS` runs its command in a private mount namespace where each
// /etc/netns/NS/FILE is bind-mounted over /etc/FILE. Two such files:
// - resolv.conf: a symlink to a file in the test's temp dir; the bind mount
//   follows it, so inside the namespace /etc/resolv.conf is that file;
// - resolvconf.conf: openresolv's configuration, seen only inside, telling it
//   to write that same file by its real path (openresolv keeps a backup next
//   to the file it writes, which must land in the temp dir too, not in the
//   host's /etc) and to keep its state in the temp dir, not in /run.
// The host's /etc/resolv.conf and /run/resolvconf are never written.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { TestNet } from './netns.js';

export interface PrivateResolver {
  /** The file the namespace sees as /etc/resolv.conf. */
  resolvConf: string;
  /** Its content now. */
  read(): string;
}

/**
 * Refuses to go on unless `resolvconf` is openresolv, configured by
 * /etc/resolvconf.conf (which the namespace's file can cover): Debian's
 * resolvconf ignores that file and would change the host's resolver.
 */
export function requireOpenresolv(): void {
  let version = '';
  try {
    version = execFileSync('resolvconf', ['--version'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  } catch {
    /* not installed, or not openresolv */
  }
  if (!version.startsWith('openresolv') || !existsSync('/etc/resolvconf.conf')) {
    throw new Error('these tests need openresolv (scripts/install-deps.sh installs it); another resolvconf would change the host resolver, so they do not run');
  }
}

export function privateResolver(net: TestNet, ns: string, dir: string, original: string): PrivateResolver {
  requireOpenresolv();
  const own = join(dir, 'resolver');
  mkdirSync(join(own, 'state'), { recursive: true });
  const resolvConf = join(own, 'resolv.conf');
  writeFileSync(resolvConf, original);
  net.setEtc(ns, 'resolvconf.conf', `# written by sealtun's tests (test/helpers/private-resolver.ts)\nresolv_conf=${resolvConf}\nstate_dir=${join(own, 'state')}\n`);
  symlinkSync(resolvConf, join('/etc/netns', ns, 'resolv.conf'));
  return { resolvConf, read: () => readFileSync(resolvConf, 'utf8') };
}
