// Data not all on the device at once (issue 14 items 2 and 4): the PPCA estimators over data
// held in several device buffers, and exact EM in passes over a RowSource, each against the
// one-buffer, resident path with a forced tiny chunk size.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import type { Backend } from '../src/backend.ts';
import { syntheticPpca } from '../src/data/synthetic.ts';
import { encodeNpy } from '../src/data/npy.ts';
import { arraySource, type RowSource } from '../src/data/source.ts';
import {
  columnStats, createPpca, emPassRows, estimateLogLik, fitEm, initialPpca, releaseData, releasePpca, uploadData, type EmMethod, type EstimatorName,
} from '../src/models/ppca.ts';
import { sourceColumnStats } from '../src/models/ppca/sourceStats.ts';
import { TEST_ADAPTERS, cpu, gpuBackend } from './gpu.ts';

const data = syntheticPpca({ n: 1110, D: 30, d: 4, sigma: 0.5, seed: 7 }).data;

/** The rows as a source that is not in memory (array null), counting the rows read. */
function fileLike(x: Float32Array, n: number, D: number): RowSource & { rowsRead: number } {
  const inner = arraySource('file-like', x, n, D);
  return {
    name: 'file-like', n, D, array: null, rowsRead: 0,
    async read(r0, count, dst) {
      this.rowsRead += count;
      await inner.read(r0, count, dst);
    },
    async close() {},
  };
}

describe('column statistics of a source in one pass', () => {
  it('equal the in-memory two-pass statistics: a constant column exactly, an offset column to float64 tolerance', async () => {
    const n = 1000, D = 5;
    const x = new Float32Array(n * D);
    for (let i = 0; i < n; i++) {
      x[i * D] = 3.25;
      x[i * D + 1] = 1e6 + (i % 7) * 0.5;
      x[i * D + 2] = Math.sin(i);
      x[i * D + 3] = i % 2 ? -2 : 5;
      x[i * D + 4] = (i * 37) % 101;
    }
    const want = columnStats({ host: x, n, D });
    for (const slice of [1, 37, 256, n]) {
      const got = await sourceColumnStats(fileLike(x, n, D), slice);
      expect(got.mu[0]).toBe(3.25);
      expect(got.variance[0]).toBe(0);
      expect(got.spread[0]).toBe(0);
      for (let j = 0; j < D; j++) {
        expect(Math.abs(got.mu[j]! - want.mu[j]!)).toBeLessThan(1e-12 * Math.abs(want.mu[j]!) + 1e-12);
        expect(Math.abs(got.variance[j]! - want.variance[j]!)).toBeLessThan(1e-9 * want.variance[j]! + 1e-12);
        expect(Math.abs(got.spread[j]! - want.spread[j]!)).toBeLessThan(1e-9 * want.spread[j]! + 1e-12);
      }
    }
  });
});

const backends: [string, () => Promise<Backend>][] = [
  ['cpu', async () => cpu],
  // one GPU adapter: the chunked paths call the same kernels as the one-buffer ones
  [TEST_ADAPTERS[0]!, () => gpuBackend(TEST_ADAPTERS[0]!)],
];

for (const [name, get] of backends) {
  describe(`PPCA estimators over data in several device buffers on ${name}`, () => {
    it('every estimator: 30 buffers of 37 rows give the one-buffer figures', async () => {
      const b = await get();
      const one = uploadData(b, data);
      const many = uploadData(b, data, { chunkRows: 37 });
      expect(many.parts?.length).toBe(30);
      const m = createPpca(b, initialPpca(one, { d: 4, seed: 3 }));
      try {
        // blocks of 37 rows (K = 5 samples × 37 rows = blockRows): the same blocks, so the same draws
        // every estimator and proposal on the cpu; on the (slow) software adapter those that differ in their kernels
        const cases: [EstimatorName, 'posterior' | 'mean-field'][] = name === 'cpu'
          ? (['exact', 'elbo', 'iwae', 'prior', 'prior-jensen'] as EstimatorName[]).flatMap((e) => [[e, 'posterior'], [e, 'mean-field']] as [EstimatorName, 'posterior' | 'mean-field'][])
          : [['exact', 'posterior'], ['elbo', 'mean-field'], ['iwae', 'posterior']];
        for (const [estimator, q] of cases) {
          {
            const opts = { estimator, samples: 5, q, seed: 11, blockRows: 185 };
            const [e1, e2] = [await estimateLogLik(m, one, opts), await estimateLogLik(m, many, opts)];
            if (name === 'cpu') expect(e2.rows).toEqual(e1.rows);
            else for (let i = 0; i < e1.rows.length; i++) expect(Math.abs(e2.rows[i]! - e1.rows[i]!)).toBeLessThan(1e-4 * (1 + Math.abs(e1.rows[i]!)));
            expect(e2.rows.every(Number.isFinite)).toBe(true);
          }
        }
        if (name !== 'cpu') return;
        // blocks of 50 rows straddle the buffers of 37: other draws, the same estimate within its error
        const opts = { estimator: 'iwae' as const, samples: 20, seed: 5, blockRows: 1000 };
        const [a, c] = [await estimateLogLik(m, one, opts), await estimateLogLik(m, many, opts)];
        expect(Math.abs(a.mean - c.mean)).toBeLessThan(4 * Math.hypot(a.stderr, c.stderr) + 1e-3);
        expect(c.rows).not.toEqual(a.rows);
      } finally {
        releasePpca(m);
        releaseData(b, one);
        releaseData(b, many);
      }
    });
  });
}

