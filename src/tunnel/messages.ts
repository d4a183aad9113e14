// Every sealtun message on the wire: types, layouts and sizes, plus the parts
// of the handshake messages that are not Noise (TAI64N timestamps, mac1/mac2).
// WireGuard-shaped (Donenfeld, "WireGuard", §5.4); integers are little-endian
// unless said otherwise. Each message starts with a type byte and 3 zero bytes.
//
//   MESSAGE_INITIATION (1), 152 bytes          MESSAGE_RESPONSE (2), 96 bytes
//     0  type, 3 reserved                        0  type, 3 reserved
//     4  sender index u32                        4  sender index u32
//     8  unencrypted_ephemeral 32                8  receiver index u32
//    40  encrypted_static 32+16                 12  unencrypted_ephemeral 32
//    88  encrypted_payload 16+16                44  encrypted_features 4+16
//   120  mac1 16                                64  mac1 16
//   136  mac2 16                                80  mac2 16
//
// The initiation's payload is a TAI64N timestamp (12) ‖ features u32 LE (4);
// the response's is features u32 LE. Features are what the sender's data path
// can receive (FEATURE_* below); both sides use a feature only when the other
// announced it, so the negotiation is authenticated by the handshake itself.
//
//   MESSAGE_COOKIE_REPLY (3), 64 bytes — see cookie.ts
//     0  type, 3 reserved
//     4  receiver index u32
//     8  nonce 24
//    32  encrypted_cookie 16+16
//
//   MESSAGE_DATA (4): see src/crypto/data-packet.ts
//
// Between the indices and mac1 of the first two lies exactly the Noise
// handshake message (IKpsk2 message 1 = 112 bytes, message 2 = 52 bytes).
import { sodium } from '../crypto/sodium.js';

export { DATA_HEADER_BYTES, DATA_OVERHEAD, MESSAGE_DATA } from '../crypto/data-packet.js';

export const MESSAGE_INITIATION = 1;
export const MESSAGE_RESPONSE = 2;
export const MESSAGE_COOKIE_REPLY = 3;

/** One field of a message: where it starts and how many bytes it has. */
export interface Field {
  readonly offset: number;
  readonly length: number;
}

/** Lays fields out back to back, so offsets follow from sizes and cannot disagree with them. */
function layout<const Name extends string>(
  size: number,
  ...fields: readonly (readonly [Name, number])[]
): { readonly [K in Name]: Field } {
  const out = {} as Record<Name, Field>;
  let offset = 0;
  for (const [name, length] of fields) {
    out[name] = Object.freeze({ offset, length });
    offset += length;
  }
  // The documented size is stated separately; a mismatch is a bug caught at load time.
  if (offset !== size) throw new Error(`message layout is ${offset} bytes, documented as ${size}`);
  return Object.freeze(out);
}

/** AEAD tag appended to each encrypted field. */
const TAG = 16;
const KEY = 32;
/** TAI64N: 8-byte big-endian TAI64 label (2^62 + seconds) ‖ 4-byte big-endian nanoseconds. */
export const TAI64N_BYTES = 12;
/** mac1 and mac2 are 16 bytes each. */
export const MAC_BYTES = 16;
const COOKIE_NONCE = 24;
const COOKIE = 16;

/** Feature bits, u32 LE. */
export const FEATURES_BYTES = 4;
/**
 * The sender's TCP data path takes whole GSO super-packets, each preceded by
 * a 10-byte virtio_net_hdr (its TUN has IFF_VNET_HDR): the peer may then read
 * TSO packets of up to ~64 KB from its own TUN and send them unsegmented.
 */
export const FEATURE_VNET_HDR = 1 << 0;
/**
 * The sender's UDP data path delivers packets whose TCP or UDP checksum is
 * partial (data-packet.ts DATA_FLAG_CSUM_PARTIAL) with NEEDS_CSUM: the peer
 * may then leave the checksums of the TSO segments it cuts unfinished.
 */
export const FEATURE_CSUM_PARTIAL = 1 << 1;
/** Initiation payload: TAI64N ‖ features. */
export const INITIATION_PAYLOAD_BYTES = TAI64N_BYTES + FEATURES_BYTES;

export const MESSAGE_INITIATION_BYTES = 152;
export const INITIATION = layout(
  MESSAGE_INITIATION_BYTES,
  ['type', 1],
  ['reserved', 3],
  ['senderIndex', 4],
  ['unencryptedEphemeral', KEY],
  ['encryptedStatic', KEY + TAG],
  ['encryptedPayload', INITIATION_PAYLOAD_BYTES + TAG],
  ['mac1', MAC_BYTES],
  ['mac2', MAC_BYTES],
);

export const MESSAGE_RESPONSE_BYTES = 96;
export const RESPONSE = layout(
  MESSAGE_RESPONSE_BYTES,
  ['type', 1],
  ['reserved', 3],
  ['senderIndex', 4],
  ['receiverIndex', 4],
  ['unencryptedEphemeral', KEY],
  ['encryptedFeatures', FEATURES_BYTES + TAG],
  ['mac1', MAC_BYTES],
  ['mac2', MAC_BYTES],
);

export const MESSAGE_COOKIE_REPLY_BYTES = 64;
export const COOKIE_REPLY = layout(
  MESSAGE_COOKIE_REPLY_BYTES,
  ['type', 1],
  ['reserved', 3],
  ['receiverIndex', 4],
  ['nonce', COOKIE_NONCE],
  ['encryptedCookie', COOKIE + TAG],
);

