// Exact (batch) EM for PPCA, Tipping & Bishop (DESIGN.md §1.1), and its
// SQUAREM acceleration (Varadhan & Roland 2008, scheme S3 with the monotonicity
// safeguard). μ is the sample mean throughout, so the data are centered once on
// the device. One EM map F(W, σ²) is two submissions with small read-backs:
//   device: Y = Xc W (n×d), YᵀY, G = Xcᵀ Y (D×d), and per row ‖L⁻¹ y_i‖²
//   host:   log-lik of (W, σ²); S = nσ²M⁻¹ + M⁻¹ YᵀY M⁻¹; B = M⁻¹ S⁻¹
//   device: W_new = G B and W_newᵀW_new (a second, d×d read-back)
//   host:   σ²_new = (Σ‖x_i−μ‖² − tr(S WᵀW_new)) / nD
// because Σ_i (x_i−μ) E_iᵀ = G M⁻¹ and Σ_i E_i E_iᵀ = M⁻¹ YᵀY M⁻¹.
import { KernelError, VIEW_ALIGN, type Backend, type Tensor } from '../../backend.ts';
import { factorSpd, mul, symmetrize, toF32, traceOfProduct, transpose, type Mat } from './linalg.ts';
import {
  LOG_2PI, Workspace, centeredRowNorms, checkShape, createPpca, f32Transposed, gramOf, initialPpca, latentFactors,
  sampleMean, type DeviceData, type PpcaHost, type PpcaModel,
} from './model.ts';

export type EmMethod = 'em' | 'squarem';

export interface EmOptions {
  d: number;
  method?: EmMethod;
  /** maximum number of EM-map evaluations (SQUAREM spends three per cycle) */
  maxIters?: number;
  /** stop when the log-likelihood per sample changes by less than this between iterates */
  tol?: number;
  seed?: number;
  /** starting parameters (default: initialPpca); μ is replaced by the sample mean */
  init?: PpcaHost;
  /** called with every new iterate's log-likelihood */
  onIter?: (p: EmProgress) => void;
}

export interface EmProgress {
  /** EM-map evaluations spent to produce this iterate */
  iteration: number;
  /** mean exact log-likelihood per sample of the iterate */
  loglik: number;
  sigma2: number;
  seconds: number;
}

export interface EmResult {
  model: PpcaModel;
  method: EmMethod;
  /** EM-map evaluations (= M-steps) spent */
  iterations: number;
  /** SQUAREM cycles (equal to iterations for plain EM) */
  cycles: number;
  /** log-likelihood per sample of the returned model */
  loglik: number;
  converged: boolean;
  trace: EmProgress[];
  seconds: number;
}

/** One point of the parameter space as the EM engine sees it. */
interface Point {
  slot: number;
  wtw: Mat;
  sigma2: number;
}

interface MapResult {
  /** log-likelihood per sample of the input point */
  loglik: number;
  out: Point;
}

const SLOTS = 5;

/** The device state of exact EM over one dataset. */
class EmEngine {
  readonly n: number;
  readonly D: number;
  readonly xc: Tensor;
  readonly rowNorms: Float64Array;
  readonly totalNorm: number;
  /** W slots: SLOTS views of slotLen elements in one buffer (padding stays 0) */
  readonly slotBuffer: Tensor;
  readonly slots: Tensor[];
  readonly slotLen: number;
  private readonly ws: Workspace;

  constructor(readonly backend: Backend, data: DeviceData, readonly d: number, readonly mu: Float64Array) {
    const b = backend;
    this.n = data.n;
    this.D = data.D;
    this.ws = new Workspace(b, 'ppca.em');
    this.rowNorms = centeredRowNorms(data, mu);
    this.totalNorm = this.rowNorms.reduce((s, v) => s + v, 0);
    const { n, D } = this;
    // center once: xc = x − 1·μᵀ
    this.xc = b.tensor(n * D, { label: 'ppca.em.xc' });
    b.copy({ src: data.x, dst: this.xc, n: n * D });
    const muT = this.ws.upload('mu', Float32Array.from(mu));
    b.matmul({ a: this.ws.constant('ones', n, 1), b: muT, c: this.xc, m: n, n: D, k: 1, alpha: -1, accumulate: true });
    this.slotLen = Math.ceil((D * d) / VIEW_ALIGN) * VIEW_ALIGN;
    this.slotBuffer = b.tensor(SLOTS * this.slotLen, { label: 'ppca.em.W' });
    this.slots = Array.from({ length: SLOTS }, (_, i) => b.view(this.slotBuffer, i * this.slotLen, D * d, `ppca.em.W${i}`));
  }

