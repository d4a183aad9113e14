// What a bench run measures and in which order, and how long that takes.
// Tunnels are interleaved within each loss rate, round by round, with the
// order rotated every round: a noisy neighbour then hits all tunnels alike
// instead of whichever happened to run during the disturbance.

export type Mode = 'quick' | 'full';

export const ALL_TUNNELS = ['sealtun-udp', 'sealtun-tcp', 'openvpn-udp', 'openvpn-tcp', 'wireguard-go', 'underlay'] as const;
export type TunnelId = (typeof ALL_TUNNELS)[number];

export interface Plan {
  mode: Mode;
  tunnels: TunnelId[];
  /** Underlay loss rates, 0..1, each direction. */
  lossRates: number[];
  streams: number[];
  rounds: number;
  /** iperf3 duration per run. */
  seconds: number;
  /** Idle pings per tunnel per round. */
  idlePings: number;
  pingIntervalS: number;
}

/** About two minutes: the comparison users ask first (TCP against UDP, clean against lossy). */
export function quickPlan(): Plan {
  return {
    mode: 'quick',
    tunnels: ['sealtun-udp', 'sealtun-tcp', 'openvpn-udp', 'openvpn-tcp'],
    lossRates: [0, 0.02],
    streams: [1],
    rounds: 3,
    seconds: 3,
    idlePings: 30,
    pingIntervalS: 0.02,
  };
}

export function fullPlan(): Plan {
  return {
    mode: 'full',
    tunnels: [...ALL_TUNNELS],
    lossRates: [0, 0.005, 0.02],
    streams: [1, 4],
    rounds: 3,
    seconds: 5,
    idlePings: 50,
    pingIntervalS: 0.02,
  };
}

export type Step =
  | { kind: 'idle-ping'; lossRate: number; round: number; tunnel: TunnelId }
  | { kind: 'iperf'; lossRate: number; round: number; tunnel: TunnelId; streams: number };

/** Every measurement of a run, in execution order. */
export function steps(plan: Plan): Step[] {
  const out: Step[] = [];
  for (const lossRate of plan.lossRates) {
    for (let round = 1; round <= plan.rounds; round++) {
      const shift = (round - 1) % plan.tunnels.length;
      const order = [...plan.tunnels.slice(shift), ...plan.tunnels.slice(0, shift)];
      for (const tunnel of order) {
        out.push({ kind: 'idle-ping', lossRate, round, tunnel });
        for (const streams of plan.streams) out.push({ kind: 'iperf', lossRate, round, tunnel, streams });
      }
    }
  }
  return out;
}

/** Observed overheads on the reference machine: server start, connect, teardown. */
const IPERF_OVERHEAD_S = 1.0;
const PING_OVERHEAD_S = 0.2;
const SETUP_S: Record<TunnelId, number> = {
  'sealtun-udp': 2,
  'sealtun-tcp': 2,
  'openvpn-udp': 3,
  'openvpn-tcp': 3,
  'wireguard-go': 1.5,
  underlay: 0,
};

export function stepSeconds(step: Step, plan: Plan): number {
  return step.kind === 'iperf' ? plan.seconds + IPERF_OVERHEAD_S : plan.idlePings * plan.pingIntervalS + PING_OVERHEAD_S;
}

export function setupSeconds(plan: Plan): number {
  return 3 + plan.tunnels.reduce((s, t) => s + SETUP_S[t], 0);
}

export function estimateSeconds(plan: Plan): number {
  return setupSeconds(plan) + steps(plan).reduce((s, st) => s + stepSeconds(st, plan), 0) + plan.lossRates.length * 0.5;
}

export function describePlan(plan: Plan): string {
  const runs = steps(plan).filter((s) => s.kind === 'iperf').length;
  return (
    `${plan.mode} matrix: ${plan.tunnels.length} tunnels × ${plan.lossRates.length} loss rates (${plan.lossRates.map((l) => `${l * 100}%`).join(', ')}) × ` +
    `${plan.rounds} rounds × ${plan.streams.join('+')} stream(s), ${plan.seconds} s per iperf3 run = ${runs} runs`
  );
}

export function formatDuration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;
}
