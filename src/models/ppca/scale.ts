// The data as every PPCA fit sees them: column means exact in float64, the
// rows centred on the host before they reach a float32 device, and the checks
// of what float32 cannot fit. A raw second moment E[xxᵀ] − μμᵀ, or x·W − μ·W
// on the device, cancels catastrophically when a column's offset is large next
// to its spread (a constant column of 1e30 gave a closed form 17.8 nats off).
import { DataError, printable } from '../../data/dataset.ts';
import type { Backend, Tensor } from '../../backend.ts';
import { DeviceRows } from '../rows.ts';
import { sampleMean, type DeviceData, type HostData } from './model.ts';

export interface ColumnStats {
  mu: Float64Array;
  /** centred variance (1/n)Σ(x−μ)², float64 */
  variance: Float64Array;
  /** max |x − μ| */
  spread: Float64Array;
}

/** Means, centred variances and spreads of every column (two passes, float64). */
export function columnStats(data: HostData): ColumnStats {
  const { host, n, D } = data;
  const mu = sampleMean(data);
  const variance = new Float64Array(D);
  const spread = new Float64Array(D);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < D; j++) {
      const r = host[i * D + j]! - mu[j]!;
      variance[j]! += r * r;
      if (Math.abs(r) > spread[j]!) spread[j] = Math.abs(r);
    }
  }
  for (let j = 0; j < D; j++) variance[j]! /= n;
  return { mu, variance, spread };
}

/** x − μ per entry in float64, rounded once to float32, times `scale` (a power of two: exact). */
export function centredHost(data: HostData, mu: ArrayLike<number>, scale = 1, rowsOut = data.n): Float32Array {
  const { host, n, D } = data;
  const out = new Float32Array(rowsOut * D);
  for (let i = 0; i < n; i++) for (let j = 0; j < D; j++) out[i * D + j] = (host[i * D + j]! - mu[j]!) * scale;
  return out;
}

/**
 * The centred rows on the backend, in as many buffers as the raw data use (or one
 * storage binding's worth each; rows.ts DeviceRows), so minibatches gather part by part.
 */
export function centreData(b: Backend, data: DeviceData, mu: ArrayLike<number>, scale = 1): { data: HostData; rows: DeviceRows } {
  const host = centredHost(data, mu, scale);
  const rows = new DeviceRows(b, host, data.n, data.D, `centred:${data.name}`, data.parts?.[0]?.rows);
  return { data: { name: data.name, n: data.n, D: data.D, host }, rows };
}

/** "columns 3, 7 and 9" (1-based, the first few), as the data file numbers them. */
export function columnList(cols: number[], max = 5): string {
  const shown = cols.slice(0, max).map((c) => String(c + 1));
  const more = cols.length > max ? ` and ${cols.length - max} more` : '';
  if (cols.length === 1) return `column ${shown[0]}`;
  if (more) return `columns ${shown.join(', ')}${more}`;
  return `columns ${shown.slice(0, -1).join(', ')} and ${shown.at(-1)}`;
}

function fmt(v: number): string {
  return Math.abs(v) >= 1e4 || (v !== 0 && Math.abs(v) < 1e-3) ? v.toExponential(1) : String(Number(v.toPrecision(3)));
}

/**
 * Largest distance from the column mean (max |x − μ|) the float32 fits take:
 * they scale the data to unit spread (internalScale), but the exact
 * log-likelihood of the result forms (x − μ)·W in float32, which grows with the
 * square of the spread, and a model file's W is checked against the same 1e12
 * (file.ts PPCA_FILE_LIMITS; |W_rj| ≤ the column's standard deviation).
 */
export const MAX_SPREAD = 1e12;
/**
 * Largest ratio of a column's variance to the mean variance of the others that
 * the float32 fits resolve: the log-likelihood's float32 error is ~1e-7 of the
 * largest eigenvalue over σ², and one column 100× the others in spread (1e4 in
 * variance) left EM 3.5e-2 nats per sample short of the float64 closed form
 * (30×: within 3e-5), and broke it at 300×.
 */
export const MAX_DOMINANCE = 1e4;

export interface ScaleReport {
  stats: ColumnStats;
  /** columns whose values are all equal */
  constant: number[];
  /** one-line notices for the user (constant columns) */
  notices: string[];
}

/**
 * Checks up front that a float32 fit of PPCA with latent dimension d can
 * resolve the data: throws a DataError naming the column(s) and what to do for
 * columns whose spread overflows float32 or whose variances differ by more than
 * float32 resolves; constant columns are fine (their residual is exactly 0
 * after centring; the ML fit gives them no loading and σ² is the mean over
 * every column, theirs included) and get a notice.
 */
