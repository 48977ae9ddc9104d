// VAE: every parameter block's gradient from one full step (the hand-written
// backward on the kernels) against central finite differences of an
// independent float64 ELBO with the same ε; the GPU backends against the CPU
// over the first training steps.
import { describe, expect, it } from 'vitest';
import type { Backend } from '../src/backend.ts';
import type { Activation } from '../src/kernels.ts';
import { columnVariance } from '../src/models/latent.ts';
import { varianceCeiling } from '../src/models/likelihood.ts';
import { ParamLayout, ParamStore } from '../src/models/params.ts';
import { Vae, type VaeConfig } from '../src/models/vae.ts';
import { train } from '../src/train/trainer.ts';
import { TEST_ADAPTERS, cpu, expectClose, gpuBackend, randomArray } from './gpu.ts';

const D = 7;
const d = 3;
const ROWS = 6;

function config(over: Partial<VaeConfig>): VaeConfig {
  return {
    dataDim: D, latent: d, encoderHidden: [5], decoderHidden: [4], act: 'tanh',
    likelihood: 'bernoulli', variance: 'vector', varFloor: 1e-2, varCeil: 4, objective: 'elbo', seed: 7, ...over,
  };
}

// ---- an independent float64 forward of the loss −(1/rows) Σ_i [log p(x_i|z_i) − KL_i] ----

function act64(v: number, a: Activation): number {
  switch (a) {
    case 'relu': return v > 0 ? v : 0;
    case 'tanh': return Math.tanh(v);
    case 'sigmoid': return 1 / (1 + Math.exp(-v));
    default: return v;
  }
}

type Block = (name: string) => Float64Array;

function dense(x: Float64Array, rows: number, inDim: number, outDim: number, W: Float64Array, b: Float64Array, a: Activation): Float64Array {
  const y = new Float64Array(rows * outDim);
  for (let i = 0; i < rows; i++) {
    for (let j = 0; j < outDim; j++) {
      let s = b[j]!;
      for (let q = 0; q < inDim; q++) s += x[i * inDim + q]! * W[q * outDim + j]!;
      y[i * outDim + j] = act64(s, a);
    }
  }
  return y;
}

function mlp64(x: Float64Array, rows: number, sizes: number[], prefix: string, P: Block, a: Activation): Float64Array {
  let h = x;
  for (let l = 0; l + 1 < sizes.length; l++) h = dense(h, rows, sizes[l]!, sizes[l + 1]!, P(`${prefix}.${l}.W`), P(`${prefix}.${l}.b`), a);
  return h;
}

function loss64(cfg: VaeConfig, P: Block, x: Float64Array, eps: Float64Array, rows: number): number {
  const eh = cfg.encoderHidden;
  const top = mlp64(x, rows, [D, ...eh], 'enc', P, cfg.act);
  const H = eh[eh.length - 1]!;
  const mu = dense(top, rows, H, d, P('enc.mu.0.W'), P('enc.mu.0.b'), 'identity');
  const lv = dense(top, rows, H, d, P('enc.logvar.0.W'), P('enc.logvar.0.b'), 'identity');
  const z = mu.map((m, i) => m + eps[i]! * Math.exp(0.5 * lv[i]!));
  const dh = cfg.decoderHidden;
  const dtop = mlp64(z, rows, [d, ...dh], 'dec', P, cfg.act);
  const G = dh[dh.length - 1]!;
  const mean = dense(dtop, rows, G, D, P('dec.mean.0.W'), P('dec.mean.0.b'), 'identity');
  const lvMin = Math.log(cfg.varFloor);
  const range = Math.log(cfg.varCeil) - lvMin;
  const rawOut = cfg.likelihood === 'gaussian' && cfg.variance === 'output'
    ? dense(dtop, rows, G, D, P('dec.logvar.0.W'), P('dec.logvar.0.b'), 'identity') : null;
  let total = 0;
  for (let i = 0; i < rows; i++) {
    let ll = 0;
    for (let j = 0; j < D; j++) {
      const xv = x[i * D + j]!;
      const l = mean[i * D + j]!;
      if (cfg.likelihood === 'bernoulli') {
        ll += xv * l - (Math.max(l, 0) + Math.log1p(Math.exp(-Math.abs(l))));
      } else {
        const raw = rawOut ? rawOut[i * D + j]! : P('dec.logvar')[j]!;
        const lvx = lvMin + range / (1 + Math.exp(-raw));
        ll += -0.5 * (Math.log(2 * Math.PI) + lvx + (xv - l) ** 2 / Math.exp(lvx));
      }
    }
    let kl = 0;
    for (let k = 0; k < d; k++) {
      const m = mu[i * d + k]!;
      const v = lv[i * d + k]!;
      kl += 0.5 * (m * m + Math.exp(v) - 1 - v);
    }
    total += ll - kl;
  }
  return -total / rows;
}

