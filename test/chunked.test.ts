// Data held in several device buffers (issue 14 item 2): with a forced tiny chunk size the
// chunked paths must give what the one-buffer paths give.
import { describe, expect, it } from 'vitest';
import { dataChunkRows, type Backend } from '../src/backend.ts';
import { syntheticPpca } from '../src/data/synthetic.ts';
import { createPpca, fitEm, fitOem, fitSem, initialPpca, logLikRows, releaseData, releasePpca, uploadData, type EmMethod } from '../src/models/ppca.ts';
import { EvalSet, evaluateElbo, evaluateIwae, latentMeans, reconstruct } from '../src/models/evaluate.ts';
import { Lvm, type LvmConfig } from '../src/models/lvm.ts';
import { Vae, type VaeConfig } from '../src/models/vae.ts';
import { train } from '../src/train/trainer.ts';
import { TEST_ADAPTERS, cpu, gpuBackend, randomArray } from './gpu.ts';

/** Runs f with LATENTGPU_CHUNK_ROWS set (the models' and EvalSet's buffers are sized when built). */
async function withChunkRows<T>(rows: number | undefined, f: () => Promise<T>): Promise<T> {
  const before = process.env.LATENTGPU_CHUNK_ROWS;
  if (rows === undefined) delete process.env.LATENTGPU_CHUNK_ROWS;
  else process.env.LATENTGPU_CHUNK_ROWS = String(rows);
  try {
    return await f();
  } finally {
    if (before === undefined) delete process.env.LATENTGPU_CHUNK_ROWS;
    else process.env.LATENTGPU_CHUNK_ROWS = before;
  }
}

const VD = 20;
const vaeCfg: VaeConfig = {
  dataDim: VD, latent: 3, encoderHidden: [16], decoderHidden: [12], act: 'relu',
  likelihood: 'bernoulli', variance: 'vector', varFloor: 1e-3, varCeil: 4, objective: 'elbo', seed: 4,
};
const lvmCfg: LvmConfig = {
  dataDim: VD, latent: 3, decoderHidden: [12], act: 'relu', likelihood: 'bernoulli', variance: 'vector', varFloor: 1e-3, varCeil: 4,
  objective: 'elbo', seed: 4, phiLr: 0.05, phiSteps: 2,
};
const vn = 150;
const VX = randomArray(vn * VD, 2, 0, 1);

/** A VAE trained 2 epochs (ragged last batch) and every evaluation of it, with the rows in buffers of `rows`. */
async function vaeRun(b: Backend, rows: number | undefined) {
  return withChunkRows(rows, async () => {
    const vae = new Vae(b, vaeCfg, VX, vn);
    const set = new EvalSet(b, { x: VX, n: vn }, VD);
    try {
      const r = await train(vae, { epochs: 2, batch: 32, lr: 1e-2, seed: 1 });
      return {
        parts: vae.data.parts.length + set.rows.parts.length,
        objective: r.epochs.map((e) => e.objective),
        params: await b.read(vae.params),
        elbo: (await evaluateElbo(vae, set, { chunk: 64 })).elbo,
        iwae: (await evaluateIwae(vae, set, 5, { chunkSamples: 100 })).iwae,
        means: await latentMeans(vae, set, 64),
        recon: (await reconstruct(vae, set, Uint32Array.from([149, 0, 37, 74, 120]))).recon,
      };
    } finally {
      vae.release();
      set.release();
    }
  });
}

// n not a multiple of 256: the last buffer is padded with zero rows
const data = syntheticPpca({ n: 1100, D: 30, d: 4, sigma: 0.5, seed: 7 }).data;

describe('dataChunkRows', () => {
  const fake = (limits?: Record<string, number>) => ({ info: { backend: 'webgpu', summary: '', adapter: limits && { limits } } }) as unknown as Backend;
  it('fits whole rows, aligned, into one binding', () => {
    // 128 MiB / (784·4 B) = 42,799 rows, down to a multiple of 256
    expect(dataChunkRows(fake({ maxStorageBufferBindingSize: 134217728, maxBufferSize: 268435456 }), 784, { align: 256 })).toBe(42752);
    expect(dataChunkRows(fake({ maxStorageBufferBindingSize: 134217728 }), 784)).toBe(42799);
    expect(dataChunkRows(fake(), 784)).toBe(Number.MAX_SAFE_INTEGER);
  });
  it('takes a forced size, rounded up to the alignment, and rejects a bad one', () => {
    expect(dataChunkRows(cpu, 30, { override: 37, align: 256 })).toBe(256);
    expect(() => dataChunkRows(cpu, 30, { override: 0 })).toThrow(/positive integer/);
  });
});

const backends: [string, () => Promise<Backend>][] = [
  ['cpu', async () => cpu],
  ...TEST_ADAPTERS.map((a): [string, () => Promise<Backend>] => [a, () => gpuBackend(a)]),
];

