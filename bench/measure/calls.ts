// Timing a function call in a micro-benchmark: calls per second over a
// stretch of time, and the median of several such rounds.

/** Calls between clock reads, so reading the clock costs nothing measurable. */
const BATCH = 256;

/** Nanoseconds from some fixed start. */
export type Clock = () => bigint;

export const wallClock: Clock = () => process.hrtime.bigint();

/**
 * CPU time this process has used: on a host shared with other jobs, calls
 * per CPU-second stay comparable where calls per wall-second do not.
 */
export const cpuClock: Clock = () => {
  const { user, system } = process.cpuUsage();
  return BigInt(user + system) * 1000n;
};

/** Calls `fn` in batches for about `ms` milliseconds of `clock`; returns calls per second of it. */
export function rate(fn: () => void, ms: number, clock: Clock = wallClock): number {
  const start = clock();
  const limit = BigInt(ms) * 1_000_000n;
  let calls = 0;
  let elapsed = 0n;
  do {
    for (let i = 0; i < BATCH; i++) fn();
    calls += BATCH;
    elapsed = clock() - start;
  } while (elapsed < limit);
  return calls / (Number(elapsed) / 1e9);
}

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

export interface Rounds {
  runs: number;
  runMs: number;
  warmupMs: number;
  /** Default: wall time. */
  clock?: Clock;
}

/**
 * Median rates of two functions, after a warm-up of each, measured in
 * alternating rounds so that drift (another job on the host, a frequency
 * change) hits both alike.
 */
export function compareRates(a: () => void, b: () => void, rounds: Rounds): [number, number] {
  const clock = rounds.clock ?? wallClock;
  rate(a, rounds.warmupMs, clock);
  rate(b, rounds.warmupMs, clock);
  const aRates: number[] = [];
  const bRates: number[] = [];
  for (let r = 0; r < rounds.runs; r++) {
    aRates.push(rate(a, rounds.runMs, clock));
    bRates.push(rate(b, rounds.runMs, clock));
  }
  return [median(aRates), median(bRates)];
}
