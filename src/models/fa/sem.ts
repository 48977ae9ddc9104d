// Stochastic EM for factor analysis (DESIGN.md §1.7): a stochastic
// approximation of exact EM's sufficient statistics (Cappé & Moulines 2009),
// as PPCA's online EM (ppca/oem.ts), with the Robbins–Monro step of PPCA's
// stochastic EM (ppca/sem.ts): per step t, on a minibatch B drawn uniformly,
//   device: Y = X̃_B Ψ⁻¹W, X̃_BᵀY (D×d), YᵀY (d×d)          (fa.ts faProducts)
//   host:   Ĝ = avg x̃ E[z]ᵀ = (X̃_BᵀY)M⁻¹/|B|, Ŝ = avg ⟨zzᵀ⟩ = M⁻¹ + M⁻¹YᵀYM⁻¹/|B|
//           G ← G + γ_t (Ĝ − G), S ← S + γ_t (Ŝ − S), γ_t = (1 + t/τ)^−κ (γ₀ = 1)
//           s ← s + γ_t (ŝ − s), ŝ_j = avg x̃_j²
//           W = G S⁻¹, ψ_j = max(s_j − (WGᵀ)_jj, floor_j)   (fa.ts faMStep)
// (ŝ on the host in float64). The rows are centred and scaled on the host
// (fa.ts faSetup) and held in as many device buffers as one binding allows (rows.ts).
// createFaSemFitter keeps (W, ψ, G, S, t) between step() calls: step(k) twice
// is step(2k) once, so a page can drive it a tick at a time.
import { KernelError, need, type Backend, type Tensor } from '../../backend.ts';
import { DeviceRows } from '../rows.ts';
import { Workspace, type DeviceData } from '../ppca/model.ts';
import { MinibatchSampler } from '../ppca/sem.ts';
import { centredHost } from '../ppca/scale.ts';
import {
  FA_SUM_CHUNK_ROWS, deviceExactW, faEStats, faFactors, faMStep, faMeanLogLik, faProducts, faSetup, faStart, type FaHost,
} from './fa.ts';

/** Stochastic EM's defaults: γ_t = (1 + t/τ)^−κ. */
export const FA_SEM_DEFAULTS = { epochs: 20, batch: 256, kappa: 1, tau: 20 } as const;

/** Options of a stochastic-EM fit of factor analysis (defaults FA_SEM_DEFAULTS). */
export interface FaSemOptions {
  d: number;
  batch?: number;
  /** Robbins–Monro decay exponent κ ∈ (0.5, 1] and delay τ > 0 (steps) */
  kappa?: number;
  tau?: number;
  seed?: number;
  init?: FaHost;
}

/** One evaluation of a stochastic-EM fit. */
export interface FaSemProgress {
  step: number;
  epoch: number;
  /** mean exact log-likelihood per sample on the training data (float64 host evaluation) */
  loglik: number;
  /** seconds in steps so far (evaluations excluded) */
  seconds: number;
}

/** A resumable stochastic-EM fit: step() advances it, model() reads the current parameters. */
export interface FaSemFitter {
  readonly stepsPerEpoch: number;
  /** steps done so far (the global t) */
  readonly steps: number;
  readonly trainSeconds: number;
  /** runs k more minibatch steps */
  step(k: number): Promise<void>;
  /** the current parameters in data space (float64 copies) */
  model(): FaHost;
  /** the mean exact log-likelihood per sample of model() on the training data */
  evaluate(): FaSemProgress;
  /** releases the device state */
  dispose(): void;
}

class SemFitter implements FaSemFitter {
  readonly stepsPerEpoch: number;
  private t = 0;
  private ms = 0;
  private W: Float64Array;
  private psi: Float64Array;
  private G: Float64Array | null = null;
  private S: Float64Array | null = null;
  /** running average of x̃_j² (the same weights as G and S) */
  private sxx: Float64Array | null = null;
  private readonly host: Float32Array;
  private readonly rows: DeviceRows;
  private readonly ws: Workspace;
  private readonly batchT: Tensor;
  private readonly padded: number;
  private readonly sampler: MinibatchSampler;
  private readonly setup: ReturnType<typeof faSetup>;
  private readonly batch: number;
  private readonly kappa: number;
  private readonly tau: number;
  private disposed = false;

  constructor(private readonly b: Backend, private readonly data: DeviceData, private readonly o: FaSemOptions) {
    const kernel = 'fa stochastic EM';
    const { n, D } = data;
    this.batch = o.batch ?? Math.min(FA_SEM_DEFAULTS.batch, n);
    this.kappa = o.kappa ?? FA_SEM_DEFAULTS.kappa;
    this.tau = o.tau ?? FA_SEM_DEFAULTS.tau;
    need(Number.isInteger(this.batch) && this.batch >= 1 && this.batch <= n, kernel, `batch size must be an integer in [1, ${n}] (the data rows), got ${this.batch}`);
    need(this.kappa > 0.5 && this.kappa <= 1, kernel, `kappa must be in (0.5, 1], got ${this.kappa}`);
    need(this.tau > 0, kernel, `tau must be positive, got ${this.tau}`);
    this.setup = faSetup(data, o.d, kernel);
    const { stats, c, floor } = this.setup;
    ({ W: this.W, psi: this.psi } = faStart(o.init, stats, D, o.d, c, floor, o.seed ?? 0, kernel));
    this.stepsPerEpoch = Math.ceil(n / this.batch);
    this.sampler = new MinibatchSampler(n, this.batch, o.seed ?? 0);
    // a batch over one chunk is summed in chunks of FA_SUM_CHUNK_ROWS rows, the tail zero rows
    this.padded = this.batch <= FA_SUM_CHUNK_ROWS ? this.batch : Math.ceil(this.batch / FA_SUM_CHUNK_ROWS) * FA_SUM_CHUNK_ROWS;
    this.host = centredHost(data, stats.mu, c);
    this.rows = new DeviceRows(b, this.host, n, D, `fa.sem:${data.name}`, data.parts?.[0]?.rows);
    this.ws = new Workspace(b, 'fa.sem');
    this.batchT = b.tensor(this.padded * D, { label: 'fa.sem.batch' });
    b.fill({ x: this.batchT, n: this.padded * D, value: 0 });
  }

