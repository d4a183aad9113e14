// The words after `sealtun set NAME`, as `wg set` takes them:
//   peer PUBLIC_KEY [remove] [endpoint HOST:PORT] [allowed-ips CIDR[,CIDR...]]
//   [persistent-keepalive SECONDS|off] [preshared-key FILE]
// Only their grammar is checked here; the values go through the config's
// parsers (src/daemon/peer-set.ts) once the key file is read.
import type { SetArgs } from '../daemon/peer-set.js';

export class SetUsageError extends Error {
  override readonly name = 'SetUsageError';
}

/** Each setting word and the SetArgs field its value fills. */
const VALUE_WORDS = {
  endpoint: 'endpoint',
  'allowed-ips': 'allowedIPs',
  'persistent-keepalive': 'persistentKeepalive',
  'preshared-key': 'presharedKeyFile',
} as const satisfies Record<string, keyof SetArgs>;

const USAGE = 'expected: peer PUBLIC_KEY [remove] [endpoint HOST:PORT] [allowed-ips CIDR[,CIDR...]] [persistent-keepalive SECONDS|off] [preshared-key FILE]';

export function parseSetArgs(words: readonly string[]): SetArgs {
  const [first, publicKey, ...rest] = words;
  if (first !== 'peer' || publicKey === undefined) throw new SetUsageError(`set: ${USAGE}`);
  const args: SetArgs = { publicKey, remove: false };
  const seen = new Set<string>();
  for (let i = 0; i < rest.length; i++) {
    const word = rest[i]!;
    if (seen.has(word)) throw new SetUsageError(`set: ${word} is given twice`);
    seen.add(word);
    if (word === 'remove') {
      args.remove = true;
      continue;
    }
    if (word === 'peer') throw new SetUsageError('set: one peer at a time; run set again for the next');
    if (!Object.hasOwn(VALUE_WORDS, word)) throw new SetUsageError(`set: unknown setting ${JSON.stringify(word)}; ${USAGE}`);
    const value = rest[++i];
    if (value === undefined) throw new SetUsageError(`set: ${word} needs a value`);
    args[VALUE_WORDS[word as keyof typeof VALUE_WORDS]] = value;
  }
  if (args.remove && seen.size > 1) throw new SetUsageError(`set: remove takes no other setting (${[...seen].filter((w) => w !== 'remove').join(', ')})`);
  return args;
}
