// Factor analysis with missing values: the observed-data log-likelihood
// (Woodbury on the observed block) against a dense float64 reference, EM's
// monotone climb, and on MNIST with 10%, 30% and 50% of the pixels hidden at
// random: the fitted model's figure equals the reference, and imputing the
// hidden pixels by the posterior mean beats imputing the column mean.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli } from '../src/cli/program.ts';
import { subsetRows } from '../src/data/dataset.ts';
import { loadMnist } from '../src/data/mnist.node.ts';
import { encodeNpy, parseNpy } from '../src/data/npy.ts';
import type { FaHost } from '../src/models/fa/fa.ts';
import { faImpute, faMissingLogLikRows, fitFaMissing, type MissingData } from '../src/models/fa/missing.ts';
import { fitFaMissingOn } from '../src/models/fa/missingOn.ts';
import type { Backend } from '../src/backend.ts';
import { denseLogLik, synthetic } from './fa-helpers.ts';
import { TEST_ADAPTERS, cpu, gpuBackend, rng } from './gpu.ts';

/** x with each entry NaN with probability p (seeded); a column left with no observed entry keeps its first row. */
function hide(x: Float32Array, n: number, D: number, p: number, seed: number): Float32Array {
  const r = rng(seed);
  const out = Float32Array.from(x, (v) => (r() < p ? NaN : v));
  for (let j = 0; j < D; j++) {
    let any = false;
    for (let i = 0; i < n && !any; i++) any = !Number.isNaN(out[i * D + j]!);
    if (!any) out[j] = x[j]!;
  }
  return out;
}

/** log p(x_O) of row i by the dense float64 reference on the observed block. */
function denseObserved(h: FaHost, x: Float32Array, i: number): number {
  const obs: number[] = [];
  for (let j = 0; j < h.D; j++) if (!Number.isNaN(x[i * h.D + j]!)) obs.push(j);
  const sub: FaHost = {
    D: obs.length, d: h.d,
    W: Float64Array.from(obs.flatMap((j) => Array.from(h.W.subarray(j * h.d, (j + 1) * h.d)))),
    mu: Float64Array.from(obs, (j) => h.mu[j]!), psi: Float64Array.from(obs, (j) => h.psi[j]!),
  };
  return denseLogLik(sub, Float32Array.from(obs, (j) => x[i * h.D + j]!), 1)[0]!;
}

describe('fa with missing values (host, float64)', () => {
  it('the observed-data log-likelihood equals the dense reference; EM climbs and imputes better than the column mean', () => {
    const D = 15;
    const d = 3;
    const n = 800;
    const { truth, x: full } = synthetic(D, d, n, 9);
    const x = hide(full, n, D, 0.3, 2);
    const data: MissingData = { name: 'synthetic', x, n, D };
    const h: FaHost = { ...truth, psi: truth.psi.map((p, j) => p * 10 ** ((j % 3) - 1)) };
    const rows = faMissingLogLikRows(h, data);
    for (let i = 0; i < 40; i++) expect(Math.abs(rows[i]! - denseObserved(h, x, i))).toBeLessThanOrEqual(1e-9 * Math.abs(rows[i]!));
    const fit = fitFaMissing(data, d, { iters: 300, tol: 1e-8 });
    for (let t = 1; t < fit.curve.length; t++) expect(fit.curve[t]!).toBeGreaterThanOrEqual(fit.curve[t - 1]! - 1e-10);
    expect(fit.converged).toBe(true);
    const imputed = faImpute(fit.model, data);
    const { model, mean } = rmses(full, x, imputed, n, D);
    expect(model).toBeLessThan(0.8 * mean);
  });

  it('on MNIST with 10%, 30%, 50% hidden: EM\'s figure equals the dense reference, imputation beats the column mean', async () => {
    const train = subsetRows(loadMnist().train, 1000);
    const { n, D } = train;
    const out: string[] = [];
    for (const [k, p] of [0.1, 0.3, 0.5].entries()) {
      const x = hide(train.x, n, D, p, 20 + k);
      const data: MissingData = { name: 'mnist', x, n, D };
      const fit = fitFaMissing(data, 8, { iters: 15, tol: 1e-6 });
      for (let t = 1; t < fit.curve.length; t++) expect(fit.curve[t]!).toBeGreaterThanOrEqual(fit.curve[t - 1]! - 1e-9);
      // the reported figure is the mean over rows of faMissingLogLikRows; those rows against the dense reference
      const rows = faMissingLogLikRows(fit.model, data);
      let sum = 0;
      for (const v of rows) sum += v;
      expect(Math.abs(sum / n - fit.loglik)).toBeLessThan(1e-9 * Math.abs(fit.loglik));
      for (const i of [0, 1, 2, 500, 999]) expect(Math.abs(rows[i]! - denseObserved(fit.model, x, i))).toBeLessThan(1e-8 * Math.abs(rows[i]!));
      const r = rmses(train.x, x, faImpute(fit.model, data), n, D);
      expect(r.model).toBeLessThan(r.mean);
      if (p === 0.3) {
        // the same fit with the sums on the CPU backend (float32 products): the same figure
        const on = await fitFaMissingOn(cpu, data, 8, { iters: 15, tol: 1e-6 });
        expect(Math.abs(on.loglik - fit.loglik)).toBeLessThan(1e-3);
        out.push(`0.3 on the CPU backend: loglik ${on.loglik.toFixed(4)}, ${on.seconds.toFixed(1)} s`);
      }
      out.push(`${p}: loglik ${fit.loglik.toFixed(4)}, RMSE ${r.model.toFixed(4)} vs mean ${r.mean.toFixed(4)}, ${fit.iterations} iterations, ${fit.seconds.toFixed(1)} s`);
    }
    if (process.env.LATENTGPU_PRINT_FIGURES) console.log(out.join('\n'));
  }, 300_000);
});

