// The top d eigenpairs of a symmetric positive semi-definite D×D matrix in
// float64 (DESIGN.md §1.1, "the closed form, fast"): Chebyshev-filtered
// subspace iteration on a block of k = d + p vectors with a Rayleigh–Ritz step
// after every filter. Each filter is a polynomial in S that damps [0, θ_k]
// (θ_k the smallest Ritz value, an estimate of the unwanted spectrum) and grows
// everything above it, so a pass gains what several plain passes would. It stops
// when every wanted Ritz pair has a small residual ‖S u − θ u‖ (stated below),
// never after a fixed count; a block that does not converge falls back to the
// full eigendecomposition, so the result is always the float64 answer.
import { EigenvalueDecomposition, Matrix } from 'ml-matrix';

export interface TopEigenpairs {
  /** the d largest eigenvalues, largest first */
  values: Float64Array;
  /** their eigenvectors, D×d row-major (column j is the j-th eigenvector) */
  vectors: Float64Array;
  /** filter passes taken (0 when the full eigendecomposition was used) */
  passes: number;
  /** max_j ‖S u_j − θ_j u_j‖ of the returned pairs */
  residual: number;
  /** products S·(block of k vectors) computed */
  matmuls: number;
}

export interface TopEigOptions {
  /**
   * Converged when ½ Σ_{j≤d} ‖S u_j − θ_j u_j‖² / ((θ_j − θ_k) σ̂²) ≤ tol, with θ_k
   * the smallest Ritz value and σ̂² = (tr S − Σ_{j≤d} θ_j)/(D − d): r²/(θ − θ_k)
   * estimates how far a Ritz value lies below its eigenvalue, and the PPCA
   * log-likelihood moves by about ½ Σ δλ_j / σ², so this is its shortfall in
   * nats per sample (default 1e-8, far below the 1e-6 it must reach).
   */
  tol?: number;
  /** most filter passes before falling back to the full eigendecomposition (default 40) */
  maxPasses?: number;
  /** the dimension σ̂² averages the unwanted eigenvalues over, when S is a block of a larger matrix whose other entries are 0 (default D) */
  tailDim?: number;
  /** block vectors beyond d (default max(10, d/2)) */
  oversample?: number;
  /** seed of the starting block (default 1) */
  seed?: number;
}

/**
 * S·q_j for each of the k vectors q_j (stored k×D, each contiguous): dot products
 * with the rows of S, two rows by two vectors at a time (each load serves two
 * products, about 2.4× a plain loop in V8).
 */
function symTimes(S: Float64Array, Q: Float64Array, D: number, k: number, out: Float64Array): void {
  let j = 0;
  for (; j + 1 < k; j += 2) {
    const qa = j * D;
    const qb = qa + D;
    for (let i = 0; i < D; i += 2) {
      const s0 = i * D;
      // an odd last row pairs with itself (its sums are written twice)
      const s1 = i + 1 < D ? s0 + D : s0;
      let a00 = 0;
      let a01 = 0;
      let a10 = 0;
      let a11 = 0;
      for (let q = 0; q < D; q++) {
        const x0 = S[s0 + q]!;
        const x1 = S[s1 + q]!;
        const y0 = Q[qa + q]!;
        const y1 = Q[qb + q]!;
        a00 += x0 * y0;
        a01 += x0 * y1;
        a10 += x1 * y0;
        a11 += x1 * y1;
      }
      out[qa + i] = a00;
      out[qb + i] = a01;
      if (i + 1 < D) {
        out[qa + i + 1] = a10;
        out[qb + i + 1] = a11;
      }
    }
  }
  for (; j < k; j++) for (let i = 0; i < D; i++) out[j * D + i] = dot(S, i * D, Q, j * D, D);
}

/** Σ_a x[xo + a]·y[yo + a] over a < D. */
function dot(x: Float64Array, xo: number, y: Float64Array, yo: number, D: number): number {
  let s = 0;
  for (let a = 0; a < D; a++) s += x[xo + a]! * y[yo + a]!;
  return s;
}

