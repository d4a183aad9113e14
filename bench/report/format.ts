// Number formatting for tables and prose: enough digits to compare, no more.

/** Three significant digits at most; thresholds sit below 100 and 10 so 99.97 prints as "100", not "100.0". */
function threeDigits(v: number): string {
  return v >= 99.95 ? v.toFixed(0) : v >= 9.995 ? v.toFixed(1) : v.toFixed(2);
}

export function fmtMbps(v: number): string {
  return threeDigits(v);
}

export function fmtMs(v: number): string {
  return threeDigits(v);
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
