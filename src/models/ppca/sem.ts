// Stochastic EM exactly as the seed states it (DESIGN.md §1.2). Per step t:
//   draw a minibatch B uniformly (indices uploaded, rows gathered on the device);
//   E′: q(z_i) = p(z_i | x_i, θ_t) = N(E_i, σ²M⁻¹), E_i = M⁻¹Wᵀ(x_i − μ);
//   draw ẑ_i = E_i + L ε_i with L Lᵀ = σ²M⁻¹ (reparamChol);
//   M′: θ ← θ + α_t ∇_θ (1/|B|) Σ_i log p(x_i, ẑ_i | θ), θ = (W, μ, log σ²),
//       α_t = α₀ (1 + t/τ)^(−κ) (plain gradient ascent), or Adam as an option.
// The E′ step is posterior.ts's, on the batch rows centred in place (x − μ).
// The gradient comes from the Gaussian log-density kernel's backward:
// ∂/∂μ_dec of log N(x − μ | μ_dec, σ²I) with μ_dec = W ẑ gives, with the
// residual r = x − μ − W ẑ, ∇_W = r ẑᵀ/σ², ∇_μ = r/σ², and the scalar-logvar
// gradient −D/2 + ‖r‖²/(2σ²).
// Parameters sit in one flat buffer (W | μ | log σ²), so one optimizer dispatch
// updates all; each step is one submission and one small read-back (WᵀW and
// log σ², which the next step's d×d posterior algebra needs on the host).
// The rows are centred on the host and scaled to unit spread first (scale.ts
// CentredData), so α₀ means the same on any data scale and μ is near 0.
// createSemFitter keeps all of that between step() calls (fitter.ts).
import { KernelError, need, type Backend, type Tensor } from '../../backend.ts';
import { HostRng } from '../../train/rng.ts';
import { learningRate, type Schedule } from '../../train/schedule.ts';
import { PPCA_DEFAULTS } from '../config.ts';
import { ParamLayout, ParamStore } from '../params.ts';
import {
  FitterBase, runStochasticFit, type FitterOptions, type FitterSnapshot, type RunOptions, type StochasticFitter, type StochasticResult,
} from './fitter.ts';
import { symmetrize } from './linalg.ts';
import { Workspace, gramOf, initialFromMoments, initialPpca, type DeviceData, type PpcaHost, type PpcaModel } from './model.ts';
import { centreRows, posteriorMeans, uploadPosterior } from './posterior.ts';
import { CentredData, CentredSpace, type ColumnStats } from './scale.ts';
import type { PpcaStream } from './stream.ts';

export { checkStochastic, type FitterSnapshot, type FitterState, type RunOptions, type StochasticFitter, type StochasticProgress, type StochasticResult } from './fitter.ts';

export interface SemFitterOptions extends FitterOptions {
  /** α₀ */
  lr: number;
  /** Robbins–Monro τ (steps) and κ ∈ (0.5, 1] */
  tau?: number;
  kappa?: number;
  optimizer?: 'sgd' | 'adam';
  init?: PpcaHost;
}

export interface SemOptions extends SemFitterOptions, RunOptions {}

/** Uniform minibatches without replacement within a batch (a partial Fisher–Yates shuffle). */
export class MinibatchSampler {
  private readonly perm: Uint32Array;
  private readonly rnd: HostRng;
  constructor(readonly n: number, readonly batch: number, seed: number) {
    need(Number.isInteger(batch) && batch >= 1, 'minibatch', `batch size must be a positive integer, got ${batch}`);
    need(batch <= n, 'minibatch', `batch size ${batch} exceeds the ${n} data rows`);
    this.perm = Uint32Array.from({ length: n }, (_, i) => i);
    this.rnd = new HostRng(seed, 'mulberry32');
  }

  next(): Uint32Array {
    const { perm, n, batch } = this;
    for (let i = 0; i < batch; i++) {
      const j = i + Math.floor(this.rnd.uniform() * (n - i));
      const t = perm[i]!;
      perm[i] = perm[j]!;
      perm[j] = t;
    }
    return perm.slice(0, batch);
  }
}

const RNG_STREAM_SEM = 0x5e3;

