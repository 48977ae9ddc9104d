// The training scheduler: shuffles, schedules, one submission per step, NaN
// stop with the last good parameters, resume with identical continuation.
import { describe, expect, it } from 'vitest';
import type { Backend } from '../src/backend.ts';
import { CpuBackend } from '../src/cpu/backend.ts';
import { Vae, type VaeConfig } from '../src/models/vae.ts';
import { epochPermutation } from '../src/train/rng.ts';
import { learningRate, parseSchedule } from '../src/train/schedule.ts';
import { TrainingDiverged, train, type Progress } from '../src/train/trainer.ts';
import { TEST_ADAPTERS, cpu, gpuBackend, randomArray } from './gpu.ts';

const D = 20;
const cfg: VaeConfig = {
  dataDim: D, latent: 3, encoderHidden: [16], decoderHidden: [12], act: 'relu',
  likelihood: 'bernoulli', variance: 'vector', varFloor: 1e-3, varCeil: 4, objective: 'elbo', seed: 4,
};

describe('epoch permutations', () => {
  it('are permutations, differ between epochs, repeat for the same seed', () => {
    const a = epochPermutation(1000, 3, 0);
    expect([...a].sort((x, y) => x - y)).toEqual(Array.from({ length: 1000 }, (_, i) => i));
    expect(epochPermutation(1000, 3, 0)).toEqual(a);
    expect(epochPermutation(1000, 3, 1)).not.toEqual(a);
    expect(epochPermutation(1000, 4, 0)).not.toEqual(a);
  });

  it('put each index in each position with equal frequency', () => {
    // 4000 shuffles of 5: each of the 25 (value, position) counts ~ 800 ± 3σ (σ ≈ 25)
    const counts = new Array(25).fill(0);
    for (let e = 0; e < 4000; e++) epochPermutation(5, 1, e).forEach((v, pos) => counts[v * 5 + pos]++);
    for (const c of counts) expect(Math.abs(c - 800)).toBeLessThan(100);
  });
});

describe('schedules', () => {
  it('compute the documented step sizes', () => {
    expect(learningRate(0.1, { kind: 'constant' }, 1000)).toBe(0.1);
    expect(learningRate(0.1, { kind: 'robbins-monro', tau: 10, kappa: 1 }, 10)).toBeCloseTo(0.05, 12);
    expect(learningRate(0.1, { kind: 'cosine', total: 100 }, 50)).toBeCloseTo(0.05, 12);
    expect(learningRate(0.1, { kind: 'cosine', total: 100, floor: 0.1 }, 500)).toBeCloseTo(0.01, 12);
    expect(learningRate(0.1, { kind: 'step', every: 10, gamma: 0.5 }, 25)).toBeCloseTo(0.025, 12);
    expect(parseSchedule('rm:100:0.6')).toEqual({ kind: 'robbins-monro', tau: 100, kappa: 0.6 });
    expect(() => parseSchedule('rm:100:0.4')).toThrow(/kappa in \(0.5, 1\]/);
    expect(() => parseSchedule('nope')).toThrow(/unknown kind 'nope'/);
  });
});

/** Counts submissions and readbacks. */
class CountingCpu extends CpuBackend {
  flushes = 0;
  reads = 0;
  override flush(): void { this.flushes++; }
  override async read(t: Parameters<CpuBackend['read']>[0]): Promise<Float32Array> {
    this.reads++;
    return super.read(t);
  }
}

