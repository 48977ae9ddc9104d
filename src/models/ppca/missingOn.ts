// PPCA with missing values on a backend (DESIGN.md §1.7): the EM of missing.ts
// with its O(n·D·d²) sums done by the backend's matmul. With mask m (n×D, 1 where
// observed), X₀ the data centred by the observed column means μ₀ (float64 on the
// host) with missing entries 0, δ = μ − μ₀ and w_j the rows of W:
//   E-step  m·[w_a w_b (a ≤ b) | δ∘W | δ²]  gives M_i − σ²I, Σ_O δ_j w_j and Σ_O δ_j²,
//           X₀·[W | δ]                      gives Σ_O x_j w_j and Σ_O x_j δ_j,
//   M-step  mᵀ·(upper triangles of ⟨z̃ z̃ᵀ⟩_i)  and  X₀ᵀ·[E_i, 1]  give each column's
//           (d+1)×(d+1) system.
// The per-row d×d Cholesky solves and the per-column (d+1)×(d+1) solves run on
// the host in float64: d³/3 per row against the product's D·d²/2 per row, so at
// d ≤ 50 they are the smaller part (docs/missing-results.md), and float64 keeps
// the log-determinants exact.
import type { Backend, Tensor } from '../../backend.ts';
import { dataChunkRows } from '../../backend.ts';
import { closedFormPpcaOn } from './closed.ts';
import { LOG_2PI, checkShape } from './model.ts';
import { checkMissing, observedMeans, solveSpd, startFromMeans, type MissingData, type MissingFitOptions, type MissingFitResult, type PpcaParams } from './missing.ts';

/** Options of fitPpcaMissingOn: those of the host fit, and the rows per device buffer. */
export interface MissingOnOptions extends MissingFitOptions {
  /** rows per device buffer (default: as many as one storage binding holds; LATENTGPU_CHUNK_ROWS overrides) */
  chunkRows?: number;
}

/** fitPpcaMissingOn's result: the host fit's fields and where the time went. */
export interface MissingOnResult extends MissingFitResult {
  /** milliseconds in all of the E-steps' products and readbacks, their host solves, and the M-steps */
  timing: { productMs: number; rowSolveMs: number; mStepMs: number };
}

/** Pairs (a, b), a ≤ b, of a k×k symmetric matrix in row order of its upper triangle. */
function upperPairs(k: number): { a: Int32Array; b: Int32Array } {
  const a: number[] = [];
  const b: number[] = [];
  for (let p = 0; p < k; p++) for (let q = p; q < k; q++) { a.push(p); b.push(q); }
  return { a: Int32Array.from(a), b: Int32Array.from(b) };
}

/**
 * One block of rows on the device: the centred data with missing entries 0, and the mask,
 * padded with zero rows to `chunks` × `chunk` rows (the M-step sums chunk by chunk).
 */
interface Block {
  r0: number;
  rows: number;
  chunk: number;
  chunks: number;
  x0: Tensor;
  mask: Tensor;
  /** E-step outputs (rows × w1, rows × w2) and M-step inputs (padded rows × wz, × w2) */
  out1: Tensor;
  out2: Tensor;
  z: Tensor;
  e: Tensor;
  /** M-step: the chunks' products (chunks × D × wz, × w2) and their sums (D × wz, D × w2) */
  partsA?: Tensor;
  partsB?: Tensor;
  A: Tensor;
  B: Tensor;
}

/** Rows per chunk of the M-step's n-long sums: a float32 sum of 8,000 products in one accumulator carries ~n·ε, and one long product is one narrow task on a GPU. */
const SUM_CHUNK_ROWS = 256;
/** Most floats of chunk products an M-step keeps per block (64 MiB): the chunk grows past SUM_CHUNK_ROWS for wide d. */
const PARTS_BUDGET = 1 << 24;

/** The per-row results of an E-step (float64). */
interface EStep {
  ll: Float64Array;
  E: Float64Array;
}

/** The device state of missing-value EM over one data set; release() frees it. */
class MissingEngine {
  readonly n: number;
  readonly D: number;
  readonly mu0: Float64Array;
  /** Σ_{j∈O_i} (x_ij − μ₀_j)², observed entries per row, Σ_{i∋j} (x_ij − μ₀_j)² per column */
  readonly rowX2: Float64Array;
  readonly rowObs: Int32Array;
  readonly colX2: Float64Array;
  readonly observed: number;
  readonly K1: number;
  readonly K2: number;
  /** device row widths of the K1-, (d+1)- and K2-wide operands: on WebGPU rounded up to 4 (the vec4 matmul kernels), the extra columns 0 */
  readonly w1: number;
  readonly w2: number;
  readonly wz: number;
  private readonly blocks: Block[] = [];
  private readonly p1: Tensor;
  private readonly p2: Tensor;
  private readonly pairs: { a: Int32Array; b: Int32Array };
  private readonly pairs1: { a: Int32Array; b: Int32Array };
  timing = { productMs: 0, rowSolveMs: 0, mStepMs: 0 };

