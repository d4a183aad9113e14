// Keys as users see them: 32 bytes in standard base64 (44 characters), the
// same encoding as WireGuard, in files or inline in a config.
import { randomBytes } from 'node:crypto';
import {
  closeSync,
  constants,
  fchmodSync,
  fsyncSync,
  linkSync,
  lstatSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  unlinkSync,
  writeSync,
} from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { sodium } from './sodium.js';

export const KEY_BYTES = 32;

export type KeyKind = 'private key' | 'public key' | 'pre-shared key';

/** A key that cannot be used; the message names where it came from and why. */
export class KeyError extends Error {
  override readonly name = 'KeyError';
  constructor(
    message: string,
    /** The errno code when the file could not be read (e.g. EACCES). */
    readonly errno?: string,
  ) {
    super(message);
  }
}

const BASE64_KEY = /^[A-Za-z0-9+/]{42}[AEIMQUYcgkosw048]=$/;

export function encodeKey(key: Uint8Array): string {
  if (key.length !== KEY_BYTES) throw new KeyError(`a key is ${KEY_BYTES} bytes, got ${key.length}`);
  return Buffer.from(key.buffer, key.byteOffset, key.length).toString('base64');
}

/** Decodes a base64 key; `source` names where the text came from, for the error. */
export function decodeKey(text: string, source: string, kind: KeyKind): Uint8Array {
  const trimmed = text.trim();
  if (trimmed.length === 0) throw new KeyError(`${source}: ${kind} is empty`);
  if (!BASE64_KEY.test(trimmed)) {
    const raw = /^[A-Za-z0-9+/]*={0,2}$/.test(trimmed) ? Buffer.from(trimmed, 'base64') : null;
    if (raw === null) throw new KeyError(`${source}: ${kind} is not base64`);
    if (raw.length === KEY_BYTES) throw new KeyError(`${source}: ${kind} is not canonical base64 (its last character carries stray bits)`);
    throw new KeyError(`${source}: ${kind} must be ${KEY_BYTES} bytes (44 base64 characters), got ${raw.length} bytes`);
  }
  return new Uint8Array(Buffer.from(trimmed, 'base64'));
}

/** A fresh X25519 private key, clamped as RFC 7748 §5 describes. */
export function generatePrivateKey(): Uint8Array {
  const key = sodium().randombytes_buf(KEY_BYTES);
  key[0]! &= 248;
  key[31]! = (key[31]! & 127) | 64;
  return key;
}

export function publicKeyOf(privateKey: Uint8Array): Uint8Array {
  return sodium().crypto_scalarmult_base(privateKey);
}

export function generatePresharedKey(): Uint8Array {
  return sodium().randombytes_buf(KEY_BYTES);
}

/**
 * Reads a key file. Secrets (private and pre-shared keys) must not be readable
 * by group or others: such a file is refused, with the fix in the message.
 * A public key has nothing to hide, so its file is readable by others
 * (keygen writes .pub files 0644); one that others may not read (0600, or a
 * 0640 kept for a group) looks like a secret and is refused, so that a
 * PublicKey naming a private key file never puts that key where `check`,
 * `status` and logs show public keys. The message names the file and its
 * mode, never what it holds.
 */
export function readKeyFile(path: string, kind: KeyKind): Uint8Array {
  let text: string;
  try {
    const mode = statSync(path).mode & 0o777;
    const octal = mode.toString(8).padStart(4, '0');
    if (kind !== 'public key' && mode & 0o077) {
      throw new KeyError(`${path}: ${kind} file is readable by group or others (mode ${octal}); run: chmod 600 ${path}`);
    }
    if (kind === 'public key' && (mode & 0o004) === 0) {
      throw new KeyError(
        `${path}: public key file is not readable by others (mode ${octal}), as secret key files are not; ` +
          "refused so that a private key is never taken for the peer's public key (and shown); " +
          `name the peer's .pub file, or if this is one, run: chmod 644 ${path}`,
      );
    }
    text = readFileSync(path, 'utf8');
  } catch (err) {
    if (err instanceof KeyError) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : String(err);
    throw new KeyError(`${path}: cannot read ${kind}: ${why}`, code);
  }
  return decodeKey(text, path, kind);
}

