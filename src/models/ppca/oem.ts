// Online EM (Cappé & Moulines 2009) for PPCA: stochastic approximation of the
// complete-data sufficient statistics, then the exact M-step from them.
// With z̃ = [z; 1] and W̃ = [W | μ] (D×(d+1)), x = W̃ z̃ + σ ε, the statistics are
//   s  = avg x ⟨z̃⟩ᵀ          (D×(d+1), on the device)
//   Szz = avg ⟨z̃ z̃ᵀ⟩         ((d+1)², host float64)
//   sxx = avg ‖x‖²            (host float64, from precomputed row norms)
// updated as s ← (1−γ_t) s + γ_t ŝ_batch with γ_t = (t+1)^(−κ), κ ∈ (0.5, 1], and
// the M-step is W̃ = s Szz⁻¹, σ² = (sxx − tr(Szz⁻¹ sᵀs)) / D.
// Per step the device does the O(B·D·d) products (batch posterior means, the
// update of s, sᵀs); the host does (d+1)² algebra. One submission, one read-back.
import { KernelError, need, type Backend } from '../../backend.ts';
import { factorSpd, mul, symmetrize, toF32, traceOfProduct, type Mat } from './linalg.ts';
import { meanLogLik } from './loglik.ts';
import { Workspace, initialPpca, latentFactors, type DeviceData, type PpcaHost, type PpcaModel } from './model.ts';
import { MinibatchSampler, checkStochastic, type StochasticProgress, type StochasticResult } from './sem.ts';

export interface OemOptions {
  d: number;
  batch: number;
  epochs: number;
  /** γ_t = (t+1)^(−κ) */
  kappa?: number;
  seed?: number;
  init?: PpcaHost;
  evalEvery?: number;
  onEval?: (p: StochasticProgress) => void;
}

/** ‖x_i‖² per row in float64. */
function rowNorms(data: DeviceData): Float64Array {
  const { host, n, D } = data;
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let s = 0;
    for (let j = 0; j < D; j++) s += host[i * D + j]! ** 2;
    out[i] = s;
  }
  return out;
}

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

