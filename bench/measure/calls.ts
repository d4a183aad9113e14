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
 * Median rates of several functions, after a warm-up of each, measured in
 * rotating rounds (each round calls every function once) so that drift
 * (another job on the host, a frequency change) hits all alike.
 */
export function rotateRates(fns: readonly (() => void)[], rounds: Rounds): number[] {
  const clock = rounds.clock ?? wallClock;
  for (const fn of fns) rate(fn, rounds.warmupMs, clock);
  const rates: number[][] = fns.map(() => []);
  for (let r = 0; r < rounds.runs; r++) fns.forEach((fn, i) => rates[i]!.push(rate(fn, rounds.runMs, clock)));
  return rates.map(median);
}

/** rotateRates for two functions. */
export function compareRates(a: () => void, b: () => void, rounds: Rounds): [number, number] {
  const [aRate, bRate] = rotateRates([a, b], rounds);
  return [aRate!, bRate!];
}
