// The generated PPCA source (src/data/generated.ts): rows are a function of (seed, index)
// alone, whatever the slices they are read in, and follow the model's moments.
import { describe, expect, it } from 'vitest';
import { generatedPpca } from '../src/data/generated.ts';
import { columnStats } from '../src/models/ppca/scale.ts';

describe('generatedPpca', () => {
  it('gives row i the same values whatever slice reads it, and other rows for another seed', async () => {
    const g = generatedPpca({ n: 1000, D: 13, d: 3, seed: 4 });
    const all = new Float32Array(1000 * 13);
    await g.read(0, 1000, all);
    const part = new Float32Array(37 * 13);
    await g.read(500, 37, part);
    expect(part).toEqual(all.subarray(500 * 13, 537 * 13));
    const again = new Float32Array(1000 * 13);
    await generatedPpca({ n: 1000, D: 13, d: 3, seed: 4 }).read(0, 1000, again);
    expect(again).toEqual(all);
    await generatedPpca({ n: 1000, D: 13, d: 3, seed: 5 }).read(0, 1000, again);
    expect(again).not.toEqual(all);
    expect(g.array).toBeNull();
    await expect(g.read(990, 11, all)).rejects.toThrow(/rows \[990, 1001\) are outside its 1000 rows/);
  });

  it('reads the last rows of 10⁷ without holding the others', async () => {
    const g = generatedPpca({ n: 1e7, D: 784, d: 10, seed: 1 });
    const tail = new Float32Array(3 * 784);
    await g.read(1e7 - 3, 3, tail);
    expect(tail.every(Number.isFinite)).toBe(true);
    // rows differ from each other
    expect(tail.subarray(0, 784)).not.toEqual(tail.subarray(784, 1568));
  });

  it('has the model\'s column means and variances (Σ_k W_jk² + σ²) within sampling error', async () => {
    const n = 20000, D = 12, d = 2;
    const g = generatedPpca({ n, D, d, sigma: 0.5, seed: 9 });
    const x = new Float32Array(n * D);
    await g.read(0, n, x);
    const s = columnStats({ host: x, n, D });
    for (let j = 0; j < D; j++) {
      const v = g.columnVariance[j]!;
      // standard errors: √(v/n) for the mean, v·√(2/n) for the variance (Gaussian): 5 of them
      expect(Math.abs(s.mu[j]! - g.mu[j]!)).toBeLessThan(5 * Math.sqrt(v / n));
      expect(Math.abs(s.variance[j]! - v)).toBeLessThan(5 * v * Math.sqrt(2 / n));
    }
  });

  it('rejects a bad shape or noise level with a one-line message', () => {
    expect(() => generatedPpca({ n: -1, D: 5, d: 2 })).toThrow(/generated: bad shape n=-1, D=5, d=2/);
    expect(() => generatedPpca({ n: 10, D: 5, d: 6 })).toThrow(/bad shape/);
    expect(() => generatedPpca({ n: 10, D: 5, d: 2, sigma: NaN })).toThrow(/sigma must be a finite number/);
  });
});