async function gradientCheck(cfg: VaeConfig): Promise<void> {
  const n = 10;
  const X = randomArray(n * D, 11, 0, 1);
  const vae = new Vae(cpu, cfg, X, n);
  const idxHost = new Uint32Array([3, 0, 9, 4, 7, 1]);
  const idx = cpu.tensor(ROWS, { dtype: 'u32', data: idxHost });
  const sums = cpu.tensor(128);
  // stale values in the gradient buffer (a previous step's) must not leak into this
  // step's: the first write of each block overwrites (ParamStore.gradTarget)
  cpu.fill({ x: vae.store.grads, n: vae.layout.size, value: 7 });
  vae.gradients({ idx, rows: ROWS, step: 5, sumLogLik: cpu.view(sums, 0, 1), sumKl: cpu.view(sums, 64, 1) });
  cpu.fill({ x: sums, n: 128, value: 0 }); // the objective sums do accumulate
  vae.gradients({ idx, rows: ROWS, step: 5, sumLogLik: cpu.view(sums, 0, 1), sumKl: cpu.view(sums, 64, 1) });
  const grads = await cpu.read(vae.store.grads);
  const params = Float64Array.from(await cpu.read(vae.store.params));
  const eps = Float64Array.from(await cpu.read(vae.buf.eps)).subarray(0, ROWS * d);
  const s = await cpu.read(sums);
  const x = new Float64Array(ROWS * D);
  idxHost.forEach((r, i) => x.set(X.subarray(r * D, (r + 1) * D), i * D));

  const block: Block = (name) => {
    const b = vae.layout.get(name);
    return params.subarray(b.offset, b.offset + b.length);
  };
  const f = (): number => loss64(cfg, block, x, eps, ROWS);
  // the model's own forward equals the float64 one
  expect(Math.abs(-(s[0]! - s[64]!) / ROWS - f())).toBeLessThan(1e-4 * Math.max(1, Math.abs(f())));

  const h = 1e-5;
  for (const b of vae.layout.list()) {
    const fd = new Float64Array(b.length);
    for (let i = 0; i < b.length; i++) {
      const at = b.offset + i;
      const keep = params[at]!;
      params[at] = keep + h;
      const up = f();
      params[at] = keep - h;
      const down = f();
      params[at] = keep;
      fd[i] = (up - down) / (2 * h);
    }
    expectClose(grads.subarray(b.offset, b.offset + b.length), fd, 2e-5, 2e-3, `gradient of ${b.name}`);
  }
  vae.release();
}

describe('VAE gradients (CPU backend) vs central finite differences of a float64 ELBO', () => {
  it('Bernoulli decoder, tanh', async () => {
    await gradientCheck(config({}));
  });
  it('Bernoulli decoder, ReLU, two hidden layers each', async () => {
    await gradientCheck(config({ act: 'relu', encoderHidden: [6, 5], decoderHidden: [4, 5] }));
  });
  it('Gaussian decoder, learned per-dimension variance', async () => {
    await gradientCheck(config({ likelihood: 'gaussian', variance: 'vector' }));
  });
  it('Gaussian decoder, variance as a decoder output', async () => {
    await gradientCheck(config({ likelihood: 'gaussian', variance: 'output' }));
  });
});

describe('ParamStore gradients', () => {
  it('overwrites a block on its first write of a step, adds after, and zeroes blocks nobody wrote', async () => {
    const layout = new ParamLayout();
    layout.add('a', [3]);
    layout.add('b', [2]);
    const store = new ParamStore(cpu, layout, layout.zeros());
    cpu.fill({ x: store.grads, n: layout.size, value: 5 });
    store.zeroGrads();
    const first = store.gradTarget('a');
    expect(first.accumulate).toBe(false);
    cpu.fill({ x: first.grad, n: 3, value: 1 });
    expect(store.gradTarget('a').accumulate).toBe(true);
    store.finishGrads();
    const g = await cpu.read(store.grads);
    expect(Array.from(layout.slice(g, 'a'))).toEqual([1, 1, 1]);
    expect(Array.from(layout.slice(g, 'b'))).toEqual([0, 0]);
    store.zeroGrads();
    expect(store.gradTarget('a').accumulate).toBe(false);
    store.release();
  });
});