for (const [name, get] of backends) {
  describe(`chunked data on ${name}`, () => {
    it('exact log-likelihood per row: several buffers equal one', async () => {
      const b = await get();
      const one = uploadData(b, data);
      const many = uploadData(b, data, { chunkRows: 37 });
      expect(many.parts?.length).toBe(30);
      expect(() => many.x).toThrow(/30 device buffers of 37 rows/);
      const m = createPpca(b, initialPpca(one, { d: 4, seed: 3 }));
      const want = await logLikRows(m, one);
      const got = await logLikRows(m, many);
      if (name === 'cpu') expect(got).toEqual(want);
      else for (let i = 0; i < want.length; i++) expect(Math.abs(got[i]! - want[i]!)).toBeLessThan(1e-5 * (1 + Math.abs(want[i]!)));
      releasePpca(m);
      releaseData(b, one);
      releaseData(b, many);
    });

    for (const method of ['em', 'squarem', 'anderson'] as EmMethod[]) {
      it(`${method}: data in 5 buffers of 256 rows give the one-buffer fit to float tolerance`, async () => {
        const b = await get();
        const dd = uploadData(b, data);
        const opts = { d: 4, method, maxIters: 12, tol: 0, seed: 1 };
        const one = await fitEm(b, dd, opts);
        const many = await fitEm(b, dd, { ...opts, chunkRows: 37 });
        expect(many.iterations).toBe(one.iterations);
        for (let i = 0; i < one.trace.length; i++) expect(Math.abs(many.trace[i]!.loglik - one.trace[i]!.loglik)).toBeLessThan(1e-5 * Math.abs(one.loglik));
        expect(Math.abs(many.model.sigma2 - one.model.sigma2)).toBeLessThan(1e-5 * one.model.sigma2);
        const [w1, w2] = await Promise.all([b.read(one.model.W), b.read(many.model.W)]);
        for (let i = 0; i < w1.length; i++) expect(Math.abs(w2[i]! - w1[i]!)).toBeLessThan(1e-4 * (1 + Math.abs(w1[i]!)));
        releasePpca(one.model);
        releasePpca(many.model);
        releaseData(b, dd);
      });
    }

    // same minibatch sequence (host sampler), rows gathered part by part from 30 buffers of 37
    const stochastic = {
      'sem (adam)': (b: Backend, dd: ReturnType<typeof uploadData>) => fitSem(b, dd, { d: 4, batch: 64, epochs: 2, lr: 0.01, optimizer: 'adam', seed: 2, evalEvery: 9 }),
      oem: (b: Backend, dd: ReturnType<typeof uploadData>) => fitOem(b, dd, { d: 4, batch: 64, epochs: 2, kappa: 0.6, seed: 2, evalEvery: 9 }),
    };
    for (const [method, fit] of Object.entries(stochastic)) {
      it(`${method}: minibatches from 30 buffers of 37 rows give the one-buffer fit` + (name === 'cpu' ? ' bit for bit' : ''), async () => {
        const b = await get();
        const d1 = uploadData(b, data);
        const d2 = uploadData(b, data, { chunkRows: 37 });
        const one = await fit(b, d1);
        const many = await fit(b, d2);
        const [w1, w2] = await Promise.all([b.read(one.model.W), b.read(many.model.W)]);
        const [m1, m2] = await Promise.all([b.read(one.model.mu), b.read(many.model.mu)]);
        expect(many.steps).toBe(one.steps);
        expect(many.trace.map((p) => p.step)).toEqual(one.trace.map((p) => p.step));
        if (name === 'cpu') {
          expect(many.trace.map((p) => p.loglik)).toEqual(one.trace.map((p) => p.loglik));
          expect([w2, m2, many.model.sigma2]).toEqual([w1, m1, one.model.sigma2]);
        } else {
          for (let i = 0; i < one.trace.length; i++) expect(Math.abs(many.trace[i]!.loglik - one.trace[i]!.loglik)).toBeLessThan(1e-4 * Math.abs(one.loglik));
          expect(Math.abs(many.model.sigma2 - one.model.sigma2)).toBeLessThan(1e-4 * one.model.sigma2);
          for (let i = 0; i < w1.length; i++) expect(Math.abs(w2[i]! - w1[i]!)).toBeLessThan(1e-3 * (1 + Math.abs(w1[i]!)));
        }
        releasePpca(one.model);
        releasePpca(many.model);
        releaseData(b, d1);
        releaseData(b, d2);
      });
    }
  });
}

for (const [name, get] of backends) {
  describe(`chunked training rows on ${name}`, () => {
    it('VAE training and evaluation: rows in buffers of 37 give the one-buffer results' + (name === 'cpu' ? ' bit for bit' : ''), async () => {
      const b = await get();
      const one = await vaeRun(b, undefined);
      const many = await vaeRun(b, 37);
      expect(one.parts).toBe(2);
      expect(many.parts).toBe(10);
      if (name === 'cpu') {
        expect(many).toEqual({ ...one, parts: 10 });
        return;
      }
      // WebGPU: the gathered batches are the same; only reduction order may differ
      for (let i = 0; i < one.objective.length; i++) expect(Math.abs(many.objective[i]! - one.objective[i]!)).toBeLessThan(1e-4 * Math.abs(one.objective[i]!));
      expect(Math.abs(many.elbo - one.elbo)).toBeLessThan(1e-4 * Math.abs(one.elbo));
      expect(Math.abs(many.iwae - one.iwae)).toBeLessThan(1e-4 * Math.abs(one.iwae));
      for (let i = 0; i < one.params.length; i++) expect(Math.abs(many.params[i]! - one.params[i]!)).toBeLessThan(1e-3 * (1 + Math.abs(one.params[i]!)));
    });

    it('per-point LVM training: rows in buffers of 37 give the one-buffer objective', async () => {
      const b = await get();
      const run = (rows: number | undefined) => withChunkRows(rows, async () => {
        const lvm = new Lvm(b, { ...lvmCfg }, VX, vn);
        try {
          const r = await train(lvm, { epochs: 2, batch: 32, lr: 1e-2, seed: 1 });
          return { objective: r.epochs.map((e) => e.objective), params: await b.read(lvm.params) };
        } finally {
          lvm.release();
        }
      });
      const one = await run(undefined);
      const many = await run(37);
      if (name === 'cpu') expect(many).toEqual(one);
      else for (let i = 0; i < one.objective.length; i++) expect(Math.abs(many.objective[i]! - one.objective[i]!)).toBeLessThan(1e-4 * Math.abs(one.objective[i]!));
    });
  });
}
