// Factor analysis: the Woodbury log-likelihood against a dense float64
// reference, EM's monotone log-likelihood, and recovery of known W and ψ on
// synthetic data, on the CPU backend and the WebGPU adapters.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli } from '../src/cli/program.ts';
import { saveSafetensors } from '../src/io/atomic.node.ts';
import { faToTensors } from '../src/models/fa/file.ts';
import { faSweep } from '../src/models/fa/sweep.ts';
import type { Backend } from '../src/backend.ts';
import { faLogLikRows, faMeanLogLik, fitFa, psiFloor, type FaHost } from '../src/models/fa/fa.ts';
import { releaseData, uploadData } from '../src/models/ppca/model.ts';
import { principalAngles } from '../src/models/ppca/subspace.ts';
import { TEST_ADAPTERS, cpu, gpuBackend } from './gpu.ts';
import { denseLogLik, synthetic } from './fa-helpers.ts';

describe('fa log-likelihood (host, Woodbury)', () => {
  it('equals the dense float64 reference to 1e-9 relative, heteroscedastic ψ', () => {
    const { truth, x } = synthetic(12, 3, 50, 1);
    // a model other than the truth, with ψ spread over four decades
    const h: FaHost = { ...truth, W: truth.W.map((w) => 0.7 * w), psi: truth.psi.map((p, j) => p * 10 ** ((j % 4) - 2)) };
    const got = faLogLikRows(h, { host: x, n: 50, D: 12 });
    const want = denseLogLik(h, x, 50);
    for (let i = 0; i < 50; i++) expect(Math.abs(got[i]! - want[i]!)).toBeLessThanOrEqual(1e-9 * Math.abs(want[i]!));
  });

  it('the ψ floor: 0.005 × the column variance, at least 0.001 × the mean column variance', () => {
    // mean variance 0.1: 0.001 × 0.1 = 1e-4 unless 0.005 × s_jj is above it
    const f = psiFloor([0.2, 0, 0.1, 0.001]);
    [0.005 * 0.2, 1e-3 * 0.07525, 0.005 * 0.1, 1e-3 * 0.07525].forEach((v, j) => expect(f[j]).toBeCloseTo(v, 15));
  });
});

function suite(name: string, backend: () => Promise<Backend>): void {
  describe(`fa EM on ${name}`, () => {
    it('is monotone, equals the host evaluation, and recovers W\'s subspace and ψ', async () => {
      const b = await backend();
      const D = 20;
      const d = 3;
      const n = 4000;
      const { truth, x } = synthetic(D, d, n, 7);
      const data = uploadData(b, { name: 'synthetic-fa', x, n, D });
      try {
        const r = await fitFa(b, data, { d, maxIters: 500, tol: 1e-6 });
        // EM never lowers the log-likelihood (float32 products: to 1e-5 nats)
        for (let t = 1; t < r.trace.length; t++) expect(r.trace[t]!.loglik).toBeGreaterThanOrEqual(r.trace[t - 1]!.loglik - 1e-5);
        expect(r.converged).toBe(true);
        // the engine's last figure is that of the returned model, evaluated on the host in float64
        expect(Math.abs(r.trace.at(-1)!.loglik - r.loglik)).toBeLessThan(1e-4);
        expect(r.loglik).toBeGreaterThan(faMeanLogLik(truth, { host: x, n, D }) - 1e-9);
        const angles = principalAngles(r.model.W, truth.W, D, d);
        expect(Math.max(...angles)).toBeLessThan(0.1);
        // ψ within sampling error: its standard error is about ψ·sqrt(2/n) ≈ 2.2% of ψ; allow 15%
        for (let j = 0; j < D; j++) expect(Math.abs(r.model.psi[j]! / truth.psi[j]! - 1)).toBeLessThan(0.15);
        expect(r.heywood).toEqual([]);
      } finally {
        releaseData(b, data);
      }
    }, 120_000);

    it('floors ψ of a constant column and of a column W explains exactly, and reports them', async () => {
      const b = await backend();
      const D = 10;
      const d = 2;
      const n = 1000;
      const { x } = synthetic(D, d, n, 3);
      for (let i = 0; i < n; i++) {
        x[i * D + 4] = 5; // constant
        x[i * D + 7] = x[i * D + 0]! * 0 + x[i * D + 1]!; // noise-free copy of column 1: column 1 and 7 can share a factor with ψ → 0
      }
      const data = uploadData(b, { name: 'heywood', x, n, D });
      try {
        const r = await fitFa(b, data, { d, maxIters: 300, tol: 1e-6 });
        expect(r.constant).toEqual([4]);
        expect(r.heywood).toContain(4);
        expect(r.heywood.length).toBeGreaterThanOrEqual(2);
        expect(Number.isFinite(r.loglik)).toBe(true);
        // monotone to 1e-4 nats: a floored ψ_j multiplies float32 error in x̃_j's terms by s_jj/ψ_j = 200
        for (let t = 1; t < r.trace.length; t++) expect(r.trace[t]!.loglik).toBeGreaterThanOrEqual(r.trace[t - 1]!.loglik - 1e-4);
        expect(Math.abs(r.trace.at(-1)!.loglik - r.loglik)).toBeLessThan(1e-3);
      } finally {
        releaseData(b, data);
      }
    }, 120_000);
  });
}

suite('cpu', async () => cpu);
for (const adapter of TEST_ADAPTERS) suite(adapter, () => gpuBackend(adapter));

