// The TensorFlow.js reference VAE (bench/tfjs/vae.ts) on TF.js's plain-JS CPU
// backend, tiny shapes: it starts from exactly latentgpu's initial parameters,
// its IWAE weights are right (IWAE_1 is an unbiased one-sample ELBO, so over
// many rows it must match the ELBO estimate), and TF.js's Adam lowers its loss.
import { beforeAll, describe, expect, it } from 'vitest';
import { createTfjsVae, initTfjsBackend } from '../bench/tfjs/vae.ts';
import { Vae, type VaeConfig } from '../src/models/vae.ts';
import { cpu, randomArray } from './gpu.ts';

const D = 12;
const d = 3;
const HIDDEN = [5];

function latentgpuConfig(seed: number): VaeConfig {
  return {
    dataDim: D, latent: d, encoderHidden: HIDDEN, decoderHidden: [...HIDDEN].reverse(), act: 'relu',
    likelihood: 'bernoulli', variance: 'vector', varFloor: 1e-3, varCeil: 4, objective: 'elbo', seed,
  };
}

/** rows in [0, 1] */
function data(rows: number, seed: number): Float32Array {
  return randomArray(rows * D, seed, 0, 1);
}

/** rows cycling through four near-binary prototypes: compressible, so q(z|x) moves away from the prior */
function prototypes(rows: number, seed: number): Float32Array {
  const proto = data(4, seed).map((v) => (v > 0.5 ? 0.95 : 0.05));
  const x = new Float32Array(rows * D);
  for (let i = 0; i < rows; i++) x.set(proto.subarray((i % 4) * D, (i % 4 + 1) * D), i * D);
  return x;
}

describe('TF.js reference VAE', () => {
  beforeAll(async () => {
    await initTfjsBackend('cpu');
  });

  it('starts from latentgpu\'s initial parameters for the same seed', async () => {
    const x = data(16, 1);
    const ours = new Vae(cpu, latentgpuConfig(5), x, 16);
    const host = await cpu.read(ours.params);
    const ref = createTfjsVae({ dataDim: D, latent: d, hidden: HIDDEN, seed: 5 });
    const p = ref.parameters();
    expect(Object.keys(p).sort()).toEqual(ours.layout.list().map((b) => b.name).sort());
    for (const [name, v] of Object.entries(p)) expect(Array.from(v), name).toEqual(Array.from(ours.layout.slice(host, name)));
    expect(ref.paramCount).toBe(ours.layout.count);
    // setParameters takes them back by name (how a trained latentgpu model is evaluated by TF.js)
    const other = createTfjsVae({ dataDim: D, latent: d, hidden: HIDDEN, seed: 9 });
    other.setParameters(p);
    for (const [name, v] of Object.entries(other.parameters())) expect(Array.from(v), name).toEqual(Array.from(p[name]!));
    const { 'dec.mean.0.b': _, ...missing } = p;
    expect(() => other.setParameters(missing)).toThrow(/no 'dec.mean.0.b' block/);
    other.dispose();
    ref.dispose();
    ours.release();
  });

  it('IWAE_1 and the ELBO estimate agree over many rows; IWAE_50 is above both', () => {
    const ref = createTfjsVae({ dataDim: D, latent: d, hidden: HIDDEN, seed: 2, lr: 1e-2 });
    const x = prototypes(4000, 3);
    // training moves log s² away from 0, so a wrong log q(z|x) term would show
    for (let s = 0; s < 100; s++) ref.trainStep(x.subarray(0, 64 * D));
    const elbo = ref.evaluateElbo(x).elbo;
    const iwae1 = ref.evaluateIwae(x, 1).iwae;
    const iwae50 = ref.evaluateIwae(x.subarray(0, 400 * D), 50).iwae;
    const elbo400 = ref.evaluateElbo(x.subarray(0, 400 * D)).elbo;
    expect(Math.abs(iwae1 - elbo), `IWAE_1 ${iwae1}, ELBO ${elbo}`).toBeLessThan(0.05);
    expect(iwae50).toBeGreaterThan(elbo400);
    ref.dispose();
  });

  it('TF.js Adam lowers the loss; bad batch sizes fail with one line', () => {
    const ref = createTfjsVae({ dataDim: D, latent: d, hidden: HIDDEN, seed: 3, lr: 1e-2 });
    const x = prototypes(32, 5);
    const first = ref.trainStep(x);
    let last = first;
    for (let s = 0; s < 100; s++) last = ref.trainStep(x);
    expect(Number.isFinite(last)).toBe(true);
    expect(last).toBeLessThan(first - 2);
    expect(() => ref.trainStep(x, 33)).toThrow(/do not hold 33 rows of 12/);
    ref.dispose();
  });
});