  /** `fit`: the data are to be fitted, so every column needs an observed entry (checkMissing) */
  constructor(readonly backend: Backend, data: MissingData, readonly d: number, fit: boolean, chunkRows?: number) {
    const { x, n, D } = data;
    this.n = n;
    this.D = D;
    if (fit) checkMissing(data);
    else checkNanOnly(data);
    this.mu0 = observedMeans(data);
    this.pairs = upperPairs(d);
    this.pairs1 = upperPairs(d + 1);
    const T = this.pairs.a.length;
    this.K1 = T + d + 1;
    this.K2 = this.pairs1.a.length;
    const pad = (w: number) => (backend.info.backend === 'webgpu' ? Math.ceil(w / 4) * 4 : w);
    this.w1 = pad(this.K1);
    this.w2 = pad(d + 1);
    this.wz = pad(this.K2);
    this.rowX2 = new Float64Array(n);
    this.rowObs = new Int32Array(n);
    this.colX2 = new Float64Array(D);
    const owned: Tensor[] = [];
    const tensor = (length: number, label: string, init?: Float32Array): Tensor => {
      const t = backend.tensor(length, { label, data: init });
      owned.push(t);
      return t;
    };
    try {
      // rows per block: every per-row operand (D, w1 or wz floats a row) within one storage binding,
      // a whole number of M-step chunks when it holds more than one
      let observed = 0;
      const sumRows = Math.max(SUM_CHUNK_ROWS, Math.ceil((n * D * this.wz) / PARTS_BUDGET / SUM_CHUNK_ROWS) * SUM_CHUNK_ROWS);
      const fits = dataChunkRows(backend, Math.max(D, this.w1, this.wz), { override: chunkRows });
      const R = Math.min(n, fits >= sumRows ? Math.floor(fits / sumRows) * sumRows : fits);
      for (let r0 = 0; r0 < n; r0 += R) {
        const rows = Math.min(R, n - r0);
        const chunk = Math.min(sumRows, rows);
        const chunks = Math.ceil(rows / chunk);
        const padded = chunks * chunk;
        const xb = new Float32Array(padded * D);
        const mb = new Float32Array(padded * D);
        for (let i = 0; i < rows; i++) {
          const g = r0 + i;
          for (let j = 0; j < D; j++) {
            const v = x[g * D + j]!;
            if (Number.isNaN(v)) continue;
            const c = v - this.mu0[j]!;
            xb[i * D + j] = c;
            mb[i * D + j] = 1;
            this.rowX2[g]! += c * c;
            this.colX2[j]! += c * c;
            this.rowObs[g]!++;
            observed++;
          }
        }
        const k = this.blocks.length;
        this.blocks.push({
          r0, rows, chunk, chunks,
          x0: tensor(padded * D, `ppca-missing:x${k}`, xb),
          mask: tensor(padded * D, `ppca-missing:m${k}`, mb),
          out1: tensor(rows * this.w1, `ppca-missing:mWW${k}`),
          out2: tensor(rows * this.w2, `ppca-missing:xW${k}`),
          z: tensor(padded * this.wz, `ppca-missing:zz${k}`),
          e: tensor(padded * this.w2, `ppca-missing:z${k}`),
          ...(chunks > 1 ? { partsA: tensor(chunks * D * this.wz, `ppca-missing:Aparts${k}`), partsB: tensor(chunks * D * this.w2, `ppca-missing:bparts${k}`) } : {}),
          A: tensor(D * this.wz, `ppca-missing:A${k}`),
          B: tensor(D * this.w2, `ppca-missing:b${k}`),
        });
      }
      this.observed = observed;
      this.p1 = tensor(D * this.w1, 'ppca-missing:WW');
      this.p2 = tensor(D * this.w2, 'ppca-missing:W');
      this.owned = owned;
    } catch (e) {
      for (const t of owned) backend.release(t);
      throw e;
    }
  }

  private owned: Tensor[] = [];

  release(): void {
    for (const t of this.owned) this.backend.release(t);
    this.owned = [];
  }

