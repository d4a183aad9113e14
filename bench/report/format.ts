// Number formatting for tables and prose: enough digits to compare, no more.

export function fmtMbps(v: number): string {
  return v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2);
}

export function fmtMs(v: number): string {
  return v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2);
}

export function fmtRatio(v: number): string {
  return `${v.toFixed(2)}×`;
}

/** 0.02 → "2%", 0.005 → "0.5%". */
export function fmtLoss(rate: number): string {
  return `${Number((rate * 100).toFixed(2))}%`;
}

/** 0.734 → "73%". */
export function fmtPercent(share: number): string {
  return `${Math.round(share * 100)}%`;
}

export function fmtCpu(v: number): string {
  return v >= 10 ? v.toFixed(1) : v.toFixed(2);
}

export const DASH = '—';