describe('train loop', () => {
  const n = 150;
  const X = randomArray(n * D, 2, 0, 1);

  it('ends each step with one submission and reads back only at checks', async () => {
    const be = new CountingCpu();
    const vae = new Vae(be, cfg, X, n);
    const events: Progress[] = [];
    // 150 rows, batch 32: 5 steps per epoch (the last one ragged), 3 epochs
    const r = await train(vae, { epochs: 3, batch: 32, lr: 1e-3, seed: 1, checkEvery: 4, onProgress: (p) => events.push(p) });
    expect(r.steps).toBe(15);
    // checks: every 4th step and at each epoch end (steps 4, 5, 8, 10, 12, 15)
    expect(be.reads).toBe(6);
    expect(be.flushes + be.reads).toBe(15);
    expect(events.map((e) => e.step)).toEqual([4, 5, 8, 10, 12, 15]);
    expect(events.map((e) => e.epoch)).toEqual([0, 0, 1, 1, 2, 2]);
    for (const e of events) {
      expect(Number.isFinite(e.objective)).toBe(true);
      expect(e.samplesPerSecond).toBeGreaterThan(0);
    }
    expect(r.epochs.map((e) => e.samples)).toEqual([150, 150, 150]);
    vae.release();
  });

  it('improves the ELBO on data with structure', async () => {
    // rows from 3 prototypes with pixel noise: a few epochs must raise the bound a lot
    const protos = randomArray(3 * D, 9, 0, 1).map((v) => (v > 0.5 ? 0.95 : 0.05));
    const Xs = new Float32Array(300 * D);
    const noise = randomArray(300 * D, 10, 0, 1);
    for (let i = 0; i < 300; i++) for (let j = 0; j < D; j++) Xs[i * D + j] = noise[i * D + j]! < protos[(i % 3) * D + j]! ? 1 : 0;
    const vae = new Vae(cpu, cfg, Xs, 300);
    const r = await train(vae, { epochs: 30, batch: 30, lr: 1e-2, seed: 1 });
    const first = r.epochs[0]!.objective;
    const last = r.epochs[r.epochs.length - 1]!.objective;
    // 20 Bernoulli pixels from 3 prototypes with 5% noise: from ~ −14 nats to about −5
    expect(last - first).toBeGreaterThan(4);
    vae.release();
  });

  it('stops on NaN with a clear error and restores the last good parameters', async () => {
    const Xbad = X.slice();
    Xbad[77 * D + 5] = NaN;
    const vae = new Vae(cpu, cfg, Xbad, n);
    let err: unknown;
    try {
      await train(vae, { epochs: 3, batch: 10, lr: 1e-3, seed: 1, checkEvery: 3 });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(TrainingDiverged);
    const d = err as TrainingDiverged;
    expect(d.message).toMatch(/training diverged: .*NaN.*restored to step \d+/);
    // the row with a NaN is in the first epoch: it stops there
    expect(d.step).toBeLessThanOrEqual(15);
    const got = await cpu.read(vae.params);
    expect(got.every(Number.isFinite)).toBe(true);
    // and they are exactly the parameters after lastGoodStep steps
    const ref = new Vae(cpu, cfg, Xbad, n);
    if (d.lastGoodStep > 0) await train(ref, { epochs: 3, batch: 10, lr: 1e-3, seed: 1, maxSteps: d.lastGoodStep });
    expect(got).toEqual(await cpu.read(ref.params));
    vae.release();
    ref.release();
  });

  it('rejects bad options with the reason', async () => {
    const vae = new Vae(cpu, cfg, X, n);
    await expect(train(vae, { epochs: 1, batch: 0, lr: 1e-3, seed: 1 })).rejects.toThrow(/batch must be in \[1, 150\]/);
    await expect(train(vae, { epochs: 1, batch: 10, lr: -1, seed: 1 })).rejects.toThrow(/lr must be positive/);
    vae.release();
  });
});

/** Trains 3 epochs straight, and 2 + resume(1); returns both final parameter sets. */
async function resumeRun(be: Backend, X: Float32Array, n: number): Promise<[Float32Array, Float32Array]> {
  const opts = { batch: 24, lr: 2e-3, seed: 5, checkEvery: 3 };
  const a = new Vae(be, cfg, X, n);
  await train(a, { ...opts, epochs: 3 });
  const straight = await be.read(a.params);
  a.release();

  const b = new Vae(be, cfg, X, n);
  let saved: { state: Record<string, Float32Array>; epoch: number; step: number } | null = null;
  await train(b, {
    ...opts, epochs: 2,
    onEpoch: async (done, step) => { if (done === 2) saved = { state: await b.state(), epoch: done, step }; },
  });
  b.release();
  const c = new Vae(be, { ...cfg }, X, n);
  const s = saved!;
  c.loadState(s.state);
  await train(c, { ...opts, epochs: 3, startEpoch: s.epoch, startStep: s.step });
  const resumed = await be.read(c.params);
  c.release();
  return [straight, resumed];
}

describe('resume', () => {
  const n = 100;
  const X = randomArray(n * D, 21, 0, 1);
  it('continues identically on the CPU', async () => {
    const [a, b] = await resumeRun(cpu, X, n);
    expect(b).toEqual(a);
  });
  for (const adapter of TEST_ADAPTERS) {
    it(`continues identically on ${adapter}`, async () => {
      const [a, b] = await resumeRun(await gpuBackend(adapter), X, n);
      expect(b).toEqual(a);
    });
  }
});
