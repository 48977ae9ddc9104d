// Closed-form maximum-likelihood PPCA (Tipping & Bishop 1999; DESIGN.md §1.1):
// the sample covariance S on the host in float64, its top d eigenpairs (eigs.ts:
// filtered subspace iteration, or the full ml-matrix eigendecomposition as the
// reference), σ² = mean of the D−d smallest eigenvalues = (tr S − Σ top d)/(D−d),
// W = U_d (Λ_d − σ²I)^½. It is `--method closed` and the reference the EM
// methods must reach; it forms the D×D matrix, which only this code does.
import { dataChunkRows, type Backend, type Tensor } from '../../backend.ts';
import { fullEigenpairs, topEigenpairs, topEigenpairsBy } from './eigs.ts';
import { LOG_2PI, checkShape, type PpcaHost } from './model.ts';
import { columnStats } from './scale.ts';

export interface ClosedFormPpca extends PpcaHost {
  /** the d largest eigenvalues of the sample covariance, largest first */
  eigenvalues: Float64Array;
  /** maximum mean log-likelihood per sample (nats), from the eigenvalues */
  loglik: number;
  /** closedFormPpcaOn: milliseconds of its three phases, of the products S·Y within the second, and their count */
  timing?: { covarianceMs: number; subspaceMs: number; rayleighRitzMs: number; productMs: number; products: number };
}

/**
 * Sample covariance (1/n)Σ(x−μ)(x−μ)ᵀ in float64 from shifted data: a column
 * whose mean is large next to its spread (μ² > SHIFT_RATIO·variance) is
 * centred, x − μ; the others keep x − 0, so zeros stay zeros and are skipped
 * (MNIST is ~80% zeros; centring its 61 columns with μ² > variance cost 1.5×),
 * and S = (1/n)Σ(x−c)(x−c)ᵀ − (μ−c)(μ−c)ᵀ loses at most ~SHIFT_RATIO ulps
 * (1e-12) where E[xxᵀ] − μμᵀ cancelled catastrophically (a constant 1e30 column).
 */
/** μ²/variance above which a column is centred before its products are summed */
const SHIFT_RATIO = 1e4;

export function sampleCovariance(data: { host: Float32Array; n: number; D: number }, mu: Float64Array, variance?: Float64Array): Float64Array {
  const { host, n, D } = data;
  const v = variance ?? columnStats(data).variance;
  const shift = Float64Array.from(mu, (m, j) => (m * m > SHIFT_RATIO * v[j]! ? m : 0));
  const rest = Float64Array.from(mu, (m, j) => m - shift[j]!);
  const S = new Float64Array(D * D);
  // each row's nonzero entries (ascending), so a row with m nonzeros costs m²/2, not m·D/2
  const idx = new Int32Array(D);
  const val = new Float64Array(D);
  for (let i = 0; i < n; i++) {
    let m = 0;
    for (let j = 0; j < D; j++) {
      const x = host[i * D + j]! - shift[j]!;
      if (x !== 0) {
        idx[m] = j;
        val[m++] = x;
      }
    }
    for (let p = 0; p < m; p++) {
      const xa = val[p]!;
      const base = idx[p]! * D;
      for (let q = p; q < m; q++) S[base + idx[q]!]! += xa * val[q]!;
    }
  }
  for (let a = 0; a < D; a++) {
    for (let b = a; b < D; b++) {
      const c = S[a * D + b]! / n - rest[a]! * rest[b]!;
      S[a * D + b] = c;
      S[b * D + a] = c;
    }
  }
  return S;
}

/** log-likelihood per sample at the ML solution: −½ [D log 2π + Σ_{j≤d} log λ_j + (D−d) log σ² + D]. */
export function mlLogLik(eigenvalues: Float64Array, D: number, d: number, sigma2: number): number {
  let logDet = (D - d) * Math.log(sigma2);
  for (let j = 0; j < d; j++) logDet += Math.log(Math.max(eigenvalues[j]!, sigma2));
  return -0.5 * (D * LOG_2PI + logDet + D);
}

/** How closedFormPpca finds the top d eigenpairs: Chebyshev-filtered subspace iteration (default) or the full eigendecomposition (the reference). */
export type ClosedFormSolver = 'fast' | 'full';

