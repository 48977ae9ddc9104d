// Mixtures of PPCA: the engine's E-step and EM map against the dense float64
// reference (reference.ts) on random shapes, EM's monotone log-likelihood,
// recovery of known components, K = 1 against PPCA's closed form, the drop rule,
// on the CPU backend and the WebGPU adapters.
import { describe, expect, it } from 'vitest';
import type { Backend } from '../src/backend.ts';
import {
  MppcaEngine, MppcaFitter, checkMppca, componentW, evaluateMppca, fitMppca, initialMppca, mppcaParameterCount, type MppcaHost,
} from '../src/models/mppca/mppca.ts';
import { referenceEStep, referenceLogLikRowsLowRank, referenceMap } from '../src/models/mppca/reference.ts';
import { closedFormPpca } from '../src/models/ppca/closed.ts';
import { releaseData, sampleMean, uploadData } from '../src/models/ppca/model.ts';
import { principalAngles } from '../src/models/ppca/subspace.ts';
import { TEST_ADAPTERS, cpu, gpuBackend, rng } from './gpu.ts';

function normal(r: () => number): () => number {
  return () => Math.sqrt(-2 * Math.log(1 - r())) * Math.cos(2 * Math.PI * r());
}

/** A known mixture (means `sep` apart in scale, W entries N(0, 1), noise σ) and n rows drawn from it. */
function synthetic(K: number, D: number, d: number, n: number, seed: number, sep = 3, sigma = 0.2): { truth: MppcaHost; x: Float32Array; label: Int32Array } {
  const g = normal(rng(seed));
  const u = rng(seed + 1);
  const raw = Float64Array.from({ length: K }, () => 0.5 + u());
  const total = raw.reduce((s, v) => s + v, 0);
  const truth: MppcaHost = {
    K, D, d, pi: raw.map((v) => v / total), mu: Float64Array.from({ length: K * D }, () => sep * g()),
    W: Float64Array.from({ length: K * D * d }, () => g()), sigma2: new Float64Array(K).fill(sigma * sigma),
  };
  const x = new Float32Array(n * D);
  const label = new Int32Array(n);
  const z = new Float64Array(d);
  for (let i = 0; i < n; i++) {
    let v = u();
    let k = 0;
    while (k < K - 1 && v >= truth.pi[k]!) v -= truth.pi[k++]!;
    label[i] = k;
    for (let j = 0; j < d; j++) z[j] = g();
    const W = componentW(truth, k);
    for (let r = 0; r < D; r++) {
      let s = truth.mu[k * D + r]! + sigma * g();
      for (let j = 0; j < d; j++) s += W[r * d + j]! * z[j]!;
      x[i * D + r] = s;
    }
  }
  return { truth, x, label };
}

function relErr(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let num = 0;
  let den = 0;
  for (let i = 0; i < a.length; i++) {
    num += (a[i]! - b[i]!) ** 2;
    den += b[i]! ** 2;
  }
  return Math.sqrt(num / Math.max(den, 1e-300));
}

describe('mppca host parts', () => {
  it('counts parameters as K(Dd − d(d−1)/2 + D + 1) + K − 1', () => {
    expect(mppcaParameterCount(1, 784, 10)).toBe(784 * 10 - 45 + 784 + 1);
    expect(mppcaParameterCount(10, 784, 10)).toBe(10 * (784 * 10 - 45 + 784 + 1) + 9);
  });

  it('k-means++ initialisation is deterministic for a seed and differs across seeds', () => {
    const { x } = synthetic(3, 8, 2, 300, 5);
    const data = { name: 's', host: x, n: 300, D: 8 };
    const a = initialMppca(data, 3, 2, 11, 1e-3);
    const b = initialMppca(data, 3, 2, 11, 1e-3);
    const c = initialMppca(data, 3, 2, 12, 1e-3);
    expect(Array.from(a.mu)).toEqual(Array.from(b.mu));
    expect(Array.from(a.W)).toEqual(Array.from(b.W));
    expect(Array.from(a.W)).not.toEqual(Array.from(c.W));
    checkMppca(a);
  });

  it('the low-rank float64 reference equals the dense one', () => {
    const { truth, x } = synthetic(3, 11, 2, 200, 9);
    const h = { ...truth, sigma2: Float64Array.of(0.05, 0.5, 2) };
    expect(relErr(referenceLogLikRowsLowRank(h, { host: x, n: 200, D: 11 }), referenceEStep(h, { host: x, n: 200, D: 11 }).rows)).toBeLessThan(1e-12);
  });

  it('checkMppca names what is wrong', () => {
    const { truth } = synthetic(2, 5, 1, 10, 1);
    expect(() => checkMppca({ ...truth, pi: Float64Array.of(0.5, 0.6) })).toThrow(/sum to 1.1/);
    expect(() => checkMppca({ ...truth, sigma2: Float64Array.of(1, 0) })).toThrow(/sigma2\[1\] is 0/);
    expect(() => checkMppca({ ...truth, mu: truth.mu.subarray(1) })).toThrow(/mu has 9 entries/);
  });
});