/**
 * Orthonormalise vectors from..k−1 of Y (k×D) in place against all before them:
 * modified Gram–Schmidt, repeated for a vector whose norm fell below 1/√2 of what it
 * was (the Daniel–Gragg–Kaufman–Stewart test: without such cancellation one pass is
 * already orthogonal to working precision; with it, a second pass is).
 */
function orthonormalise(Y: Float64Array, D: number, k: number, seed: { s: number }, from = 0): void {
  for (let j = from; j < k; j++) {
    const jb = j * D;
    let before = Math.sqrt(dot(Y, jb, Y, jb, D));
    let nrm = 0;
    for (let pass = 0; pass < 3; pass++) {
      for (let i = 0; i < j; i++) {
        const ib = i * D;
        const c = dot(Y, ib, Y, jb, D);
        for (let a = 0; a < D; a++) Y[jb + a]! -= c * Y[ib + a]!;
      }
      nrm = Math.sqrt(dot(Y, jb, Y, jb, D));
      if (nrm >= Math.SQRT1_2 * before) break;
      before = nrm;
    }
    if (!(nrm > 1e-150)) {
      // a vector that collapsed (S of rank < k): restart it at random and orthogonalise it again
      for (let a = 0; a < D; a++) Y[jb + a] = gauss(seed);
      j--;
      continue;
    }
    for (let a = 0; a < D; a++) Y[jb + a]! /= nrm;
  }
}

/** A standard normal from a small deterministic generator (the starting block must not depend on Math.random). */
function gauss(seed: { s: number }): number {
  const u = () => {
    seed.s = (seed.s + 0x6d2b79f5) | 0;
    let t = seed.s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (((t ^ (t >>> 14)) >>> 0) + 0.5) / 4294967296;
  };
  return Math.sqrt(-2 * Math.log(u())) * Math.cos(2 * Math.PI * u());
}

/** Eigenpairs of a symmetric k×k matrix, largest first, by ml-matrix in float64; vectors k×k with eigenvector c in row c. */
function symEig(T: Float64Array, k: number): { values: Float64Array; vectors: Float64Array } {
  const rows = Array.from({ length: k }, (_, a) => Array.from({ length: k }, (_, b) => 0.5 * (T[a * k + b]! + T[b * k + a]!)));
  const evd = new EigenvalueDecomposition(new Matrix(rows), { assumeSymmetric: true });
  const vals = evd.realEigenvalues;
  const V = evd.eigenvectorMatrix;
  const order = vals.map((_, i) => i).sort((i, j) => vals[j]! - vals[i]!);
  const vectors = new Float64Array(k * k);
  for (let c = 0; c < k; c++) for (let a = 0; a < k; a++) vectors[c * k + a] = V.get(a, order[c]!);
  return { values: Float64Array.from(order, (i) => vals[i]!), vectors };
}

/** Every eigenpair by the full float64 eigendecomposition (ml-matrix): the reference, and the fallback; eigenvector c is row c of vectors. */
export function fullEigenpairs(S: Float64Array, D: number): { values: Float64Array; vectors: Float64Array } {
  return symEig(S, D);
}

/** Rows of V (k×k) combine the k vectors of Q (k×D): out_c = Σ_i V[c][i] q_i. */
function rotate(Q: Float64Array, V: Float64Array, D: number, k: number): Float64Array {
  const out = new Float64Array(k * D);
  for (let c = 0; c < k; c++) {
    for (let i = 0; i < k; i++) {
      const v = V[c * k + i]!;
      for (let a = 0; a < D; a++) out[c * D + a]! += v * Q[i * D + a]!;
    }
  }
  return out;
}

/** The first d of the vectors in Q (rows of k×D) as the columns of a D×d row-major matrix. */
function columns(Q: Float64Array, D: number, d: number): Float64Array {
  const out = new Float64Array(D * d);
  for (let j = 0; j < d; j++) for (let a = 0; a < D; a++) out[a * d + j] = Q[j * D + a]!;
  return out;
}

function fromFull(S: Float64Array, D: number, d: number): TopEigenpairs {
  const { values, vectors } = fullEigenpairs(S, D);
  return { values: values.slice(0, d), vectors: columns(vectors, D, d), passes: 0, residual: 0, matmuls: 0 };
}

