// Stochastic EM exactly as the seed states it (DESIGN.md §1.2). Per step t:
//   draw a minibatch B uniformly (indices uploaded, rows gathered on the device);
//   E′: q(z_i) = p(z_i | x_i, θ_t) = N(E_i, σ²M⁻¹), E_i = M⁻¹Wᵀ(x_i − μ);
//   draw ẑ_i = E_i + L ε_i with L Lᵀ = σ²M⁻¹ (reparamChol);
//   M′: θ ← θ + α_t ∇_θ (1/|B|) Σ_i log p(x_i, ẑ_i | θ), θ = (W, μ, log σ²),
//       α_t = α₀ (1 + t/τ)^(−κ) (plain gradient ascent), or Adam as an option.
// The gradient comes from the Gaussian log-density kernel's backward:
// ∂/∂μ_dec of log N(x | μ_dec, σ²I) with μ_dec = W ẑ + μ gives ∇_W = r ẑᵀ/σ²,
// ∇_μ = r/σ², and the scalar-logvar gradient −D/2 + ‖r‖²/(2σ²).
// Parameters sit in one flat buffer (W | μ | log σ²), so one optimizer dispatch
// updates all; each step is one submission and one small read-back (WᵀW and
// log σ², which the next step's d×d posterior algebra needs on the host).
import { KernelError, need, type Backend, type Tensor } from '../../backend.ts';
import { seededRandom } from '../../data/random.ts';
import { learningRate } from '../../train/schedule.ts';
import { ParamLayout, ParamStore } from '../params.ts';
import { symmetrize, toF32 } from './linalg.ts';
import { meanLogLik } from './loglik.ts';
import { Workspace, checkShape, gramOf, initialPpca, latentFactors, type DeviceData, type PpcaHost, type PpcaModel } from './model.ts';

export interface SemOptions {
  d: number;
  batch: number;
  epochs: number;
  /** α₀ */
  lr: number;
  /** Robbins–Monro τ (steps) and κ ∈ (0.5, 1] */
  tau?: number;
  kappa?: number;
  optimizer?: 'sgd' | 'adam';
  seed?: number;
  init?: PpcaHost;
  /** exact train log-likelihood every this many steps (default: once per epoch; 0: only at the end) */
  evalEvery?: number;
  onEval?: (p: StochasticProgress) => void;
}

export interface StochasticProgress {
  step: number;
  epoch: number;
  /** mean exact log-likelihood per sample on the training data */
  loglik: number;
  sigma2: number;
  seconds: number;
}

export interface StochasticResult {
  model: PpcaModel;
  steps: number;
  loglik: number;
  trace: StochasticProgress[];
  seconds: number;
  /** seconds spent in evaluations (excluded from steps per second) */
  evalSeconds: number;
  stepsPerSecond: number;
}

/** Uniform minibatches without replacement within a batch (a partial Fisher–Yates shuffle). */
export class MinibatchSampler {
  private readonly perm: Uint32Array;
  private readonly rnd: () => number;
  constructor(readonly n: number, readonly batch: number, seed: number) {
    need(Number.isInteger(batch) && batch >= 1, 'minibatch', `batch size must be a positive integer, got ${batch}`);
    need(batch <= n, 'minibatch', `batch size ${batch} exceeds the ${n} data rows`);
    this.perm = Uint32Array.from({ length: n }, (_, i) => i);
    this.rnd = seededRandom(seed).uniform;
  }

  next(): Uint32Array {
    const { perm, n, batch } = this;
    for (let i = 0; i < batch; i++) {
      const j = i + Math.floor(this.rnd() * (n - i));
      const t = perm[i]!;
      perm[i] = perm[j]!;
      perm[j] = t;
    }
    return perm.slice(0, batch);
  }
}