describe('VAE configuration errors', () => {
  it('names the problem', () => {
    expect(() => new Vae(cpu, config({ latent: 0 }), new Float32Array(D), 1)).toThrow(/latent must be a positive integer/);
    expect(() => new Vae(cpu, config({}), new Float32Array(5), 1)).toThrow(/training data has 5 values/);
    expect(() => new Vae(cpu, config({ likelihood: 'gaussian', varFloor: 0 }), new Float32Array(D), 1)).toThrow(/0 < floor < ceiling/);
  });
});

describe('the Gaussian decoder starts at the data variance', () => {
  it('columnVariance is exact on a large offset (two-pass, no E[x²] − m² cancellation)', () => {
    // a column 7.77e9 + 512·{0, 1, 3, 7, 2} (float32 steps at that size): variance 5.84 × 512²;
    // E[x²] − m² in float64 gives 1,540,096 instead of 1,530,920.96
    const base = Math.fround(7.77e9);
    const x = Float32Array.from([0, 1, 3, 7, 2].flatMap((k) => [base + 512 * k, 5]));
    const v = columnVariance(x, 5, 2);
    expect(v[0]).toBe(Math.fround(5.84 * 512 * 512));
    expect(v[1]).toBe(0);
  });

  it('the initial per-dimension variance is the column variance within the bounds [floor, ceiling]', async () => {
    const n = 40;
    const X = new Float32Array(n * D);
    for (let i = 0; i < n; i++) for (let j = 0; j < D; j++) X[i * D + j] = (j + 1) * Math.sin(i * 1.7 + j) + 50;
    const want = columnVariance(X, n, D);
    const cfg = config({ likelihood: 'gaussian', varFloor: 1e-3, varCeil: varianceCeiling('gaussian', { x: X, n, D }) });
    // the ceiling covers the widest column (variance ~ D²/2), the default 4 would not
    expect(cfg.varCeil).toBeGreaterThan(2 * Math.max(...want) - 1e-3);
    const vae = new Vae(cpu, cfg, X, n);
    const raw = vae.layout.slice(await cpu.read(vae.params), 'dec.logvar');
    const lo = Math.log(cfg.varFloor);
    const got = Array.from(raw, (r) => Math.exp(lo + (Math.log(cfg.varCeil) - lo) / (1 + Math.exp(-r))));
    expectClose(Float32Array.from(got), want, 1e-3, 1e-3, 'initial σ² vs column variance');
    vae.release();
  });
});

/** Objective per check for the first steps (checkEvery 1). */
async function firstSteps(be: Backend, cfg: VaeConfig, X: Float32Array, n: number, steps: number): Promise<number[]> {
  const vae = new Vae(be, cfg, X, n);
  const r = await train(vae, { epochs: 10, batch: 37, lr: 3e-3, seed: 3, checkEvery: 1, maxSteps: steps });
  vae.release();
  return r.history.map((p) => p.objective);
}

for (const adapter of TEST_ADAPTERS) {
  describe(`VAE on ${adapter} matches the CPU backend`, () => {
    const n = 101;
    const Dm = 50;
    const X = randomArray(n * Dm, 5, 0, 1);
    for (const likelihood of ['bernoulli', 'gaussian'] as const) {
      it(`gives the same objective over the first steps (${likelihood}, ragged batches)`, async () => {
        const gpu = await gpuBackend(adapter);
        const cfg: VaeConfig = {
          dataDim: Dm, latent: 5, encoderHidden: [33], decoderHidden: [29], act: 'relu',
          likelihood, variance: 'vector', varFloor: 1e-3, varCeil: 4, objective: 'elbo', seed: 9,
        };
        const want = await firstSteps(cpu, cfg, X, n, 8);
        const got = await firstSteps(gpu, cfg, X, n, 8);
        expect(got.length).toBe(8);
        expectClose(got, want, 1e-3, 1e-4, `objective per step on ${adapter}`);
        // training moved it: the steps are not all the same value
        expect(Math.abs(want[7]! - want[0]!)).toBeGreaterThan(1e-3);
      });
    }
  });
}
