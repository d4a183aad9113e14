// IP address and CIDR parsing for the config, on top of ipaddr.js.
//
// ipaddr.js does the address grammar (IPv6 `::` compression, embedded IPv4,
// RFC 5952 output). What is added here is policy it does not have: only the
// plain dotted-quad IPv4 form (ipaddr.js also takes `10.1`, `0x0a.0.0.1` and
// octal, which inet_pton and every other tool here reject), no IPv6 zone
// indexes (`%eth0` makes no sense inside a tunnel), a strict decimal prefix
// length, and the network/host split that AllowedIPs and Address need.
import ipaddr from 'ipaddr.js';

export type AddressFamily = 4 | 6;

export interface Cidr {
  family: AddressFamily;
  /** Canonical text: dotted quad, or RFC 5952 for IPv6. */
  address: string;
  /** 4 or 16 bytes, network order. */
  bytes: Uint8Array;
  prefix: number;
  /** `address/prefix`, e.g. "10.77.0.1/24". */
  text: string;
}

export interface IpAddress {
  family: AddressFamily;
  address: string;
  bytes: Uint8Array;
}

/**
 * The input is not a usable address or CIDR. The message says what is wrong
 * without repeating the input: callers add the input when it is safe to show.
 */
export class AddressError extends Error {
  override readonly name = 'AddressError';
}

/** IPv4-compatible IPv6 (`::a.b.c.d`, RFC 4291 §2.5.5.1, deprecated). */
const IPV4_COMPATIBLE = /^::\d+\.\d+\.\d+\.\d+$/;

/** Parses one IPv4 (dotted quad) or IPv6 address, without prefix or brackets. */
export function parseAddress(text: string): IpAddress {
  if (text === '') throw new AddressError('is empty');
  if (text.includes(':')) {
    if (text.includes('%')) {
      throw new AddressError('has a zone index (%...), which is not allowed here');
    }
    // ipaddr.js quietly turns this deprecated form into ::ffff:a.b.c.d, a
    // different address; refusing it is better than routing the wrong one.
    if (IPV4_COMPATIBLE.test(text)) {
      throw new AddressError('uses the deprecated ::a.b.c.d form; write the IPv4 address, or ::ffff:a.b.c.d');
    }
    if (!ipaddr.IPv6.isValid(text)) throw new AddressError('is not a valid IPv6 address');
    const bytes = Uint8Array.from(ipaddr.IPv6.parse(text).toByteArray());
    return { family: 6, address: formatAddress(bytes), bytes };
  }
  if (!ipaddr.IPv4.isValidFourPartDecimal(text)) {
    throw new AddressError('is not a valid IPv4 address (four decimal numbers 0-255, like 10.0.0.1) or IPv6 address');
  }
  const bytes = Uint8Array.from(ipaddr.IPv4.parse(text).toByteArray());
  return { family: 4, address: formatAddress(bytes), bytes };
}

/** Canonical text of a 4- or 16-byte address. */
export function formatAddress(bytes: Uint8Array): string {
  if (bytes.length !== 4 && bytes.length !== 16) {
    throw new AddressError(`an address is 4 or 16 bytes, got ${bytes.length}`);
  }
  const addr = ipaddr.fromByteArray(Array.from(bytes));
  return addr.kind() === 'ipv6' ? (addr as ipaddr.IPv6).toRFC5952String() : addr.toString();
}

export function formatCidr(bytes: Uint8Array, prefix: number): string {
  return `${formatAddress(bytes)}/${prefix}`;
}

export function maxPrefix(family: AddressFamily): 32 | 128 {
  return family === 4 ? 32 : 128;
}

/** A copy of `bytes` with every bit after the first `prefix` bits cleared. */
export function networkBytes(bytes: Uint8Array, prefix: number): Uint8Array {
  const out = new Uint8Array(bytes.length);
  for (let i = 0; i < bytes.length; i++) {
    const bits = Math.min(8, Math.max(0, prefix - i * 8));
    out[i] = bytes[i]! & ((0xff00 >> bits) & 0xff);
  }
  return out;
}

export interface ParseCidrOptions {
  /**
   * 'keep' keeps the host part (an interface address: 10.77.0.1/24 is the
   * address 10.77.0.1 on a /24); 'clear' normalises to the network
   * (a route: 10.77.0.5/24 becomes 10.77.0.0/24).
   */
  hostBits: 'keep' | 'clear';
}

/**
 * Parses `address/prefix`; a bare address means a single host (/32 or /128).
 */
export function parseCidr(text: string, options: ParseCidrOptions): Cidr {
  const slash = text.lastIndexOf('/');
  const addressText = slash < 0 ? text : text.slice(0, slash);
  const ip = parseAddress(addressText);
  const max = maxPrefix(ip.family);
  let prefix: number = max;
  if (slash >= 0) {
    const prefixText = text.slice(slash + 1);
    // Strict decimal: parseInt would accept "24abc" and "0x18".
    if (!/^\d{1,3}$/.test(prefixText)) {
      throw new AddressError(`has a bad prefix length; expected a number 0-${max} after "/"`);
    }
    prefix = Number(prefixText);
    if (prefix > max) {
      throw new AddressError(`has prefix length ${prefix}; IPv${ip.family} allows 0-${max}`);
    }
  }
  const bytes = options.hostBits === 'clear' ? networkBytes(ip.bytes, prefix) : ip.bytes;
  const address = options.hostBits === 'clear' ? formatAddress(bytes) : ip.address;
  return { family: ip.family, address, bytes, prefix, text: `${address}/${prefix}` };
}