/**
 * The maximum-likelihood PPCA. S is formed on the host in float64 (sparse rows
 * cost m² for m nonzeros); its columns of zero variance, exact zeros of S, are
 * dropped; the top d eigenpairs come from `topEigenpairs` (eigs.ts), which
 * stops on a stated residual test and falls back to the full decomposition, so
 * the result equals the full float64 eigendecomposition to ~1e-8 nats; σ² = (tr S − Σ_{j≤d} λ_j)/(D − d).
 */
export function closedFormPpca(data: { name?: string; host: Float32Array; n: number; D: number }, d: number, solver: ClosedFormSolver = 'fast'): ClosedFormPpca {
  const { D } = data;
  checkShape('ppca closed form', D, d);
  const { mu, variance } = columnStats(data);
  const S = sampleCovariance(data, mu, variance);
  let trace = 0;
  for (let a = 0; a < D; a++) trace += S[a * D + a]!;
  // the columns that vary; the others are rows and columns of zeros in S (eigenvalue 0)
  const live = Int32Array.from({ length: D }, (_, a) => a).filter((a) => S[a * D + a]! > 0);
  const L = live.length;
  const Sl = new Float64Array(L * L);
  for (let p = 0; p < L; p++) for (let q = 0; q < L; q++) Sl[p * L + q] = S[live[p]! * D + live[q]!]!;
  const flat = () => new Error(`ppca closed form: ${data.name ?? 'data'} lie in a ${d}-dimensional subspace (σ² = 0); use a smaller d`);
  // no more varying columns than d: the data lie in a d-dimensional subspace
  if (d >= L) throw flat();
  let values: Float64Array;
  let vectors: Float64Array;
  if (solver === 'full') {
    const full = fullEigenpairs(Sl, L);
    values = full.values.slice(0, d);
    vectors = new Float64Array(L * d);
    for (let j = 0; j < d; j++) for (let a = 0; a < L; a++) vectors[a * d + j] = full.vectors[j * L + a]!;
  } else {
    ({ values, vectors } = topEigenpairs(Sl, L, d, { tailDim: D }));
  }
  return ppcaFromEigen(D, d, mu, trace, Float64Array.from(values, (v) => Math.max(0, v)), live, vectors, d, flat);
}

/** The ML PPCA from the top d eigenpairs of S on the `live` columns (vectors L×stride row-major, column j the j-th). */
function ppcaFromEigen(D: number, d: number, mu: Float64Array, trace: number, eigenvalues: Float64Array, live: Int32Array, vectors: Float64Array, stride: number, flat: () => Error): ClosedFormPpca {
  let top = 0;
  for (let j = 0; j < d; j++) top += eigenvalues[j]!;
  // tr S − Σ top d: the tail's sum without its eigenvalues (clamped: rounding can leave −ε)
  const sigma2 = Math.max(0, trace - top) / (D - d);
  if (!(sigma2 > 1e-15 * (trace / D))) throw flat();
  const W = new Float32Array(D * d);
  for (let j = 0; j < d; j++) {
    const s = Math.sqrt(Math.max(0, eigenvalues[j]! - sigma2));
    for (let p = 0; p < live.length; p++) W[live[p]! * d + j] = vectors[p * stride + j]! * s;
  }
  return { D, d, W, mu: Float32Array.from(mu), sigma2, eigenvalues, loglik: mlLogLik(eigenvalues, D, d, sigma2) };
}

/**
 * Float64 Rayleigh–Ritz of the exact covariance on the k vectors of Q (k×L, rows,
 * over the `live` columns), from the data: T = YᵀY/n, Y = X̃Q, each row's sum over
 * its nonzeros after the shift of sampleCovariance. Ritz values largest first;
 * vectors L×k row-major (column c the c-th Ritz vector).
 */