  /** Runs E-step + M-step from `inp` into slot `outSlot`; returns the log-lik of `inp`. */
  async map(inp: Point, outSlot: number): Promise<MapResult> {
    const { backend: b, ws, n, D, d } = this;
    const f = latentFactors(inp.wtw, inp.sigma2, d);
    const lv = ws.upload('logSigma2', new Float32Array([Math.log(inp.sigma2)]));
    const cholInvT = ws.upload('cholInvT', f32Transposed(f.M.cholInv, d));
    const W = this.slots[inp.slot]!;
    const y = ws.get('y', n * d);
    const yty = ws.get('yty', d * d);
    const g = ws.get('g', D * d);
    const z = ws.get('z', n * d);
    const zeros = ws.get('zeros', n * d);
    const rowTerm = ws.get('rowTerm', n);
    b.matmul({ a: this.xc, b: W, c: y, m: n, n: d, k: D });
    b.matmul({ a: y, b: y, c: yty, m: d, n: d, k: n, transA: true });
    b.matmul({ a: this.xc, b: y, c: g, m: D, n: d, k: n, transA: true });
    b.matmul({ a: y, b: cholInvT, c: z, m: n, n: d, k: d });
    b.gaussianLogDensity({ x: z, mu: zeros, logvar: lv, out: rowTerm, rows: n, cols: d, logvarMode: 'scalar' });
    const [ytyH, rowH] = await Promise.all([b.read(yty), b.read(rowTerm)]);
    const loglik = this.loglikFrom(rowH, inp.sigma2, f.M.logDet);

    // M-step on the host (d×d), then W_new = G·B on the device
    const YtY = Float64Array.from(ytyH.subarray(0, d * d));
    const Minv = f.M.inverse;
    const S = symmetrize(mul(mul(Minv, YtY, d, d, d), Minv, d, d, d), d);
    for (let i = 0; i < d * d; i++) S[i]! += n * inp.sigma2 * Minv[i]!;
    const Sinv = factorSpd(S, d, 'ppca EM: Σ⟨z zᵀ⟩').inverse;
    const B = mul(Minv, Sinv, d, d, d);
    const Bt = ws.upload('B', toF32(B));
    const Wout = this.slots[outSlot]!;
    b.matmul({ a: g, b: Bt, c: Wout, m: D, n: d, k: d });
    // WᵀW of the W actually stored: the float64 Bᵀ(GᵀG)B differs from it by float32
    // rounding, and the log-likelihood through M is first-order in that difference
    // (~1e-4 nats/sample on MNIST), so read it back (a d×d read)
    const wtwT = ws.get('wtwNew', d * d);
    b.matmul({ a: Wout, b: Wout, c: wtwT, m: d, n: d, k: D, transA: true });
    const wtwNew = symmetrize(Float64Array.from((await b.read(wtwT)).subarray(0, d * d)), d);
    // σ²_new = (Σ‖x_i−μ‖² − tr(S WᵀW_new)) / nD, from W_new S = G M⁻¹
    let sigma2 = (this.totalNorm - traceOfProduct(S, wtwNew, d)) / (n * D);
    if (!Number.isFinite(sigma2)) throw new KernelError('ppca EM', `σ² became ${sigma2}`);
    // the residual variance cannot reach 0 unless the data lie in a d-dimensional affine subspace
    sigma2 = Math.max(sigma2, 1e-12 * (this.totalNorm / (n * D)));
    return { loglik, out: { slot: outSlot, wtw: wtwNew, sigma2 } };
  }

  /** Log-likelihood per sample of a point (the E-step half of map). */
  async loglik(p: Point): Promise<number> {
    const { backend: b, ws, n, D, d } = this;
    const f = latentFactors(p.wtw, p.sigma2, d);
    const lv = ws.upload('logSigma2', new Float32Array([Math.log(p.sigma2)]));
    const cholInvT = ws.upload('cholInvT', f32Transposed(f.M.cholInv, d));
    const y = ws.get('y', n * d);
    const z = ws.get('z', n * d);
    const zeros = ws.get('zeros', n * d);
    const rowTerm = ws.get('rowTerm', n);
    b.matmul({ a: this.xc, b: this.slots[p.slot]!, c: y, m: n, n: d, k: D });
    b.matmul({ a: y, b: cholInvT, c: z, m: n, n: d, k: d });
    b.gaussianLogDensity({ x: z, mu: zeros, logvar: lv, out: rowTerm, rows: n, cols: d, logvarMode: 'scalar' });
    return this.loglikFrom(await b.read(rowTerm), p.sigma2, f.M.logDet);
  }

