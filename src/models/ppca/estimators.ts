// Estimators of log p(x) for PPCA (DESIGN.md §1.6), all set against the exact value:
//   exact         the closed form of loglik.ts
//   prior-jensen  (1/K) Σ_k log p(x | z_k),  z_k ~ p(z)            (the seed's "bad" bound)
//   prior         log (1/K) Σ_k p(x | z_k),  z_k ~ p(z)            (consistent, high variance)
//   elbo          (1/K) Σ_k log p(x | z_k) − KL(q ‖ p),  z_k ~ q
//   iwae          log (1/K) Σ_k p(x, z_k) / q(z_k | x),  z_k ~ q   (Burda et al. 2016)
// q is the exact posterior N(E_i, σ²M⁻¹) (then the ELBO is exact in expectation
// and every IWAE weight equals p(x)), its mean-field optimum N(E_i, diag σ²/M_jj),
// or a given diagonal Gaussian per row. The sampled terms run on the backend:
// rows are replicated K times by gatherRows, z drawn by the counter-based RNG,
// decoded by one matmul (W z + μ) and scored by the Gaussian log-density kernel;
// the host folds each block's per-(row, sample) values into a float64 running
// log-sum-exp, so K up to thousands runs in chunks of bounded memory. Data held
// in several device buffers (model.ts dataParts) are taken block by block, a
// block never spanning two buffers.
import { KernelError, need, type Tensor } from '../../backend.ts';
import { Workspace, type DeviceData, type PpcaModel } from './model.ts';
import { gatherCentered, logLikRows, mean, rowBlocks } from './loglik.ts';
import { posteriorMeans, uploadPosterior } from './posterior.ts';

export type EstimatorName = 'exact' | 'elbo' | 'iwae' | 'prior' | 'prior-jensen';
export const ESTIMATORS: readonly EstimatorName[] = ['exact', 'elbo', 'iwae', 'prior', 'prior-jensen'];

/** A diagonal Gaussian per data row: mean and log-variance, each n×d on the backend. */
export interface GivenGaussian {
  mean: Tensor;
  logvar: Tensor;
}
export type Proposal = 'posterior' | 'mean-field' | GivenGaussian;

export interface EstimateOptions {
  estimator: EstimatorName;
  /** K */
  samples?: number;
  q?: Proposal;
  seed?: number;
  /** (row, sample) pairs per block (default: ~4M floats of D-wide scratch) */
  blockRows?: number;
}

export interface Estimate {
  estimator: EstimatorName;
  samples: number;
  /** per-row estimates of log p(x_i) */
  rows: Float64Array;
  /** mean per sample (nats) */
  mean: number;
  /** standard error of the mean over rows */
  stderr: number;
}

const STREAMS: Record<EstimatorName, number> = { exact: 0, elbo: 0xe1b0, iwae: 0x1aae, prior: 0x9410, 'prior-jensen': 0x9411 };

function summarize(estimator: EstimatorName, samples: number, rows: Float64Array): Estimate {
  const m = mean(rows);
  let v = 0;
  for (const r of rows) v += (r - m) ** 2;
  const stderr = rows.length > 1 ? Math.sqrt(v / (rows.length - 1) / rows.length) : 0;
  return { estimator, samples, rows, mean: m, stderr };
}