/** The starting point of a fit: in memory initialPpca; streamed, the same from the streamed pass's moments. */
export function initialFor(data: DeviceData | PpcaStream, stats: ColumnStats, d: number, seed: number): PpcaHost {
  if (!('stream' in data)) return initialPpca(data, { d, seed });
  let total = 0;
  for (const v of stats.variance) total += v;
  return initialFromMoments(data.name, stats.mu, total / data.D, { d, seed });
}

/**
 * The fitted space and the way minibatches reach the device: rows in memory
 * (CentredData, uniform minibatches from `sampler`) or streamed in chunks.
 */
export function fittedSpace(b: Backend, data: DeviceData | PpcaStream, stats: ColumnStats): { centred: CentredSpace; rows: CentredData | null; stream: PpcaStream | null } {
  if ('stream' in data) return { centred: new CentredSpace(b, stats), rows: null, stream: data };
  const rows = new CentredData(b, data, stats);
  return { centred: rows, rows, stream: null };
}

/** The flat parameter buffer (W | μ | log σ²) of stochastic EM; checkpoints store it whole. */
export function semLayout(D: number, d: number): ParamLayout {
  const layout = new ParamLayout();
  layout.add('W', [D, d]);
  layout.add('mu', [D]);
  layout.add('logSigma2', [1]);
  return layout;
}

class SemFitter extends FitterBase {
  readonly method = 'sem' as const;
  readonly model: PpcaModel;
  private readonly schedule: Schedule;
  private readonly store: ParamStore;
  private readonly ws: Workspace;
  private readonly adam: { m: Tensor; v: Tensor } | null;
  private readonly sync: Tensor;
  private readonly syncWtw: Tensor;
  private readonly syncLogS2: Tensor;
  private readonly syncTail: number;
  readonly sampler: MinibatchSampler;
  private readonly seed: number;
  /** the fitted space; the parameter μ is centred-space, model.mu = μ + μ̂ */
  private readonly centred: CentredSpace;
  /** the centred rows in memory, or the stream of them */
  readonly rows: CentredData | null;
  readonly stream: PpcaStream | null;
  private wtw: Float64Array;
  private s2: number;

  constructor(private readonly b: Backend, data: DeviceData | PpcaStream, private readonly o: SemFitterOptions) {
    super('ppca stochastic EM', data, o);
    const kernel = this.kernel;
    need(Number.isFinite(o.lr) && o.lr > 0, kernel, `learning rate must be positive, got ${o.lr}`);
    const optimizer = o.optimizer ?? PPCA_DEFAULTS.sem.optimizer;
    if (optimizer !== 'sgd' && optimizer !== 'adam') throw new KernelError(kernel, `unknown optimizer '${optimizer as string}' (sgd | adam)`);
    const kappa = o.kappa ?? PPCA_DEFAULTS.sem.kappa;
    const tau = o.tau ?? PPCA_DEFAULTS.sem.tau;
    need(kappa > 0.5 && kappa <= 1, kernel, `kappa must be in (0.5, 1], got ${kappa}`);
    need(tau > 0, kernel, `tau must be positive, got ${tau}`);
    this.schedule = { kind: 'robbins-monro', tau, kappa };
    const { D } = data;
    const { d } = o;
    this.seed = o.seed ?? 0;
    const init = o.init ?? initialFor(data, this.stats, d, this.seed);
    need(init.D === D && init.d === d, kernel, `initial model is ${init.D}×${init.d}, data need ${D}×${d}`);

    // the fit runs on centred rows times c = centred.scale: W' = cW, μ' = c(μ − μ̂), σ²' = c²σ²
    ({ centred: this.centred, rows: this.rows, stream: this.stream } = fittedSpace(b, data, this.stats));
    const c = this.centred.scale;
    const W0 = Float32Array.from(init.W, (w) => w * c);
    const layout = semLayout(D, d);
    const host0 = layout.zeros();
    layout.slice(host0, 'W').set(W0);
    layout.slice(host0, 'mu').set(this.centred.toCentred(init.mu));
    layout.slice(host0, 'logSigma2')[0] = Math.log(init.sigma2 * c * c);
    this.store = new ParamStore(b, layout, host0, 'ppca.sem');
    this.ws = new Workspace(b, 'ppca.sem');
    this.adam = optimizer === 'adam'
      ? { m: b.tensor(layout.size, { label: 'ppca.sem.adam.m' }), v: b.tensor(layout.size, { label: 'ppca.sem.adam.v' }) }
      : null;
    // the read-back block: WᵀW at 0, log σ² at the next aligned offset
    this.syncTail = Math.ceil((d * d) / 64) * 64;
    this.sync = b.tensor(this.syncTail + 64, { label: 'ppca.sem.sync' });
    this.syncWtw = b.view(this.sync, 0, d * d);
    this.syncLogS2 = b.view(this.sync, this.syncTail, 1);
    this.sampler = new MinibatchSampler(data.n, o.batch, this.seed ^ 0x9e3779b9);
    this.wtw = gramOf(W0, D, d);
    this.s2 = init.sigma2 * c * c;
    const W = b.tensor(D * d, { label: 'ppca.W' });
    const mu = b.tensor(D, { label: 'ppca.mu' });
    this.model = { backend: b, D, d, W, mu, sigma2: init.sigma2, wtw: gramOf(init.W, D, d) };
    this.syncModel();
  }

