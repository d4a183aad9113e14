// The many-peers bench's network: a server namespace in the middle and leaf
// namespaces around it (a star), each leaf joined to the server by its own
// veth pair on a TEST-NET subnet. A VPN server sees its clients arrive on
// different paths; so do these leaves. A leaf may hold extra addresses of
// its subnet, so that one process in it can send from many source addresses
// (the storm generator: the server's handshake rate limit is per address).
import { execFileSync } from 'node:child_process';
import { defer } from './cleanup.js';
import { removeNamespace } from './netns.js';

export interface Leaf {
  ns: string;
  /** The server's address on this leaf's link. */
  serverAddr: string;
  /** The leaf's first address, then its extra ones. */
  addrs: string[];
}

/** A leaf's subnet: the server is .1 of it, the leaf .2 onwards. */
export interface LeafSubnet {
  /** The subnet's first three octets, e.g. "192.0.2". */
  net24: string;
  /** Offset of the subnet in the /24 (a /28 at 16 is .16–.31). */
  base: number;
  prefix: 24 | 28;
}

/** Leaf subnets: a /24 for the storm (room for many sources), /28s of 203.0.113.0/24 for clients. */
export const STORM_SUBNET: LeafSubnet = { net24: '192.0.2', base: 0, prefix: 24 };
export function clientSubnet(k: number): LeafSubnet {
  if (k < 0 || k > 15) throw new RangeError(`client leaf ${k}: only 16 /28s in 203.0.113.0/24`);
  return { net24: '203.0.113', base: 16 * k, prefix: 28 };
}

function ip(...args: string[]): void {
  execFileSync('ip', args, { stdio: 'pipe' });
}

export class Star {
  readonly server: string;
  readonly leaves: Leaf[] = [];
  /** Namespaces made, newest last, with the undo that would remove each. */
  private readonly made: Array<{ ns: string; forget: () => void }> = [];

  private constructor(readonly tag: string) {
    this.server = `sealtun-peers-${tag}-srv`;
  }

  /** The server namespace; its removal registered first, so it runs after its leaves'. */
  static create(tag: string): Star {
    const star = new Star(tag);
    star.addNamespace(star.server);
    ip('-n', star.server, 'link', 'set', 'lo', 'up');
    return star;
  }

  /** A new leaf namespace linked to the server on `subnet`, holding `extra` more addresses. */
  addLeaf(subnet: LeafSubnet, extra = 0): Leaf {
    const k = this.leaves.length;
    const ns = `sealtun-peers-${this.tag}-l${k}`;
    const hostMax = (subnet.prefix === 24 ? 254 : 14) - 1;
    if (1 + extra > hostMax) throw new RangeError(`leaf ${k}: ${1 + extra} addresses do not fit a /${subnet.prefix}`);
    this.addNamespace(ns);
    const vs = `sp${this.tag}s${k}`;
    const vl = `sp${this.tag}l${k}`;
    ip('link', 'add', vs, 'netns', this.server, 'type', 'veth', 'peer', 'name', vl, 'netns', ns);
    const at = (host: number): string => `${subnet.net24}.${subnet.base + host}`;
    const leaf: Leaf = { ns, serverAddr: at(1), addrs: Array.from({ length: 1 + extra }, (_, i) => at(2 + i)) };
    ip('-n', this.server, 'address', 'add', `${leaf.serverAddr}/${subnet.prefix}`, 'dev', vs);
    ip('-n', this.server, 'link', 'set', vs, 'up');
    ip('-n', ns, 'link', 'set', 'lo', 'up');
    for (const a of leaf.addrs) ip('-n', ns, 'address', 'add', `${a}/${subnet.prefix}`, 'dev', vl);
    ip('-n', ns, 'link', 'set', vl, 'up');
    this.leaves.push(leaf);
    return leaf;
  }

  /** Removes every namespace (stopping what runs in them), leaves first. */
  remove(): void {
    for (let m = this.made.pop(); m; m = this.made.pop()) {
      removeNamespace(m.ns);
      m.forget();
    }
  }

  private addNamespace(ns: string): void {
    ip('netns', 'add', ns);
    this.made.push({ ns, forget: defer(`remove namespace ${ns}`, () => removeNamespace(ns)) });
  }
}