describe('fa from the CLI', () => {
  const dir = mkdtempSync(join(tmpdir(), 'latentgpu-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  /** Runs the CLI in-process on the CPU backend with --json: its exit code and what it wrote to each stream. */
  async function run(args: string[]): Promise<[number, string, string]> {
    let out = '';
    let err = '';
    const code = await runCli([...args, '--backend', 'cpu', '--json'], { stdout: (t) => { out += t; }, stderr: (t) => { err += t; }, env: {} });
    return [code, out, err];
  }
  /** The JSON result of a run that must succeed. */
  async function ok(args: string[]): Promise<Record<string, unknown>> {
    const [code, out, err] = await run(args);
    if (code !== 0) throw new Error(`exit ${code}: ${err}`);
    return JSON.parse(out) as Record<string, unknown>;
  }
  /** stderr of a run that must fail with exit 1 and print nothing on stdout. */
  async function refused(args: string[]): Promise<string> {
    const [code, out, err] = await run(args);
    expect([code, out]).toEqual([1, '']);
    return err;
  }
  const synthetic = ['--data', 'synthetic', '--n', '600', '--dim', '12', '--true-latent', '3', '--sigma', '0.3', '--data-seed', '1'];

  it('train --model fa reports train/test log-likelihood and floor hits; eval of the file reproduces them', async () => {
    const file = join(dir, 'fa.safetensors');
    const runDir = join(dir, 'run');
    const tr = await ok(['train', '--model', 'fa', '--latent', '3', ...synthetic, '--iters', '200', '--tol', '1e-6', '--out', file, '--run-dir', runDir]);
    expect(tr).toMatchObject({ model: 'fa', latent: 3, psi_floor_hits: 0 });
    expect(Number.isFinite(tr.train_loglik) && Number.isFinite(tr.test_loglik)).toBe(true);
    expect(JSON.parse(readFileSync(join(runDir, 'metrics.json'), 'utf8')).train_loglik).toBe(tr.train_loglik);
    for (const split of ['train', 'test']) {
      // --data synthetic alone: the file records the generator's settings
      expect((await ok(['eval', '--model', file, '--data', 'synthetic', '--split', split])).loglik).toBe(tr[`${split}_loglik`]);
    }
    expect(await refused(['eval', '--model', file, ...synthetic, '--estimator', 'iwae'])).toMatch(/^latentgpu: --estimator iwae: an fa model is evaluated by its exact log-likelihood only/);
    expect(await refused(['train', '--model', 'fa', ...synthetic, '--method', 'oem'])).toMatch(/^latentgpu: --method oem: fa is fitted by em, squarem, anderson, sem/);
    expect(await refused(['train', '--model', 'fa', ...synthetic, '--method', 'sem', '--iters', '5'])).toContain('--iters does not apply to --model fa --method sem');
  }, 60_000);

  it('train --model fa --method squarem | anderson | sem: the same fit in fewer EM maps, or from minibatches', async () => {
    const fit = (method: string, more: string[] = []) => ok(['train', '--model', 'fa', '--latent', '3', ...synthetic, '--method', method, ...more]);
    const em = await fit('em', ['--tol', '1e-7', '--iters', '3000']);
    for (const method of ['squarem', 'anderson']) {
      const r = await fit(method, ['--tol', '1e-6']);
      expect(r).toMatchObject({ method, converged: true });
      expect(Math.abs((r.train_loglik as number) - (em.train_loglik as number))).toBeLessThan(1e-3);
      expect(r.iterations as number).toBeLessThan(em.iterations as number);
    }
    // stochastic EM on 500 rows, batch 100, 40 epochs: within 0.1 nats/sample of exact EM (fa-sem.test.ts checks it statistically)
    const sem = await fit('sem', ['--epochs', '40', '--batch', '100']);
    expect(sem).toMatchObject({ method: 'sem', epochs: 40, batch: 100, steps: 40 * Math.ceil((sem.n_train as number) / 100) });
    expect(Math.abs((sem.train_loglik as number) - (em.train_loglik as number))).toBeLessThan(0.1);
  }, 120_000);

  it('eval rejects a model file with a non-positive ψ or sizes that disagree, naming the file', async () => {
    const h = { D: 12, d: 3, W: new Float64Array(36), mu: new Float64Array(12), psi: new Float64Array(12).fill(1) };
    h.psi[5] = 0;
    const bad = join(dir, 'bad-psi.safetensors');
    const { tensors, metadata } = faToTensors(h);
    await saveSafetensors(bad, tensors, metadata);
    const err = await refused(['eval', '--model', bad, ...synthetic]);
    expect(err).toContain(bad);
    expect(err).toContain('psi[5] is 0');
    const wrong = join(dir, 'bad-size.safetensors');
    await saveSafetensors(wrong, tensors, { ...metadata, latent: '4' });
    expect(await refused(['eval', '--model', wrong, ...synthetic])).toContain('"W"');
  });
});

describe('fa sweep (Anderson EM, each d started from the fit of d − 1)', () => {
  it('chooses the true d by held-out log-likelihood and BIC; a warm-started fit equals a cold one', async () => {
    const D = 15;
    const { x } = synthetic(D, 3, 2500, 12);
    const train = { name: 'train', x: x.subarray(0, 2000 * D), n: 2000, D };
    const test = { name: 'test', x: x.subarray(2000 * D), n: 500, D };
    const s = await faSweep(cpu, train, test, 1, 5, { tol: 1e-6 });
    expect(s.rows.map((r) => r.d)).toEqual([1, 2, 3, 4, 5]);
    expect(s.chosen.bic).toBe(3);
    expect(s.chosen.test_loglik).toBeGreaterThanOrEqual(3);
    for (const r of s.rows) expect(r.converged).toBe(true);
    const data = uploadData(cpu, train);
    try {
      const cold = await fitFa(cpu, data, { d: 3, method: 'anderson', tol: 1e-6 });
      expect(Math.abs(cold.loglik - s.rows[2]!.train_loglik)).toBeLessThan(1e-3);
    } finally {
      releaseData(cpu, data);
    }
  }, 120_000);
});
