// Online EM (Cappé & Moulines 2009) for PPCA: stochastic approximation of the
// complete-data sufficient statistics, then the exact M-step from them.
// With z̃ = [z; 1] and W̃ = [W | μ] (D×(d+1)), x = W̃ z̃ + σ ε, the statistics are
//   s  = avg x ⟨z̃⟩ᵀ          (D×(d+1), on the device)
//   Szz = avg ⟨z̃ z̃ᵀ⟩         ((d+1)², host float64)
//   sxx = avg ‖x‖²            (host float64, from precomputed row norms)
// of the rows centred on the host and scaled (scale.ts CentredData): μ is then
// near 0 and the products cannot overflow however large the data's offset or spread.
// updated as s ← (1−γ_t) s + γ_t ŝ_batch with γ_t = (t+1)^(−κ), κ ∈ (0.5, 1], and
// the M-step is W̃ = s Szz⁻¹, σ² = (sxx − tr(Szz⁻¹ sᵀs)) / D.
// Per step the device does the O(B·D·d) products (batch posterior means, the
// update of s, sᵀs); the host does (d+1)² algebra. One submission, one read-back.
// createOemFitter keeps the running averages (s, Szz, sxx) and t between step()
// calls, so a resumed run is the same run (fitter.ts).
import { KernelError, need, type Backend, type Tensor } from '../../backend.ts';
import {
  FitterBase, runStochasticFit, type FitterOptions, type FitterSnapshot, type RunOptions, type StochasticFitter, type StochasticResult,
} from './fitter.ts';
import { PPCA_DEFAULTS } from '../config.ts';
import { factorSpd, mul, symmetrize, toF32, traceOfProduct, type Mat } from './linalg.ts';
import { Workspace, centeredRowNorms, latentFactors, type DeviceData, type PpcaHost, type PpcaModel } from './model.ts';
import { MinibatchSampler, fittedSpace, gatherBatch, initialFor } from './sem.ts';
import type { CentredData, CentredSpace } from './scale.ts';
import type { PpcaStream } from './stream.ts';

export interface OemFitterOptions extends FitterOptions {
  /** γ_t = (t+1)^(−κ) */
  kappa?: number;
  init?: PpcaHost;
}

export interface OemOptions extends OemFitterOptions, RunOptions {}

/** [W | μ]ᵀ[W | μ] ((d+1)², float64) from host parameters. */
function augmentedGram(h: PpcaHost): Mat {
  const { D, d } = h;
  const k = d + 1;
  const g = new Float64Array(k * k);
  const row = new Float64Array(k);
  for (let r = 0; r < D; r++) {
    for (let j = 0; j < d; j++) row[j] = h.W[r * d + j]!;
    row[d] = h.mu[r]!;
    for (let i = 0; i < k; i++) for (let j = 0; j < k; j++) g[i * k + j]! += row[i]! * row[j]!;
  }
  return g;
}

class OemFitter extends FitterBase {
  readonly method = 'oem' as const;
  readonly model: PpcaModel;
  private readonly kappa: number;
  /** ‖x_i‖² of the centred rows (streamed: filled as the chunks are read) */
  private readonly norms: Float64Array;
  private readonly ws: Workspace;
  /** W̃ = [W | μ], row-major D×(d+1) */
  private readonly Wt: Tensor;
  /** running average of x ⟨z̃⟩ᵀ, D×(d+1) */
  private readonly s: Tensor;
  private readonly sync: Tensor;
  private readonly syncEtE: Tensor;
  private readonly syncK: Tensor;
  private readonly kAlign: number;
  readonly sampler: MinibatchSampler;
  /** the batch's row indices (gatherBatch) */
  last?: Uint32Array;
  /** [W | μ]ᵀ[W | μ] of the current W̃ */
  private Gt: Mat;
  private s2: number;
  /** running averages of ⟨z̃ z̃ᵀ⟩ and ‖x‖² */
  private Szz: Mat;
  private sxx = 0;
  /** the fitted space; W̃'s μ column is centred-space, model.mu = μ + μ̂ */
  private readonly centred: CentredSpace;
  /** the centred rows in memory, or the stream of them */
  readonly rows: CentredData | null;
  readonly stream: PpcaStream | null;