function rayleighRitz64(data: { host: Float32Array; n: number; D: number }, mu: Float64Array, variance: Float64Array, live: Int32Array, Q: Float64Array, k: number): { values: Float64Array; vectors: Float64Array } {
  const { host, n, D } = data;
  const L = live.length;
  const Qt = new Float64Array(L * k);
  for (let c = 0; c < k; c++) for (let p = 0; p < L; p++) Qt[p * k + c] = Q[c * L + p]!;
  // x̃ = (x − shift) − rest: shift as in sampleCovariance, so MNIST's zeros stay zeros
  const shift = Float64Array.from(live, (a) => (mu[a]! * mu[a]! > SHIFT_RATIO * variance[a]! ? mu[a]! : 0));
  const restQ = new Float64Array(k);
  for (let p = 0; p < L; p++) {
    const r = mu[live[p]!]! - shift[p]!;
    for (let c = 0; c < k; c++) restQ[c]! += r * Qt[p * k + c]!;
  }
  const T = new Float64Array(k * k);
  const y = new Float64Array(k);
  // the row's nonzeros (offset into Qt, value), taken four at a time: each pass over y serves four
  const at = new Int32Array(L + 3);
  const val = new Float64Array(L + 3);
  for (let i = 0; i < n; i++) {
    for (let c = 0; c < k; c++) y[c] = -restQ[c]!;
    const o = i * D;
    let m = 0;
    for (let p = 0; p < L; p++) {
      const x = host[o + live[p]!]! - shift[p]!;
      if (x !== 0) {
        at[m] = p * k;
        val[m++] = x;
      }
    }
    // a count that is not a multiple of four is padded with zeros
    for (let t = m; t < m + 3; t++) {
      at[t] = 0;
      val[t] = 0;
    }
    for (let t = 0; t < m; t += 4) {
      const xa = val[t]!, xb = val[t + 1]!, xc = val[t + 2]!, xd = val[t + 3]!;
      const qa = at[t]!, qb = at[t + 1]!, qc = at[t + 2]!, qd = at[t + 3]!;
      for (let c = 0; c < k; c++) y[c]! += xa * Qt[qa + c]! + xb * Qt[qb + c]! + xc * Qt[qc + c]! + xd * Qt[qd + c]!;
    }
    for (let a = 0; a < k; a++) {
      const ya = y[a]!;
      const tb = a * k;
      for (let b = a; b < k; b++) T[tb + b]! += ya * y[b]!;
    }
  }
  for (let a = 0; a < k; a++) for (let b = a; b < k; b++) T[b * k + a] = T[a * k + b] = T[a * k + b]! / n;
  const ritz = fullEigenpairs(T, k);
  const vectors = new Float64Array(L * k);
  for (let c = 0; c < k; c++) {
    for (let i = 0; i < k; i++) {
      const v = ritz.vectors[c * k + i]!;
      for (let p = 0; p < L; p++) vectors[p * k + c]! += v * Q[i * L + p]!;
    }
  }
  return { values: ritz.values, vectors };
}

/** Elements of centred data one covariance upload takes (4 MiB of float32), so a large n goes in row chunks. */
const COV_CHUNK_ELEMS = 1 << 20;
/** Rows per product when the covariance is summed chunk by chunk (WebGPU; see closedFormPpcaOn). */
const COV_SUM_ROWS = 256;

/** Options of closedFormPpcaOn. */
export interface ClosedFormOnOptions {
  /**
   * Sum the covariance's products over 256-row chunks (batched), each upload's sums read
   * back and added in float64, rather than one long product per upload accumulated on the
   * device. Default: on WebGPU (a long reduction is one narrow task there), not on the CPU.
   */
  chunkedSums?: boolean;
  /** rows per upload at most (default: 4 MiB of data, within one storage binding; LATENTGPU_CHUNK_ROWS overrides; rounded up to 256 when chunked) */
  chunkRows?: number;
}

/**
 * closedFormPpca with the heavy products on `backend` (its matmul: WebAssembly
 * SIMD on the CPU, shaders on WebGPU), equal to the float64 decomposition to
 * ~1e-8 nats. S32 = X̃ᵀX̃/n of the float32-rounded centred data (varying
 * columns only) on the backend; the filtered subspace iteration (eigs.ts)
 * multiplies by S32 there. float32 S only steers the subspace: the final
 * Rayleigh–Ritz step is float64 from the data, T = YᵀY/n with Y = X̃Q summed
 * over each row's nonzeros on the host, so the eigenvalues are float64 Ritz
 * values (lower bounds, short by ~λ·sin² of the subspace's float32 error).
 * On WebGPU the covariance is summed 256 rows at a time (`opts.chunkedSums`).
 */
