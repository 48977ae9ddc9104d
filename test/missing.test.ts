// PPCA with missing values (src/models/ppca/missing.ts): the Woodbury
// observed-data log-likelihood against a dense float64 reference, EM's
// monotone ascent, the no-missing fixed point against the closed form, and
// imputation against mean imputation on MNIST with hidden pixels.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseCsv } from '../src/data/csv.ts';
import { subsetRows, validateForModel } from '../src/data/dataset.ts';
import { loadMnist } from '../src/data/mnist.node.ts';
import { encodeNpy, parseNpy } from '../src/data/npy.ts';
import { syntheticPpca } from '../src/data/synthetic.ts';
import { closedFormPpca } from '../src/models/ppca/closed.ts';
import { cholesky, logDetFromCholesky } from '../src/models/ppca/linalg.ts';
import { LOG_2PI } from '../src/models/ppca/model.ts';
import {
  fitPpcaMissing, imputeMissing, missingLogLikRows, observedMeans, type MissingData, type PpcaParams,
} from '../src/models/ppca/missing.ts';
import { HostRng } from '../src/train/rng.ts';
import { expectRejected, runCliChild } from './hostile/run.ts';

/** A copy of x with each entry hidden (NaN) with probability `frac`, seeded. */
function hide(x: Float32Array, frac: number, seed: number): Float32Array {
  const rng = new HostRng(seed);
  return x.map((v) => (rng.uniform() < frac ? NaN : v));
}

/** Row i's log N(x_O; μ_O, W_O W_Oᵀ + σ²I) from the dense covariance (float64 Cholesky). */
function denseRowLogLik(p: PpcaParams, x: Float32Array, i: number): number {
  const { D, d, W, mu, sigma2 } = p;
  const O = Array.from({ length: D }, (_, j) => j).filter((j) => !Number.isNaN(x[i * D + j]!));
  const o = O.length;
  if (o === 0) return 0;
  const C = new Float64Array(o * o);
  for (let a = 0; a < o; a++) {
    for (let b = 0; b < o; b++) {
      let s = a === b ? sigma2 : 0;
      for (let q = 0; q < d; q++) s += W[O[a]! * d + q]! * W[O[b]! * d + q]!;
      C[a * o + b] = s;
    }
  }
  const L = cholesky(C, o);
  // z = L⁻¹ r; quad = zᵀz
  const z = new Float64Array(o);
  for (let a = 0; a < o; a++) {
    let s = x[i * D + O[a]!]! - mu[O[a]!]!;
    for (let q = 0; q < a; q++) s -= L[a * o + q]! * z[q]!;
    z[a] = s / L[a * o + a]!;
  }
  let quad = 0;
  for (const v of z) quad += v * v;
  return -0.5 * (o * LOG_2PI + logDetFromCholesky(L, o) + quad);
}

function rmseOnHidden(truth: Float32Array, hidden: Float32Array, filled: Float32Array): number {
  let s = 0;
  let c = 0;
  for (let k = 0; k < truth.length; k++) {
    if (!Number.isNaN(hidden[k]!)) continue;
    s += (filled[k]! - truth[k]!) ** 2;
    c++;
  }
  return Math.sqrt(s / c);
}

function meanImputed(data: MissingData): Float32Array {
  const mu = observedMeans(data);
  return data.x.map((v, k) => (Number.isNaN(v) ? mu[k % data.D]! : v));
}

function expectMonotone(curve: number[]): void {
  for (let t = 1; t < curve.length; t++) expect(curve[t]!).toBeGreaterThanOrEqual(curve[t - 1]! - 1e-9 * Math.abs(curve[t - 1]!));
}

