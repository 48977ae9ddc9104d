// The per-point model: φ rows gathered, updated and scattered per minibatch;
// training raises the ELBO; test rows fitted with θ frozen; GPU = CPU. Also the
// evaluation estimators (IWAE against quadrature, prior bounds).
import { describe, expect, it } from 'vitest';
import type { Backend } from '../src/backend.ts';
import { EvalSet, evaluateElbo, evaluateIwae } from '../src/models/evaluate.ts';
import { PriorProposal } from '../src/models/latent.ts';
import { Lvm, type LvmConfig } from '../src/models/lvm.ts';
import { Vae, type VaeConfig } from '../src/models/vae.ts';
import { train } from '../src/train/trainer.ts';
import { TEST_ADAPTERS, cpu, expectClose, gpuBackend, randomArray } from './gpu.ts';

const D = 16;
const cfg: LvmConfig = {
  dataDim: D, latent: 2, decoderHidden: [12], act: 'tanh', likelihood: 'bernoulli', variance: 'vector',
  varFloor: 1e-3, varCeil: 4, objective: 'elbo', seed: 3, phiLr: 0.05, phiSteps: 2,
};

/** Binary rows from 4 prototypes with 5% flips. */
function prototypeData(n: number, seed: number): Float32Array {
  const protos = randomArray(4 * D, seed, 0, 1).map((v) => (v > 0.5 ? 0.95 : 0.05));
  const u = randomArray(n * D, seed + 1, 0, 1);
  const X = new Float32Array(n * D);
  for (let i = 0; i < n; i++) for (let j = 0; j < D; j++) X[i * D + j] = u[i * D + j]! < protos[(i % 4) * D + j]! ? 1 : 0;
  return X;
}

describe('lvm (CPU backend)', () => {
  it('updates only the minibatch rows of φ', async () => {
    const n = 40;
    const lvm = new Lvm(cpu, cfg, prototypeData(n, 1), n);
    const before = await cpu.read(lvm.phi.mu);
    const r = await train(lvm, { epochs: 1, batch: 16, lr: 1e-3, seed: 2, maxSteps: 1 });
    expect(r.steps).toBe(1);
    const after = await cpu.read(lvm.phi.mu);
    let changedRows = 0;
    for (let i = 0; i < n; i++) if (after[i * 2] !== before[i * 2] || after[i * 2 + 1] !== before[i * 2 + 1]) changedRows++;
    expect(changedRows).toBe(16);
    lvm.release();
  });

  it('raises the ELBO, and fitting test rows with θ frozen raises theirs', async () => {
    const n = 200;
    const X = prototypeData(n + 40, 5);
    const lvm = new Lvm(cpu, cfg, X.subarray(0, n * D), n);
    const r = await train(lvm, { epochs: 40, batch: 25, lr: 1e-2, seed: 2 });
    const first = r.epochs[0]!.objective;
    const last = r.epochs[r.epochs.length - 1]!.objective;
    expect(last - first).toBeGreaterThan(3);
    const test = { x: X.slice(n * D), n: 40 };
    const set = new EvalSet(cpu, test, D);
    const theta = await cpu.read(lvm.params);
    await lvm.fitPosterior(test.x, test.n, { steps: 0 });
    const atPrior = await evaluateElbo(lvm, set);
    await lvm.fitPosterior(test.x, test.n, { steps: 150 });
    const fitted = await evaluateElbo(lvm, set);
    expect(fitted.elbo - atPrior.elbo).toBeGreaterThan(1);
    // θ did not move while fitting
    expect(await cpu.read(lvm.params)).toEqual(theta);
    set.release();
    lvm.release();
  });

  it('names bad options', () => {
    expect(() => new Lvm(cpu, { ...cfg, phiSteps: 0 }, new Float32Array(D), 1)).toThrow(/phiSteps must be a positive integer/);
    expect(() => new Lvm(cpu, { ...cfg, phiLr: 0 }, new Float32Array(D), 1)).toThrow(/phiLr must be positive/);
  });
});

async function lvmSteps(be: Backend, X: Float32Array, n: number, likelihood: 'bernoulli' | 'gaussian'): Promise<number[]> {
  const lvm = new Lvm(be, { ...cfg, act: 'relu', likelihood, decoderHidden: [19] }, X, n);
  const r = await train(lvm, { epochs: 5, batch: 21, lr: 3e-3, seed: 4, checkEvery: 1, maxSteps: 7 });
  lvm.release();
  return r.history.map((p) => p.objective);
}

