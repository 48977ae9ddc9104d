// Data not all on the device at once (issue 14 items 2 and 4): the PPCA estimators over data
// held in several device buffers, and exact EM in passes over a RowSource, each against the
// one-buffer, resident path with a forced tiny chunk size.
import { describe, expect, it } from 'vitest';
import type { Backend } from '../src/backend.ts';
import { syntheticPpca } from '../src/data/synthetic.ts';
import { createPpca, estimateLogLik, initialPpca, releaseData, releasePpca, uploadData, type EstimatorName } from '../src/models/ppca.ts';
import { TEST_ADAPTERS, cpu, gpuBackend } from './gpu.ts';

const data = syntheticPpca({ n: 1110, D: 30, d: 4, sigma: 0.5, seed: 7 }).data;

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
        for (const estimator of ['exact', 'elbo', 'iwae', 'prior', 'prior-jensen'] as EstimatorName[]) {
          for (const q of ['posterior', 'mean-field'] as const) {
            const opts = { estimator, samples: 5, q, seed: 11, blockRows: 185 };
            const [e1, e2] = [await estimateLogLik(m, one, opts), await estimateLogLik(m, many, opts)];
            if (name === 'cpu') expect(e2.rows).toEqual(e1.rows);
            else for (let i = 0; i < e1.rows.length; i++) expect(Math.abs(e2.rows[i]! - e1.rows[i]!)).toBeLessThan(1e-4 * (1 + Math.abs(e1.rows[i]!)));
            expect(e2.rows.every(Number.isFinite)).toBe(true);
          }
        }
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