/** A product the iteration asks for: out = S·y_j for the `k` vectors y_j, rows of Y (k×D). */
export interface ProductRequest {
  Y: Float64Array;
  out: Float64Array;
  k: number;
}

/** The block width the iteration uses for d wanted pairs, or 0 when the full decomposition is cheaper (2k ≥ D). */
export function blockWidth(D: number, d: number, opts: TopEigOptions = {}): number {
  // oversampling: the filter damps below θ_k, so a wider block separates λ_d from the cut
  const k = d + (opts.oversample ?? Math.max(10, Math.ceil(d / 2)));
  return 2 * k >= D ? 0 : k;
}

/** The d largest eigenpairs of the symmetric PSD matrix S (D×D, row-major, float64). */
export function topEigenpairs(S: Float64Array, D: number, d: number, opts: TopEigOptions = {}): TopEigenpairs {
  if (blockWidth(D, d, opts) === 0) return fromFull(S, D, d);
  let trace = 0;
  for (let i = 0; i < D; i++) trace += S[i * D + i]!;
  const it = subspaceIteration(D, d, trace, opts);
  for (let r = it.next(); ; r = it.next()) {
    if (r.done) return r.value ?? fromFull(S, D, d);
    symTimes(S, r.value.Y, D, r.value.k, r.value.out);
  }
}

/**
 * topEigenpairs with the products S·Y computed by `product` (on a backend, say),
 * S known only through them and its trace; undefined where the block did not
 * converge in maxPasses or is too wide (the caller falls back to a full decomposition).
 */
export async function topEigenpairsBy(
  product: (Y: Float64Array, k: number, out: Float64Array) => Promise<void>,
  D: number, d: number, trace: number, opts: TopEigOptions = {},
): Promise<TopEigenpairs | undefined> {
  if (blockWidth(D, d, opts) === 0) return undefined;
  const it = subspaceIteration(D, d, trace, opts);
  for (let r = it.next(); ; r = it.next()) {
    if (r.done) return r.value;
    await product(r.value.Y, r.value.k, r.value.out);
  }
}

