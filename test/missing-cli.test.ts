// `train --model ppca --missing nan` on the backend and `eval --missing nan`
// (src/cli/ppcaMissing.ts): the CLI's figures equal the float64 library's on the
// same model file, on the CPU backend and llvmpipe; hostile input (an all-NaN
// row, an all-NaN column, a column observed once, NaN where --missing is not given).
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { encodeNpy, parseNpy } from '../src/data/npy.ts';
import { syntheticPpca } from '../src/data/synthetic.ts';
import { loadSafetensors } from '../src/io/atomic.node.ts';
import { ppcaFromTensors } from '../src/models/ppca/file.ts';
import { missingMeanLogLik } from '../src/models/ppca/missing.ts';
import { HostRng } from '../src/train/rng.ts';
import { expectRejected, runCliChild } from './hostile/run.ts';

const D = 8;
const N = 200;

/** Synthetic rows with 20% hidden; row 4 (a test row: i % 5 = 4) hidden whole, column 6 observed only in row 0. */
function hiddenData(): Float32Array {
  const truth = syntheticPpca({ n: N, D, d: 2, sigma: 0.2, seed: 5 });
  const rng = new HostRng(9);
  const x = truth.data.x.map((v) => (rng.uniform() < 0.2 ? NaN : v));
  for (let j = 0; j < D; j++) x[4 * D + j] = NaN;
  for (let i = 1; i < N; i++) x[i * D + 6] = NaN;
  x[6] = truth.data.x[6]!;
  return x;
}

/** The rows i % 5 = 4 (the canonical test split). */
function testRows(x: Float32Array): Float32Array {
  const rows = Array.from({ length: N }, (_, i) => i).filter((i) => i % 5 === 4);
  const out = new Float32Array(rows.length * D);
  rows.forEach((src, dst) => out.set(x.subarray(src * D, (src + 1) * D), dst * D));
  return out;
}

