// The training scheduler: shuffles, schedules, one submission per step, NaN
// stop with the last good parameters, resume with identical continuation.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createRun, loadRun } from '../src/lib/runs.ts';
import type { RunConfig } from '../src/lib/run.ts';
import type { Backend } from '../src/backend.ts';
import { runCli } from '../src/cli/program.ts';
import { CpuBackend } from '../src/cpu/backend.ts';
import { makeDataset } from '../src/data/dataset.ts';
import { decodeLatentModel } from '../src/io/modelFile.ts';
import { decodeSafetensors } from '../src/io/safetensors.ts';
import { EvalSet, evaluateElbo } from '../src/models/evaluate.ts';
import { Lvm, type LvmConfig } from '../src/models/lvm.ts';
import { Vae, type VaeConfig } from '../src/models/vae.ts';
import { epochPermutation } from '../src/train/rng.ts';
import { learningRate, parseSchedule, type Schedule } from '../src/train/schedule.ts';
import { TestCurve, testCurveRows } from '../src/train/testCurve.ts';
import { Trainer, TrainingDiverged, train, type Progress } from '../src/train/trainer.ts';
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

/** FNV-1a of the float32 bits: a short fingerprint of a parameter buffer. */
function fingerprint(a: Float32Array): string {
  let h = 0x811c9dc5;
  for (const w of new Uint32Array(a.buffer, a.byteOffset, a.length)) h = Math.imul(h ^ w, 0x01000193) >>> 0;
  return h.toString(16).padStart(8, '0');
}

describe('train() gives the figures of the driver it replaced', () => {
  // recorded with the trainer before the app's stepper and the CLI's loop became one Trainer:
  // per-check objectives and a fingerprint of the final parameters, bit for bit on the CPU backend
  const n = 150;
  const X = randomArray(n * D, 2, 0, 1);
  const opts = { epochs: 3, batch: 32, lr: 3e-3, seed: 7, checkEvery: 4, schedule: { kind: 'robbins-monro', tau: 5, kappa: 0.75 } as Schedule };
  const lvmCfg: LvmConfig = {
    dataDim: D, latent: 3, decoderHidden: [12], act: 'relu', likelihood: 'gaussian', variance: 'vector', varFloor: 1e-3, varCeil: 4,
    objective: 'elbo', seed: 4, phiLr: 0.05, phiSteps: 2,
  };
  const recorded = {
    vae: {
      objectives: [-14.10389394313097, -14.10779683156447, -14.011887607475122, -13.988824065084811, -14.00751351006329, -14.010596699492876],
      epochs: [-14.104466366767884, -14.003584732214609, -14.009281205336253],
      params: '6660de17',
    },
    lvm: {
      objectives: [-42.98321909783408, -39.431636570868164, -38.9272888575991, -37.413097948939715, -34.12350811064243, -33.51498350431753],
      epochs: [-42.46232032721241, -38.38218013048172, -33.77462066968282],
      params: '26ff67fe',
    },
  };
  for (const kind of ['vae', 'lvm'] as const) {
    it(`${kind}: the same objectives and final parameters`, async () => {
      const m = kind === 'vae' ? new Vae(cpu, cfg, X, n) : new Lvm(cpu, lvmCfg, X, n);
      const r = await train(m, opts);
      expect(r.history.map((p) => [p.step, p.epoch])).toEqual([[4, 0], [5, 0], [8, 1], [10, 1], [12, 2], [15, 2]]);
      expect(r.history.map((p) => p.objective)).toEqual(recorded[kind].objectives);
      expect(r.epochs.map((e) => e.objective)).toEqual(recorded[kind].epochs);
      expect([r.steps, r.epochsDone, r.aborted]).toEqual([15, 3, false]);
      expect(fingerprint(await cpu.read(m.params))).toBe(recorded[kind].params);
      m.release();
    });
  }
});

/** The app's model settings for a VAE or per-point model on D-wide data. */
function appConfig(kind: 'vae' | 'lvm', stepsPerTick: number): RunConfig {
  return {
    kind, latent: 3, seed: 6, batch: 32, stepsPerTick, semLr: 0, semTau: 1, semKappa: 1, oemKappa: 1,
    hidden: [16], likelihood: 'bernoulli', lr: 4e-3,
  };
}