  /**
   * E-step at p (μ in data space): each row's observed-data log-likelihood and
   * posterior mean; with `stats`, also the rows' ⟨z̃ z̃ᵀ⟩ upper triangles and [E, 1]
   * uploaded for the M-step.
   */
  async eStep(p: PpcaParams, stats: boolean): Promise<EStep> {
    const { backend: b, D, d, n, K2, w1, w2, wz } = this;
    const T = this.pairs.a.length;
    const t0 = performance.now();
    const P1 = new Float32Array(D * w1);
    const P2 = new Float32Array(D * w2);
    for (let j = 0; j < D; j++) {
      const w = j * d;
      const delta = p.mu[j]! - this.mu0[j]!;
      const o1 = j * w1;
      for (let t = 0; t < T; t++) P1[o1 + t] = p.W[w + this.pairs.a[t]!]! * p.W[w + this.pairs.b[t]!]!;
      for (let a = 0; a < d; a++) {
        P1[o1 + T + a] = delta * p.W[w + a]!;
        P2[j * w2 + a] = p.W[w + a]!;
      }
      P1[o1 + T + d] = delta * delta;
      P2[j * w2 + d] = delta;
    }
    b.upload(this.p1, P1);
    b.upload(this.p2, P2);
    for (const blk of this.blocks) {
      b.matmul({ a: blk.mask, b: this.p1, c: blk.out1, m: blk.rows, n: w1, k: D });
      b.matmul({ a: blk.x0, b: this.p2, c: blk.out2, m: blk.rows, n: w2, k: D });
    }
    const outs = await Promise.all(this.blocks.map(async (blk) => [await b.read(blk.out1), await b.read(blk.out2)] as const));
    const t1 = performance.now();
    const ll = new Float64Array(n);
    const E = new Float64Array(n * d);
    const s2 = p.sigma2;
    const logS2 = Math.log(s2);
    const M = new Float64Array(d * d);
    const y = new Float64Array(d);
    const z = new Float64Array(d);
    const Linv = new Float64Array(d * d);
    for (let k = 0; k < this.blocks.length; k++) {
      const blk = this.blocks[k]!;
      const [o1, o2] = outs[k]!;
      const zb = stats ? new Float32Array(blk.rows * wz) : undefined;
      const eb = stats ? new Float32Array(blk.rows * w2) : undefined;
      for (let i = 0; i < blk.rows; i++) {
        const g = blk.r0 + i;
        const r1 = i * w1;
        const r2 = i * w2;
        for (let t = 0; t < T; t++) {
          const a = this.pairs.a[t]!;
          const c = this.pairs.b[t]!;
          M[a * d + c] = o1[r1 + t]! + (a === c ? s2 : 0);
        }
        for (let a = 0; a < d; a++) y[a] = o2[r2 + a]! - o1[r1 + T + a]!;
        const rr = this.rowX2[g]! - 2 * o2[r2 + d]! + o1[r1 + T + d]!;
        // Cholesky of M in place (lower triangle; M's upper triangle holds the input)
        let logDet = 0;
        for (let c = 0; c < d; c++) {
          let s = M[c * d + c]!;
          for (let q = 0; q < c; q++) s -= M[c * d + q]! * M[c * d + q]!;
          if (!(s > 0)) throw new Error(`ppca missing-data E-step: row ${g + 1}: M = W_OᵀW_O + σ²I is not positive definite (σ² = ${s2})`);
          const l = Math.sqrt(s);
          logDet += 2 * Math.log(l);
          M[c * d + c] = l;
          for (let r = c + 1; r < d; r++) {
            let t = M[c * d + r]!;
            for (let q = 0; q < c; q++) t -= M[r * d + q]! * M[c * d + q]!;
            M[r * d + c] = t / l;
          }
        }
        // z = L⁻¹y, E = L⁻ᵀz; yᵀM⁻¹y = zᵀz
        let yMy = 0;
        for (let r = 0; r < d; r++) {
          let s = y[r]!;
          for (let q = 0; q < r; q++) s -= M[r * d + q]! * z[q]!;
          z[r] = s / M[r * d + r]!;
          yMy += z[r]! * z[r]!;
        }
        const e = E.subarray(g * d, (g + 1) * d);
        for (let r = d - 1; r >= 0; r--) {
          let s = z[r]!;
          for (let q = r + 1; q < d; q++) s -= M[q * d + r]! * e[q]!;
          e[r] = s / M[r * d + r]!;
        }
        const o = this.rowObs[g]!;
        // a row with nothing observed has likelihood 1 (M = σ²I would leave rounding)
        ll[g] = o === 0 ? 0 : -0.5 * (o * LOG_2PI + (o - d) * logS2 + logDet + Math.max(0, rr - yMy) / s2);
        if (!zb || !eb) continue;
        // L⁻¹ (lower), then ⟨z zᵀ⟩ = σ² L⁻ᵀL⁻¹ + E Eᵀ on the upper triangle of z̃ = [z; 1]
        for (let c = 0; c < d; c++) {
          for (let r = c; r < d; r++) {
            let s = r === c ? 1 : 0;
            for (let q = c; q < r; q++) s -= M[r * d + q]! * Linv[q * d + c]!;
            Linv[r * d + c] = s / M[r * d + r]!;
          }
        }
        const zo = i * wz;
        for (let t = 0; t < K2; t++) {
          const a = this.pairs1.a[t]!;
          const c = this.pairs1.b[t]!;
          let v: number;
          if (c === d) v = a === d ? 1 : e[a]!;
          else {
            let s = 0;
            for (let q = c; q < d; q++) s += Linv[q * d + a]! * Linv[q * d + c]!;
            v = s2 * s + e[a]! * e[c]!;
          }
          zb[zo + t] = v;
        }
        for (let a = 0; a < d; a++) eb[i * w2 + a] = e[a]!;
        eb[i * w2 + d] = 1;
      }
      if (zb && eb) {
        b.upload(blk.z, zb);
        b.upload(blk.e, eb);
      }
    }
    this.timing.productMs += t1 - t0;
    this.timing.rowSolveMs += performance.now() - t1;
    return { ll, E };
  }

