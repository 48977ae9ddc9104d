// Choosing d (src/models/ppca/sweep.ts, `latentgpu sweep`): on data of known rank
// Minka and BIC pick it and the held-out log-likelihood peaks there; the sweep's
// per-d figures equal closedFormPpca's and a dense float64 Gaussian's.
import { mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CholeskyDecomposition, Matrix } from 'ml-matrix';
import { describe, expect, it } from 'vitest';
import { runCli } from '../src/cli/program.ts';
import { syntheticPpca } from '../src/data/synthetic.ts';
import { closedFormPpca, sampleCovariance, type ClosedFormPpca } from '../src/models/ppca/closed.ts';
import { fullEigenpairs, symmetricEigenvalues } from '../src/models/ppca/eigs.ts';
import { columnStats } from '../src/models/ppca/scale.ts';
import { minkaLogEvidence, ppcaSweep, type PpcaSweep } from '../src/models/ppca/sweep.ts';

const { data } = syntheticPpca({ n: 2500, D: 20, d: 5, sigma: 0.5, seed: 7 });
const split = (lo: number, hi: number) => ({ host: data.x.slice(lo * 20, hi * 20), n: hi - lo, D: 20 });
const train = split(0, 2000);
const test = split(2000, 2500);
const sweep = ppcaSweep(train, test, 1, 12);

/** Mean log N(x | μ, W Wᵀ + σ² I) over the rows, by a dense Cholesky in float64. */
function denseMeanLogLik(W: Float32Array, mu: Float32Array, sigma2: number, rows: typeof test, d: number): number {
  const D = rows.D;
  const C = new Matrix(D, D);
  for (let a = 0; a < D; a++) {
    for (let b = 0; b < D; b++) {
      let s = a === b ? sigma2 : 0;
      for (let j = 0; j < d; j++) s += W[a * d + j]! * W[b * d + j]!;
      C.set(a, b, s);
    }
  }
  const Lc = new CholeskyDecomposition(C).lowerTriangularMatrix;
  let logDet = 0;
  for (let a = 0; a < D; a++) logDet += 2 * Math.log(Lc.get(a, a));
  let total = 0;
  for (let i = 0; i < rows.n; i++) {
    const y = new Float64Array(D);
    let q = 0;
    for (let a = 0; a < D; a++) {
      let s = rows.host[i * D + a]! - mu[a]!;
      for (let b = 0; b < a; b++) s -= Lc.get(a, b) * y[b]!;
      y[a] = s / Lc.get(a, a);
      q += y[a]! * y[a]!;
    }
    total += -0.5 * (D * Math.log(2 * Math.PI) + logDet + q);
  }
  return total / rows.n;
}

/** The sweep's row d against closedFormPpca(…, 'full') (train ℓ to 1e-9, σ²) and a dense test log-likelihood (1e-5); returns the closed form. */
function expectFullDecomposition(sw: PpcaSweep, tr: typeof train, te: typeof test, d: number): ClosedFormPpca {
  const row = sw.rows.find((r) => r.d === d)!;
  const cf = closedFormPpca(tr, d, 'full');
  expect(Math.abs(row.train_loglik - cf.loglik)).toBeLessThan(1e-9);
  expect(row.sigma2).toBeCloseTo(cf.sigma2, 12);
  expect(Math.abs(row.test_loglik - denseMeanLogLik(cf.W, cf.mu, cf.sigma2, te, d))).toBeLessThan(1e-5);
  return cf;
}