describe('the app drives the same Trainer as the CLI', () => {
  const n = 150;
  const train0 = makeDataset('train', randomArray(n * D, 31, 0, 1), n, D);
  const test0 = makeDataset('test', randomArray(40 * D, 32, 0, 1), 40, D);

  /** The CLI's train() on the model the app built (its config read back from the app's model file). */
  async function cliRun(bytes: Uint8Array, steps: number, checkEvery: number): Promise<{ objectives: number[]; params: Float32Array }> {
    const f = decodeLatentModel(decodeSafetensors(bytes), 'app file');
    const m = f.kind === 'vae' ? new Vae(cpu, f.config as VaeConfig, train0.x, n) : new Lvm(cpu, f.config as LvmConfig, train0.x, n);
    const r = await train(m, { epochs: 100, batch: 32, lr: 4e-3, seed: 6, checkEvery, maxSteps: steps });
    const params = await cpu.read(m.params);
    m.release();
    return { objectives: r.history.map((p) => p.objective), params };
  }

  const paramsOf = (bytes: Uint8Array): Float32Array => decodeLatentModel(decodeSafetensors(bytes), 'app file').params;

  for (const kind of ['vae', 'lvm'] as const) {
    it(`${kind}: ticks of one step give train()'s per-step objectives and parameters, bit for bit`, async () => {
      const runner = await createRun(cpu, appConfig(kind, 1), train0, test0);
      const objectives: number[] = [];
      for (let t = 0; t < 12; t++) objectives.push((await runner.tick()).trainObjective!);
      const bytes = await runner.save();
      runner.dispose();
      const cli = await cliRun(bytes, 12, 1);
      expect(objectives).toEqual(cli.objectives);
      expect(paramsOf(bytes)).toEqual(cli.params);
    });
  }

  it('vae: ticks of 7 across epoch ends, saved mid-epoch and loaded, continue as one train() run', async () => {
    const a = await createRun(cpu, appConfig('vae', 7), train0, test0);
    let steps = 0;
    for (let t = 0; t < 3; t++) steps += (await a.tick()).steps;
    // step 21 is in the middle of the fifth epoch (5 minibatches per epoch)
    const saved = await a.save();
    a.dispose();
    const b = await loadRun(cpu, saved, appConfig('vae', 7), train0, test0);
    for (let t = 0; t < 2; t++) steps += (await b.tick()).steps;
    const bytes = await b.save();
    b.dispose();
    expect(steps).toBe(35);
    expect(paramsOf(bytes)).toEqual((await cliRun(bytes, 35, 20)).params);
  });

  it('vae: the test curve gets a point at the start and after every epoch, on the same rows and noise as a refresh', async () => {
    const runner = await createRun(cpu, appConfig('vae', 7), train0, test0);
    const points: [number, number][] = [];
    for (let t = 0; t < 3; t++) points.push(...(await runner.tick()).test!);
    expect(points.map(([s]) => s)).toEqual([0, 5, 10, 15, 20]);
    // 21 steps done: a refresh now measures the same function at step 21
    const now = (await runner.evaluate()).test;
    expect(Number.isFinite(now)).toBe(true);
    expect(points[4]![1]).toBeGreaterThan(points[0]![1]);
    runner.dispose();
  });
});

