// sealtun's command line. Commands only: each parses its arguments, calls
// the layer that does the work, and turns errors into one line and exit 1.
import { Command, Option } from 'commander';
import { readFileSync } from 'node:fs';
import { ConfigError } from '../config/config.js';
import { decodeKey, encodeKey, generatePresharedKey, KeyError, publicKeyOf, writeKeyPair } from '../crypto/keys.js';
import { initSodium } from '../crypto/sodium.js';
import { reloadTunnel, runDaemon, runForeground, runningTunnels, setPeer, stopTunnel, tunnelStatus, UserError } from '../daemon/daemon.js';
import { journalLines, stderrIsJournal, type Level } from '../log.js';
import { runCheck } from './check.js';
import { formatStatus } from './format-status.js';
import { parseSetArgs } from './set-args.js';

/** The installed package's version: dist/src/cli/main.js sits three levels below its package.json. */
const VERSION = (JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string }).version;

const program = new Command('sealtun')
  .description('An encrypted point-to-point IP tunnel (Noise IKpsk2 + XChaCha20-Poly1305 over UDP or TCP)')
  .version(VERSION)
  .showHelpAfterError();

program
  .command('keygen')
  .description('write PREFIX.key (private, mode 0600) and PREFIX.pub, and print the public key')
  .argument('<prefix>', 'path prefix, e.g. keys/a')
  .option('--force', 'replace an existing key')
  .action(async (prefix: string, opts: { force?: boolean }) => {
    await initSodium();
    const { publicKey } = writeKeyPair(prefix, opts.force === true);
    console.log(publicKey);
  });

program
  .command('pubkey')
  .description('read a base64 private key on stdin and print its public key')
  .action(async () => {
    await initSodium();
    const priv = decodeKey(readFileSync(0, 'utf8'), 'stdin', 'private key');
    console.log(encodeKey(publicKeyOf(priv)));
    priv.fill(0);
  });

program
  .command('genpsk')
  .description('print a fresh base64 pre-shared key')
  .action(async () => {
    await initSodium();
    console.log(encodeKey(generatePresharedKey()));
  });

program
  .command('up')
  .description('bring a tunnel up (foreground until SIGINT/SIGTERM, or --daemon)')
  .argument('<config>', 'config file')
  .option('--daemon', 'run in the background; return once the interface is configured')
  .addOption(new Option('--verbose', 'log debug events').conflicts('quiet'))
  .option('--quiet', 'log warnings and errors only')
  .option('--user <name>', 'once the interface is up, drop root and run as this user (overrides User in the config)')
  .action(async (config: string, opts: { daemon?: boolean; verbose?: boolean; quiet?: boolean; user?: string }) => {
    const level: Level = opts.verbose ? 'debug' : opts.quiet ? 'warn' : 'info';
    if (opts.daemon) {
      const d = await runDaemon(config, level, opts.user);
      console.log(`${d.name} up (pid ${d.pid}, log ${d.log})`);
    } else {
      await runForeground(config, level, opts.user);
    }
  });

program
  .command('down')
  .description('stop a running tunnel and wait until its interface is gone')
  .argument('<config|name>', 'config file or interface name')
  .action(async (target: string) => {
    const name = await stopTunnel(target);
    console.log(`${name} down`);
  });

program
  .command('reload')
  .description('apply a changed config to a running tunnel, as `wg syncconf` does: peers added, removed and changed live; refused whole if an [Interface] setting changed (that takes a restart)')
  .argument('<config|name>', 'config file (read here, as the caller: works after the daemon dropped root) or interface name (the daemon re-reads its own file, as on SIGHUP)')
  .action(async (target: string) => {
    const { name, notes } = await reloadTunnel(target);
    console.log(`${name} reloaded${notes.length === 0 ? ': nothing changed' : ''}`);
    for (const n of notes) console.log(`  ${n.replace(/^reload: /, '')}`);
  });

program
  .command('set')
  .description('change one peer of a running tunnel, as `wg set` does (the config file is not changed); adds the peer if it is new')
  .usage('<name> peer PUBLIC_KEY [remove] [endpoint HOST:PORT] [allowed-ips CIDR[,CIDR...]] [persistent-keepalive SECONDS|off] [preshared-key FILE]')
  .argument('<name>', 'interface name')
  .argument('<settings...>', 'peer PUBLIC_KEY (base64), then settings; preshared-key FILE is read here, as the caller; /dev/null removes it')
  .action(async (name: string, words: string[]) => {
    const notes = await setPeer(name, parseSetArgs(words));
    if (notes.length === 0) console.log(`${name}: nothing changed`);
    for (const n of notes) console.log(n.replace(/^(?:set|reload): /, ''));
  });

program
  .command('check')
  .description('validate a config and print what `up` would do (MTU, routes, role); touches nothing on the system')
  .argument('<config>', 'config file')
  .option('--json', 'machine-readable output')
  .action(async (config: string, opts: { json?: boolean }) => {
    process.exitCode = await runCheck(config, opts.json === true);
  });

program
  .command('status')
  .description('show running tunnels: endpoint, latest handshake, transfer, drops')
  .argument('[name]', 'interface name (default: all)')
  .option('--json', 'machine-readable output')
  .action(async (name: string | undefined, opts: { json?: boolean }) => {
    // Without a name, a socket left by a killed daemon is skipped, not fatal.
    const statuses = name
      ? [await tunnelStatus(name)]
      : (await Promise.allSettled(runningTunnels().map((n) => tunnelStatus(n))))
          .filter((r) => r.status === 'fulfilled')
          .map((r) => r.value);
    if (opts.json) console.log(JSON.stringify(name ? statuses[0] : statuses, null, 2));
    else if (statuses.length === 0) console.log('no sealtun tunnels running');
    else {
      const now = Math.floor(Date.now() / 1000);
      console.log(statuses.map((s) => formatStatus(s, now)).join('\n\n'));
    }
  });

try {
  await initSodium(); // every command that reads a config derives our public key (config.ts)
  await program.parseAsync(process.argv);
} catch (err) {
  const known = err instanceof ConfigError || err instanceof KeyError || err instanceof UserError;
  const line = `sealtun: ${known ? err.message : ((err as Error).message ?? String(err))}`;
  // Under systemd the reason a unit failed is an error in the journal, not an info line.
  process.stderr.write(stderrIsJournal() ? journalLines('error', line) : `${line}\n`);
  process.exit(1);
}
