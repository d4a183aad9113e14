// What a reloaded config (SIGHUP) may change in a running tunnel.
//
// The peer's Endpoint and PersistentKeepalive apply at once, without
// dropping the session or the interface. Everything else shapes the
// interface, its routes, the sockets or the keys, which the daemon set up
// as root (and may no longer be): those need `down` and `up`, and a reload
// says which ones changed instead of half-applying them.
import type { Cidr, Endpoint, TunnelConfig } from '../config/config.js';

export interface ConfigChanges {
  /** Settings that changed but only take effect after a restart. */
  needRestart: string[];
  endpoint: boolean;
  persistentKeepalive: boolean;
}

const bytesEqual = (a: Uint8Array | undefined, b: Uint8Array | undefined) =>
  a === b || (a !== undefined && b !== undefined && a.length === b.length && a.every((v, i) => v === b[i]));
const cidrsEqual = (a: Cidr[], b: Cidr[]) => a.map((c) => c.text).join() === b.map((c) => c.text).join();
const endpointText = (e: Endpoint | undefined) => (e ? `${e.host}:${e.port}` : '');

export function configChanges(old: TunnelConfig, next: TunnelConfig): ConfigChanges {
  const a = old.iface;
  const b = next.iface;
  const needRestart: string[] = [];
  const check = (name: string, same: boolean) => {
    if (!same) needRestart.push(name);
  };
  check('Name', a.name === b.name);
  check('PrivateKey', bytesEqual(a.privateKey, b.privateKey));
  check('Address', cidrsEqual(a.addresses, b.addresses));
  check('ListenPort', a.listenPort === b.listenPort);
  check('ListenAddress', a.listenAddress === b.listenAddress);
  check('Transport', a.transport === b.transport);
  check('MTU', a.mtu === b.mtu);
  check('User', a.user === b.user);
  check('KeepWarm', a.keepWarmMs === b.keepWarmMs);
  check('PublicKey', bytesEqual(old.peer.publicKey, next.peer.publicKey));
  check('PresharedKey', bytesEqual(old.peer.presharedKey, next.peer.presharedKey));
  check('AllowedIPs', cidrsEqual(old.peer.allowedIPs, next.peer.allowedIPs));
  return {
    needRestart,
    endpoint: endpointText(old.peer.endpoint) !== endpointText(next.peer.endpoint),
    persistentKeepalive: (old.peer.persistentKeepalive ?? 0) !== (next.peer.persistentKeepalive ?? 0),
  };
}
