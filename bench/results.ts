// The shape of bench/results/<timestamp>.json: every raw run, so any table
// can be recomputed later, plus the machine and settings it came from.
import type { IperfResult } from './measure/iperf.js';
import type { PingSamples } from './measure/ping.js';
import type { LossObservation } from './netns.js';
import type { TunnelInfo } from './tunnels/types.js';
import type { MachineInfo } from './machine.js';
import type { Plan } from './matrix.js';
import type { LightPlan, LightRecord } from './light.js';
import type { PeersCase, PeersPlan } from './peers-case.js';

export interface IperfRecord {
  tunnel: string;
  lossRate: number;
  streams: number;
  round: number;
  result: IperfResult;
  /** CPU seconds of the tunnel processes (both sides) during the run; null for the bare underlay or a dead process. */
  tunnelCpuS: number | null;
  /** Busy CPU seconds of the whole host during the run (iperf3, kernel and tunnel alike). */
  hostCpuS: number;
  wallS: number;
}

export interface PingRecord {
  tunnel: string;
  lossRate: number;
  round: number;
  /** idle: nothing else running; loaded: during a 1-stream iperf3 run through the same tunnel. */
  load: 'idle' | 'loaded';
  samples: PingSamples;
}

/** The plan's figures as run, and how the impairments were made. */
export interface BenchSettings extends Pick<Plan, 'lossRates' | 'streams' | 'rounds' | 'seconds' | 'idlePings' | 'pingIntervalS'> {
  lossMethod: 'iptables' | 'netem';
  /** Where and how loss is applied, in words for the report. */
  lossWhere: string;
  /** Added round-trip delay, in words ("not applied: ..." without netem). */
  delay: string;
  congestionControl: string;
  /** The namespaces' default, used by the outer TCP connection of TCP transports. */
  outerCongestionControl?: string;
  /** The light-traffic case as run (absent: it did not run). */
  light?: LightPlan;
  /** The several-peers case as run (absent: it did not run). */
  peers?: PeersPlan;
}

export interface BenchResult {
  schema: 1;
  mode: 'quick' | 'full';
  command: string;
  startedAt: string;
  finishedAt: string;
  durationS: number;
  machine: MachineInfo;
  settings: BenchSettings;
  tunnels: TunnelInfo[];
  /** Tunnels that were planned but not measured, and why. */
  skipped: Array<{ id: string; reason: string }>;
  lossObserved: LossObservation[];
  iperf: IperfRecord[];
  pings: PingRecord[];
  /** The light-traffic case (bench/light.ts); absent in older results. */
  light?: LightRecord[];
  /** The several-peers case (bench/peers-case.ts); absent in older results. */
  peers?: PeersCase;
  notes: string[];
  /** Log tails of tunnels that failed or died, by tunnel id. */
  logs: Record<string, string>;
}