describe('ppca --missing nan from the command line', () => {
  const dir = mkdtempSync(join(tmpdir(), 'latentgpu-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const x = hiddenData();
  const data = join(dir, 'hidden.npy');
  writeFileSync(data, encodeNpy(x, N, D));
  const model = join(dir, 'model.safetensors');
  const evalArgs = ['eval', '--model', model, '--data', data, '--missing', 'nan', '--json'];

  it('trains on the backend with an all-NaN row and a column observed once; eval reports the library\'s observed-data log-likelihood on cpu and llvmpipe', async () => {
    const t = runCliChild(['train', '--model', 'ppca', '--data', data, '--latent', '2', '--iters', '40', '--missing', 'nan', '--backend', 'cpu', '--json', '--out', model]);
    expect(t.code, t.stderr).toBe(0);
    const fit = JSON.parse(t.stdout) as Record<string, number>;
    expect(Number.isFinite(fit.train_loglik) && Number.isFinite(fit.test_loglik) && fit.sigma2! > 0).toBe(true);
    const host = ppcaFromTensors(await loadSafetensors(model), model);
    const want = missingMeanLogLik(host, { x: testRows(x), n: N / 5, D });
    expect(Math.abs(fit.test_loglik! - want)).toBeLessThan(1e-4 * Math.abs(want));
    for (const backend of [['--backend', 'cpu'], ['--backend', 'webgpu', '--adapter', 'llvmpipe']]) {
      const imputed = join(dir, `imputed-${backend.length}.npy`);
      const r = runCliChild([...evalArgs, ...backend, '--impute', imputed]);
      expect(r.code, r.stderr).toBe(0);
      const out = JSON.parse(r.stdout) as Record<string, number>;
      expect(out).toMatchObject({ missing: 'nan', n: N / 5, rows_with_nothing_observed: 1, estimator: 'exact' });
      expect(Math.abs(out.loglik! - want)).toBeLessThan(1e-4 * Math.abs(want));
      const back = parseNpy(readFileSync(imputed), { source: 'imputed.npy' });
      const rows = testRows(x);
      expect(back.x.some(Number.isNaN)).toBe(false);
      for (let k = 0; k < rows.length; k++) if (!Number.isNaN(rows[k]!)) expect(back.x[k]).toBe(rows[k]);
      // the all-NaN row is imputed by the mean μ (its posterior is the prior)
      for (let j = 0; j < D; j++) expect(back.x[0 * D + j]).toBeCloseTo(host.mu[j]!, 5);
    }
  }, 60_000);

  it('eval of an all-NaN column is defined (the model predicts it); training on one is an error naming the column', () => {
    const y = x.slice();
    for (let i = 0; i < N; i++) y[i * D + 2] = NaN;
    const col = join(dir, 'column.npy');
    writeFileSync(col, encodeNpy(y, N, D));
    const r = runCliChild(['eval', '--model', model, '--data', col, '--missing', 'nan', '--json', '--backend', 'cpu']);
    expect(r.code, r.stderr).toBe(0);
    expect(Number.isFinite((JSON.parse(r.stdout) as Record<string, number>).loglik)).toBe(true);
    expectRejected(runCliChild(['train', '--model', 'ppca', '--data', col, '--latent', '2', '--missing', 'nan', '--backend', 'cpu']), ['column 3 has no observed entries']);
  });

  it('NaN without --missing nan is an error in eval; --missing is only for exact EM; eval --missing takes the exact estimator only', () => {
    expectRejected(runCliChild(['eval', '--model', model, '--data', data, '--backend', 'cpu']), ['hidden.npy', 'value NaN is not finite', '--missing nan']);
    expectRejected(runCliChild(['train', '--model', 'ppca', '--method', 'sem', '--data', data, '--latent', '2', '--missing', 'nan', '--backend', 'cpu']), ['--missing', 'does not apply']);
    expectRejected(runCliChild([...evalArgs, '--backend', 'cpu', '--estimator', 'iwae']), ['--estimator iwae with --missing nan']);
    expectRejected(runCliChild(['eval', '--model', model, '--data', data, '--backend', 'cpu', '--impute', join(dir, 'x.npy')]), ['--impute FILE goes with --missing nan']);
    expectRejected(runCliChild([...evalArgs, '--backend', 'cpu', '--impute', data], { watch: [data] }), ['--impute', 'same file as --data']);
    expectRejected(runCliChild([...evalArgs, '--backend', 'cpu', '--impute', model], { watch: [model] }), ['--impute', 'ending in .npy']);
  });

  it('--run-dir: the curve, loadings, reconstructions of the imputed test rows, metrics.json and the model', async () => {
    // 16 columns: the pictures are 4×4 images
    const sq = syntheticPpca({ n: N, D: 16, d: 2, sigma: 0.2, seed: 6 }).data.x;
    const rng = new HostRng(11);
    const path = join(dir, 'square.npy');
    writeFileSync(path, encodeNpy(sq.map((v) => (rng.uniform() < 0.3 ? NaN : v)), N, 16));
    const runDir = join(dir, 'run');
    const r = runCliChild(['train', '--model', 'ppca', '--data', path, '--latent', '2', '--iters', '30', '--missing', 'nan', '--backend', 'cpu', '--json', '--run-dir', runDir]);
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout) as Record<string, unknown>;
    expect(out.files).toEqual(['objective.svg', 'loadings.png', 'reconstructions.png', 'metrics.json', 'model.safetensors']);
    const metrics = JSON.parse(readFileSync(join(runDir, 'metrics.json'), 'utf8')) as Record<string, unknown>;
    expect(metrics.train_loglik).toBe(out.train_loglik);
    expect(readFileSync(join(runDir, 'objective.svg'), 'utf8')).toContain('<svg');
    expect(ppcaFromTensors(await loadSafetensors(join(runDir, 'model.safetensors')), 'model').sigma2).toBeCloseTo(out.sigma2 as number, 5);
  });
});