/** The bytes that Noise reads and writes: from the ephemeral up to mac1. */
export const INITIATION_NOISE: Field = span(INITIATION.unencryptedEphemeral, INITIATION.mac1);
export const RESPONSE_NOISE: Field = span(RESPONSE.unencryptedEphemeral, RESPONSE.mac1);

function span(first: Field, next: Field): Field {
  return Object.freeze({ offset: first.offset, length: next.offset - first.offset });
}

export function slice(msg: Uint8Array, field: Field): Uint8Array {
  return msg.subarray(field.offset, field.offset + field.length);
}

/** Type byte and the 3 reserved zero bytes (together: the type as a u32 LE, as WireGuard reads it). */
export function writeType(msg: Uint8Array, type: number): void {
  msg[0] = type;
  msg[1] = msg[2] = msg[3] = 0;
}

export function hasType(msg: Uint8Array, type: number): boolean {
  return msg.length >= 4 && msg[0] === type && msg[1] === 0 && msg[2] === 0 && msg[3] === 0;
}

export function writeU32(msg: Uint8Array, field: Field, value: number): void {
  new DataView(msg.buffer, msg.byteOffset, msg.byteLength).setUint32(field.offset, value, true);
}

export function readU32(msg: Uint8Array, field: Field): number {
  return new DataView(msg.buffer, msg.byteOffset, msg.byteLength).getUint32(field.offset, true);
}

// ---- payloads: features, TAI64N timestamps ------------------------------------

export function encodeFeatures(features: number): Uint8Array {
  const out = new Uint8Array(FEATURES_BYTES);
  new DataView(out.buffer).setUint32(0, features >>> 0, true);
  return out;
}

export function decodeFeatures(bytes: Uint8Array, offset = 0): number {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(offset, true);
}

/** TAI64 labels count seconds from 2^62 (WireGuard, like it, ignores the TAI−UTC offset). */
const TAI64_EPOCH = 2n ** 62n;
const NS_PER_SECOND = 1_000_000_000n;

/** The TAI64N encoding of a time given in nanoseconds since the Unix epoch. */
export function tai64n(unixNanoseconds: bigint): Uint8Array {
  if (unixNanoseconds < 0n) throw new RangeError('time before 1970');
  const out = new Uint8Array(TAI64N_BYTES);
  const view = new DataView(out.buffer);
  view.setBigUint64(0, TAI64_EPOCH + unixNanoseconds / NS_PER_SECOND, false);
  view.setUint32(8, Number(unixNanoseconds % NS_PER_SECOND), false);
  return out;
}

/**
 * Orders two TAI64N timestamps: both fields are big-endian, so byte order is
 * time order. Not constant-time; timestamps are not secret once decrypted.
 */
export function compareTai64n(a: Uint8Array, b: Uint8Array): number {
  for (let i = 0; i < TAI64N_BYTES; i++) {
    if (a[i] !== b[i]) return a[i]! - b[i]!;
  }
  return 0;
}

// ---- mac1 / mac2 -----------------------------------------------------------

const MAC1_LABEL = new TextEncoder().encode('mac1----');
/** BLAKE2b-256: the mac1 key length. */
const MAC1_KEY_BYTES = 32;

/**
 * mac1's key: BLAKE2b-256("mac1----" ‖ responder's static public key). Anyone
 * who knows the public key can compute it; its point is to let a responder
 * drop messages from scanners that do not, before spending a DH on them.
 */
export function mac1Key(receiverStaticPublic: Uint8Array): Uint8Array {
  const input = new Uint8Array(MAC1_LABEL.length + receiverStaticPublic.length);
  input.set(MAC1_LABEL);
  input.set(receiverStaticPublic, MAC1_LABEL.length);
  return sodium().crypto_generichash(MAC1_KEY_BYTES, input, null);
}

/** mac1 = keyed BLAKE2b, 16-byte output, over every byte before the mac1 field. */
function computeMac1(msg: Uint8Array, mac1: Field, key: Uint8Array): Uint8Array {
  return sodium().crypto_generichash(MAC_BYTES, msg.subarray(0, mac1.offset), key);
}

export function writeMac1(msg: Uint8Array, mac1: Field, key: Uint8Array): void {
  msg.set(computeMac1(msg, mac1, key), mac1.offset);
}

/** Constant-time check of mac1 (so timing reveals nothing about the expected value). */
export function verifyMac1(msg: Uint8Array, mac1: Field, key: Uint8Array): boolean {
  return sodium().memcmp(computeMac1(msg, mac1, key), slice(msg, mac1));
}

/**
 * mac2: keyed BLAKE2b-128 with the latest cookie from the peer over every
 * byte before mac2, or zeros when there is none. Handshake writes zeros; the
 * peer's CookieJar (cookie.ts) restamps it when it holds a fresh cookie.
 */
export function writeMac2(msg: Uint8Array, mac2: Field, cookie: Uint8Array | null): void {
  if (cookie === null) {
    slice(msg, mac2).fill(0);
    return;
  }
  msg.set(sodium().crypto_generichash(MAC_BYTES, msg.subarray(0, mac2.offset), cookie), mac2.offset);
}
