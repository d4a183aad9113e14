// What the bench needs from any tunnel under test: bring it up between the
// two namespaces, the address to reach through it from A, and the processes
// whose CPU time is the tunnel's cost.
import type { Underlay } from '../netns.js';

export type Software = 'sealtun' | 'openvpn' | 'wireguard-go' | 'underlay';
export type Transport = 'udp' | 'tcp' | 'none';

export interface TunnelInfo {
  id: string;
  software: Software;
  transport: Transport;
  label: string;
  version: string;
  /** MTU of the tunnel interface (null for the bare underlay). */
  innerMtu: number | null;
  /** How it was configured, in one line, for the report. */
  config: string;
  /** Said beside the name in the result tables, e.g. that a reference build lacks what the targets assume. */
  tableNote?: string;
}

export interface Tunnel {
  readonly id: string;
  readonly software: Software;
  readonly transport: Transport;
  readonly label: string;
  /** Address in namespace B that traffic from A reaches through this tunnel. */
  readonly target: string;
  /** Creates and starts both ends; resolves once a ping passes through. */
  up(): Promise<void>;
  /** Tunnel processes on both sides (their CPU time is the tunnel's cost); empty for the bare underlay. */
  pids(): number[];
  /** False once a tunnel process has exited on its own. */
  alive(): boolean;
  info(): Promise<TunnelInfo>;
  /** Last lines of each side's log, kept in the JSON when something went wrong. */
  logTail(): string;
  down(): Promise<void>;
}

export interface TunnelContext {
  net: Underlay;
  /** Private temp dir for keys, configs, logs. */
  dir: string;
  /** Short unique tag for interface names (wireguard-go's UAPI sockets are host-global). */
  tag: string;
}