for (const adapter of TEST_ADAPTERS) {
  describe(`lvm on ${adapter}`, () => {
    for (const likelihood of ['bernoulli', 'gaussian'] as const) {
      it(`gives the CPU's objective over the first steps (${likelihood})`, async () => {
        const n = 50;
        const X = prototypeData(n, 7);
        const want = await lvmSteps(cpu, X, n, likelihood);
        const got = await lvmSteps(await gpuBackend(adapter), X, n, likelihood);
        expect(got.length).toBe(7);
        expectClose(got, want, 1e-3, 1e-4, `lvm objective on ${adapter}`);
      });
    }
  });
}

// ---- estimators ----

describe('IWAE and the prior estimators', () => {
  // d = 1, so log p(x) = log ∫ N(z; 0, 1) p(x | z) dz is computable by quadrature
  const vcfg: VaeConfig = {
    dataDim: 4, latent: 1, encoderHidden: [3], decoderHidden: [3], act: 'tanh', likelihood: 'bernoulli',
    variance: 'vector', varFloor: 1e-3, varCeil: 4, objective: 'elbo', seed: 8,
  };
  const n = 6;
  // two clusters, so p(x | z) must depend on z and the prior bounds are loose
  const X = Float32Array.from([1, 1, 0, 0, 0, 0, 1, 1, 1, 1, 0, 1, 0, 0, 1, 1, 1, 1, 0, 0, 0, 1, 1, 1]);

  it('IWAE_K approaches log p(x) from below as K grows; the ELBO and the prior bounds are lower', async () => {
    const vae = new Vae(cpu, vcfg, X, n);
    await train(vae, { epochs: 300, batch: 6, lr: 2e-2, seed: 1 });
    const P = await cpu.read(vae.params);
    const blk = (name: string): Float32Array => vae.layout.slice(P, name);
    // decoder z → tanh(z W0 + b0) → logits
    const logp = new Float64Array(n);
    const grid = 8001;
    for (let i = 0; i < n; i++) {
      let acc = 0;
      for (let g = 0; g < grid; g++) {
        const z = -10 + (20 * g) / (grid - 1);
        const h = [0, 1, 2].map((j) => Math.tanh(z * blk('dec.0.W')[j]! + blk('dec.0.b')[j]!));
        let ll = 0;
        for (let c = 0; c < 4; c++) {
          let l = blk('dec.mean.0.b')[c]!;
          for (let j = 0; j < 3; j++) l += h[j]! * blk('dec.mean.0.W')[j * 4 + c]!;
          ll += X[i * 4 + c]! * l - (Math.max(l, 0) + Math.log1p(Math.exp(-Math.abs(l))));
        }
        acc += Math.exp(ll - 0.5 * z * z) / Math.sqrt(2 * Math.PI) * (20 / (grid - 1));
      }
      logp[i] = Math.log(acc);
    }
    const exact = logp.reduce((a, b) => a + b, 0) / n;
    const set = new EvalSet(cpu, { x: X, n }, 4);
    const tiled = new EvalSet(cpu, { x: Float32Array.from({ length: 300 * n * 4 }, (_, i) => X[i % (n * 4)]!), n: 300 * n }, 4);
    const iw1 = await evaluateIwae(vae, tiled, 1, { chunkSamples: 64 });
    const elbo = await evaluateElbo(vae, tiled, { chunk: 500 });
    tiled.release();
    const iw5000 = await evaluateIwae(vae, set, 5000, { chunkSamples: 1024 });
    const priorMc = await evaluateIwae(new PriorProposal(vae), set, 5000);
    const priorJensen = await evaluateElbo(new PriorProposal(vae), set);
    // K = 5000 in 1024-sample chunks: within 0.02 nats of the exact value, and a lower bound up to MC noise
    expect(Math.abs(iw5000.iwae - exact)).toBeLessThan(0.02);
    expect(iw5000.iwae).toBeLessThan(exact + 0.005);
    for (let i = 0; i < n; i++) expect(Math.abs(iw5000.perRow[i]! - logp[i]!)).toBeLessThan(0.05);
    // IWAE_1 is the one-sample ELBO: on 300 copies of the rows both average to E_q[ELBO] ≤ log p(x)
    // (after training q is nearly exact in 1-D, so the gap is below the Monte-Carlo error of ~0.025)
    expect(Math.abs(iw1.iwae - elbo.elbo)).toBeLessThan(0.08);
    expect(elbo.elbo).toBeLessThan(exact + 0.08);
    // the prior Monte-Carlo estimate is consistent too (d = 1 is easy), the prior Jensen bound is not
    expect(Math.abs(priorMc.iwae - exact)).toBeLessThan(0.05);
    expect(priorJensen.logLik).toBeLessThan(exact - 0.05);
    set.release();
    vae.release();
  });
});
