// A listener (no Endpoint in its config) remembers where its peer last
// authenticated from, in the run directory, so that after a restart it can
// start the handshake itself instead of waiting, silent as it must be to
// unauthenticated traffic, for the peer's 15 s "no reply" timer (WireGuard's
// wg-quick keeps the same memory with SaveConfig). Best effort: a daemon that
// dropped root may not be able to update it, and a stale address only costs
// a few unanswered initiations.
import { readFileSync, writeFileSync } from 'node:fs';

export interface EndpointMemory {
  path: string;
  /** The peer's public key: a memory from a config for another peer is ignored. */
  peer: string;
}

export function remember(memory: EndpointMemory, sockaddr: Uint8Array): void {
  try {
    writeFileSync(memory.path, JSON.stringify({ peer: memory.peer, sockaddr: Buffer.from(sockaddr).toString('hex') }) + '\n', { mode: 0o600 });
  } catch {
    /* read-only run directory (privileges dropped): keep the old memory */
  }
}

export function recall(memory: EndpointMemory): Uint8Array | null {
  try {
    const v = JSON.parse(readFileSync(memory.path, 'utf8')) as { peer?: unknown; sockaddr?: unknown };
    if (v.peer !== memory.peer || typeof v.sockaddr !== 'string' || !/^([0-9a-f]{2}){16,28}$/.test(v.sockaddr)) return null;
    return new Uint8Array(Buffer.from(v.sockaddr, 'hex'));
  } catch {
    return null;
  }
}