describe('Trainer', () => {
  const n = 120;
  const X = randomArray(n * D, 41, 0, 1);
  const opts = { epochs: 4, batch: 25, lr: 3e-3, seed: 2 };

  it('tick(k) pieces and run() leave the same parameters as train(); the state resumes mid-epoch', async () => {
    const ref = new Vae(cpu, cfg, X, n);
    const whole = await train(ref, opts);
    const m = new Vae(cpu, cfg, X, n);
    const t = new Trainer(m, opts);
    expect(t.stepsPerEpoch).toBe(5);
    const r1 = await t.tick(3);
    expect([r1.steps, r1.samples, t.step, t.epoch]).toEqual([3, 75, 3, 0]);
    expect(Number.isFinite(r1.objective)).toBe(true);
    await t.tick(0);
    const r2 = await t.tick(4);
    // the first epoch ended inside this tick
    expect(r2.epochs.map((e) => e.epoch)).toEqual([0]);
    expect([t.step, t.epoch]).toEqual([7, 1]);
    t.release();
    // a new trainer from (step 7, epoch 1) runs the rest
    const rest = new Trainer(m, { ...opts, startStep: t.step, startEpoch: t.epoch });
    const r = await rest.run();
    rest.release();
    expect([r.steps, r.epochsDone, rest.done]).toEqual([20, 4, true]);
    expect(await cpu.read(m.params)).toEqual(await cpu.read(ref.params));
    expect(whole.steps).toBe(20);
    ref.release();
    m.release();
  });

  it('stops cleanly between steps on an AbortSignal, and the run resumes', async () => {
    const m = new Vae(cpu, cfg, X, n);
    const abort = new AbortController();
    const r = await train(m, { ...opts, checkEvery: 3, onProgress: (p) => { if (p.step >= 6) abort.abort(); }, signal: abort.signal });
    expect(r.aborted).toBe(true);
    // the abort comes with the check at step 6, read while steps 7.. are recorded: at most maxInFlight checks later
    expect(r.steps).toBeGreaterThanOrEqual(6);
    expect(r.steps).toBeLessThan(20);
    expect(r.history.at(-1)!.step).toBe(r.steps);
    const ref = new Vae(cpu, cfg, X, n);
    await train(ref, { ...opts, maxSteps: r.steps });
    expect(await cpu.read(m.params)).toEqual(await cpu.read(ref.params));
    // a tick's own signal stops that tick only
    const t = new Trainer(ref, { ...opts, startStep: r.steps, startEpoch: Math.floor(r.steps / 5) });
    const stop = new AbortController();
    stop.abort();
    expect((await t.tick(5, stop.signal)).steps).toBe(0);
    expect((await t.tick(2)).steps).toBe(2);
    t.release();
    m.release();
    ref.release();
  });

  it('evaluates held-out rows at the start, every N steps and at the end, without changing the run', async () => {
    const test = randomArray(30 * D, 42, 0, 1);
    const plain = new Vae(cpu, cfg, X, n);
    const a = await train(plain, opts);
    const m = new Vae(cpu, cfg, X, n);
    const curve = new TestCurve(m, { x: test, n: 30 }, 9);
    const seen: number[] = [];
    const r = await train(m, { ...opts, evaluate: { every: 6, run: (s) => curve.at(s) }, onEvaluate: (e) => seen.push(e.step) });
    expect(r.evaluations.map((e) => e.step)).toEqual([0, 6, 12, 18, 20]);
    expect(seen).toEqual([0, 6, 12, 18, 20]);
    expect(r.history).toHaveLength(a.history.length);
    expect(r.history.map((p) => p.objective)).toEqual(a.history.map((p) => p.objective));
    expect(await cpu.read(m.params)).toEqual(await cpu.read(plain.params));
    // 30 rows ≤ 500: the curve's last point is the ELBO of every test row with the same noise
    const set = new EvalSet(cpu, { x: test, n: 30 }, D);
    expect(r.evaluations.at(-1)!.objective).toBe((await evaluateElbo(m, set, { seed: 9 })).elbo);
    set.release();
    curve.release();
    plain.release();
    m.release();
  });

  it('picks the test-curve rows by seed: at most 500, distinct, ascending, all rows of a small set', () => {
    const a = testCurveRows(2000, 1);
    expect(a.length).toBe(500);
    expect(new Set(a).size).toBe(500);
    expect([...a]).toEqual([...a].sort((x, y) => x - y));
    expect(a[a.length - 1]!).toBeLessThan(2000);
    expect(testCurveRows(2000, 1)).toEqual(a);
    expect(testCurveRows(2000, 2)).not.toEqual(a);
    expect([...testCurveRows(7, 1)]).toEqual([0, 1, 2, 3, 4, 5, 6]);
  });

  it('rejects bad tick and evaluation settings', async () => {
    const m = new Vae(cpu, cfg, X, n);
    expect(() => new Trainer(m, { ...opts, evaluate: { every: 0, run: async () => 0 } })).toThrow(/evaluate.every must be a positive integer/);
    const t = new Trainer(m, { batch: 25, lr: 1e-3, seed: 1 });
    await expect(t.tick(-1)).rejects.toThrow(/steps must be a non-negative integer/);
    await expect(t.run()).rejects.toThrow(/needs epochs, maxSteps or an AbortSignal/);
    t.release();
    await expect(t.tick(1)).rejects.toThrow(/released/);
    m.release();
  });
});

describe('the CLI run folder', () => {
  it('holds the VAE test curve: metrics.json test_curve (one point per epoch, the last the test ELBO) and a test series in objective.svg', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'latentgpu-'));
    try {
      const err: string[] = [];
      const io = { stdout: () => {}, stderr: (t: string) => void err.push(t), env: {} };
      // 400 train rows in batches of 100: 4 steps per epoch; the MNIST test split has more than 500 rows
      const code = await runCli(['train', '--model', 'vae', '--data', 'mnist', '--subset', '400', '--epochs', '3', '--hidden', '16', '--latent', '2',
        '--batch', '100', '--samples', '2', '--backend', 'cpu', '--run-dir', dir], io);
      expect(code, err.join('')).toBe(0);
      const m = JSON.parse(readFileSync(join(dir, 'metrics.json'), 'utf8')) as { test_curve: { step: number; epoch: number; elbo: number }[]; test_curve_rows: number; test_elbo: number };
      expect(m.test_curve_rows).toBe(500);
      expect(m.test_curve.map((p) => [p.step, p.epoch])).toEqual([[0, 0], [4, 1], [8, 2], [12, 3]]);
      for (const p of m.test_curve) expect(Number.isFinite(p.elbo)).toBe(true);
      // a subset of the test rows: near the full test ELBO after training, and well above the untrained start
      expect(Math.abs(m.test_curve[3]!.elbo - m.test_elbo)).toBeLessThan(15);
      expect(m.test_curve[3]!.elbo).toBeGreaterThan(m.test_curve[0]!.elbo + 10);
      expect(readFileSync(join(dir, 'objective.svg'), 'utf8')).toContain('test ELBO, 500 rows');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