  protected get sigma2(): number {
    const c = this.centred.scale;
    return this.s2 / (c * c);
  }

  protected async stepOnce(t: number): Promise<void> {
    const { b, ws, store, data, o } = this;
    const { D } = data;
    const { d } = o;
    const W = store.param('W');
    const mu = store.param('mu');
    const logSigma2 = store.param('logSigma2');
    const post = uploadPosterior(ws, this.wtw, this.s2, d);
    const xb = ws.get('xb', o.batch * D);
    // B: this step's rows (a chunk's last minibatch may be shorter when streaming)
    const B = await gatherBatch(this, t, ws, xb, this.seed);
    const e = ws.get('e', B * d);
    const eps = ws.get('eps', B * d);
    const zh = ws.get('zhat', B * d);
    const dec = ws.get('decoded', B * D);
    const dDec = ws.get('dDecoded', B * D);
    const dOut = ws.constant('dOut', B, -1 / B);
    // E′: E = (x − μ)ᵀ W M⁻¹ for the batch rows, xb holding x − μ from here on
    centreRows(b, ws, xb, mu, B, D);
    posteriorMeans(b, ws, { xc: xb, W, Minv: post.Minv, e, rows: B, D, d });
    b.reparamChol({ m: e, l: post.chol, eps, z: zh, rows: B, d, key: { seed: this.seed, stream: RNG_STREAM_SEM, counter: t } });
    // M′: gradient of −(1/B) Σ log N(x_i − μ | W ẑ_i, σ² I) (the same in W, μ and σ² as
    // log N(x_i | W ẑ_i + μ, σ² I): ∂/∂μ is ∂/∂(W ẑ_i)), then a descent step
    b.matmul({ a: zh, b: W, c: dec, m: B, n: D, k: d, transB: true });
    b.gaussianLogDensityBackward({
      x: xb, mu: dec, logvar: logSigma2, dOut, dMu: dDec, dLogvar: store.grad('logSigma2'),
      rows: B, cols: D, logvarMode: 'scalar',
    });
    b.matmul({ a: dDec, b: zh, c: store.grad('W'), m: D, n: d, k: B, transA: true });
    b.sumCols({ x: dDec, out: store.grad('mu'), rows: B, cols: D });
    const lr = learningRate(o.lr, this.schedule, t);
    const size = store.layout.size;
    if (this.adam) {
      b.adam({ param: store.params, grad: store.grads, m: this.adam.m, v: this.adam.v, n: size, lr, beta1: 0.9, beta2: 0.999, eps: 1e-8, step: t + 1 });
    } else {
      b.sgd({ param: store.params, grad: store.grads, n: size, lr });
    }
    const { sync, syncTail } = this;
    b.matmul({ a: W, b: W, c: this.syncWtw, m: d, n: d, k: D, transA: true });
    b.copy({ src: logSigma2, dst: this.syncLogS2, n: 1 });
    const s = await b.read(sync);
    const wtw = symmetrize(Float64Array.from(s.subarray(0, d * d)), d);
    const sigma2 = Math.exp(s[syncTail]!);
    if (!Number.isFinite(sigma2) || !wtw.every(Number.isFinite)) {
      throw new KernelError(this.kernel, `parameters diverged at step ${t + 1} (σ² = ${sigma2 / this.centred.scale ** 2}); lower the learning rate (now ${o.lr}; it applies to data scaled to unit spread)`);
    }
    this.wtw = wtw;
    this.s2 = sigma2;
  }

