// Peak-throughput kernel (shaders/peak.wgsl): the CPU reference against the
// closed form of its FMA chains, and WebGPU against the reference on ragged
// sizes, every workgroup size the benchmark tries, on both adapters.
import { describe, expect, it } from 'vitest';
import { KernelError } from '../src/backend.ts';
import { PEAK_OFFSETS, fmaChainsRef } from '../src/cpu/peak.ts';
import { PEAK_WORKGROUPS, fmaChains } from '../src/gpu/ops/peak.ts';
import { PEAK_UNROLL, peakFlops } from '../src/kernels/peak.ts';
import { TEST_ADAPTERS, expectClose, gpuBackend, randomArray } from './gpu.ts';

const A = 0.99, B = 0.01;

/** c_t = a^t (c_0 − L) + L with L = b/(1−a), summed over the 16 chains, in float64. */
function closedForm(seed: number, iters: number, a: number, b: number): number {
  const L = b / (1 - a);
  return PEAK_OFFSETS.reduce((s, o) => s + a ** iters * (seed + o - L) + L, 0);
}

describe('peak CPU reference', () => {
  it('follows the closed form of the chains within float32 rounding', () => {
    const seed = randomArray(50, 3);
    for (const iters of [0, 1, 7, 80]) {
      const out = new Float32Array(50);
      fmaChainsRef({ seed, out, n: 50, iters, a: A, b: B });
      const want = Array.from(seed, (s) => closedForm(s, iters * PEAK_UNROLL, A, B));
      // each step rounds to float32; the contraction bounds the drift by ~ulp/(1−a) per chain
      expectClose(out, want, 5e-4, 1e-5, `iters ${iters}`);
    }
  });

  it('counts 2 FLOPs per FMA: 16 chains × 4 steps per trip', () => {
    expect(peakFlops(10, 3)).toBe(10 * 3 * 16 * 4 * 2);
  });

  it('rejects chains that would grow and short tensors', () => {
    const t = new Float32Array(4);
    expect(() => fmaChainsRef({ seed: t, out: t, n: 4, iters: 1, a: 1, b: 0 })).toThrow(/\|a\| must be below 1/);
    expect(() => fmaChainsRef({ seed: t, out: t, n: 5, iters: 1, a: 0.5, b: 0 })).toThrow(KernelError);
  });
});

for (const adapter of TEST_ADAPTERS) {
  describe(`peak on ${adapter}`, () => {
    it('matches the CPU reference on ragged sizes and every workgroup size', async () => {
      const gpu = await gpuBackend(adapter);
      for (const n of [1, 63, 1001, 70001]) {
        const seedData = randomArray(n, n);
        const seed = gpu.tensor(n, { data: seedData });
        const want = new Float32Array(n);
        const iters = n > 10000 ? 2 : 9;
        fmaChainsRef({ seed: seedData, out: want, n, iters, a: A, b: B });
        for (const wg of PEAK_WORKGROUPS) {
          if (wg > gpu.limits.maxComputeInvocationsPerWorkgroup) continue;
          const out = gpu.tensor(n, { data: new Float32Array(n).fill(NaN) });
          fmaChains(gpu, { seed, out, n, iters, a: A, b: B }, wg);
          expectClose(await gpu.read(out), want, 5e-4, 1e-5, `n ${n} wg ${wg}`);
          gpu.release(out);
        }
        gpu.release(seed);
      }
    });

    it('says why a workgroup is too large', async () => {
      const gpu = await gpuBackend(adapter);
      const t = gpu.tensor(4);
      const wg = gpu.limits.maxComputeInvocationsPerWorkgroup * 2;
      expect(() => fmaChains(gpu, { seed: t, out: t, n: 4, iters: 1, a: 0.5, b: 0 }, wg)).toThrow(/over this adapter/);
      gpu.release(t);
    });
  });
}