  /**
   * Mean log p(x_i) from rowTerm_i = −½ [d log 2πσ² + ‖L⁻¹y_i‖²/σ²] (device, per row)
   * and ‖x_i−μ‖² (host, float64), summed in float64 (see loglik.ts).
   */
  private loglikFrom(rowTerm: Float32Array, sigma2: number, logDetM: number): number {
    const { n, D, d } = this;
    let sumRow = 0;
    for (let i = 0; i < n; i++) sumRow += rowTerm[i]!;
    const logS2 = Math.log(sigma2);
    // Σ_i ‖L⁻¹y_i‖²/σ² = −2 Σ rowTerm − n d log 2πσ²
    const explained = -2 * sumRow - n * d * (LOG_2PI + logS2);
    const quad = this.totalNorm / sigma2 - explained;
    return -0.5 * (D * LOG_2PI + (D - d) * logS2 + logDetM) - (0.5 * quad) / n;
  }

  /** 〈W_i, W_j〉 for all slots (SLOTS×SLOTS), from one product over the slot buffer. */
  async slotGram(): Promise<Float64Array> {
    const { backend: b, ws } = this;
    const g = ws.get('slotGram', SLOTS * SLOTS);
    b.matmul({ a: this.slotBuffer, b: this.slotBuffer, c: g, m: SLOTS, n: SLOTS, k: this.slotLen, transB: true });
    return Float64Array.from((await b.read(g)).subarray(0, SLOTS * SLOTS));
  }

  /** slot `out` = Σ c_k · slot `src_k` (queued). */
  combineInto(out: number, terms: [number, number][]): void {
    const { backend: b, D, d } = this;
    const dst = this.slots[out]!;
    b.fill({ x: dst, n: D * d, value: 0 });
    for (const [slot, c] of terms) b.axpy({ x: this.slots[slot]!, y: dst, n: D * d, alpha: c });
  }

  /** slot `out` = Σ c_k · slot `src_k`, and its WᵀW read back. */
  async combine(out: number, terms: [number, number][]): Promise<Mat> {
    const { backend: b, D, d, ws } = this;
    const dst = this.slots[out]!;
    this.combineInto(out, terms);
    const g = ws.get('wtw', d * d);
    b.matmul({ a: dst, b: dst, c: g, m: d, n: d, k: D, transA: true });
    return symmetrize(Float64Array.from((await b.read(g)).subarray(0, d * d)), d);
  }

  /** Copies a slot into a standalone model. */
  export(p: Point): PpcaModel {
    const { backend: b, D, d } = this;
    const W = b.tensor(D * d, { label: 'ppca.W' });
    b.copy({ src: this.slots[p.slot]!, dst: W, n: D * d });
    const mu = b.tensor(D, { label: 'ppca.mu', data: Float32Array.from(this.mu) });
    return { backend: b, D, d, W, mu, sigma2: p.sigma2, wtw: Float64Array.from(p.wtw) };
  }

  release(): void {
    this.backend.release(this.xc);
    this.backend.release(this.slotBuffer);
    this.ws.releaseAll();
  }
}

function now(): number {
  return performance.now() / 1000;
}

/** Fits PPCA by exact EM (or SQUAREM-accelerated EM) on data already on the backend. */
export async function fitEm(backend: Backend, data: DeviceData, opts: EmOptions): Promise<EmResult> {
  const method = opts.method ?? 'em';
  if (method !== 'em' && method !== 'squarem') throw new KernelError('ppca EM', `unknown method '${method as string}' (em | squarem)`);
  checkShape('ppca EM', data.D, opts.d);
  const maxIters = opts.maxIters ?? 1000;
  const tol = opts.tol ?? 1e-6;
  const init = opts.init ?? initialPpca(data, { d: opts.d, seed: opts.seed ?? 0 });
  if (init.D !== data.D || init.d !== opts.d) {
    throw new KernelError('ppca EM', `initial model is ${init.D}×${init.d}, data need ${data.D}×${opts.d}`);
  }
  // validate the starting point the same way a loaded model is checked
  const check = createPpca(backend, init);
  backend.release(check.W);
  backend.release(check.mu);
  const engine = new EmEngine(backend, data, opts.d, sampleMean(data));
  const t0 = now();
  const trace: EmProgress[] = [];
  const record = (iteration: number, loglik: number, sigma2: number): void => {
    const p = { iteration, loglik, sigma2, seconds: now() - t0 };
    trace.push(p);
    opts.onIter?.(p);
  };
  try {
    backend.upload(engine.slots[0]!, Float32Array.from(init.W));
    const start: Point = { slot: 0, wtw: gramOf(init.W, init.D, init.d), sigma2: init.sigma2 };
    const run = method === 'em' ? runEm : runSquarem;
    const r = await run(engine, start, maxIters, tol, record);
    const loglik = await engine.loglik(r.point);
    record(r.iterations, loglik, r.point.sigma2);
    return {
      model: engine.export(r.point), method, iterations: r.iterations, cycles: r.cycles, loglik,
      converged: r.converged, trace, seconds: now() - t0,
    };
  } finally {
    engine.release();
  }
}