  protected async exportState(): Promise<FitterSnapshot['state']> {
    const { b, store } = this;
    const n = store.layout.size;
    const state: FitterSnapshot['state'] = {
      params: (await b.read(store.params)).slice(0, n),
      wtw: Float64Array.from(this.wtw),
      sigma2: Float64Array.of(this.s2),
    };
    if (this.adam) {
      state.adamM = (await b.read(this.adam.m)).slice(0, n);
      state.adamV = (await b.read(this.adam.v)).slice(0, n);
    }
    return state;
  }

  protected importState(state: FitterSnapshot['state'], step: number): void {
    const { b, store } = this;
    const n = store.layout.size;
    const d = this.o.d;
    b.upload(store.params, this.stateArray(state, 'params', n, Float32Array));
    this.wtw = Float64Array.from(this.stateArray(state, 'wtw', d * d, Float64Array));
    const s2 = this.stateArray(state, 'sigma2', 1, Float64Array)[0]!;
    need(s2 > 0, this.kernel, `checkpoint state 'sigma2' is ${s2}, must be positive`);
    this.s2 = s2;
    if (this.adam) {
      b.upload(this.adam.m, this.stateArray(state, 'adamM', n, Float32Array));
      b.upload(this.adam.v, this.stateArray(state, 'adamV', n, Float32Array));
    } else {
      need(!('adamM' in state), this.kernel, 'the checkpoint holds Adam moments; resume it with --optimizer adam');
    }
    if (!this.stream) for (let t = 0; t < step; t++) this.sampler.next();
  }

  protected syncModel(): void {
    const c = this.centred.scale;
    this.centred.restoreW(this.store.param('W'), this.model.W, this.data.D * this.o.d);
    this.centred.restoreMean(this.store.param('mu'), this.model.mu);
    this.model.sigma2 = this.s2 / (c * c);
    this.model.wtw = this.wtw.map((v) => v / (c * c));
  }

  protected releaseState(): void {
    this.ws.releaseAll();
    this.store.release();
    this.b.release(this.sync);
    this.b.release(this.model.W);
    this.b.release(this.model.mu);
    this.centred.release();
    this.stream?.release();
    if (this.adam) {
      this.b.release(this.adam.m);
      this.b.release(this.adam.v);
    }
  }
}

/**
 * Minibatch t's centred rows into xb: uniform rows of the data in memory, or
 * the epoch order's next rows of the streamed chunk. Returns the batch's rows
 * and leaves their indices in the source in `last` (online EM's row norms).
 */
export async function gatherBatch(
  f: { rows: CentredData | null; stream: PpcaStream | null; sampler: MinibatchSampler; last?: Uint32Array },
  t: number, ws: Workspace, xb: Tensor, seed: number,
): Promise<number> {
  if (f.stream) {
    const { idx, rows } = await f.stream.gather(t, seed, ws, xb);
    f.last = idx;
    return rows;
  }
  const batchIdx = f.sampler.next();
  f.rows!.rows.gather(ws.upload('idx', batchIdx), batchIdx, xb, batchIdx.length);
  f.last = batchIdx;
  return batchIdx.length;
}

/**
 * A resumable stochastic-EM run: step(k) continues the same run (minibatch stream, t, Adam moments).
 * `data` on the device (uploadData), or a PpcaStream over a RowSource (its
 * chunk buffers are released with the fitter; the caller closes the source).
 */
export function createSemFitter(backend: Backend, data: DeviceData | PpcaStream, opts: SemFitterOptions): StochasticFitter {
  return new SemFitter(backend, data, opts);
}

export async function fitSem(backend: Backend, data: DeviceData | PpcaStream, opts: SemOptions): Promise<StochasticResult> {
  return runStochasticFit(new SemFitter(backend, data, opts), opts);
}
