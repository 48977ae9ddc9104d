// Factor analysis, accelerated and chunked: SQUAREM and Anderson reach plain EM's
// log-likelihood (1e-4 nats/sample) with fewer maps, never going downhill, ψ
// floor kept; EM over data in several device buffers equals the one-buffer fit.
// On the CPU backend and the WebGPU adapters.
import { describe, expect, it } from 'vitest';
import type { Backend } from '../src/backend.ts';
import { subsetRows } from '../src/data/dataset.ts';
import { loadMnist } from '../src/data/mnist.node.ts';
import { createFaEmFitter, faMeanLogLik, fitFa, psiFloor, type FaResult } from '../src/models/fa/fa.ts';
import { columnStats } from '../src/models/ppca/scale.ts';
import { TEST_ADAPTERS, cpu, gpuBackend } from './gpu.ts';
import { synthetic, withData } from './fa-helpers.ts';

/** Each accepted iterate at least as good as the one before (to `slack` nats: float32 products). */
function expectMonotone(r: FaResult, slack: number): void {
  for (let t = 1; t < r.trace.length; t++) expect(r.trace[t]!.loglik).toBeGreaterThanOrEqual(r.trace[t - 1]!.loglik - slack);
}

/** Every ψ at or above the floor of the stated rule. */
function expectFloor(r: FaResult, x: Float32Array, n: number, D: number): void {
  const floor = psiFloor(columnStats({ host: x, n, D }).variance);
  for (let j = 0; j < D; j++) expect(r.model.psi[j]!).toBeGreaterThanOrEqual(floor[j]! * (1 - 1e-6));
}

/** Problem sizes: the CPU backend runs the larger ones; the WebGPU adapters (software here) smaller ones in reasonable time. */
interface Sizes {
  synthetic: { D: number; d: number; n: number; seed: number };
  mnist: { rows: number; d: number };
}
const FULL: Sizes = { synthetic: { D: 20, d: 3, n: 4000, seed: 7 }, mnist: { rows: 700, d: 5 } };
const SMALL: Sizes = { synthetic: { D: 12, d: 2, n: 1100, seed: 7 }, mnist: { rows: 300, d: 2 } };