  get steps(): number {
    return this.t;
  }

  get trainSeconds(): number {
    return this.ms / 1000;
  }

  async step(k: number): Promise<void> {
    if (this.disposed) throw new KernelError('fa stochastic EM', 'the fitter was disposed');
    need(Number.isInteger(k) && k >= 0, 'fa stochastic EM', `steps must be a non-negative integer, got ${k}`);
    const t0 = performance.now();
    for (let i = 0; i < k; i++) await this.stepOnce();
    this.ms += performance.now() - t0;
  }

  private async stepOnce(): Promise<void> {
    const { b, ws, batch } = this;
    const { D } = this.data;
    const { d } = this.o;
    const { floor } = this.setup;
    const idx = this.sampler.next();
    this.rows.gather(ws.upload('idx', idx), idx, this.batchT, batch);
    const f = faFactors(deviceExactW(this.W, this.psi, d), this.psi, D, d);
    const q = faProducts(b, ws, this.batchT, this.padded, D, f, d, false);
    const [xty, yty] = await Promise.all([b.read(q.xty), b.read(q.yty)]);
    const { G, S } = faEStats(xty, yty, f, batch, D, d);
    const sxx = new Float64Array(D);
    for (const i of idx) for (let j = 0; j < D; j++) sxx[j]! += this.host[i * D + j]! ** 2;
    // γ₀ = 1: the first batch's statistics replace the (absent) running ones
    const gamma = Math.pow(1 + this.t / this.tau, -this.kappa);
    this.G ??= new Float64Array(G.length);
    this.S ??= new Float64Array(S.length);
    this.sxx ??= new Float64Array(D);
    for (let i = 0; i < G.length; i++) this.G[i]! += gamma * (G[i]! / batch - this.G[i]!);
    for (let i = 0; i < S.length; i++) this.S[i]! += gamma * (S[i]! / batch - this.S[i]!);
    for (let j = 0; j < D; j++) this.sxx[j]! += gamma * (sxx[j]! / batch - this.sxx[j]!);
    // ψ from the averaged x̃_j², consistent with G and S (the exact column variances with
    // averaged G, S gave ψ off by their mismatch: 0.5–4 nats/sample on synthetic data)
    ({ W: this.W, psi: this.psi } = faMStep(this.G, this.S, this.sxx, floor, d, 'fa stochastic EM'));
    this.t++;
  }

  model(): FaHost {
    const { c, stats } = this.setup;
    return { D: this.data.D, d: this.o.d, W: this.W.map((w) => w / c), mu: Float64Array.from(stats.mu), psi: this.psi.map((p) => p / (c * c)) };
  }

  evaluate(): FaSemProgress {
    return { step: this.t, epoch: this.t / this.stepsPerEpoch, loglik: faMeanLogLik(this.model(), this.data), seconds: this.trainSeconds };
  }

  /** columns whose ψ is at the floor */
  heywood(): number[] {
    const out: number[] = [];
    for (let j = 0; j < this.psi.length; j++) if (this.psi[j]! <= this.setup.floor[j]! * (1 + 1e-9)) out.push(j);
    return out;
  }

  get constant(): number[] {
    return this.setup.constant;
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.rows.release();
    this.b.release(this.batchT);
    this.ws.releaseAll();
  }
}

/** A resumable stochastic-EM fit of factor analysis on data already on the backend. */
export function createFaSemFitter(b: Backend, data: DeviceData, o: FaSemOptions): FaSemFitter {
  return new SemFitter(b, data, o);
}

/** A finished stochastic-EM fit. */
export interface FaSemResult {
  model: FaHost;
  steps: number;
  /** mean exact log-likelihood per sample of the returned model */
  loglik: number;
  /** one evaluation per epoch (and of the start) */
  trace: FaSemProgress[];
  /** columns whose ψ ended at the floor, and the constant ones */
  heywood: number[];
  constant: number[];
  seconds: number;
  stepsPerSecond: number;
}

/** Fits FA by stochastic EM for `epochs` passes, evaluating the exact log-likelihood after each. */
export async function fitFaSem(b: Backend, data: DeviceData, o: FaSemOptions & { epochs?: number; onEval?: (p: FaSemProgress) => void }): Promise<FaSemResult> {
  const epochs = o.epochs ?? FA_SEM_DEFAULTS.epochs;
  need(Number.isInteger(epochs) && epochs >= 1, 'fa stochastic EM', `epochs must be a positive integer, got ${epochs}`);
  const fitter = new SemFitter(b, data, o);
  const trace: FaSemProgress[] = [];
  try {
    for (let e = 0; e < epochs; e++) {
      await fitter.step(fitter.stepsPerEpoch);
      const p = fitter.evaluate();
      trace.push(p);
      o.onEval?.(p);
    }
    const model = fitter.model();
    return {
      model, steps: fitter.steps, loglik: trace.at(-1)!.loglik, trace, heywood: fitter.heywood(), constant: fitter.constant,
      seconds: fitter.trainSeconds, stepsPerSecond: fitter.steps / Math.max(fitter.trainSeconds, 1e-9),
    };
  } finally {
    fitter.dispose();
  }
}