/** The iteration itself, yielding each product it needs; returns undefined where it did not converge. */
function* subspaceIteration(D: number, d: number, trace: number, opts: TopEigOptions): Generator<ProductRequest, TopEigenpairs | undefined, void> {
  const tol = opts.tol ?? 1e-8;
  const maxPasses = opts.maxPasses ?? 40;
  const k = blockWidth(D, d, opts);
  const seed = { s: opts.seed ?? 1 };
  const Q: Float64Array = Float64Array.from({ length: k * D }, () => gauss(seed));
  const SQ: Float64Array = new Float64Array(k * D);
  // two plain power steps first, so the first Ritz values (and the filter's cut) mean something
  yield { Y: Q, out: SQ, k };
  yield { Y: SQ, out: Q, k };
  orthonormalise(Q, D, k, seed);
  yield { Y: Q, out: SQ, k };
  let matmuls = 3;
  // the leading nl Ritz pairs are locked: converged, no longer filtered nor re-solved
  let nl = 0;
  const theta = new Float64Array(k);
  // per pair: r²/(θ − θ_k), its share of the shortfall, and ‖S u − θ u‖
  const term = new Float64Array(d);
  const resid = new Float64Array(d);
  for (let pass = 1; pass <= maxPasses; pass++) {
    // Rayleigh–Ritz on the active block: T = Qᵀ S Q; rotate Q and SQ onto its Ritz vectors
    const ka = k - nl;
    const off = nl * D;
    const T = new Float64Array(ka * ka);
    for (let i = 0; i < ka; i++) for (let j = i; j < ka; j++) T[i * ka + j] = T[j * ka + i] = dot(Q, off + i * D, SQ, off + j * D, D);
    const ritz = symEig(T, ka);
    theta.set(ritz.values, nl);
    Q.set(rotate(Q.subarray(off), ritz.vectors, D, ka), off);
    SQ.set(rotate(SQ.subarray(off), ritz.vectors, D, ka), off);
    // the convergence test: ½ Σ_j r_j² / ((θ_j − θ_k) σ̂²) estimates the log-likelihood's shortfall (nats)
    const cut = Math.max(theta[k - 1]!, 0);
    let tail = trace;
    for (let j = 0; j < d; j++) tail -= theta[j]!;
    const sigma2 = tail / ((opts.tailDim ?? D) - d);
    for (let j = nl; j < d; j++) {
      let r2 = 0;
      for (let a = 0; a < D; a++) r2 += (SQ[j * D + a]! - theta[j]! * Q[j * D + a]!) ** 2;
      resid[j] = Math.sqrt(r2);
      term[j] = theta[j]! > cut ? r2 / (theta[j]! - cut) : Infinity;
    }
    let bound = 0;
    for (let j = 0; j < d; j++) bound += term[j]!;
    bound /= 2 * sigma2;
    if (sigma2 > 0 && bound <= tol) {
      return { values: theta.slice(0, d), vectors: columns(Q, D, d), passes: pass, residual: Math.max(...resid), matmuls };
    }
    // lock the leading pairs already within their share (tol/d) of the budget
    if (sigma2 > 0) while (nl < d - 1 && term[nl]! / (2 * sigma2) <= tol / d) nl++;
    // Chebyshev filter of degree m damping [0, cut]: x = (λ − c)/e maps it onto [−1, 1]
    const c = cut / 2;
    const e = Math.max(cut / 2, 1e-300);
    const growth = (lam: number) => {
      const x = Math.max((lam - c) / e, 1);
      return Math.log(x + Math.sqrt(x * x - 1));
    };
    // the degree: enough for the shortfall (which falls about as T_m(x_d)⁻²) to drop below tol/10,
    // but no more than keeps the largest active pair's growth within 1e8 of λ_d's (a well-conditioned block)
    const g = growth(theta[d - 1]!);
    const spread = growth(theta[nl]!) - g;
    const want = g > 0 ? Math.ceil(Math.log((40 * bound) / tol) / (2 * g)) : 10;
    const m = Math.max(1, Math.min(10, want, spread > 0 ? Math.floor(Math.log(1e8) / spread) : 10));
    // on the active vectors: Y₁ = (S − c)Q/e;  Y_{i+1} = 2(S − c)Y_i/e − Y_{i−1}  (SQ already holds S·Q)
    const ka2 = k - nl;
    const off2 = nl * D;
    const n = ka2 * D;
    const Qa = Q.subarray(off2);
    const SQa = SQ.subarray(off2);
    let prev: Float64Array = Qa.slice();
    let cur: Float64Array = new Float64Array(n);
    for (let t = 0; t < n; t++) cur[t] = (SQa[t]! - c * Qa[t]!) / e;
    for (let i = 2; i <= m; i++) {
      yield { Y: cur, out: SQa, k: ka2 };
      matmuls++;
      const next = prev;
      for (let t = 0; t < n; t++) next[t] = (2 * (SQa[t]! - c * cur[t]!)) / e - prev[t]!;
      prev = cur;
      cur = next;
    }
    Qa.set(cur);
    orthonormalise(Q, D, k, seed, nl);
    yield { Y: Qa, out: SQa, k: ka2 };
    matmuls++;
  }
  return undefined;
}

/**
 * Every eigenvalue of a symmetric D×D matrix (float64), largest first, without
 * eigenvectors: Householder reduction to tridiagonal form (≈ 2D³/3 multiply-adds,
 * backward stable: errors ~ε‖S‖ like a full decomposition's), then each eigenvalue
 * by bisection on Sturm counts (O(D) per step, to the last bit). A fraction of a
 * full decomposition's time, for what needs the whole spectrum but no vectors
 * (the sweep's σ²_d and Minka's evidence).
 */