  /** M-step from the statistics the last eStep(…, true) uploaded: W, μ and σ² in data space. */
  async mStep(prevSigma2: number): Promise<{ W: Float64Array; mu: Float64Array; sigma2: number }> {
    const { backend: b, D, d, K2, wz, w2 } = this;
    const t0 = performance.now();
    const k = d + 1;
    // per block: each chunk's products (batched), then their sum; the blocks' sums added on the host in float64
    for (const blk of this.blocks) {
      const R = blk.chunk;
      if (!blk.partsA || !blk.partsB) {
        b.matmul({ a: blk.mask, b: blk.z, c: blk.A, m: D, n: wz, k: R, transA: true });
        b.matmul({ a: blk.x0, b: blk.e, c: blk.B, m: D, n: w2, k: R, transA: true });
        continue;
      }
      const batch = { batch: blk.chunks, strideA: R * D, transA: true, k: R, m: D };
      b.matmul({ a: blk.mask, b: blk.z, c: blk.partsA, n: wz, strideB: R * wz, strideC: D * wz, ...batch });
      b.matmul({ a: blk.x0, b: blk.e, c: blk.partsB, n: w2, strideB: R * w2, strideC: D * w2, ...batch });
      b.sumCols({ x: blk.partsA, out: blk.A, rows: blk.chunks, cols: D * wz });
      b.sumCols({ x: blk.partsB, out: blk.B, rows: blk.chunks, cols: D * w2 });
    }
    const sums = await Promise.all(this.blocks.map(async (blk) => [await b.read(blk.A), await b.read(blk.B)] as const));
    const Ah = new Float64Array(D * wz);
    const Bh = new Float64Array(D * w2);
    for (const [a, bb] of sums) {
      for (let t = 0; t < Ah.length; t++) Ah[t]! += a[t]!;
      for (let t = 0; t < Bh.length; t++) Bh[t]! += bb[t]!;
    }
    const W = new Float64Array(D * d);
    const mu = new Float64Array(D);
    const A = new Float64Array(k * k);
    const bj = new Float64Array(k);
    let resid = 0;
    for (let j = 0; j < D; j++) {
      for (let t = 0; t < K2; t++) {
        const v = Ah[j * wz + t]!;
        A[this.pairs1.a[t]! * k + this.pairs1.b[t]!] = v;
        A[this.pairs1.b[t]! * k + this.pairs1.a[t]!] = v;
      }
      for (let a = 0; a < k; a++) bj[a] = Bh[j * w2 + a]!;
      const w = solveSpd(A, bj, k);
      for (let a = 0; a < d; a++) W[j * d + a] = w[a]!;
      mu[j] = this.mu0[j]! + w[d]!;
      // Σ_{i∋j} ⟨(x_ij − w̃ z̃_i)²⟩ = Σx² − 2 w̃·b + w̃ A w̃ᵀ (centred coordinates)
      let wb = 0;
      let wAw = 0;
      for (let a = 0; a < k; a++) {
        wb += w[a]! * bj[a]!;
        let s = 0;
        for (let c = 0; c < k; c++) s += A[a * k + c]! * w[c]!;
        wAw += w[a]! * s;
      }
      resid += this.colX2[j]! - 2 * wb + wAw;
    }
    this.timing.mStepMs += performance.now() - t0;
    return { W, mu, sigma2: Math.max(resid / this.observed, 1e-12 * (prevSigma2 || 1)) };
  }
}