describe('PPCA with missing values', () => {
  const truth = syntheticPpca({ n: 400, D: 12, d: 3, sigma: 0.3, seed: 7 });
  const full = truth.data;

  it('the Woodbury log-likelihood equals the dense Gaussian over the observed coordinates (1e-9 relative)', () => {
    const x = hide(full.x, 0.3, 1);
    // rows with nothing and with everything observed too
    x.fill(NaN, 0, 12);
    x.set(full.x.subarray(12, 24), 12);
    const p: PpcaParams = { D: 12, d: 3, W: truth.W, mu: truth.mu, sigma2: 0.2 };
    const rows = missingLogLikRows(p, { x, n: full.n, D: 12 });
    expect(rows[0]).toBe(0);
    for (let i = 0; i < full.n; i++) {
      const ref = denseRowLogLik(p, x, i);
      expect(Math.abs(rows[i]! - ref)).toBeLessThanOrEqual(1e-9 * Math.max(1, Math.abs(ref)));
    }
  });

  it('EM is monotone, recovers the observed-data optimum and imputes better than the column means', () => {
    const x = hide(full.x, 0.3, 2);
    const data: MissingData = { x, n: full.n, D: 12 };
    const fit = fitPpcaMissing(data, 3, { iters: 1000, tol: 1e-7 });
    expectMonotone(fit.curve);
    expect(fit.converged).toBe(true);
    expect(fit.sigma2).toBeGreaterThan(0.09 * 0.8);
    expect(fit.sigma2).toBeLessThan(0.09 * 1.2);
    const imputed = imputeMissing(fit, data);
    expect(rmseOnHidden(full.x, x, imputed)).toBeLessThan(0.7 * rmseOnHidden(full.x, x, meanImputed(data)));
  });

  it('with nothing missing, EM from a random start reaches the closed-form optimum (1e-6 nats)', () => {
    const closed = closedFormPpca({ host: full.x, n: full.n, D: 12 }, 3, 'full');
    const rng = new HostRng(3);
    const init: PpcaParams = { D: 12, d: 3, W: Float64Array.from({ length: 36 }, () => rng.normal()), mu: new Float64Array(12), sigma2: 1 };
    const fit = fitPpcaMissing({ x: full.x, n: full.n, D: 12 }, 3, { init, iters: 5000, tol: 1e-12 });
    expectMonotone(fit.curve);
    expect(Math.abs(fit.loglik - closed.loglik)).toBeLessThan(1e-6);
  });

  it('rejects a column with no observed entries and an infinite value', () => {
    const x = full.x.slice(0, 5 * 12);
    for (let i = 0; i < 5; i++) x[i * 12 + 4] = NaN;
    expect(() => fitPpcaMissing({ name: 't.csv', x, n: 5, D: 12 }, 2)).toThrow(/t\.csv: column 5 has no observed entries/);
    const y = full.x.slice(0, 5 * 12);
    y[13] = Infinity;
    expect(() => fitPpcaMissing({ name: 't.csv', x: y, n: 5, D: 12 }, 2)).toThrow(/row 2, column 2: value Infinity is not finite/);
  });

  it('MNIST with 30% of pixels hidden: exact log-likelihood, monotone EM, imputation beats the column means', () => {
    const train = subsetRows(loadMnist().train, 400);
    const x = hide(train.x, 0.3, 30);
    const data: MissingData = { name: 'mnist', x, n: train.n, D: train.D };
    // columns hidden in every row (MNIST's blank corners rarely are) are given back
    for (let j = 0; j < train.D; j++) {
      let any = false;
      for (let i = 0; i < train.n && !any; i++) any = !Number.isNaN(x[i * train.D + j]!);
      if (!any) x[j] = train.x[j]!;
    }
    const fit = fitPpcaMissing(data, 5, { iters: 8, tol: 0 });
    expectMonotone(fit.curve);
    const rows = missingLogLikRows(fit, data);
    for (const i of [0, 199, 399]) {
      const ref = denseRowLogLik(fit, x, i);
      expect(Math.abs(rows[i]! - ref)).toBeLessThanOrEqual(1e-9 * Math.abs(ref));
    }
    expect(rmseOnHidden(train.x, x, imputeMissing(fit, data))).toBeLessThan(rmseOnHidden(train.x, x, meanImputed(data)));
  });
});