function backendSuite(name: string, backend: () => Promise<Backend>): void {
  describe(`fa with missing values on ${name} (the sums by the backend's matmul)`, () => {
    it('follows the host float64 fit iterate by iterate, in one device block or two; the same model, figure and imputation', async () => {
      const b = await backend();
      const D = 15;
      const d = 3;
      const n = 700; // not whole 256-row chunks
      const { x: full } = synthetic(D, d, n, 9);
      const x = hide(full, n, D, 0.3, 2);
      const data: MissingData = { name: 'synthetic', x, n, D };
      const host = fitFaMissing(data, d, { iters: 40, tol: 1e-12 });
      const on = await fitFaMissingOn(b, data, d, { iters: 40, tol: 1e-12 });
      expect(on.iterations).toBe(host.iterations);
      let worst = 0;
      for (let t = 0; t < host.curve.length; t++) worst = Math.max(worst, Math.abs(on.curve[t]! - host.curve[t]!));
      if (process.env.LATENTGPU_PRINT_FIGURES) console.log(name, 'worst curve gap', worst, 'final', on.loglik - host.loglik);
      expect(worst).toBeLessThan(1e-4);
      expect(Math.abs(on.loglik - host.loglik)).toBeLessThan(1e-4);
      // rows in two device blocks (300 → 512 rows, whole 256-row chunks): the same fit
      const blocks = await fitFaMissingOn(b, data, d, { iters: 40, tol: 1e-12, chunkRows: 300 });
      for (let t = 0; t < host.curve.length; t++) expect(Math.abs(blocks.curve[t]! - host.curve[t]!)).toBeLessThan(1e-4);
      expect(Math.abs(blocks.loglik - on.loglik)).toBeLessThan(1e-6);
      const a = faImpute(on.model, data);
      const c = faImpute(host.model, data);
      for (let i = 0; i < a.length; i++) expect(Math.abs(a[i]! - c[i]!)).toBeLessThan(1e-3 * (1 + Math.abs(c[i]!)));
    }, 120_000);
  });
}

backendSuite('cpu', async () => cpu);
for (const adapter of TEST_ADAPTERS) backendSuite(adapter, () => gpuBackend(adapter));

/** RMSE on the hidden entries of the imputation and of the observed column means. */
function rmses(full: Float32Array, x: Float32Array, imputed: Float32Array, n: number, D: number): { model: number; mean: number } {
  const mu = new Float64Array(D);
  const c = new Float64Array(D);
  for (let i = 0; i < n; i++) for (let j = 0; j < D; j++) if (!Number.isNaN(x[i * D + j]!)) { mu[j]! += x[i * D + j]!; c[j]!++; }
  let se = 0;
  let sm = 0;
  let m = 0;
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < D; j++) {
      if (!Number.isNaN(x[i * D + j]!)) continue;
      se += (imputed[i * D + j]! - full[i * D + j]!) ** 2;
      sm += (mu[j]! / c[j]! - full[i * D + j]!) ** 2;
      m++;
    }
  }
  return { model: Math.sqrt(se / m), mean: Math.sqrt(sm / m) };
}

describe('fa --missing nan from the CLI', () => {
  const dir = mkdtempSync(join(tmpdir(), 'latentgpu-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  async function run(args: string[]): Promise<[number, string, string]> {
    let o = '';
    let e = '';
    const code = await runCli([...args, '--backend', 'cpu', '--json'], { stdout: (t) => { o += t; }, stderr: (t) => { e += t; }, env: {} });
    return [code, o, e];
  }

  it('trains on NaN data, writes the model and the imputed rows; eval --missing nan reproduces the figures', async () => {
    const D = 10;
    const n = 400;
    const { x: full } = synthetic(D, 2, n, 3);
    const x = hide(full, n, D, 0.2, 4);
    const trainFile = join(dir, 'train.npy');
    const testFile = join(dir, 'test.npy');
    const { writeFileSync } = await import('node:fs');
    writeFileSync(trainFile, encodeNpy(x.subarray(0, 300 * D), 300, D));
    writeFileSync(testFile, encodeNpy(x.subarray(300 * D), 100, D));
    const model = join(dir, 'fa.safetensors');
    const imputed = join(dir, 'imputed.npy');
    const [code, out, err] = await run(['train', '--model', 'fa', '--latent', '2', '--data', trainFile, '--test', testFile, '--missing', 'nan', '--out', model, '--impute', imputed, '--iters', '200']);
    expect(err).toBe('');
    expect(code).toBe(0);
    const r = JSON.parse(out) as Record<string, number | string>;
    expect(r).toMatchObject({ model: 'fa', missing: 'nan', where: 'sums on the backend, solves on the host in float64' });
    const back = parseNpy(readFileSync(imputed));
    expect([back.n, back.D]).toEqual([300, D]);
    // observed entries unchanged, every hidden one filled
    for (let i = 0; i < 300 * D; i++) expect(Number.isNaN(x[i]!) ? Number.isFinite(back.x[i]!) : back.x[i] === x[i]).toBe(true);
    for (const split of ['train', 'test']) {
      const [c, o] = await run(['eval', '--model', model, '--data', trainFile, '--test', testFile, '--missing', 'nan', '--split', split]);
      expect(c).toBe(0);
      expect((JSON.parse(o) as { loglik: number }).loglik).toBe(r[`${split}_loglik`]);
    }
    // without --missing nan a NaN stays an error
    const [c2, o2, e2] = await run(['eval', '--model', model, '--data', trainFile, '--test', testFile]);
    expect([c2, o2]).toEqual([1, '']);
    expect(e2).toContain('NaN');
  }, 60_000);
});