export function checkDataScale(data: HostData, d: number, stats = columnStats(data)): ScaleReport {
  const name = printable(data.name ?? 'data');
  const { variance, spread } = stats;
  const D = variance.length;
  const constant: number[] = [];
  const varying: number[] = [];
  for (let j = 0; j < D; j++) (variance[j]! > 0 ? varying : constant).push(j);
  if (varying.length <= d) {
    throw new DataError(`${name}: only ${varying.length} of ${D} columns vary (${constant.length} are constant), so ${d} latent dimensions leave no noise to fit; use a latent dimension below ${varying.length} or drop the constant columns`);
  }
  const huge = varying.filter((j) => spread[j]! > MAX_SPREAD);
  if (huge.length) {
    const j = huge.reduce((a, b) => (spread[b]! > spread[a]! ? b : a));
    throw new DataError(`${name}: ${columnList(huge)} ${huge.length === 1 ? 'has values' : 'have values'} up to ${fmt(spread[j]!)} from the column mean, beyond what the float32 fits handle (${fmt(MAX_SPREAD)}); standardise the data (or rescale or drop ${huge.length === 1 ? 'that column' : 'those columns'})`);
  }
  let trace = 0;
  for (const j of varying) trace += variance[j]!;
  const dominance = (j: number): number => (variance[j]! * (D - 1)) / (trace - variance[j]!);
  const big = varying.filter((j) => dominance(j) > MAX_DOMINANCE);
  if (big.length) {
    const j = big[0]!;
    throw new DataError(`${name}: ${columnList(big)} ${big.length === 1 ? 'varies' : 'vary'} far more than the rest (column ${j + 1}: variance ${fmt(variance[j]!)}, ${fmt(dominance(j))}× the mean of the other columns), more than float32 fitting resolves under PPCA's single noise level; standardise the data (or rescale or drop ${big.length === 1 ? 'that column' : 'those columns'})`);
  }
  const notices: string[] = [];
  if (constant.length) {
    notices.push(`${name}: ${columnList(constant)} ${constant.length === 1 ? 'is' : 'are'} constant; PPCA gives ${constant.length === 1 ? 'it' : 'them'} no loading but counts ${constant.length === 1 ? 'it' : 'them'} in the noise σ², which lowers it — drop ${constant.length === 1 ? 'it' : 'them'} if unintended`);
  }
  return { stats, constant, notices };
}

/**
 * The power of two the float32 fits multiply the centred data by: 1 for data
 * whose RMS spread is within [1/16, 16] (their results are unchanged), else
 * about 1/RMS. Exact (float32 rounding does not depend on a power-of-two scale),
 * so EM and online EM give the same fit, undone on the result; the products of
 * the E- and M-steps, which grow with the fourth power of the scale, stay far
 * from float32 overflow; and stochastic EM's step size applies to data of unit
 * scale, where without it a 1e4 spread made steps 1e8 times too small to move
 * and a 1e-4 one diverged.
 */
export function internalScale(stats: ColumnStats): number {
  let total = 0;
  for (const v of stats.variance) total += v;
  const rms = Math.sqrt(total / stats.variance.length);
  if (!(rms > 0) || (rms >= 1 / 16 && rms <= 16)) return 1;
  return 2 ** -Math.round(Math.log2(rms));
}

/**
 * The fitted space of a float32 fit: rows centred on the host (float64, rounded
 * once) and multiplied by `scale` (internalScale), and the way back from it:
 * μ = μ'/scale + μ̂, W = W'/scale, σ² = σ²'/scale². Rows in memory use
 * CentredData; rows streamed from a source (stream.ts) only this.
 */
export class CentredSpace {
  readonly mu: Float64Array;
  readonly scale: number;
  private readonly muT: Tensor;

  constructor(protected readonly b: Backend, stats: ColumnStats) {
    this.mu = stats.mu;
    this.scale = internalScale(stats);
    this.muT = b.tensor(stats.mu.length, { label: 'ppca.sampleMean', data: Float32Array.from(this.mu) });
  }

  /** (μ − μ̂)·scale per entry (float64, rounded once): a data-space mean in the fitted space */
  toCentred(mu: ArrayLike<number>): Float32Array {
    return Float32Array.from(this.mu, (m, j) => (mu[j]! - m) * this.scale);
  }

  /** dst = src/scale + μ̂ (D values, queued): a fitted-space mean back in data space */
  restoreMean(src: Tensor, dst: Tensor): void {
    const D = this.mu.length;
    this.b.copy({ src, dst, n: D });
    if (this.scale !== 1) this.b.scale({ x: dst, n: D, alpha: 1 / this.scale });
    this.b.axpy({ x: this.muT, y: dst, n: D, alpha: 1 });
  }

  /** dst = src/scale (n values, queued): fitted-space loadings back in data space */
  restoreW(src: Tensor, dst: Tensor, n: number): void {
    this.b.copy({ src, dst, n });
    if (this.scale !== 1) this.b.scale({ x: dst, n, alpha: 1 / this.scale });
  }

  release(): void {
    this.b.release(this.muT);
  }
}

/**
 * A fitter's view of rows in memory: the fitted space (CentredSpace) and the
 * centred, scaled rows on the host and on the device.
 */
export class CentredData extends CentredSpace {
  /** the centred, scaled rows on the host */
  readonly data: HostData;
  /** the same rows on the device (gather minibatches with rows.gather) */
  readonly rows: DeviceRows;

  constructor(b: Backend, raw: DeviceData, stats: ColumnStats = columnStats(raw)) {
    super(b, stats);
    ({ data: this.data, rows: this.rows } = centreData(b, raw, this.mu, this.scale));
  }

  override release(): void {
    this.rows.release();
    super.release();
  }
}