export async function closedFormPpcaOn(backend: Backend, data: { name?: string; host: Float32Array; n: number; D: number }, d: number, opts: ClosedFormOnOptions = {}): Promise<ClosedFormPpca> {
  const { host, n, D } = data;
  checkShape('ppca closed form', D, d);
  const clock = [performance.now()];
  const { mu, variance } = columnStats(data);
  let trace = 0;
  for (let a = 0; a < D; a++) trace += variance[a]!;
  const live = Int32Array.from({ length: D }, (_, a) => a).filter((a) => variance[a]! > 0);
  const L = live.length;
  const flat = () => new Error(`ppca closed form: ${data.name ?? 'data'} lie in a ${d}-dimensional subspace (σ² = 0); use a smaller d`);
  if (d >= L) throw flat();
  const owned: Tensor[] = [];
  const tensor = (length: number, label: string): Tensor => {
    const t = backend.tensor(length, { label });
    owned.push(t);
    return t;
  };
  try {
    // S32 = Σ_chunks X̃_cᵀ X̃_c / n on the backend, only its blocks on and above the diagonal
    // (columns in nb groups, each stored contiguously: nb(nb+1)/2 of nb² products; 3 groups save a third)
    const nb = L >= 192 ? 3 : 1;
    const edge = Array.from({ length: nb + 1 }, (_, b) => Math.round((b * L) / nb));
    const chunked = (opts.chunkedSums ?? backend.info.backend === 'webgpu') && n > COV_SUM_ROWS;
    // rows per upload; chunked: a whole number of COV_SUM_ROWS, the last upload padded with zero rows
    const fits = Math.max(1, Math.min(n, Math.floor(COV_CHUNK_ELEMS / L), dataChunkRows(backend, L, { override: opts.chunkRows })));
    const rows = chunked ? Math.max(1, Math.floor(fits / COV_SUM_ROWS)) * COV_SUM_ROWS : fits;
    const Xb = Array.from({ length: nb }, (_, b) => tensor(rows * (edge[b + 1]! - edge[b]!), `ppca-closed:X${b}`));
    const Sb = new Map<number, Tensor>();
    const parts = new Map<number, Tensor>();
    for (let a = 0; a < nb; a++) {
      for (let b = a; b < nb; b++) {
        const size = (edge[a + 1]! - edge[a]!) * (edge[b + 1]! - edge[b]!);
        Sb.set(a * nb + b, tensor(size, `ppca-closed:S${a}${b}`));
        if (chunked) parts.set(a * nb + b, tensor((rows / COV_SUM_ROWS) * size, `ppca-closed:S${a}${b}parts`));
      }
    }
    const buf = new Float32Array(rows * L);
    const muLive = Float64Array.from(live, (a) => mu[a]!);
    // chunked: each upload's block sums read back and added here in float64 (the whole L×L)
    const S64 = chunked ? new Float64Array(L * L) : undefined;
    for (let i0 = 0; i0 < n; i0 += rows) {
      const r = Math.min(rows, n - i0);
      // rows the products take: chunked, whole chunks (the padding rows are zeros)
      const rp = chunked ? Math.ceil(r / COV_SUM_ROWS) * COV_SUM_ROWS : r;
      for (let b = 0; b < nb; b++) {
        const [lo, hi] = [edge[b]!, edge[b + 1]!];
        const w = hi - lo;
        const part = buf.subarray(0, rp * w);
        for (let i = 0; i < r; i++) {
          const o = (i0 + i) * D;
          for (let p = lo; p < hi; p++) part[i * w + p - lo] = host[o + live[p]!]! - muLive[p]!;
        }
        part.fill(0, r * w);
        backend.upload(Xb[b]!, part);
      }
      for (let a = 0; a < nb; a++) {
        for (let b = a; b < nb; b++) {
          const [ma, nn] = [edge[a + 1]! - edge[a]!, edge[b + 1]! - edge[b]!];
          const key = a * nb + b;
          if (!chunked) {
            backend.matmul({ a: Xb[a]!, b: Xb[b]!, c: Sb.get(key)!, m: ma, n: nn, k: r, transA: true, alpha: 1 / n, accumulate: i0 > 0 });
            continue;
          }
          const batch = rp / COV_SUM_ROWS;
          backend.matmul({
            a: Xb[a]!, b: Xb[b]!, c: parts.get(key)!, m: ma, n: nn, k: COV_SUM_ROWS, transA: true, alpha: 1 / n,
            batch, strideA: COV_SUM_ROWS * ma, strideB: COV_SUM_ROWS * nn, strideC: ma * nn,
          });
          backend.sumCols({ x: parts.get(key)!, out: Sb.get(key)!, rows: batch, cols: ma * nn });
        }
      }
      if (!S64) continue;
      for (let a = 0; a < nb; a++) {
        for (let b = a; b < nb; b++) {
          const blk = await backend.read(Sb.get(a * nb + b)!);
          const nn = edge[b + 1]! - edge[b]!;
          for (let p = edge[a]!; p < edge[a + 1]!; p++) {
            for (let q = edge[b]!; q < edge[b + 1]!; q++) S64[p * L + q]! += blk[(p - edge[a]!) * nn + q - edge[b]!]!;
          }
        }
      }
    }
    // the whole of S32, each block above the diagonal mirrored below it
    const full32 = new Float32Array(L * L);
    for (let a = 0; a < nb; a++) {
      for (let b = a; b < nb; b++) {
        const blk = S64 ? undefined : await backend.read(Sb.get(a * nb + b)!);
        const nn = edge[b + 1]! - edge[b]!;
        for (let p = edge[a]!; p < edge[a + 1]!; p++) {
          for (let q = edge[b]!; q < edge[b + 1]!; q++) {
            const v = blk ? blk[(p - edge[a]!) * nn + q - edge[b]!]! : S64![p * L + q]!;
            full32[p * L + q] = v;
            full32[q * L + p] = v;
          }
        }
      }
    }
    const S32 = tensor(L * L, 'ppca-closed:S');
    backend.upload(S32, full32);
    await backend.finish();
    clock.push(performance.now());
    // products S·Y: as (Y S)ᵀ-free row blocks, out (k×L) = Y (k×L) · S32 (S symmetric)
    const kMax = d + Math.max(10, Math.ceil(d / 2));
    const Yt = tensor(kMax * L, 'ppca-closed:Y');
    const Ot = tensor(kMax * L, 'ppca-closed:SY');
    const y32 = new Float32Array(kMax * L);
    let productMs = 0;
    const product = async (Y: Float64Array, k: number, out: Float64Array): Promise<void> => {
      const t0 = performance.now();
      for (let t = 0; t < k * L; t++) y32[t] = Y[t]!;
      backend.upload(Yt, y32.subarray(0, k * L));
      backend.matmul({ a: Yt, b: S32, c: Ot, m: k, n: L, k: L });
      const got = await backend.read(Ot);
      for (let t = 0; t < k * L; t++) out[t] = got[t]!;
      productMs += performance.now() - t0;
    };
    const top = await topEigenpairsBy(product, L, d, trace, { tailDim: D });
    let Q: Float64Array;
    let k: number;
    if (top === undefined) {
      // too wide a block, or no convergence: every eigenpair of S32 (in float64), then the same float64 step
      const Sh = Float64Array.from(full32);
      const full = fullEigenpairs(Sh, L);
      k = Math.min(L, d + Math.max(10, Math.ceil(d / 2)));
      Q = full.vectors.slice(0, k * L);
    } else {
      k = d;
      Q = new Float64Array(d * L);
      for (let j = 0; j < d; j++) for (let p = 0; p < L; p++) Q[j * L + p] = top.vectors[p * d + j]!;
    }
    clock.push(performance.now());
    const { values, vectors } = rayleighRitz64(data, mu, variance, live, Q, k);
    const eigenvalues = Float64Array.from(values.subarray(0, d), (v) => Math.max(0, v));
    const fit = ppcaFromEigen(D, d, mu, trace, eigenvalues, live, vectors, k, flat);
    clock.push(performance.now());
    const ms = (i: number) => Math.round(clock[i + 1]! - clock[i]!);
    return { ...fit, timing: { covarianceMs: ms(0), subspaceMs: ms(1), rayleighRitzMs: ms(2), productMs: Math.round(productMs), products: top?.matmuls ?? 0 } };
  } finally {
    for (const t of owned) backend.release(t);
  }
}