export async function fitOem(backend: Backend, data: DeviceData, opts: OemOptions): Promise<StochasticResult> {
  const kernel = 'ppca online EM';
  checkStochastic(kernel, data, opts);
  const kappa = opts.kappa ?? 0.6;
  need(kappa > 0.5 && kappa <= 1, kernel, `kappa must be in (0.5, 1], got ${kappa}`);
  const b = backend;
  const { D, n } = data;
  const { d, batch: B } = opts;
  const k = d + 1;
  const seed = opts.seed ?? 0;
  const stepsPerEpoch = Math.ceil(n / B);
  const totalSteps = Math.max(1, Math.round(opts.epochs * stepsPerEpoch));
  const evalEvery = opts.evalEvery ?? stepsPerEpoch;
  const init = opts.init ?? initialPpca(data, { d, seed });
  const norms = rowNorms(data);

  const ws = new Workspace(b, 'ppca.oem');
  // W̃ = [W | μ] row-major D×(d+1)
  const wAug = new Float32Array(D * k);
  for (let r = 0; r < D; r++) {
    for (let j = 0; j < d; j++) wAug[r * k + j] = init.W[r * d + j]!;
    wAug[r * k + d] = init.mu[r]!;
  }
  const Wt = ws.upload('Wtilde', wAug);
  const s = ws.get('s', D * k);
  const xb = ws.get('xb', B * D);
  const A = ws.get('A', D * k);
  const Et = ws.get('Etilde', B * k);
  const kAlign = Math.ceil((k * k) / 64) * 64;
  const sync = ws.get('sync', 2 * kAlign);
  const syncEtE = b.view(sync, 0, k * k);
  const syncK = b.view(sync, kAlign, k * k);
  // extraction of W and μ from W̃ for evaluation: W = W̃ [I_d; 0], μ = W̃ e_{d+1}
  const selW = new Float32Array(k * d);
  for (let j = 0; j < d; j++) selW[j * d + j] = 1;
  const selMu = new Float32Array(k);
  selMu[d] = 1;

  let Gt = augmentedGram(init);
  let sigma2 = init.sigma2;
  let Szz: Mat = new Float64Array(k * k);
  let sxx = 0;
  const sampler = new MinibatchSampler(n, B, seed ^ 0x85ebca6b);
  const Wm = b.tensor(D * d, { label: 'ppca.W' });
  const mum = b.tensor(D, { label: 'ppca.mu' });
  const model: PpcaModel = { backend: b, D, d, W: Wm, mu: mum, sigma2, wtw: new Float64Array(d * d) };
  const extract = (): void => {
    b.matmul({ a: Wt, b: ws.upload('selW', selW), c: Wm, m: D, n: d, k });
    b.matmul({ a: Wt, b: ws.upload('selMu', selMu), c: mum, m: D, n: 1, k });
    model.sigma2 = sigma2;
    model.wtw = Float64Array.from({ length: d * d }, (_, i) => Gt[Math.floor(i / d) * k + (i % d)]!);
  };
  const trace: StochasticProgress[] = [];
  const t0 = performance.now();
  let evalMs = 0;
  const evaluate = async (step: number): Promise<number> => {
    const e0 = performance.now();
    extract();
    const loglik = await meanLogLik(model, data);
    evalMs += performance.now() - e0;
    const p = { step, epoch: step / stepsPerEpoch, loglik, sigma2, seconds: (performance.now() - t0) / 1000 };
    trace.push(p);
    opts.onEval?.(p);
    return loglik;
  };

  try {
    if (evalEvery > 0) await evaluate(0);
    for (let t = 0; t < totalSteps; t++) {
      const gamma = Math.pow(t + 1, -kappa);
      // E-step quantities of the current θ: M from the [W|μ] Gram
      const wtw = Float64Array.from({ length: d * d }, (_, i) => Gt[Math.floor(i / d) * k + (i % d)]!);
      const f = latentFactors(wtw, sigma2, d);
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
      const batchIdx = sampler.next();
      const idx = ws.upload('idx', batchIdx);
      const Pt = ws.upload('P', P);
      const biasT = ws.upload('bias', bias);
      b.gatherRows({ src: data.x, idx, dst: xb, rows: B, cols: D });
      b.matmul({ a: Wt, b: Pt, c: A, m: D, n: k, k });
      b.matmul({ a: xb, b: A, c: Et, m: B, n: k, k: D, bias: biasT });
      b.matmul({ a: Et, b: Et, c: syncEtE, m: k, n: k, k: B, transA: true });
      // s ← (1−γ) s + (γ/B) xᵀ Ẽ
      b.scale({ x: s, n: D * k, alpha: 1 - gamma });
      b.matmul({ a: xb, b: Et, c: s, m: D, n: k, k: B, transA: true, alpha: gamma / B, accumulate: true });
      b.matmul({ a: s, b: s, c: syncK, m: k, n: k, k: D, transA: true });
      const hostSync = await b.read(sync);
      const EtE = Float64Array.from(hostSync.subarray(0, k * k));
      const K = symmetrize(Float64Array.from(hostSync.subarray(kAlign, kAlign + k * k)), k);
      // Szz ← (1−γ) Szz + γ [(1/B) ẼᵀẼ + blockdiag(σ² M⁻¹, 0)]
      const next = new Float64Array(k * k);
      for (let i = 0; i < k; i++) {
        for (let j = 0; j < k; j++) {
          let v = EtE[i * k + j]! / B;
          if (i < d && j < d) v += sigma2 * Minv[i * d + j]!;
          next[i * k + j] = (1 - gamma) * Szz[i * k + j]! + gamma * v;
        }
      }
      Szz = symmetrize(next, k);
      let bx = 0;
      for (const i of batchIdx) bx += norms[i]!;
      sxx = (1 - gamma) * sxx + (gamma * bx) / B;
      // M-step
      const Pinv = factorSpd(Szz, k, `${kernel}: Σ⟨z̃ z̃ᵀ⟩`).inverse;
      Gt = symmetrize(mul(mul(Pinv, K, k, k, k), Pinv, k, k, k), k);
      sigma2 = (sxx - traceOfProduct(Pinv, K, k)) / D;
      if (!Number.isFinite(sigma2)) throw new KernelError(kernel, `σ² became ${sigma2} at step ${t + 1}`);
      sigma2 = Math.max(sigma2, 1e-12 * (sxx / D));
      b.matmul({ a: s, b: ws.upload('Pinv', toF32(Pinv)), c: Wt, m: D, n: k, k });
      if (evalEvery > 0 && (t + 1) % evalEvery === 0) await evaluate(t + 1);
    }
    const loglik = trace.at(-1)?.step === totalSteps ? trace.at(-1)!.loglik : await evaluate(totalSteps);
    const seconds = (performance.now() - t0) / 1000;
    return { model, steps: totalSteps, loglik, trace, seconds, evalSeconds: evalMs / 1000, stepsPerSecond: totalSteps / (seconds - evalMs / 1000) };
  } finally {
    ws.releaseAll();
  }
}