describe('ppca sweep', () => {
  it('picks the true d = 5 by Minka and BIC, and the held-out log-likelihood peaks at or next to it', () => {
    expect(sweep.chosen.minka).toBe(5);
    expect(sweep.chosen.bic).toBe(5);
    expect(Math.abs(sweep.chosen.test_loglik - 5)).toBeLessThanOrEqual(1);
    expect(sweep.rows.map((r) => r.d)).toEqual(Array.from({ length: 12 }, (_, i) => i + 1));
  });

  it("equals closedFormPpca's train log-likelihood and σ², and a dense float64 test log-likelihood, for several d", () => {
    for (const d of [1, 5, 9]) {
      const cf = expectFullDecomposition(sweep, train, test, d);
      expect(sweep.rows[d - 1]!.bic).toBeCloseTo(-2 * 2000 * cf.loglik + (20 * d - (d * (d - 1)) / 2 + 21) * Math.log(2000), 6);
    }
  });

  it("Minka's evidence equals a Python transcription of scikit-learn's _assess_dimension (math.lgamma), and peaks at a known rank", () => {
    // _assess_dimension([5, 3, 1, .5, .4, .3], rank, 100) for rank 2 and 3
    const spec = Float64Array.of(5, 3, 1, 0.5, 0.4, 0.3);
    expect(minkaLogEvidence(spec, 2, 100)).toBeCloseTo(-43.61315051651422, 10);
    expect(minkaLogEvidence(spec, 3, 100)).toBeCloseTo(-34.42362021071528, 10);
    // three large eigenvalues over a nearly flat tail: the evidence is largest at k = 3
    const rank3 = Float64Array.from([9, 6, 4, 0.26, 0.255, 0.25, 0.245, 0.24]);
    const ev = [1, 2, 3, 4, 5].map((k) => minkaLogEvidence(rank3, k, 500));
    expect(ev.indexOf(Math.max(...ev)) + 1).toBe(3);
  });

  it('with a range well below the columns (eigenvalues without vectors, the top eigenvectors by subspace iteration) equals the full decomposition', () => {
    // D = 64, d ≤ 10: block 20 < 32, so the fast path; the full decomposition's figures are the reference
    const wide = syntheticPpca({ n: 1500, D: 64, d: 6, sigma: 0.4, seed: 3 }).data;
    const part = (lo: number, hi: number) => ({ host: wide.x.slice(lo * 64, hi * 64), n: hi - lo, D: 64 });
    const [tr, te] = [part(0, 1200), part(1200, 1500)];
    const fast = ppcaSweep(tr, te, 1, 10);
    const all = fullEigenpairs(sampleCovariance(tr, columnStats(tr).mu), 64).values;
    for (let j = 0; j < 64; j++) expect(Math.abs(fast.eigenvalues[j]! - all[j]!)).toBeLessThan(1e-12 * all[0]!);
    for (const d of [1, 6, 10]) expectFullDecomposition(fast, tr, te, d);
    expect(fast.chosen.minka).toBe(6);
  });

  it('symmetricEigenvalues equals the full decomposition on random, repeated, zero, 1×1 and 2×2 matrices', () => {
    let seed = 11;
    const r = () => ((seed = (seed * 16807) % 2147483647) / 2147483647) - 0.5;
    const cases: [Float64Array, number][] = [1, 2, 3, 17, 65].map((D) => {
      const S = new Float64Array(D * D);
      for (let i = 0; i < D; i++) for (let j = 0; j <= i; j++) S[i * D + j] = S[j * D + i] = r();
      return [S, D];
    });
    const rep = new Float64Array(30 * 30);
    for (let i = 0; i < 30; i++) rep[i * 30 + i] = i % 3;
    cases.push([rep, 30], [new Float64Array(100), 10]);
    for (const [S, D] of cases) {
      const got = symmetricEigenvalues(S, D);
      const want = fullEigenpairs(S, D).values;
      const scale = Math.max(1e-300, ...Array.from(want, Math.abs));
      for (let j = 0; j < D; j++) expect(Math.abs(got[j]! - want[j]!) / scale).toBeLessThan(1e-13);
    }
  });

  it('rejects a range that reaches the number of varying columns', () => {
    expect(() => ppcaSweep(train, test, 1, 20)).toThrow(/end the range below 20/);
  });
});