  constructor(private readonly b: Backend, data: DeviceData | PpcaStream, private readonly o: OemFitterOptions) {
    super('ppca online EM', data, o);
    this.kappa = o.kappa ?? PPCA_DEFAULTS.oem.kappa;
    need(this.kappa > 0.5 && this.kappa <= 1, this.kernel, `kappa must be in (0.5, 1], got ${this.kappa}`);
    const { D, n } = data;
    const { d } = o;
    const k = d + 1;
    const seed = o.seed ?? 0;
    const init = o.init ?? initialFor(data, this.stats, d, seed);
    need(init.D === D && init.d === d, this.kernel, `initial model is ${init.D}×${init.d}, data need ${D}×${d}`);
    // the fit runs on centred rows times c = centred.scale: W̃ = [cW | c(μ − μ̂)], σ²' = c²σ²
    ({ centred: this.centred, rows: this.rows, stream: this.stream } = fittedSpace(b, data, this.stats));
    const c = this.centred.scale;
    // ‖x_i‖² of the centred rows
    if (this.stream) {
      need(this.stream.norms !== null, this.kernel, 'the stream keeps no row norms: open it with norms: true for online EM');
      this.norms = this.stream.norms;
    } else {
      this.norms = centeredRowNorms(this.rows!.data, new Float64Array(D));
    }
    const mu0 = this.centred.toCentred(init.mu);
    const W0 = Float32Array.from(init.W, (w) => w * c);
    this.ws = new Workspace(b, 'ppca.oem');
    const wAug = new Float32Array(D * k);
    for (let r = 0; r < D; r++) {
      for (let j = 0; j < d; j++) wAug[r * k + j] = W0[r * d + j]!;
      wAug[r * k + d] = mu0[r]!;
    }
    this.Wt = this.ws.upload('Wtilde', wAug);
    // Workspace tensors start zeroed: s = 0 is the empty average (γ_0 = 1 overwrites it)
    this.s = this.ws.get('s', D * k);
    this.kAlign = Math.ceil((k * k) / 64) * 64;
    this.sync = this.ws.get('sync', 2 * this.kAlign);
    this.syncEtE = b.view(this.sync, 0, k * k);
    this.syncK = b.view(this.sync, this.kAlign, k * k);
    this.Gt = augmentedGram({ ...init, W: W0, mu: mu0 });
    this.s2 = init.sigma2 * c * c;
    this.Szz = new Float64Array(k * k);
    this.sampler = new MinibatchSampler(n, o.batch, seed ^ 0x85ebca6b);
    const W = b.tensor(D * d, { label: 'ppca.W' });
    const mu = b.tensor(D, { label: 'ppca.mu' });
    this.model = { backend: b, D, d, W, mu, sigma2: this.s2, wtw: new Float64Array(d * d) };
    this.syncModel();
  }

  protected get sigma2(): number {
    return this.s2 / this.centred.scale ** 2;
  }

  private wtwOf(): Mat {
    const d = this.o.d;
    const k = d + 1;
    return Float64Array.from({ length: d * d }, (_, i) => this.Gt[Math.floor(i / d) * k + (i % d)]!);
  }

  protected async stepOnce(t: number): Promise<void> {
    const { b, ws, data, o, kernel } = this;
    const { D } = data;
    const { d } = o;
    const k = d + 1;
    const gamma = Math.pow(t + 1, -this.kappa);
    const sigma2 = this.s2;
    const Gt = this.Gt;
    // E-step quantities of the current θ: M from the [W|μ] Gram
    const f = latentFactors(this.wtwOf(), sigma2, d);
    const Minv = f.M.inverse;
    // Ẽ = x Ã + b̃ with Ã = W̃ P, P = [[M⁻¹, 0], [0, 0]], b̃ = [−M⁻¹ Wᵀμ, 1]
    const P = new Float32Array(k * k);
    for (let i = 0; i < d; i++) for (let j = 0; j < d; j++) P[i * k + j] = Minv[i * d + j]!;
    const bias = new Float32Array(k);
    for (let i = 0; i < d; i++) {
      let v = 0;
      for (let j = 0; j < d; j++) v += Minv[i * d + j]! * Gt[j * k + d]!;
      bias[i] = -v;
    }
    bias[d] = 1;
    const xb = ws.get('xb', o.batch * D);
    // B: this step's rows (a chunk's last minibatch may be shorter when streaming)
    const B = await gatherBatch(this, t, ws, xb, o.seed ?? 0);
    const batchIdx = this.last!;
    const Pt = ws.upload('P', P);
    const biasT = ws.upload('bias', bias);
    const A = ws.get('A', D * k);
    const Et = ws.get('Etilde', o.batch * k);
    const { Wt, s } = this;
    b.matmul({ a: Wt, b: Pt, c: A, m: D, n: k, k });
    b.matmul({ a: xb, b: A, c: Et, m: B, n: k, k: D, bias: biasT });
    b.matmul({ a: Et, b: Et, c: this.syncEtE, m: k, n: k, k: B, transA: true });
    // s ← (1−γ) s + (γ/B) xᵀ Ẽ
    b.scale({ x: s, n: D * k, alpha: 1 - gamma });
    b.matmul({ a: xb, b: Et, c: s, m: D, n: k, k: B, transA: true, alpha: gamma / B, accumulate: true });
    b.matmul({ a: s, b: s, c: this.syncK, m: k, n: k, k: D, transA: true });
    const hostSync = await b.read(this.sync);
    const EtE = Float64Array.from(hostSync.subarray(0, k * k));
    const K = symmetrize(Float64Array.from(hostSync.subarray(this.kAlign, this.kAlign + k * k)), k);
    // Szz ← (1−γ) Szz + γ [(1/B) ẼᵀẼ + blockdiag(σ² M⁻¹, 0)]
    const next = new Float64Array(k * k);
    for (let i = 0; i < k; i++) {
      for (let j = 0; j < k; j++) {
        let v = EtE[i * k + j]! / B;
        if (i < d && j < d) v += sigma2 * Minv[i * d + j]!;
        next[i * k + j] = (1 - gamma) * this.Szz[i * k + j]! + gamma * v;
      }
    }
    this.Szz = symmetrize(next, k);
    let bx = 0;
    for (const i of batchIdx) bx += this.norms[i]!;
    this.sxx = (1 - gamma) * this.sxx + (gamma * bx) / B;
    // M-step
    const Pinv = factorSpd(this.Szz, k, `${kernel}: Σ⟨z̃ z̃ᵀ⟩`).inverse;
    this.Gt = symmetrize(mul(mul(Pinv, K, k, k, k), Pinv, k, k, k), k);
    let s2 = (this.sxx - traceOfProduct(Pinv, K, k)) / D;
    if (!Number.isFinite(s2)) throw new KernelError(kernel, `σ² became ${s2} at step ${t + 1}`);
    s2 = Math.max(s2, 1e-12 * (this.sxx / D));
    this.s2 = s2;
    b.matmul({ a: s, b: ws.upload('Pinv', toF32(Pinv)), c: Wt, m: D, n: k, k });
  }

