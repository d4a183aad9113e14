// Order statistics for small samples (a handful of runs, a few hundred pings).

export interface Spread {
  median: number;
  min: number;
  max: number;
  n: number;
}

function sorted(values: readonly number[]): number[] {
  if (values.length === 0) throw new Error('statistics of an empty sample');
  return [...values].sort((a, b) => a - b);
}

/** Median; the mean of the middle two for an even count. */
export function median(values: readonly number[]): number {
  const s = sorted(values);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/** Nearest-rank percentile, q in (0, 1]: a value that was actually observed. */
export function percentile(values: readonly number[], q: number): number {
  const s = sorted(values);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))]!;
}

export function mean(values: readonly number[]): number {
  if (values.length === 0) throw new Error('statistics of an empty sample');
  return values.reduce((a, b) => a + b, 0) / values.length;
}

/** Median and range, or null for no values. */
export function spread(values: readonly number[]): Spread | null {
  if (values.length === 0) return null;
  const s = sorted(values);
  return { median: median(s), min: s[0]!, max: s[s.length - 1]!, n: s.length };
}