/**
 * The X25519 public keys of small order (RFC 7748 §7; the list libsodium
 * refuses), little-endian u-coordinates. X25519 ignores the top bit (§5), so
 * each also stands for itself with bit 255 set. A peer key among them makes
 * every Diffie-Hellman result all zeros: no secret at all.
 */
const SMALL_ORDER_POINTS: ReadonlyArray<readonly [hex: string, what: string]> = [
  ['0000000000000000000000000000000000000000000000000000000000000000', 'the all-zero key (order 4)'],
  ['0100000000000000000000000000000000000000000000000000000000000000', 'the point u = 1 (order 1)'],
  ['e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800', 'a point of order 8'],
  ['5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157', 'a point of order 8'],
  ['ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f', 'the point u = p - 1 (order 2)'],
  ['edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f', 'the point u = p, i.e. 0 (order 4)'],
  ['eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f', 'the point u = p + 1, i.e. 1 (order 1)'],
];

/** Which small-order point `key` is (see SMALL_ORDER_POINTS), or null for a usable public key. */
export function smallOrderPoint(key: Uint8Array): string | null {
  const masked = Uint8Array.from(key);
  masked[31]! &= 0x7f;
  const hex = Buffer.from(masked).toString('hex');
  return SMALL_ORDER_POINTS.find(([h]) => h === hex)?.[1] ?? null;
}

/** Refuses a peer public key that can give no shared secret; `source` names where it came from. */
export function checkPeerPublicKey(key: Uint8Array, source: string): Uint8Array {
  const point = smallOrderPoint(key);
  if (point !== null) {
    throw new KeyError(`${source}: public key is ${point}: every key agreement with it gives zero, so it cannot be a real peer's key`);
  }
  return key;
}

export interface KeyPairFiles {
  privatePath: string;
  publicPath: string;
  publicKey: string;
}

/**
 * Writes PREFIX.key (0600) and PREFIX.pub (0644); refuses to replace either
 * unless `force` (a .pub may be a peer's key, copied there by hand). Each file is written whole to a fresh temporary file in the
 * same directory (O_EXCL|O_NOFOLLOW, so no file or link planted there is
 * opened) and then put in place by rename (with `force`) or link (without:
 * fails if the name exists). Either way the name ends up a regular file:
 * a symlink at PREFIX.key is replaced (with --force) or refused, never
 * followed, so the file it points to is left as it was.
 */
export function writeKeyPair(prefix: string, force: boolean): KeyPairFiles {
  const privatePath = `${prefix}.key`;
  const publicPath = `${prefix}.pub`;
  if (!force) {
    refuseExisting(privatePath);
    refuseExisting(publicPath);
  }
  mkdirSync(dirname(privatePath), { recursive: true, mode: 0o700 });
  const privateKey = generatePrivateKey();
  const publicKey = encodeKey(publicKeyOf(privateKey));
  try {
    placeFile(privatePath, encodeKey(privateKey) + '\n', 0o600, force);
  } finally {
    privateKey.fill(0);
  }
  placeFile(publicPath, publicKey + '\n', 0o644, force);
  return { privatePath, publicPath, publicKey };
}

/** lstat, so that a symlink (even one pointing nowhere) counts as existing. */
function refuseExisting(path: string): void {
  let kind: string;
  try {
    kind = lstatSync(path).isSymbolicLink() ? 'a symlink' : 'a file';
  } catch {
    return;
  }
  throw new KeyError(`${path}: already exists (${kind}); use --force to replace it`);
}

/** Writes `text` to a new temporary file beside `path`, then moves it to `path` atomically. */
function placeFile(path: string, text: string, mode: number, replace: boolean): void {
  const tmp = join(dirname(path), `.${basename(path)}.${randomBytes(6).toString('hex')}.tmp`);
  const fd = openSync(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, mode);
  try {
    try {
      fchmodSync(fd, mode); // the umask may have narrowed it (a 0600 .pub is refused as a public key)
      writeSync(fd, text);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    if (replace) {
      renameSync(tmp, path);
    } else {
      linkSync(tmp, path); // EEXIST if a file or link appeared since refuseExisting()
      unlinkSync(tmp);
    }
  } catch (err) {
    rmSync(tmp, { force: true });
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') throw new KeyError(`${path}: already exists; use --force to replace it`);
    throw err;
  }
}
