// PPCA with missing values on a backend (src/models/ppca/missingOn.ts) against
// the float64 host path (missing.ts): per-row observed-data log-likelihoods at
// the same parameters, EM from the same start, imputation; on the CPU backend's
// WebAssembly kernels, the TypeScript reference kernels and each test adapter;
// data in one device buffer and in several (37-row blocks).
import { afterAll, describe, expect, it } from 'vitest';
import type { Backend } from '../src/backend.ts';
import { subsetRows } from '../src/data/dataset.ts';
import { loadMnist } from '../src/data/mnist.node.ts';
import { syntheticPpca } from '../src/data/synthetic.ts';
import { fitPpcaMissing, imputeMissing, missingLogLikRows, type MissingData, type PpcaParams } from '../src/models/ppca/missing.ts';
import { fitPpcaMissingOn, imputeMissingOn, missingLogLikRowsOn } from '../src/models/ppca/missingOn.ts';
import { createWasmBackend } from '../src/wasm/node.ts';
import { HostRng } from '../src/train/rng.ts';
import { TEST_ADAPTERS, cpu, gpuBackend } from './gpu.ts';

/** A copy of x with each entry hidden (NaN) with probability `frac`, seeded. */
function hide(x: Float32Array, frac: number, seed: number): Float32Array {
  const rng = new HostRng(seed);
  return x.map((v) => (rng.uniform() < frac ? NaN : v));
}

/** Synthetic rows, `frac` hidden, row 2 all missing, row 4 complete, the last column observed once (row 0). */
function syntheticMissing(n: number, D: number, d: number, frac: number, seed: number): MissingData {
  const s = syntheticPpca({ n, D, d, sigma: 0.3, seed });
  const x = hide(s.data.x, frac, seed + 1);
  for (let j = 0; j < D; j++) {
    x[2 * D + j] = NaN;
    x[4 * D + j] = s.data.x[4 * D + j]!;
  }
  for (let i = 1; i < n; i++) x[i * D + D - 1] = NaN;
  x[D - 1] = s.data.x[D - 1]!;
  return { name: 'synthetic', x, n, D };
}

/** Random parameters with μ away from the observed means (so δ = μ − μ₀ is exercised). */
function randomParams(D: number, d: number, seed: number): PpcaParams {
  const rng = new HostRng(seed);
  return { D, d, W: Float64Array.from({ length: D * d }, () => rng.normal()), mu: Float64Array.from({ length: D }, () => 0.5 * rng.normal()), sigma2: 0.2 };
}

/**
 * max_i |a_i − b_i| over the mean |b_i|: a row's error relative to the rows' scale (a row's
 * log-likelihood can be near 0 where float32 products still leave ~1e-4 nats of rounding)
 */
function worstRel(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let w = 0;
  let scale = 0;
  for (let i = 0; i < a.length; i++) {
    w = Math.max(w, Math.abs(a[i]! - b[i]!));
    scale += Math.abs(b[i]!) / b.length;
  }
  return w / scale;
}

/** max |a − b| over the entries that are NaN in `hidden` (the imputed ones) */
function worstImputed(a: Float32Array, b: Float32Array, hidden: Float32Array): number {
  let w = 0;
  for (let k = 0; k < a.length; k++) if (Number.isNaN(hidden[k]!)) w = Math.max(w, Math.abs(a[k]! - b[k]!));
  return w;
}

const SHAPES: [number, number, number][] = [[137, 23, 3], [61, 9, 2], [300, 41, 6]];

let wasm: Promise<Backend> | undefined;
afterAll(async () => (await wasm)?.destroy());

const backends: [string, () => Promise<Backend>][] = [
  ['cpu (WebAssembly)', () => (wasm ??= createWasmBackend({ threads: 2, threadThreshold: 0, elementThreshold: 0 }))],
  ['cpu (reference kernels)', async () => cpu],
  ...TEST_ADAPTERS.map((a): [string, () => Promise<Backend>] => [`webgpu ${a}`, () => gpuBackend(a)]),
];