describe('loaders with --missing nan', () => {
  it('NaN stays an error by default and is a missing entry when asked (CSV: empty, nan, NA; ±∞ always an error)', () => {
    const text = '1,2,3\n4,,6\nnan,NA,9\n';
    expect(() => parseCsv(text, { source: 'm.csv' })).toThrow(/m\.csv: row 2 \(line 2\), column 2: empty cell \(to treat it as a missing entry: --missing nan, for train or eval of --model ppca or fa/);
    const ds = parseCsv(text, { source: 'm.csv', missing: 'nan' });
    expect(Array.from(ds.x, (v) => (Number.isNaN(v) ? 'nan' : v))).toEqual([1, 2, 3, 4, 'nan', 6, 'nan', 'nan', 9]);
    expect(() => parseCsv('1,inf\n', { source: 'm.csv', missing: 'nan' })).toThrow(/not a finite number/);
    expect(() => validateForModel(ds, { latent: 1 })).toThrow(/row 2, column 2: value NaN is not finite \(to treat NaN as a missing entry: --missing nan, for train or eval of --model ppca or fa/);
    expect(() => validateForModel(ds, { latent: 1, missing: 'nan' })).not.toThrow();
    const bytes = encodeNpy(ds.x, 3, 3);
    expect(() => parseNpy(bytes, { source: 'm.npy' })).toThrow(/m\.npy: row 2, column 2: value NaN is not finite/);
    const back = parseNpy(bytes, { source: 'm.npy', missing: 'nan' });
    expect(Array.from(back.x, (v) => (Number.isNaN(v) ? 'nan' : v))).toEqual([1, 2, 3, 4, 'nan', 6, 'nan', 'nan', 9]);
    expect(() => parseNpy(encodeNpy(Float32Array.from([1, Infinity]), 1, 2), { source: 'i.npy', missing: 'nan' })).toThrow(/i\.npy: row 1, column 2: value Infinity is not finite/);
  });
});

describe('train --model ppca --missing nan (CLI)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'latentgpu-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const truth = syntheticPpca({ n: 200, D: 8, d: 2, sigma: 0.2, seed: 5 });
  const x = hide(truth.data.x, 0.2, 9);
  const data = join(dir, 'hidden.npy');
  writeFileSync(data, encodeNpy(x, 200, 8));
  const base = ['train', '--model', 'ppca', '--data', data, '--latent', '2', '--iters', '50', '--backend', 'cpu'];

  it('fits, writes the model and the imputed data (no NaN left, observed entries kept)', () => {
    const imputed = join(dir, 'imputed.npy');
    const r = runCliChild([...base, '--missing', 'nan', '--json', '--out', join(dir, 'model.safetensors'), '--impute', imputed]);
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout) as Record<string, unknown>;
    expect(out).toMatchObject({ missing: 'nan', n_train: 160 });
    expect(Number.isFinite(out.train_loglik) && Number.isFinite(out.test_loglik)).toBe(true);
    const back = parseNpy(readFileSync(imputed), { source: 'imputed.npy' });
    expect(back.n).toBe(160);
    expect(back.x.some(Number.isNaN)).toBe(false);
    // the training rows are the ones with i % 5 != 4
    const trainRows = Array.from({ length: 200 }, (_, i) => i).filter((i) => i % 5 !== 4);
    trainRows.forEach((src, dst) => {
      for (let j = 0; j < 8; j++) if (!Number.isNaN(x[src * 8 + j]!)) expect(back.x[dst * 8 + j]).toBe(x[src * 8 + j]);
    });
  });

  it('without --missing a NaN is an error saying how to opt in; --impute never overwrites the data', () => {
    expectRejected(runCliChild(base), ['hidden.npy', 'value NaN is not finite', '--missing nan']);
    expectRejected(runCliChild([...base, '--missing', 'nan', '--impute', data], { watch: [data] }), ['--impute', 'same file as --data']);
    expectRejected(runCliChild(['train', '--model', 'ppca', '--data', 'synthetic', '--latent', '2', '--backend', 'cpu', '--impute', join(dir, 'i.npy')]), ['--impute FILE goes with --missing nan']);
  });
});

// The figures of docs/missing-results.md (under a minute; the table is printed with
// LATENTGPU_MISSING_REPORT=1 npx vitest run test/missing.test.ts -t 'results page')
describe('results page', () => {
  it('MNIST, 2,000 training rows, d = 10: 10%, 30%, 50% of pixels hidden', () => {
    const train = subsetRows(loadMnist().train, 2000);
    const lines = ['| hidden | iterations | seconds | observed-data log-lik per row | max rel. error vs dense (5 rows) | RMSE, PPCA posterior mean | RMSE, column mean |', '|---|---|---|---|---|---|---|'];
    for (const frac of [0.1, 0.3, 0.5]) {
      const x = hide(train.x, frac, 100 + Math.round(100 * frac));
      const data: MissingData = { name: 'mnist', x, n: train.n, D: train.D };
      const t0 = performance.now();
      const fit = fitPpcaMissing(data, 10, { iters: 100, tol: 1e-3 });
      const seconds = (performance.now() - t0) / 1000;
      expectMonotone(fit.curve);
      const rows = missingLogLikRows(fit, data);
      let relErr = 0;
      for (const i of [0, 500, 1000, 1500, 1999]) relErr = Math.max(relErr, Math.abs(rows[i]! - denseRowLogLik(fit, x, i)) / Math.abs(rows[i]!));
      expect(relErr).toBeLessThan(1e-9);
      const ppca = rmseOnHidden(train.x, x, imputeMissing(fit, data));
      const mean = rmseOnHidden(train.x, x, meanImputed(data));
      expect(ppca).toBeLessThan(mean);
      lines.push(`| ${100 * frac}% | ${fit.iterations}${fit.converged ? '' : ' (cap)'} | ${seconds.toFixed(1)} | ${fit.loglik.toFixed(3)} | ${relErr.toExponential(1)} | ${ppca.toFixed(4)} | ${mean.toFixed(4)} |`);
    }
    if (process.env.LATENTGPU_MISSING_REPORT === '1') console.log(lines.join('\n'));
  }, 600_000);
});