function suite(name: string, backend: () => Promise<Backend>): void {
  describe(`mppca on ${name}`, () => {
    it('E-step and EM map equal the dense float64 reference, iteration by iteration (odd shapes, data in several buffers, clusters far apart)', async () => {
      const b = await backend();
      // the third: clusters ~1,900 apart with a spread of ~6 (the M-step's uncentred products)
      for (const [K, D, d, n, chunkRows, sep] of [[3, 13, 2, 700, undefined, 3], [2, 9, 3, 1100, 37, 3], [3, 20, 2, 600, undefined, 300]] as const) {
        const { x } = synthetic(K, D, d, n, 100 + D, sep);
        const data = uploadData(b, { name: 'mix', x, n, D });
        const host = { host: x, n, D };
        const engine = new MppcaEngine(b, data, sampleMean(data), 1, chunkRows);
        try {
          const floor = 1e-4;
          let theta = engine.toData(initialMppca(engine.host, K, d, 3, floor));
          let prev = -Infinity;
          for (let t = 0; t < 6; t++) {
            const ref = referenceMap(theta, host, floor);
            const fitted = engine.toFitted(theta);
            const e = await engine.estep(fitted);
            expect(Math.abs(e.loglik - ref.loglik)).toBeLessThan(2e-5 * Math.max(1, Math.abs(ref.loglik)));
            const refRows = referenceEStep(theta, host).rows;
            // per row: float32 products y = Wᵀ(x − μ) on the device, the rest float64
            expect(relErr(e.rows, refRows)).toBeLessThan(5e-5);
            const m = await engine.mstep(fitted, e, floor);
            const next = engine.toData(m.next);
            expect(m.kept).toEqual(ref.kept);
            expect(relErr(next.mu, ref.next.mu)).toBeLessThan(1e-4);
            expect(relErr(next.W, ref.next.W)).toBeLessThan(1e-3);
            expect(relErr(next.sigma2, ref.next.sigma2)).toBeLessThan(1e-3);
            expect(relErr(next.pi, ref.next.pi)).toBeLessThan(1e-4);
            // EM never lowers the log-likelihood (up to the rounding of each iterate's W and μ to float32)
            expect(ref.loglik).toBeGreaterThanOrEqual(prev - 1e-6);
            prev = ref.loglik;
            theta = next;
          }
        } finally {
          engine.release();
          releaseData(b, data);
        }
      }
    }, 120_000);

    it('fits a known mixture: monotone, recovers each subspace and the weights; evaluation agrees with the host', async () => {
      const b = await backend();
      const [K, D, d, n] = [3, 20, 2, 1500];
      const { truth, x, label } = synthetic(K, D, d, n, 21);
      const data = uploadData(b, { name: 'mix', x, n, D });
      try {
        const r = await fitMppca(b, data, { K, d, maxIters: 300, tol: 1e-5, seed: 1 });
        for (let t = 1; t < r.trace.length; t++) expect(r.trace[t]!.loglik).toBeGreaterThanOrEqual(r.trace[t - 1]!.loglik - 1e-5);
        expect(r.converged).toBe(true);
        expect(r.dropped).toEqual([]);
        const ref = referenceEStep(r.model, { host: x, n, D });
        expect(Math.abs(ref.loglik - r.loglik)).toBeLessThan(1e-4);
        expect(r.loglik).toBeGreaterThan(referenceEStep(truth, { host: x, n, D }).loglik);
        for (let k = 0; k < K; k++) {
          // the fitted component nearest the true mean
          let best = 0;
          let bestD = Infinity;
          for (let o = 0; o < r.model.K; o++) {
            let s = 0;
            for (let j = 0; j < D; j++) s += (r.model.mu[o * D + j]! - truth.mu[k * D + j]!) ** 2;
            if (s < bestD) [best, bestD] = [o, s];
          }
          expect(Math.max(...principalAngles(componentW(r.model, best), componentW(truth, k), D, d))).toBeLessThan(0.1);
          const share = label.filter((l) => l === k).length / n;
          expect(Math.abs(r.model.pi[best]! - share)).toBeLessThan(0.01);
          expect(Math.abs(r.model.sigma2[best]! / truth.sigma2[k]! - 1)).toBeLessThan(0.1);
        }
        const ev = await evaluateMppca(b, data, r.model);
        expect(relErr(ev.rows, ref.rows)).toBeLessThan(5e-5);
        // every row assigned to its own cluster: purity 1 on well separated data
        const agree = new Map<string, number>();
        for (let i = 0; i < n; i++) agree.set(`${label[i]}:${ev.assign[i]}`, 1);
        expect(agree.size).toBe(K);
      } finally {
        releaseData(b, data);
      }
    }, 120_000);

    it('K = 1 reaches the PPCA closed form to 1e-3 nats', async () => {
      const b = await backend();
      const [D, d, n] = [15, 3, 901];
      const { x } = synthetic(1, D, d, n, 8, 1, 0.3);
      const data = uploadData(b, { name: 'one', x, n, D });
      try {
        const closed = closedFormPpca({ host: x, n, D }, d, 'full');
        // the k-means++ start of one cluster is its PPCA closed form (subspace iteration, Rayleigh–Ritz)
        const r0 = await fitMppca(b, data, { K: 1, d, maxIters: 0 });
        expect(Math.abs(closed.loglik - r0.loglik)).toBeLessThan(1e-5);
        // EM from far away: μ = 0, W small and random, σ² = 1
        const g = normal(rng(77));
        const init: MppcaHost = { K: 1, D, d, pi: Float64Array.of(1), mu: new Float64Array(D), W: Float64Array.from({ length: D * d }, () => 0.1 * g()), sigma2: Float64Array.of(1) };
        const r = await fitMppca(b, data, { K: 1, d, init, maxIters: 320, tol: 1e-5 });
        expect(r.trace[0]!.loglik).toBeLessThan(closed.loglik - 1);
        expect(r.loglik).toBeLessThanOrEqual(closed.loglik + 1e-4);
        expect(closed.loglik - r.loglik).toBeLessThan(1e-3);
      } finally {
        releaseData(b, data);
      }
    }, 120_000);

    it('drops a component that loses all responsibility and reports it', async () => {
      const b = await backend();
      const [K, D, d, n] = [2, 6, 1, 400];
      const { x } = synthetic(K, D, d, n, 31);
      // rows in several device buffers: the fit reads the host copy, never one buffer
      const data = uploadData(b, { name: 'drop', x, n, D }, { chunkRows: 37 });
      try {
        const start = initialMppca({ host: x, n, D }, K, d, 0, 1e-3);
        // a third component far from every row
        const init: MppcaHost = {
          K: 3, D, d, pi: Float64Array.of(start.pi[0]! * 0.9, start.pi[1]! * 0.9, 0.1),
          mu: Float64Array.from([...start.mu, ...new Array(D).fill(1e3)]), W: Float64Array.from([...start.W, ...new Array(D * d).fill(0.1)]),
          sigma2: Float64Array.of(...start.sigma2, 0.01),
        };
        const r = await fitMppca(b, data, { K: 3, d, init, maxIters: 50 });
        expect(r.model.K).toBe(2);
        expect(r.dropped).toHaveLength(1);
        expect(r.dropped[0]).toMatchObject({ iteration: 0, component: 2 });
        expect(r.dropped[0]!.rows).toBeLessThan(1e-6);
        expect(r.trace[0]!.K).toBe(3);
        expect(r.trace.at(-1)!.K).toBe(2);
        checkMppca(r.model);
        await expect(fitMppca(b, data, { K: 4096, d: 5, maxIters: 1 })).rejects.toThrow(/rows are too few for 4096 components/);
      } finally {
        releaseData(b, data);
      }
    }, 60_000);
  });
}

suite('cpu', async () => cpu);
for (const adapter of TEST_ADAPTERS) suite(adapter, () => gpuBackend(adapter));

describe('mppca size checks', () => {
  it('refuses a fit whose per-component products exceed the cap before allocating them', () => {
    const n = 30000;
    const D = 3;
    // a DeviceData stand-in: the check runs before any upload
    const data = { name: 'big', n, D, host: new Float32Array(n * D), x: undefined as never };
    expect(() => new MppcaFitter(cpu, data, { K: 4096, d: 2 })).toThrow(/over 268435456; use fewer components or rows/);
  });
});