export function symmetricEigenvalues(S: Float64Array, D: number): Float64Array {
  const { diag, off } = tridiagonal(S, D);
  // Gershgorin bounds of the tridiagonal matrix
  let lo = Infinity;
  let hi = -Infinity;
  for (let i = 0; i < D; i++) {
    const r = (i > 0 ? Math.abs(off[i - 1]!) : 0) + (i < D - 1 ? Math.abs(off[i]!) : 0);
    lo = Math.min(lo, diag[i]! - r);
    hi = Math.max(hi, diag[i]! + r);
  }
  const scale = Math.max(Math.abs(lo), Math.abs(hi), Number.MIN_VALUE);
  const pivotFloor = Number.EPSILON * scale * 1e-3;
  const off2 = Float64Array.from(off, (e) => e * e);
  /** how many eigenvalues are below x (the negative pivots of LDLᵀ of T − xI) */
  const below = (x: number): number => {
    let count = 0;
    let q = 1;
    for (let i = 0; i < D; i++) {
      q = diag[i]! - x - (i > 0 ? off2[i - 1]! / q : 0);
      // a zero pivot is moved off zero (the count stays that of a nearby x)
      if (Math.abs(q) < pivotFloor) q = -pivotFloor;
      if (q < 0) count++;
    }
    return count;
  };
  const values = new Float64Array(D);
  for (let j = 0; j < D; j++) {
    // the eigenvalue with exactly D − 1 − j below it: values[j] is the (j+1)-th largest
    const k = D - 1 - j;
    let a = lo;
    let b = hi;
    for (let it = 0; it < 200; it++) {
      const m = 0.5 * (a + b);
      if (m <= a || m >= b) break;
      if (below(m) > k) b = m;
      else a = m;
    }
    values[j] = 0.5 * (a + b);
  }
  return values;
}

/** Householder reduction of symmetric S (D×D, row-major; not modified) to tridiagonal T = QᵀSQ: its diagonal and subdiagonal. */
function tridiagonal(S: Float64Array, D: number): { diag: Float64Array; off: Float64Array } {
  const A = Float64Array.from(S);
  const off = new Float64Array(Math.max(0, D - 1));
  const v = new Float64Array(D);
  const p = new Float64Array(D);
  for (let k = 0; k + 2 < D; k++) {
    // the reflector H = I − β v vᵀ that maps A[k+1.., k] onto a multiple of the first unit vector
    let norm2 = 0;
    for (let i = k + 1; i < D; i++) norm2 += A[i * D + k]! * A[i * D + k]!;
    const x0 = A[(k + 1) * D + k]!;
    const alpha = x0 >= 0 ? -Math.sqrt(norm2) : Math.sqrt(norm2);
    off[k] = norm2 === 0 ? 0 : alpha;
    if (norm2 === 0) continue;
    for (let i = k + 1; i < D; i++) v[i] = A[i * D + k]!;
    v[k + 1]! -= alpha;
    let vv = 0;
    for (let i = k + 1; i < D; i++) vv += v[i]! * v[i]!;
    if (vv === 0) continue;
    const beta = 2 / vv;
    // p = β B v over the trailing block B (lower triangle read: B is symmetric)
    for (let i = k + 1; i < D; i++) p[i] = 0;
    for (let i = k + 1; i < D; i++) {
      const row = i * D;
      let s = A[row + i]! * v[i]!;
      const vi = v[i]!;
      for (let j = k + 1; j < i; j++) {
        const aij = A[row + j]!;
        s += aij * v[j]!;
        p[j]! += aij * vi;
      }
      p[i]! += s;
    }
    let vp = 0;
    for (let i = k + 1; i < D; i++) {
      p[i]! *= beta;
      vp += v[i]! * p[i]!;
    }
    // q = p − (β vᵀp / 2) v;  B ← B − v qᵀ − q vᵀ (lower triangle)
    const K = (beta * vp) / 2;
    for (let i = k + 1; i < D; i++) p[i]! -= K * v[i]!;
    for (let i = k + 1; i < D; i++) {
      const row = i * D;
      const vi = v[i]!;
      const qi = p[i]!;
      for (let j = k + 1; j <= i; j++) A[row + j]! -= vi * p[j]! + qi * v[j]!;
    }
  }
  if (D >= 2) off[D - 2] = A[(D - 1) * D + D - 2]!;
  const diag = Float64Array.from({ length: D }, (_, i) => A[i * D + i]!);
  return { diag, off };
}