describe('latentgpu sweep', () => {
  const cli = async (args: string[]) => {
    let stdout = '';
    let stderr = '';
    const code = await runCli(args, { stdout: (s) => (stdout += s), stderr: (s) => (stderr += s), env: {} });
    return { code, stdout, stderr };
  };

  it('writes sweep.json and sweep.svg and prints the chosen d', async () => {
    const dir = join(mkdtempSync(join(tmpdir(), 'latentgpu-')), 'out');
    const r = await cli(['sweep', '--model', 'ppca', '--latent', '1..10', '--data', 'synthetic', '--n', '2500', '--dim', '20', '--true-latent', '5', '--out-dir', dir, '--json']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const printed = JSON.parse(r.stdout) as { chosen: Record<string, number> };
    const saved = JSON.parse(readFileSync(join(dir, 'sweep.json'), 'utf8')) as { chosen: Record<string, number>; rows: { d: number }[] };
    expect(saved.chosen).toEqual(printed.chosen);
    expect(saved.chosen.minka).toBe(5);
    expect(saved.chosen.bic).toBe(5);
    expect(saved.rows).toHaveLength(10);
    const svg = readFileSync(join(dir, 'sweep.svg'), 'utf8');
    expect(svg.startsWith('<svg')).toBe(true);
    expect(svg).toContain('chosen d = ');
  });

  it('--model fa fits each d by EM on the CPU backend: BIC picks 5, held-out within one, and FA ≈ PPCA on isotropic noise', async () => {
    const dir = join(mkdtempSync(join(tmpdir(), 'latentgpu-')), 'fa');
    const r = await cli(['sweep', '--model', 'fa', '--latent', '3..7', '--data', 'synthetic', '--n', '2500', '--dim', '20', '--true-latent', '5', '--backend', 'cpu', '--out-dir', dir, '--json']);
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout) as { chosen: Record<string, number>; rows: { d: number; train_loglik: number }[] };
    expect(out.chosen.bic).toBe(5);
    expect(out.chosen.minka).toBeUndefined();
    expect(Math.abs(out.chosen.test_loglik - 5)).toBeLessThanOrEqual(1);
    const ppca = (await cli(['sweep', '--model', 'ppca', '--latent', '5', '--data', 'synthetic', '--n', '2500', '--dim', '20', '--true-latent', '5', '--out-dir', join(dir, 'p'), '--json'])).stdout;
    const ppca5 = (JSON.parse(ppca) as { rows: { train_loglik: number }[] }).rows[0]!.train_loglik;
    // FA has D − 1 more parameters: at least PPCA's likelihood, and little more when the noise is isotropic
    const fa5 = out.rows.find((x) => x.d === 5)!.train_loglik;
    expect(fa5).toBeGreaterThanOrEqual(ppca5 - 1e-4);
    expect(fa5 - ppca5).toBeLessThan(0.02);
    expect(readFileSync(join(dir, 'sweep.svg'), 'utf8')).toContain('FA on ');
  });

  it('rejects a bad range, a range past the data, and an output folder that is a file, before writing anything', async () => {
    const root = mkdtempSync(join(tmpdir(), 'latentgpu-'));
    const file = join(root, 'taken');
    writeFileSync(file, 'x');
    const nan = join(root, 'nan.csv');
    writeFileSync(nan, 'a,b,c\n1,2,3\n2,NaN,1\n3,1,2\n4,4,4\n5,0,2\n');
    const cases: Array<[string[], RegExp]> = [
      [['--latent', '5..2'], /--latent.*first \.\.|first\.\.last/],
      [['--latent', '1..25'], /end the range below 20/],
      [['--latent', '1..3', '--out-dir', file], /--out-dir .* is a file/],
      [['--latent', '1', '--data', nan], /nan\.csv: row 2 .*"NaN" is not a finite number/],
      [['--latent', '1..3', '--backend', 'cpu'], /--backend applies to sweep --model fa/],
    ];
    for (const [extra, msg] of cases) {
      const data = extra.includes('--data') ? [] : ['--data', 'synthetic', '--n', '300', '--dim', '20'];
      const r = await cli(['sweep', '--model', 'ppca', ...data, '--out-dir', join(root, 'o'), ...extra]);
      expect(r.code).toBe(1);
      expect(r.stdout).toBe('');
      expect(r.stderr).toMatch(msg);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
    }
    expect(readdirSync(root).sort()).toEqual(['nan.csv', 'taken']);
  });
});
