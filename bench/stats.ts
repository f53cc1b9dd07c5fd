/** Latency figures in milliseconds, nearest-rank percentiles. */
export type Latency = { count: number; p50: number; p95: number; p99: number; max: number; mean: number };

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1];
}

export function latency(samples: number[]): Latency {
  const sorted = Float64Array.from(samples).sort();
  const values = Array.from(sorted);
  const round = (n: number) => Math.round(n * 100) / 100;
  return {
    count: values.length,
    p50: round(percentile(values, 50)),
    p95: round(percentile(values, 95)),
    p99: round(percentile(values, 99)),
    max: round(values.at(-1) ?? Number.NaN),
    mean: round(values.reduce((a, b) => a + b, 0) / (values.length || 1)),
  };
}

export const perSecond = (count: number, elapsedMs: number) =>
  elapsedMs > 0 ? Math.round((count * 1000) / elapsedMs) : 0;

export const ratio = (value: number, baseline: number) =>
  baseline > 0 ? Math.round((value / baseline) * 100) / 100 : Number.NaN;

/** Least-squares slope of y over x (y units per x unit); NaN with fewer than two distinct x. */
export function slope(points: [x: number, y: number][]): number {
  const n = points.length;
  const mx = points.reduce((a, [x]) => a + x, 0) / n;
  const my = points.reduce((a, [, y]) => a + y, 0) / n;
  let sxy = 0;
  let sxx = 0;
  for (const [x, y] of points) {
    sxy += (x - mx) * (y - my);
    sxx += (x - mx) ** 2;
  }
  return sxx > 0 ? sxy / sxx : Number.NaN;
}

/** The median of the values (NaN for none). */
export const median = (values: number[]) =>
  percentile(
    [...values].sort((a, b) => a - b),
    50,
  );