  protected async exportState(): Promise<FitterSnapshot['state']> {
    const { b } = this;
    const n = this.data.D * (this.o.d + 1);
    return {
      Wtilde: (await b.read(this.Wt)).slice(0, n),
      s: (await b.read(this.s)).slice(0, n),
      Gtilde: Float64Array.from(this.Gt),
      Szz: Float64Array.from(this.Szz),
      sxx: Float64Array.of(this.sxx),
      sigma2: Float64Array.of(this.s2),
    };
  }

  protected importState(state: FitterSnapshot['state'], step: number): void {
    const { b } = this;
    const k = this.o.d + 1;
    const n = this.data.D * k;
    b.upload(this.Wt, this.stateArray(state, 'Wtilde', n, Float32Array));
    b.upload(this.s, this.stateArray(state, 's', n, Float32Array));
    this.Gt = Float64Array.from(this.stateArray(state, 'Gtilde', k * k, Float64Array));
    this.Szz = Float64Array.from(this.stateArray(state, 'Szz', k * k, Float64Array));
    this.sxx = this.stateArray(state, 'sxx', 1, Float64Array)[0]!;
    const s2 = this.stateArray(state, 'sigma2', 1, Float64Array)[0]!;
    need(s2 > 0, this.kernel, `checkpoint state 'sigma2' is ${s2}, must be positive`);
    this.s2 = s2;
    if (!this.stream) for (let t = 0; t < step; t++) this.sampler.next();
  }

  /** W = W̃ [I_d; 0], μ = W̃ e_{d+1} into the model's own tensors. */
  protected syncModel(): void {
    const { b, ws, data, o } = this;
    const d = o.d;
    const k = d + 1;
    const selW = new Float32Array(k * d);
    const c = this.centred.scale;
    for (let j = 0; j < d; j++) selW[j * d + j] = 1 / c;
    const selMu = new Float32Array(k);
    selMu[d] = 1;
    b.matmul({ a: this.Wt, b: ws.upload('selW', selW), c: this.model.W, m: data.D, n: d, k });
    const muC = ws.get('muCentred', data.D);
    b.matmul({ a: this.Wt, b: ws.upload('selMu', selMu), c: muC, m: data.D, n: 1, k });
    this.centred.restoreMean(muC, this.model.mu);
    this.model.sigma2 = this.s2 / (c * c);
    this.model.wtw = this.wtwOf().map((v) => v / (c * c));
  }

  protected releaseState(): void {
    this.ws.releaseAll();
    this.b.release(this.model.W);
    this.b.release(this.model.mu);
    this.centred.release();
    this.stream?.release();
  }
}

/** A resumable online-EM run: step(k) continues the same run (running averages, γ_t, minibatch stream). */
export function createOemFitter(backend: Backend, data: DeviceData | PpcaStream, opts: OemFitterOptions): StochasticFitter {
  return new OemFitter(backend, data, opts);
}

/** `data` on the device, or a PpcaStream opened with norms: true (released with the fitter; the caller closes the source). */
export async function fitOem(backend: Backend, data: DeviceData | PpcaStream, opts: OemOptions): Promise<StochasticResult> {
  return runStochasticFit(new OemFitter(backend, data, opts), opts);
}
