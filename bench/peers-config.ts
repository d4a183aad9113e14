// Configs for a server with N peers: distinct X25519 key pairs made with the
// project's own key code (src/crypto/keys.ts), one /32 of 10.80.0.0/15 each,
// written out as a sealtun config and as a `wg setconf` file for
// wireguard-go, so both daemons carry exactly the same peers.
import { chmodSync, writeFileSync } from 'node:fs';
import { encodeKey, generatePrivateKey, publicKeyOf } from '../src/crypto/keys.js';
import { initSodium } from '../src/crypto/sodium.js';

/** The server's inner address; peers are numbered from .2 on. */
export const SERVER_INNER = '10.80.0.1';
export const SERVER_PREFIX = 15;
/** 10.80.0.0/15 less the network, the server and the broadcast address. */
export const MAX_PEERS = 2 ** (32 - SERVER_PREFIX) - 3;

export interface KeyPair {
  privateKey: string;
  publicKey: string;
}

export interface PeerEntry extends KeyPair {
  /** The peer's inner address (its AllowedIPs on the server is this /32). */
  addr: string;
}

export interface PeerSet {
  server: KeyPair;
  peers: PeerEntry[];
}

/** The inner address of peer `i` (0-based): 10.80.0.2, 10.80.0.3, … on into 10.81.0.0/16. */
export function peerAddress(i: number): string {
  if (!Number.isInteger(i) || i < 0 || i >= MAX_PEERS) throw new RangeError(`peer ${i}: only ${MAX_PEERS} addresses in 10.80.0.0/${SERVER_PREFIX}`);
  const n = i + 2;
  return `10.${80 + (n >>> 16)}.${(n >>> 8) & 0xff}.${n & 0xff}`;
}

export async function keyPair(): Promise<KeyPair> {
  await initSodium();
  const priv = generatePrivateKey();
  const pair = { privateKey: encodeKey(priv), publicKey: encodeKey(publicKeyOf(priv)) };
  priv.fill(0);
  return pair;
}

/** A server key and `n` peers with distinct keys and addresses (10 000 take about a second). */
export async function makePeerSet(n: number): Promise<PeerSet> {
  const server = await keyPair();
  const peers: PeerEntry[] = [];
  for (let i = 0; i < n; i++) peers.push({ ...(await keyPair()), addr: peerAddress(i) });
  return { server, peers };
}

export interface ServerOptions {
  name: string;
  listenPort: number;
  /** Extra AllowedIPs per peer index (a reload changes one peer this way). */
  extraAllowed?: ReadonlyMap<number, string>;
}

/** The peer's AllowedIPs on the server. */
function allowed(p: PeerEntry, i: number, extra: ReadonlyMap<number, string> | undefined): string {
  const more = extra?.get(i);
  return more ? `${p.addr}/32, ${more}` : `${p.addr}/32`;
}

/**
 * The server's sealtun config, as short as the format allows (a config is
 * read whole and limited to 1 MiB: 10 000 peers take about 0.9 MB).
 */
export function sealtunServerConfig(set: PeerSet, opts: ServerOptions): string {
  const out = [`[Interface]\nName = ${opts.name}\nPrivateKey = ${set.server.privateKey}\nAddress = ${SERVER_INNER}/${SERVER_PREFIX}\nListenPort = ${opts.listenPort}\nTransport = udp\n`];
  set.peers.forEach((p, i) => out.push(`[Peer]\nPublicKey = ${p.publicKey}\nAllowedIPs = ${allowed(p, i, opts.extraAllowed)}\n`));
  return out.join('\n');
}

/** A client's sealtun config: the server as its one peer, reached at `endpoint`. */
export function sealtunClientConfig(set: PeerSet, i: number, name: string, endpoint: string): string {
  const p = set.peers[i]!;
  return (
    `[Interface]\nName = ${name}\nPrivateKey = ${p.privateKey}\nAddress = ${p.addr}/${SERVER_PREFIX}\nTransport = udp\n\n` +
    `[Peer]\nPublicKey = ${set.server.publicKey}\nEndpoint = ${endpoint}\nAllowedIPs = ${SERVER_INNER}/32\n`
  );
}

/** The same server for `wg setconf` (wg's own format: no Name, Address or Transport). */
export function wgServerConfig(set: PeerSet, listenPort: number): string {
  const out = [`[Interface]\nPrivateKey = ${set.server.privateKey}\nListenPort = ${listenPort}\n`];
  set.peers.forEach((p, i) => out.push(`[Peer]\nPublicKey = ${p.publicKey}\nAllowedIPs = ${allowed(p, i, undefined)}\n`));
  return out.join('\n');
}

/** Client `i` for `wg setconf`: the server as its one peer, reached at `endpoint`. */
export function wgClientConfig(set: PeerSet, i: number, endpoint: string): string {
  return `[Interface]\nPrivateKey = ${set.peers[i]!.privateKey}\n\n[Peer]\nPublicKey = ${set.server.publicKey}\nEndpoint = ${endpoint}\nAllowedIPs = ${SERVER_INNER}/32\n`;
}

/** Writes a file holding private keys: 0600, as sealtun requires of a config with inline secrets. */
export function writeSecretFile(path: string, text: string): void {
  writeFileSync(path, text, { mode: 0o600 });
  chmodSync(path, 0o600); // an existing file keeps its mode through writeFileSync
}
