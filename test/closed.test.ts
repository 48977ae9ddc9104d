// The closed form on a backend (closedFormPpcaOn): the covariance summed in 256-row
// chunks (WebGPU's default; forced here on the CPU reference kernels too) and in
// one product per upload, against the full float64 eigendecomposition, on data
// whose rows are not a multiple of the chunk and whose columns sit far from 0.
import { describe, expect, it } from 'vitest';
import type { Backend } from '../src/backend.ts';
import { syntheticPpca } from '../src/data/synthetic.ts';
import { closedFormPpca, closedFormPpcaOn } from '../src/models/ppca/closed.ts';
import { TEST_ADAPTERS, cpu, gpuBackend } from './gpu.ts';

/** Synthetic PPCA rows (n × 64, true d = 5) with column means up to ±300 next to unit-scale spread. */
function data(n: number): { host: Float32Array; n: number; D: number } {
  const mu = Float64Array.from({ length: 64 }, (_, j) => 300 * Math.sin(j + 1));
  return { host: syntheticPpca({ n, D: 64, d: 5, sigma: 0.3, seed: 21, mu }).data.x, n, D: 64 };
}

const backends: [string, () => Promise<Backend>, boolean | undefined][] = [
  ['cpu reference kernels, one product per upload', async () => cpu, false],
  ['cpu reference kernels, 256-row chunks', async () => cpu, true],
  ...TEST_ADAPTERS.map((a): [string, () => Promise<Backend>, boolean | undefined] => [`webgpu ${a} (chunked by default)`, () => gpuBackend(a), undefined]),
];

describe('closedFormPpcaOn', () => {
  it('uploads of 37 rows (one product each, accumulated) and of 256-row chunks equal the full decomposition', async () => {
    const h = data(1100);
    const ref = closedFormPpca(h, 5, 'full');
    for (const chunkedSums of [false, true]) {
      const on = await closedFormPpcaOn(cpu, h, 5, { chunkedSums, chunkRows: 37 });
      expect(Math.abs(on.loglik - ref.loglik), `chunked ${chunkedSums}`).toBeLessThan(1e-7);
    }
  });

  for (const [name, make, chunkedSums] of backends) {
    it(`${name}: equals the full float64 decomposition to 1e-7 nats (n = 1,100 and 300; d = 5)`, async () => {
      const b = await make();
      for (const n of [1100, 300]) {
        const h = data(n);
        const on = await closedFormPpcaOn(b, h, 5, { chunkedSums });
        const ref = closedFormPpca(h, 5, 'full');
        expect(Math.abs(on.loglik - ref.loglik), `n=${n}`).toBeLessThan(1e-7);
        expect(Math.abs(on.sigma2 - ref.sigma2) / ref.sigma2, `n=${n}`).toBeLessThan(1e-7);
        for (let j = 0; j < 5; j++) expect(Math.abs(on.eigenvalues[j]! - ref.eigenvalues[j]!)).toBeLessThan(1e-9 * ref.eigenvalues[0]!);
      }
    }, 60_000);
  }
});