/** Throws on ±∞ (only NaN marks a missing entry). */
function checkNanOnly(data: MissingData): void {
  const { x } = data;
  for (let k = 0; k < x.length; k++) {
    const v = x[k]!;
    if (v === Infinity || v === -Infinity) throw new Error(`${data.name ?? 'data'}: row ${Math.floor(k / data.D) + 1}, column ${(k % data.D) + 1}: value ${v} is not finite (only NaN marks a missing entry)`);
  }
}

function checkModelColumns(p: PpcaParams, data: MissingData): void {
  checkShape('ppca missing-data log-likelihood', p.D, p.d);
  if (data.D !== p.D) throw new Error(`${data.name ?? 'data'} has ${data.D} columns but the model has D = ${p.D}`);
}

/**
 * Fits PPCA to data with NaN entries by exact EM over the observed entries, the
 * sums on `backend` (fitPpcaMissing's mathematics; float32 products, float64
 * solves). `onIteration` is called once per E-step with the log-likelihood per
 * row of the parameters it starts from.
 */
export async function fitPpcaMissingOn(backend: Backend, data: MissingData, d: number, opts: MissingOnOptions = {}): Promise<MissingOnResult> {
  const { n, D } = data;
  checkShape('ppca missing-data EM', D, d);
  const eng = new MissingEngine(backend, data, d, true, opts.chunkRows);
  try {
    const iters = opts.iters ?? 200;
    const tol = opts.tol ?? 1e-5;
    const start = opts.init ?? (await startFromMeans(data, d, opts.seed ?? 0, (filled) => closedFormPpcaOn(backend, filled, d)));
    let p: PpcaParams = { D, d, W: Float64Array.from(start.W), mu: Float64Array.from(start.mu), sigma2: start.sigma2 };
    const curve: number[] = [];
    let converged = false;
    let iter = 0;
    for (;; iter++) {
      const last = iter >= iters;
      const { ll } = await eng.eStep(p, !last);
      const mean = ll.reduce((s, v) => s + v, 0) / n;
      curve.push(mean);
      opts.onIteration?.(iter, mean);
      if (iter > 0 && Math.abs(mean - curve[iter - 1]!) < tol) { converged = true; break; }
      if (last) break;
      p = { D, d, ...(await eng.mStep(p.sigma2)) };
    }
    const W = Float32Array.from(p.W);
    const mu = Float32Array.from(p.mu);
    const sigma2 = Math.fround(p.sigma2);
    const rows = (await eng.eStep({ D, d, W, mu, sigma2 }, false)).ll;
    const loglik = rows.reduce((s, v) => s + v, 0) / n;
    curve.push(loglik);
    return { D, d, W, mu, sigma2, loglik, curve, iterations: iter, converged, observed: eng.observed, timing: { ...eng.timing } };
  } finally {
    eng.release();
  }
}

/** Each row's exact observed-data log-likelihood (nats), the sums on `backend`. */
export async function missingLogLikRowsOn(backend: Backend, p: PpcaParams, data: MissingData): Promise<Float64Array> {
  checkModelColumns(p, data);
  const eng = new MissingEngine(backend, data, p.d, false);
  try {
    return (await eng.eStep(p, false)).ll;
  } finally {
    eng.release();
  }
}

/**
 * The data with each missing entry replaced by its posterior mean W_j E_i + μ_j
 * (observed entries kept), the E-step on `backend`; with it, each row's
 * observed-data log-likelihood.
 */
export async function imputeMissingOn(backend: Backend, p: PpcaParams, data: MissingData): Promise<{ imputed: Float32Array; loglikRows: Float64Array }> {
  checkModelColumns(p, data);
  const { D, d, W, mu } = p;
  const eng = new MissingEngine(backend, data, d, false);
  try {
    const { ll, E } = await eng.eStep(p, false);
    const out = data.x.slice();
    for (let i = 0; i < data.n; i++) {
      for (let j = 0; j < D; j++) {
        if (!Number.isNaN(out[i * D + j]!)) continue;
        let v = mu[j]!;
        for (let a = 0; a < d; a++) v += W[j * d + a]! * E[i * d + a]!;
        out[i * D + j] = v;
      }
    }
    return { imputed: out, loglikRows: ll };
  } finally {
    eng.release();
  }
}