for (const [name, make] of backends) {
  describe(`missing-value PPCA on ${name}`, () => {
    it('per-row log-likelihoods equal the float64 host path at the same parameters (1e-4 of the rows\' scale); imputation within 1e-3', async () => {
      const b = await make();
      for (const [n, D, d] of SHAPES) {
        const data = syntheticMissing(n, D, d, 0.3, n + D);
        const p = randomParams(D, d, n * D);
        const want = missingLogLikRows(p, data);
        const got = await missingLogLikRowsOn(b, p, data);
        expect(got[2]).toBe(0);
        expect(worstRel(got, want)).toBeLessThan(1e-4);
        // the imputation at these parameters, here from the blocked fit below's engine too
        const { imputed, loglikRows } = await imputeMissingOn(b, p, data);
        expect(worstRel(loglikRows, want)).toBeLessThan(1e-4);
        expect(worstImputed(imputed, imputeMissing(p, data), data.x)).toBeLessThan(1e-3);
      }
    });

    it('EM from the same start follows the host EM (curve and fit to 1e-5 relative); 37-row blocks equal one buffer', async () => {
      const b = await make();
      for (const [n, D, d] of SHAPES) {
        const data = syntheticMissing(n, D, d, 0.3, n + D);
        const init = randomParams(D, d, n + 3 * D);
        const host = fitPpcaMissing(data, d, { init, iters: 12, tol: 0 });
        const seen: number[] = [];
        const on = await fitPpcaMissingOn(b, data, d, { init, iters: 12, tol: 0, onIteration: (_, ll) => seen.push(ll) });
        expect(seen.length).toBe(13);
        expect(worstRel(on.curve, host.curve)).toBeLessThan(1e-5);
        for (let t = 1; t < on.curve.length - 1; t++) expect(on.curve[t]!).toBeGreaterThan(on.curve[t - 1]! - 1e-4 * Math.abs(on.curve[t - 1]!));
        expect(Math.abs(on.sigma2 - host.sigma2) / host.sigma2).toBeLessThan(1e-4);
        const blocked = await fitPpcaMissingOn(b, data, d, { init, iters: 12, tol: 0, chunkRows: 37 });
        expect(worstRel(blocked.curve, on.curve)).toBeLessThan(1e-5);
        const imputedOn = (await imputeMissingOn(b, on, data)).imputed;
        expect(worstImputed(imputedOn, imputeMissing(host, data), data.x)).toBeLessThan(1e-3);
      }
    });
  });
}

describe('missing-value PPCA on MNIST with 10%, 30%, 50% hidden: backend against the host', () => {
  const mnist = subsetRows(loadMnist().train, 600);
  // the float64 host fits, once per fraction: 8 EM iterations from the closed form of the mean-imputed data
  const refs = [0.1, 0.3, 0.5].map((frac) => {
    const data: MissingData = { name: 'mnist', x: hide(mnist.x, frac, 11), n: mnist.n, D: mnist.D };
    const start = fitPpcaMissing(data, 5, { iters: 0 });
    const init: PpcaParams = { D: data.D, d: 5, W: start.W, mu: start.mu, sigma2: start.sigma2 };
    return { frac, data, init, host: fitPpcaMissing(data, 5, { init, iters: 8, tol: 0 }) };
  });
  const gpu = backends.find(([name]) => name.includes('llvmpipe')) ?? backends[2]!;
  for (const [name, make] of [backends[0]!, gpu]) {
    it(`${name}: 8 EM iterations from the same start, log-likelihood to 1e-4 relative, imputation within 1e-3`, async () => {
      const b = await make();
      for (const { data, init, host } of refs) {
        const on = await fitPpcaMissingOn(b, data, 5, { init, iters: 8, tol: 0 });
        expect(Math.abs(on.loglik - host.loglik) / Math.abs(host.loglik)).toBeLessThan(1e-4);
        expect(worstRel(await missingLogLikRowsOn(b, host, data), missingLogLikRows(host, data))).toBeLessThan(1e-4);
        expect(worstImputed((await imputeMissingOn(b, on, data)).imputed, imputeMissing(host, data), data.x)).toBeLessThan(1e-3);
      }
    }, 120_000);
  }
});
