// VAE training throughput on one backend: the classic 784→400→(20, 20) network
// at batch 32, 128, 512 and the larger 784→1024→1024→32 network at batch 128, on
// MNIST rows, Adam, one submission per step (as the trainer records it). Each
// repetition runs K steps back to back and stops the clock after a readback of
// the loss sums, so all its GPU work is done; median, min, max over repetitions.
import { VIEW_ALIGN, Vae, classicVaeConfig, type Backend, type VaeConfig } from '../../src/lib/core.ts';
import { stats } from '../shapes.ts';
import type { BenchRow } from './common.ts';

export interface VaeCase { network: string; cfg: VaeConfig; batch: number }

export const LARGE_VAE: VaeConfig = { ...classicVaeConfig(), latent: 32, encoderHidden: [1024, 1024], decoderHidden: [1024, 1024] };

export const VAE_CASES: VaeCase[] = [
  { network: '784-400-20 (classic)', cfg: classicVaeConfig(), batch: 32 },
  { network: '784-400-20 (classic)', cfg: classicVaeConfig(), batch: 128 },
  { network: '784-400-20 (classic)', cfg: classicVaeConfig(), batch: 512 },
  { network: '784-1024-1024-32', cfg: LARGE_VAE, batch: 128 },
];

/** The row name the report pairs with TF.js's figure for the same network and batch. */
export function vaeRowName(c: { network: string; batch: number }): string {
  return `VAE train step ${c.network}, batch ${c.batch}`;
}

/** Deterministic minibatch row indices (4 distinct batches, cycled). */
export function batchIndices(n: number, batch: number, which: number): Uint32Array {
  let s = (0x9e3779b9 * (which + 1)) >>> 0;
  return Uint32Array.from({ length: batch }, () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s % n;
  });
}

export async function measureVae(be: Backend, o: {
  impl?: string; target: string; budgetMs?: number; minSampleMs?: number; cases?: VaeCase[]; log?: (s: string) => void;
  /** training rows (the MNIST train split) */
  data: { x: Float32Array; n: number };
}): Promise<BenchRow[]> {
  const train = o.data;
  const rows: BenchRow[] = [];
  const budget = o.budgetMs ?? 4000, minSample = o.minSampleMs ?? 300;
  for (const c of o.cases ?? VAE_CASES) {
    const vae = new Vae(be, c.cfg, train.x, train.n);
    const idx = [0, 1, 2, 3].map((w) => be.tensor(c.batch, { dtype: 'u32', data: batchIndices(train.n, c.batch, w) }));
    const sums = be.tensor(2 * VIEW_ALIGN, { label: 'bench sums' });
    const sumLogLik = be.view(sums, 0, 1), sumKl = be.view(sums, VIEW_ALIGN, 1);
    let step = 0;
    const steps = async (k: number) => {
      for (let i = 0; i < k; i++, step++) {
        vae.step({ idx: idx[step % 4]!, rows: c.batch, step, epoch: 0, lr: 1e-3, sumLogLik, sumKl });
        be.flush();
      }
      await be.finish();
      await be.read(sumLogLik);
    };
    await steps(1);
    const t0 = performance.now();
    await steps(1);
    const once = performance.now() - t0;
    const k = Math.max(1, Math.min(10, Math.ceil(minSample / once)));
    // on slow targets (one step ≥ minSample) the sizing step is already a sample
    const samples: number[] = k === 1 ? [once] : [];
    const start = performance.now();
    while (samples.length < 3 || (samples.length < 7 && performance.now() - start < budget)) {
      const s = performance.now();
      await steps(k);
      samples.push((performance.now() - s) / k);
    }
    const ll = (await be.read(sumLogLik))[0]!;
    if (!Number.isFinite(ll)) throw new Error(`VAE ${c.network} batch ${c.batch} on ${o.target}: the loss became ${ll}`);
    const t = stats(samples);
    rows.push({
      group: 'vae', impl: o.impl ?? 'latentgpu', target: o.target, name: vaeRowName(c), unit: 'samples/s',
      median: (c.batch * 1e3) / t.median, min: (c.batch * 1e3) / t.max, max: (c.batch * 1e3) / t.min, reps: t.reps, ms: t.median,
      params: { model: 'vae', network: c.network, batch: c.batch, stepsPerRep: k }, work: c.batch,
    });
    o.log?.(`  ${rows.at(-1)!.name}: ${rows.at(-1)!.median.toFixed(0)} samples/s (${t.median.toFixed(1)} ms/step)`);
    for (const t2 of idx) be.release(t2);
    be.release(sums);
    vae.release();
  }
  return rows;
}
