// Keys as users see them: 32 bytes in standard base64 (44 characters), the
// same encoding as WireGuard, in files or inline in a config.
import { chmodSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { sodium } from './sodium.js';

export const KEY_BYTES = 32;

export type KeyKind = 'private key' | 'public key' | 'pre-shared key';

/** A key that cannot be used; the message names where it came from and why. */
export class KeyError extends Error {
  override readonly name = 'KeyError';
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
 */
export function readKeyFile(path: string, kind: KeyKind): Uint8Array {
  let text: string;
  try {
    if (kind !== 'public key') {
      const mode = statSync(path).mode & 0o777;
      if (mode & 0o077) {
        throw new KeyError(
          `${path}: ${kind} file is readable by group or others (mode ${mode.toString(8).padStart(4, '0')}); ` +
            `run: chmod 600 ${path}`,
        );
      }
    }
    text = readFileSync(path, 'utf8');
  } catch (err) {
    if (err instanceof KeyError) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : String(err);
    throw new KeyError(`${path}: cannot read ${kind}: ${why}`);
  }
  return decodeKey(text, path, kind);
}

export interface KeyPairFiles {
  privatePath: string;
  publicPath: string;
  publicKey: string;
}

/** Writes PREFIX.key (0600) and PREFIX.pub; refuses to replace a key unless `force`. */
export function writeKeyPair(prefix: string, force: boolean): KeyPairFiles {
  const privatePath = `${prefix}.key`;
  const publicPath = `${prefix}.pub`;
  if (!force && existsSync(privatePath)) {
    throw new KeyError(`${privatePath}: already exists; use --force to replace it`);
  }
  mkdirSync(dirname(privatePath), { recursive: true, mode: 0o700 });
  const privateKey = generatePrivateKey();
  const publicKey = encodeKey(publicKeyOf(privateKey));
  writeFileSync(privatePath, encodeKey(privateKey) + '\n', { mode: 0o600 });
  chmodSync(privatePath, 0o600); // an existing file keeps its old mode on write
  writeFileSync(publicPath, publicKey + '\n', { mode: 0o644 });
  privateKey.fill(0);
  return { privatePath, publicPath, publicKey };
}