export function checkStochastic(kernel: string, data: DeviceData, o: { d: number; batch: number; epochs: number }): void {
  checkShape(kernel, data.D, o.d);
  need(Number.isInteger(o.batch) && o.batch >= 1, kernel, `batch size must be a positive integer, got ${o.batch}`);
  need(o.batch <= data.n, kernel, `${data.name}: ${data.n} rows, fewer than the batch size ${o.batch}`);
  need(Number.isFinite(o.epochs) && o.epochs > 0, kernel, `epochs must be positive, got ${o.epochs}`);
}

const RNG_STREAM_SEM = 0x5e3;

export async function fitSem(backend: Backend, data: DeviceData, opts: SemOptions): Promise<StochasticResult> {
  const kernel = 'ppca stochastic EM';
  checkStochastic(kernel, data, opts);
  need(Number.isFinite(opts.lr) && opts.lr > 0, kernel, `learning rate must be positive, got ${opts.lr}`);
  const b = backend;
  const { D, n } = data;
  const { d, batch: B } = opts;
  const seed = opts.seed ?? 0;
  const optimizer = opts.optimizer ?? 'sgd';
  if (optimizer !== 'sgd' && optimizer !== 'adam') throw new KernelError(kernel, `unknown optimizer '${optimizer as string}' (sgd | adam)`);
  const schedule = { kind: 'robbins-monro' as const, tau: opts.tau ?? 1000, kappa: opts.kappa ?? 0.75 };
  const stepsPerEpoch = Math.ceil(n / B);
  const totalSteps = Math.max(1, Math.round(opts.epochs * stepsPerEpoch));
  const evalEvery = opts.evalEvery ?? stepsPerEpoch;
  const init = opts.init ?? initialPpca(data, { d, seed });

  const layout = new ParamLayout();
  layout.add('W', [D, d]);
  layout.add('mu', [D]);
  layout.add('logSigma2', [1]);
  const host0 = layout.zeros();
  layout.slice(host0, 'W').set(init.W);
  layout.slice(host0, 'mu').set(init.mu);
  layout.slice(host0, 'logSigma2')[0] = Math.log(init.sigma2);
  const store = new ParamStore(b, layout, host0, 'ppca.sem');
  const W = store.param('W');
  const mu = store.param('mu');
  const logSigma2 = store.param('logSigma2');
  const ws = new Workspace(b, 'ppca.sem');
  const adamM = optimizer === 'adam' ? b.tensor(layout.size, { label: 'ppca.sem.adam.m' }) : null;
  const adamV = optimizer === 'adam' ? b.tensor(layout.size, { label: 'ppca.sem.adam.v' }) : null;
  // the read-back block: WᵀW at 0, log σ² at the next aligned offset
  const syncTail = Math.ceil((d * d) / 64) * 64;
  const sync = b.tensor(syncTail + 64, { label: 'ppca.sem.sync' });
  const syncWtw = b.view(sync, 0, d * d);
  const syncLogS2 = b.view(sync, syncTail, 1);

  const sampler = new MinibatchSampler(n, B, seed ^ 0x9e3779b9);
  let wtw = gramOf(init.W, D, d);
  let sigma2 = init.sigma2;
  const model: PpcaModel = { backend: b, D, d, W, mu, sigma2, wtw };
  const trace: StochasticProgress[] = [];
  const t0 = performance.now();
  let evalMs = 0;
  const evaluate = async (step: number): Promise<number> => {
    const e0 = performance.now();
    model.sigma2 = sigma2;
    model.wtw = wtw;
    const loglik = await meanLogLik(model, data);
    evalMs += performance.now() - e0;
    const p = { step, epoch: step / stepsPerEpoch, loglik, sigma2, seconds: (performance.now() - t0) / 1000 };
    trace.push(p);
    opts.onEval?.(p);
    return loglik;
  };

  const xb = ws.get('xb', B * D);
  const negMuW = ws.get('negMuW', d);
  const y = ws.get('y', B * d);
  const e = ws.get('e', B * d);
  const eps = ws.get('eps', B * d);
  const zh = ws.get('zhat', B * d);
  const dec = ws.get('decoded', B * D);
  const dDec = ws.get('dDecoded', B * D);
  const dOut = ws.constant('dOut', B, -1 / B);
  try {
    if (evalEvery > 0) await evaluate(0);
    for (let t = 0; t < totalSteps; t++) {
      const f = latentFactors(wtw, sigma2, d);
      const idx = ws.upload('idx', sampler.next());
      const Minv = ws.upload('Minv', toF32(f.M.inverse));
      const L = ws.upload('postChol', toF32(f.postChol));
      // E′: E = (x − μ)ᵀ W M⁻¹ for the batch rows
      b.gatherRows({ src: data.x, idx, dst: xb, rows: B, cols: D });
      b.matmul({ a: mu, b: W, c: negMuW, m: 1, n: d, k: D, alpha: -1 });
      b.matmul({ a: xb, b: W, c: y, m: B, n: d, k: D, bias: negMuW });
      b.matmul({ a: y, b: Minv, c: e, m: B, n: d, k: d });
      b.reparamChol({ m: e, l: L, eps, z: zh, rows: B, d, key: { seed, stream: RNG_STREAM_SEM, counter: t } });
      // M′: gradient of −(1/B) Σ log N(x_i | W ẑ_i + μ, σ² I), then a descent step
      b.matmul({ a: zh, b: W, c: dec, m: B, n: D, k: d, transB: true, bias: mu });
      b.gaussianLogDensityBackward({
        x: xb, mu: dec, logvar: logSigma2, dOut, dMu: dDec, dLogvar: store.grad('logSigma2'),
        rows: B, cols: D, logvarMode: 'scalar',
      });
      b.matmul({ a: dDec, b: zh, c: store.grad('W'), m: D, n: d, k: B, transA: true });
      b.sumCols({ x: dDec, out: store.grad('mu'), rows: B, cols: D });
      const lr = learningRate(opts.lr, schedule, t);
      if (adamM && adamV) {
        b.adam({ param: store.params, grad: store.grads, m: adamM, v: adamV, n: layout.size, lr, beta1: 0.9, beta2: 0.999, eps: 1e-8, step: t + 1 });
      } else {
        b.sgd({ param: store.params, grad: store.grads, n: layout.size, lr });
      }
      b.matmul({ a: W, b: W, c: syncWtw, m: d, n: d, k: D, transA: true });
      b.copy({ src: logSigma2, dst: syncLogS2, n: 1 });
      const s = await b.read(sync);
      wtw = symmetrize(Float64Array.from(s.subarray(0, d * d)), d);
      sigma2 = Math.exp(s[syncTail]!);
      if (!Number.isFinite(sigma2) || !wtw.every(Number.isFinite)) {
        throw new KernelError(kernel, `parameters diverged at step ${t + 1} (σ² = ${sigma2}); lower the learning rate (now ${opts.lr})`);
      }
      if (evalEvery > 0 && (t + 1) % evalEvery === 0) await evaluate(t + 1);
    }
    const loglik = trace.at(-1)?.step === totalSteps ? trace.at(-1)!.loglik : await evaluate(totalSteps);
    const out = detach(b, model, sigma2, wtw);
    const seconds = (performance.now() - t0) / 1000;
    return { model: out, steps: totalSteps, loglik, trace, seconds, evalSeconds: evalMs / 1000, stepsPerSecond: totalSteps / (seconds - evalMs / 1000) };
  } finally {
    ws.releaseAll();
    store.release();
    b.release(sync);
    if (adamM) b.release(adamM);
    if (adamV) b.release(adamV);
  }
}

/** A standalone model (own tensors) from views into a training buffer. */
export function detach(b: Backend, m: { D: number; d: number; W: Tensor; mu: Tensor }, sigma2: number, wtw: Float64Array): PpcaModel {
  const W = b.tensor(m.D * m.d, { label: 'ppca.W' });
  const mu = b.tensor(m.D, { label: 'ppca.mu' });
  b.copy({ src: m.W, dst: W, n: m.D * m.d });
  b.copy({ src: m.mu, dst: mu, n: m.D });
  return { backend: b, D: m.D, d: m.d, W, mu, sigma2, wtw: Float64Array.from(wtw) };
}
