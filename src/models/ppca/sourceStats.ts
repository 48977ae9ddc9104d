// Column statistics of a RowSource in one streamed pass (issue 14 item 4): what
// scale.ts columnStats gives for rows in memory, for rows read a slice at a time.
// Each slice's mean and centred sum of squares are exact two-pass figures over the
// slice in memory; slices are merged by Chan, Golub & LeVeque's pairwise update,
// which keeps a constant column's mean exact and its variance 0.
import type { RowSource } from '../../data/source.ts';
import type { ColumnStats } from './scale.ts';

/** Means, centred variances and spreads (max |x − μ|) of every column, float64, in one pass over the source. */
export async function sourceColumnStats(source: RowSource, sliceRows: number, onSlice?: (rowsDone: number) => void): Promise<ColumnStats> {
  const { n, D } = source;
  const mu = new Float64Array(D);
  const m2 = new Float64Array(D);
  const lo = new Float64Array(D).fill(Infinity);
  const hi = new Float64Array(D).fill(-Infinity);
  const R = Math.max(1, Math.min(sliceRows, n));
  const buf = new Float32Array(R * D);
  const sMu = new Float64Array(D);
  let seen = 0;
  for (let r0 = 0; r0 < n; r0 += R) {
    const m = Math.min(R, n - r0);
    await source.read(r0, m, buf);
    // the slice's mean shifted by its first row (scale.ts sampleMean), then its centred squares
    sMu.fill(0);
    for (let i = 1; i < m; i++) for (let j = 0; j < D; j++) sMu[j]! += buf[i * D + j]! - buf[j]!;
    for (let j = 0; j < D; j++) sMu[j] = buf[j]! + sMu[j]! / m;
    const total = seen + m;
    for (let j = 0; j < D; j++) {
      let s = 0;
      const c = sMu[j]!;
      for (let i = 0; i < m; i++) {
        const v = buf[i * D + j]!;
        s += (v - c) * (v - c);
        if (v < lo[j]!) lo[j] = v;
        if (v > hi[j]!) hi[j] = v;
      }
      const delta = c - mu[j]!;
      mu[j] = seen === 0 ? c : mu[j]! + (delta * m) / total;
      m2[j] = m2[j]! + s + (seen === 0 ? 0 : (delta * delta * seen * m) / total);
    }
    seen = total;
    onSlice?.(seen);
  }
  const variance = m2.map((v) => v / n);
  const spread = mu.map((u, j) => (n === 0 ? 0 : Math.max(hi[j]! - u, u - lo[j]!, 0)));
  return { mu, variance, spread };
}