export async function estimateLogLik(model: PpcaModel, data: DeviceData, opts: EstimateOptions): Promise<Estimate> {
  const kernel = `ppca estimator '${opts.estimator}'`;
  if (!ESTIMATORS.includes(opts.estimator)) {
    throw new KernelError('ppca estimator', `unknown estimator '${opts.estimator}' (${ESTIMATORS.join(' | ')})`);
  }
  if (opts.estimator === 'exact') return summarize('exact', 0, await logLikRows(model, data));
  const K = opts.samples ?? 100;
  need(Number.isInteger(K) && K >= 1, kernel, `samples K must be a positive integer, got ${K}`);
  need(data.D === model.D, kernel, `${data.name} has ${data.D} columns, the model D=${model.D}`);
  const { backend: b, D, d } = model;
  const n = data.n;
  const usesQ = opts.estimator === 'elbo' || opts.estimator === 'iwae';
  const q = opts.q ?? 'posterior';
  if (typeof q === 'object') {
    need(q.mean.length >= n * d && q.logvar.length >= n * d, kernel, `the given q needs mean and logvar of ${n}×${d}`);
  }
  const seed = opts.seed ?? 0;
  const stream = STREAMS[opts.estimator];
  const logS2 = Math.log(model.sigma2);

  // block layout: Kc samples × nr rows, pair (k, i) at row k·nr + i
  const budget = opts.blockRows ?? Math.max(1, Math.floor((1 << 22) / D));
  const Kc = Math.min(K, budget);
  const nr = Math.max(1, Math.min(n, Math.floor(budget / Kc)));
  const R = Kc * nr;
  const ws = new Workspace(b, 'ppca.estimate');

  const acc = new Float64Array(n);
  const lseMax = new Float64Array(n).fill(-Infinity);
  const lseSum = new Float64Array(n);
  const fold = (i: number, v: number): void => {
    if (v <= lseMax[i]!) lseSum[i]! += Math.exp(v - lseMax[i]!);
    else {
      lseSum[i] = lseSum[i]! * Math.exp(lseMax[i]! - v) + 1;
      lseMax[i] = v;
    }
  };

  try {
    const lv = ws.upload('logSigma2', new Float32Array([logS2]));
    const lv0 = ws.upload('zeroLogvar', new Float32Array([0]));
    const post = uploadPosterior(ws, model.wtw, model.sigma2, d);
    const f = post.factors;
    let logDetL = 0;
    for (let j = 0; j < d; j++) logDetL += Math.log(f.postChol[j * d + j]!);
    // the mean-field optimum for a Gaussian target keeps its mean and takes variances 1/Λ_jj, Λ = M/σ²
    const mfLogvar = Float32Array.from({ length: d }, (_, j) => Math.log(model.sigma2 / (model.wtw[j * d + j]! + model.sigma2)));
    const xc = ws.get('xc', nr * D);
    const eRows = ws.get('eRows', nr * d);
    const lvRows = ws.get('lvRows', nr * d);
    const xrep = ws.get('xrep', R * D);
    const erep = ws.get('erep', R * d);
    const lvrep = ws.get('lvrep', R * d);
    const eps = ws.get('eps', R * d);
    const z = ws.get('z', R * d);
    const dec = ws.get('decoded', R * D);
    const zerosd = ws.get('zerosd', R * d);
    const lpx = ws.get('logPxz', R);
    const lpz = ws.get('logPz', R);
    const leps = ws.get('logNormalEps', R);
    let counter = 0;
    for (const [part, r0, rows] of rowBlocks(data, nr)) {
      // per-row q: mean and log-variances
      let qMean: Float32Array | null = null;
      let qLogvar: Float32Array | null = null;
      if (usesQ) {
        if (typeof q === 'object') {
          const gi = ws.upload('qIdx', Uint32Array.from({ length: rows }, (_, i) => r0 + i));
          b.gatherRows({ src: q.mean, idx: gi, dst: eRows, rows, cols: d });
          b.gatherRows({ src: q.logvar, idx: gi, dst: lvRows, rows, cols: d });
          [qMean, qLogvar] = await Promise.all([b.read(eRows), b.read(lvRows)]);
        } else {
          // E_i = M⁻¹ Wᵀ (x_i − μ)
          gatherCentered(model, data, ws, r0, rows, xc, 'rowIdx');
          posteriorMeans(b, ws, { xc, W: model.W, Minv: post.Minv, e: eRows, rows, D, d });
          qMean = await b.read(eRows);
          if (q === 'mean-field') {
            qLogvar = new Float32Array(rows * d);
            for (let i = 0; i < rows; i++) qLogvar.set(mfLogvar, i * d);
            b.upload(lvRows, qLogvar);
          }
        }
      }
      // KL(q_i ‖ p) = ½ [tr Σ + ‖m‖² − d − log|Σ|]
      if (opts.estimator === 'elbo') {
        for (let i = 0; i < rows; i++) {
          let s = 0;
          for (let j = 0; j < d; j++) s += qMean![i * d + j]! ** 2;
          if (qLogvar) for (let j = 0; j < d; j++) { const l = qLogvar[i * d + j]!; s += Math.exp(l) - 1 - l; }
          else {
            let tr = 0;
            for (let j = 0; j < d; j++) tr += f.postCov[j * d + j]!;
            s += tr - d - 2 * logDetL;
          }
          acc[r0 + i]! -= 0.5 * s;
        }
      }
      for (let k0 = 0; k0 < K; k0 += Kc) {
        const ks = Math.min(Kc, K - k0);
        const pairs = ks * rows;
        const idx = new Uint32Array(pairs);
        const local = new Uint32Array(pairs);
        for (let k = 0; k < ks; k++) for (let i = 0; i < rows; i++) { idx[k * rows + i] = r0 - part.r0 + i; local[k * rows + i] = i; }
        b.gatherRows({ src: part.x, idx: ws.upload('repIdx', idx), dst: xrep, rows: pairs, cols: D });
        const key = { seed, stream, counter: counter++ };
        if (!usesQ) {
          b.normal({ out: z, n: pairs * d, key });
        } else {
          const li = ws.upload('localIdx', local);
          b.gatherRows({ src: eRows, idx: li, dst: erep, rows: pairs, cols: d });
          if (qLogvar) {
            b.gatherRows({ src: lvRows, idx: li, dst: lvrep, rows: pairs, cols: d });
            b.reparamDiag({ m: erep, logvar: lvrep, eps, z, rows: pairs, cols: d, key });
          } else {
            b.reparamChol({ m: erep, l: post.chol, eps, z, rows: pairs, d, key });
          }
        }
        b.matmul({ a: z, b: model.W, c: dec, m: pairs, n: D, k: d, transB: true, bias: model.mu });
        b.gaussianLogDensity({ x: xrep, mu: dec, logvar: lv, out: lpx, rows: pairs, cols: D, logvarMode: 'scalar' });
        if (opts.estimator === 'iwae') {
          b.gaussianLogDensity({ x: z, mu: zerosd, logvar: lv0, out: lpz, rows: pairs, cols: d, logvarMode: 'scalar' });
          b.gaussianLogDensity({ x: eps, mu: zerosd, logvar: lv0, out: leps, rows: pairs, cols: d, logvarMode: 'scalar' });
        }
        const px = await b.read(lpx);
        const [pz, pe] = opts.estimator === 'iwae' ? await Promise.all([b.read(lpz), b.read(leps)]) : [null, null];
        for (let k = 0; k < ks; k++) {
          for (let i = 0; i < rows; i++) {
            const j = k * rows + i;
            const row = r0 + i;
            switch (opts.estimator) {
              case 'prior-jensen':
              case 'elbo':
                acc[row]! += px[j]! / K;
                break;
              case 'prior':
                fold(row, px[j]!);
                break;
              case 'iwae': {
                // log q(z) = log N(ε; 0, I) − log|L| (full) or − ½ Σ logvar (diagonal)
                let halfLogDet = logDetL;
                if (qLogvar) {
                  halfLogDet = 0;
                  for (let c = 0; c < d; c++) halfLogDet += 0.5 * qLogvar[i * d + c]!;
                }
                fold(row, px[j]! + pz![j]! - (pe![j]! - halfLogDet));
                break;
              }
              default:
                break;
            }
          }
        }
      }
    }
  } finally {
    ws.releaseAll();
  }
  if (opts.estimator === 'prior' || opts.estimator === 'iwae') {
    for (let i = 0; i < n; i++) acc[i] = lseMax[i]! + Math.log(lseSum[i]!) - Math.log(K);
  }
  return summarize(opts.estimator, K, acc);
}