for (const [name, get] of backends) {
  describe(`exact EM in passes over a RowSource on ${name}`, () => {
    for (const method of ['em', 'squarem', 'anderson'] as EmMethod[]) {
      it(`${method}: passes of 256-row blocks give the resident fit to float tolerance`, async () => {
        const b = await get();
        const dd = uploadData(b, data);
        const opts = { d: 4, method, maxIters: 12, tol: 0, seed: 1 };
        const one = await fitEm(b, dd, opts);
        const src = fileLike(data.x, data.n, data.D);
        // 37 rows forced: blocks of 256 (SUM_CHUNK_ROWS), the last of 86
        const many = await fitEm(b, src, { ...opts, chunkRows: 37 });
        // one pass for the statistics, one per EM map, one for the final log-likelihood
        expect(src.rowsRead).toBe(data.n * (many.iterations + 2));
        expect(many.iterations).toBe(one.iterations);
        for (let i = 0; i < one.trace.length; i++) expect(Math.abs(many.trace[i]!.loglik - one.trace[i]!.loglik)).toBeLessThan(1e-5 * Math.abs(one.loglik));
        // SQUAREM's extrapolation (α up to 64) amplifies the float32 sums' different rounding
        // (swiftshader: σ² 4.5e-6 relative, W 1.15e-4); the other methods stay within 1e-5 and 1e-4
        const tol = method === 'squarem' ? 5 : 1;
        expect(Math.abs(many.model.sigma2 - one.model.sigma2)).toBeLessThan(1e-5 * tol * one.model.sigma2);
        const [w1, w2] = await Promise.all([b.read(one.model.W), b.read(many.model.W)]);
        for (let i = 0; i < w1.length; i++) expect(Math.abs(w2[i]! - w1[i]!)).toBeLessThan(1e-4 * tol * (1 + Math.abs(w1[i]!)));
        releasePpca(one.model);
        releasePpca(many.model);
        releaseData(b, dd);
      });
    }

    it('a device budget below the data sends rows in memory through passes; one that holds them keeps them resident', async () => {
      const b = await get();
      const bytes = data.n * data.D * 4;
      const resident = await fitEm(b, arraySource('mem', data.x, data.n, data.D), { d: 4, maxIters: 3, tol: 0, seed: 1, budget: { deviceBytes: bytes } });
      // 100 kB: blocks of 256 rows (about 340 bytes of device memory per row at D = 30)
      const passes = await fitEm(b, arraySource('mem', data.x, data.n, data.D), { d: 4, maxIters: 3, tol: 0, seed: 1, budget: { deviceBytes: 100_000 } });
      expect(bytes).toBeGreaterThan(100_000);
      expect(Math.abs(passes.loglik - resident.loglik)).toBeLessThan(1e-5 * Math.abs(resident.loglik));
      releasePpca(resident.model);
      releasePpca(passes.model);
    });
  });
}

describe('emPassRows', () => {
  const src = { n: 10000, D: 784, name: 'big.npy' };
  it('fits two blocks and the products into the device budget, in whole 256-row chunks', () => {
    const rows = emPassRows(cpu, src, 10, { deviceBytes: 16 * 2 ** 20 });
    expect(rows % 256).toBe(0);
    expect(rows).toBeGreaterThanOrEqual(2048);
    expect(rows * 2 * 784 * 4).toBeLessThan(16 * 2 ** 20);
    expect(emPassRows(cpu, src, 10)).toBe(10240);
    expect(emPassRows(cpu, src, 10, {}, 37)).toBe(256);
  });
  it('rejects a budget that does not hold one block, naming the flags', () => {
    expect(() => emPassRows(cpu, src, 10, { deviceBytes: 2 ** 20 })).toThrow(/big\.npy: exact EM in passes needs blocks of at least 256 rows of 784 .*--device-memory/);
  });
});