function suite(name: string, backend: () => Promise<Backend>, sizes: Sizes): void {
  describe(`fa methods on ${name}`, () => {
    it('em, squarem and anderson reach the same log-likelihood on synthetic data; the accelerations need fewer maps', async () => {
      const b = await backend();
      const { D, d, n, seed } = sizes.synthetic; // n not a whole number of 256-row chunks
      const { x } = synthetic(D, d, n, seed);
      // plain EM's steps shrink with its rate: it stops as close to the optimum only at a 10× smaller tol
      // (and the device's per-iterate figure has ~1e-5 nats of float32 noise, so tol far below that is luck)
      const tol = { em: 1e-7, squarem: 1e-6, anderson: 1e-6 };
      const fits = await withData(b, { name: 'synthetic-fa', x, n, D }, undefined, async (data) => {
        const out: Record<string, FaResult> = {};
        for (const method of ['em', 'squarem', 'anderson'] as const) out[method] = await fitFa(b, data, { d, method, maxIters: 3000, tol: tol[method] });
        return out;
      });
      for (const r of Object.values(fits)) {
        expect(r.converged).toBe(true);
        expectMonotone(r, 3e-5);
        expectFloor(r, x, n, D);
        expect(Math.abs(r.loglik - fits.em!.loglik)).toBeLessThan(1e-4);
      }
      expect(fits.squarem!.iterations).toBeLessThan(fits.em!.iterations);
      expect(fits.anderson!.iterations).toBeLessThan(fits.em!.iterations);
    }, 240_000);

    it('on an MNIST subset (constant and floored columns) the three methods agree to 1e-4 nats/sample', async () => {
      const b = await backend();
      const train = subsetRows(loadMnist().train, sizes.mnist.rows);
      const { d } = sizes.mnist;
      const fits = await withData(b, train, undefined, async (data) => {
        const out: Record<string, FaResult> = {};
        for (const method of ['em', 'squarem', 'anderson'] as const) out[method] = await fitFa(b, data, { d, method, maxIters: 4000, tol: 1e-6 });
        return out;
      });
      for (const r of Object.values(fits)) {
        expect(r.converged).toBe(true);
        // floored ψ multiply float32 error by s_jj/ψ_j (see fa.test.ts): monotone to 1e-4
        expectMonotone(r, 1e-4);
        expectFloor(r, train.x, train.n, train.D);
        expect(r.heywood.length).toBeGreaterThan(0);
        expect(Math.abs(r.loglik - fits.em!.loglik)).toBeLessThan(1e-4);
      }
      expect(fits.squarem!.iterations).toBeLessThan(fits.em!.iterations);
      expect(fits.anderson!.iterations).toBeLessThan(fits.em!.iterations);
    }, 300_000);

    it('a resumable fit: k maps at a time are the same run as one fitFa call, acceleration history kept', async () => {
      const b = await backend();
      const D = 12;
      const d = 2;
      const n = 600;
      const { x } = synthetic(D, d, n, 3);
      await withData(b, { name: 'resumable-fa', x, n, D }, undefined, async (data) => {
        for (const method of ['em', 'anderson', 'squarem'] as const) {
          const whole = await fitFa(b, data, { d, method, maxIters: 21, tol: 1e-12 });
          const fitter = createFaEmFitter(b, data, { d, method, tol: 1e-12 });
          try {
            for (let i = 0; i < 4; i++) await fitter.step(5);
            expect(fitter.maps).toBe(20);
            expect(fitter.done).toBe(false);
            // the same maps in the same order: the same accepted iterates and figures
            const common = fitter.trace.length;
            expect(common).toBeGreaterThan(0);
            expect(fitter.trace.map((p) => p.loglik)).toEqual(whole.trace.slice(0, common).map((p) => p.loglik));
            // model() is the last accepted iterate, whose figure is the trace's last
            expect(Math.abs(faMeanLogLik(fitter.model(), data) - fitter.trace.at(-1)!.loglik)).toBeLessThan(1e-4);
          } finally {
            fitter.dispose();
          }
        }
        // run to convergence: done, converged, and a step after that spends nothing
        const f = createFaEmFitter(b, data, { d, method: 'anderson', tol: 1e-6 });
        try {
          await f.step(1000);
          expect([f.done, f.converged]).toEqual([true, true]);
          const spent = f.maps;
          await f.step(5);
          expect(f.maps).toBe(spent);
        } finally {
          f.dispose();
        }
      });
    }, 120_000);

    it('exact EM over data in several device buffers equals the one-buffer fit', async () => {
      const b = await backend();
      const D = 20;
      const d = 3;
      const n = 1300;
      const { x } = synthetic(D, d, n, 5);
      const ds = { name: 'chunked-fa', x, n, D };
      const opts = { d, maxIters: 25, tol: 1e-12 };
      const one = await withData(b, ds, undefined, (data) => fitFa(b, data, opts));
      // uploadData splits the raw rows into 5 parts of 300; fitFa's buffers are whole 256-row chunks (512): three, the last padded
      const many = await withData(b, ds, 300, async (data) => {
        expect(data.parts?.length).toBe(5);
        return fitFa(b, data, { ...opts, chunkRows: 300 });
      });
      expect(many.iterations).toBe(one.iterations);
      // the per-buffer sums round differently: the device figures differ by their float32 noise (~1e-5)
      for (let t = 0; t < one.trace.length; t++) expect(Math.abs(many.trace[t]!.loglik - one.trace[t]!.loglik)).toBeLessThan(1e-4);
      expect(Math.abs(many.loglik - one.loglik)).toBeLessThan(1e-5);
      let worst = 0;
      for (let i = 0; i < one.model.W.length; i++) worst = Math.max(worst, Math.abs(many.model.W[i]! - one.model.W[i]!) / (1e-3 + Math.abs(one.model.W[i]!)));
      expect(worst).toBeLessThan(1e-3);
      for (let j = 0; j < D; j++) expect(Math.abs(many.model.psi[j]! / one.model.psi[j]! - 1)).toBeLessThan(1e-3);
    }, 120_000);
  });
}

suite('cpu', async () => cpu, FULL);
for (const adapter of TEST_ADAPTERS) suite(adapter, () => gpuBackend(adapter), SMALL);