interface RunResult {
  point: Point;
  iterations: number;
  cycles: number;
  converged: boolean;
}

type Recorder = (iteration: number, loglik: number, sigma2: number) => void;

async function runEm(engine: EmEngine, start: Point, maxIters: number, tol: number, record: Recorder): Promise<RunResult> {
  let cur = start;
  let prev = -Infinity;
  let it = 0;
  while (it < maxIters) {
    const r = await engine.map(cur, cur.slot === 0 ? 1 : 0);
    record(it, r.loglik, cur.sigma2);
    const change = r.loglik - prev;
    prev = r.loglik;
    cur = r.out;
    it++;
    // the change between the previous iterate and this one; the new iterate is at least as good
    if (Math.abs(change) < tol) return { point: cur, iterations: it, cycles: it, converged: true };
  }
  return { point: cur, iterations: it, cycles: it, converged: false };
}

/**
 * SQUAREM, scheme S3: with r = θ₁−θ₀ and v = θ₂−2θ₁+θ₀ in (W, log σ²), step
 * α = ‖r‖/‖v‖ clipped to [1, αmax], θ' = θ₀ + 2αr + α²v (α = 1 gives θ₂), then one
 * stabilising EM step. Safeguard: if log p(θ') < log p(θ₀), α is halved towards
 * 1 until it is not (α = 1 is plain EM, always monotone). αmax grows ×4 each time
 * the full step is accepted at the cap, and shrinks after a rejection.
 */
async function runSquarem(engine: EmEngine, start: Point, maxIters: number, tol: number, record: Recorder): Promise<RunResult> {
  let p0 = start;
  let evals = 0;
  let cycles = 0;
  let stepMax = 1;
  const STEP_FACTOR = 4;
  let prevLoglik = -Infinity;
  const freeSlots = (used: number[]): number[] => [0, 1, 2, 3, 4].filter((s) => !used.includes(s));
  while (evals + 3 <= maxIters) {
    const [s1, s2, s3, s4] = freeSlots([p0.slot]) as [number, number, number, number];
    const used = evals;
    const r1 = await engine.map(p0, s1);
    evals++;
    const l0 = r1.loglik;
    record(used, l0, p0.sigma2);
    if (Math.abs(l0 - prevLoglik) < tol) return { point: p0, iterations: evals, cycles, converged: true };
    prevLoglik = l0;
    const p1 = r1.out;
    const r2 = await engine.map(p1, s2);
    evals++;
    const p2 = r2.out;
    const [a, b, c] = [p0.slot, p1.slot, p2.slot];
    const [l0s, l1s, l2s] = [Math.log(p0.sigma2), Math.log(p1.sigma2), Math.log(p2.sigma2)];
    // r and v are formed on the device before the dot products: ‖r‖² from Gram
    // entries (~‖W‖²) would cancel catastrophically in float32 near convergence
    engine.combineInto(s3, [[b, 1], [a, -1]]);
    engine.combineInto(s4, [[c, 1], [b, -2], [a, 1]]);
    const gram = await engine.slotGram();
    const rr = gram[s3 * SLOTS + s3]! + (l1s - l0s) ** 2;
    const vv = gram[s4 * SLOTS + s4]! + (l2s - 2 * l1s + l0s) ** 2;
    let alpha = vv > 0 && rr > 0 ? Math.sqrt(rr / vv) : 1;
    alpha = Math.max(1, Math.min(stepMax, alpha));
    cycles++;
    for (;;) {
      let pExt: Point;
      if (alpha === 1) {
        pExt = p2;
      } else {
        // θ' = (1−α)² θ₀ + 2α(1−α) θ₁ + α² θ₂
        const c0 = (1 - alpha) ** 2;
        const c1 = 2 * alpha * (1 - alpha);
        const c2 = alpha * alpha;
        const wtw = await engine.combine(s3, [[a, c0], [b, c1], [c, c2]]);
        pExt = { slot: s3, wtw, sigma2: Math.exp(c0 * l0s + c1 * l1s + c2 * l2s) };
      }
      const target = pExt.slot === s3 ? s4 : s3;
      const r3 = await engine.map(pExt, target);
      evals++;
      if (alpha === 1 || r3.loglik >= l0) {
        if (alpha === stepMax) stepMax *= STEP_FACTOR;
        p0 = r3.out;
        break;
      }
      // rejected: shrink the step (and the cap) towards plain EM
      if (alpha === stepMax) stepMax = Math.max(1, stepMax / STEP_FACTOR);
      alpha = alpha - 1 < 0.01 ? 1 : (alpha + 1) / 2;
      // out of budget: θ₂ is two plain EM steps from θ₀, so never worse
      if (evals >= maxIters) return { point: p2, iterations: evals, cycles, converged: false };
    }
  }
  return { point: p0, iterations: evals, cycles, converged: false };
}