describe('train --model ppca --method em|squarem|anderson with --device-memory', () => {
  const ROOT = fileURLToPath(new URL('..', import.meta.url));
  const cli = (args: string[]) => {
    const r = spawnSync(join(ROOT, 'node_modules', '.bin', 'tsx'), ['src/cli/main.ts', ...args], { cwd: ROOT, encoding: 'utf8', timeout: 120_000 });
    expect(r.status, r.stderr).toBe(0);
    return JSON.parse(r.stdout) as Record<string, number>;
  };
  it('data over the budget are fitted in passes, to the resident figures', () => {
    // the train split: 6,400 × 50 float32 = 1.2 MiB > 1 MiB
    const args = ['train', '--model', 'ppca', '--data', 'synthetic', '--n', '8000', '--dim', '50', '--latent', '3', '--method', 'squarem', '--iters', '15', '--tol', '1e-12', '--backend', 'cpu', '--json'];
    const resident = cli(args);
    const passes = cli([...args, '--device-memory', '1']);
    expect(resident.pass_rows).toBeUndefined();
    expect(passes.pass_rows).toBeGreaterThanOrEqual(256);
    expect(passes.pass_rows).toBeLessThan(6400);
    for (const k of ['train_loglik', 'test_loglik', 'sigma2']) expect(Math.abs(passes[k]! - resident[k]!)).toBeLessThan(1e-5 * Math.abs(resident[k]!));
  });
});

describe('train --model ppca --method em|squarem|anderson on a file over --host-memory', () => {
  it('reads the file in passes and gives the figures of the file read whole', () => {
    const ROOT = fileURLToPath(new URL('..', import.meta.url));
    const dir = mkdtempSync(join(tmpdir(), 'em-passes-'));
    try {
      // 8,000 × 200 float32: 6.1 MiB, over --host-memory 4
      const g = syntheticPpca({ n: 8000, D: 200, d: 5, sigma: 0.3, seed: 3 }).data;
      const file = join(dir, 'rows.npy');
      writeFileSync(file, encodeNpy(g.x, g.n, g.D));
      const run = (extra: string[]) => {
        const r = spawnSync(join(ROOT, 'node_modules', '.bin', 'tsx'), ['src/cli/main.ts', 'train', '--model', 'ppca', '--method', 'anderson', '--latent', '5', '--iters', '12', '--tol', '1e-12', '--data', file, '--backend', 'cpu', '--json', ...extra], { cwd: ROOT, encoding: 'utf8', timeout: 120_000 });
        expect(r.status, r.stderr).toBe(0);
        return JSON.parse(r.stdout) as Record<string, number>;
      };
      const whole = run([]);
      const passes = run(['--host-memory', '4']);
      expect(whole.pass_rows).toBeUndefined();
      expect(passes.pass_rows).toBeGreaterThanOrEqual(256);
      expect(passes.n_train).toBe(whole.n_train);
      for (const k of ['train_loglik', 'test_loglik', 'sigma2']) expect(Math.abs(passes[k]! - whole[k]!)).toBeLessThan(1e-5 * Math.abs(whole[k]!));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('exact EM with Y held transposed on WebGPU', () => {
  // D = 64 and d = 6 (8 on the device): shapes the texture and unrolled kernels take; n = 1,000 leaves the last 256-row chunk partly zero
  const aligned = syntheticPpca({ n: 1000, D: 64, d: 6, sigma: 0.4, seed: 11 }).data;
  for (const adapter of TEST_ADAPTERS) {
    it(`${adapter}: the fit follows the CPU backend's (row-major Y) iterate by iterate`, async () => {
      const g = await gpuBackend(adapter);
      const opts = { d: 6, method: 'em' as const, maxIters: 8, tol: 0, seed: 2 };
      const [dc, dg] = [uploadData(cpu, aligned), uploadData(g, aligned)];
      const [rc, rg] = [await fitEm(cpu, dc, opts), await fitEm(g, dg, opts)];
      for (let i = 0; i < rc.trace.length; i++) expect(Math.abs(rg.trace[i]!.loglik - rc.trace[i]!.loglik)).toBeLessThan(1e-5 * Math.abs(rc.loglik));
      expect(Math.abs(rg.model.sigma2 - rc.model.sigma2)).toBeLessThan(1e-5 * rc.model.sigma2);
      const [wc, wg] = [await cpu.read(rc.model.W), await g.read(rg.model.W)];
      for (let i = 0; i < wc.length; i++) expect(Math.abs(wg[i]! - wc[i]!)).toBeLessThan(1e-4 * (1 + Math.abs(wc[i]!)));
      for (const [b, r, d] of [[cpu, rc, dc], [g, rg, dg]] as const) {
        releasePpca(r.model);
        releaseData(b, d);
      }
    });
  }
});
