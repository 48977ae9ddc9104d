// The training scheduler: epochs over a reshuffled index buffer, one command
// submission per step, and no readback inside the loop except the objective
// every `checkEvery` steps, read asynchronously with a few reads in flight.
// A check also counts non-finite parameters and snapshots them, so a NaN/Inf
// stops training with the last checked good parameters restored.
// No Node imports: the browser app runs this loop too.
import { VIEW_ALIGN, need, type Backend, type Tensor } from '../backend.ts';
import { epochPermutation } from './rng.ts';
import { learningRate, type Schedule } from './schedule.ts';

/** Offsets (elements) in the per-check sums tensor. */
export const SUM_LOGLIK = 0;
export const SUM_KL = VIEW_ALIGN;
const SUM_NONFINITE = 2 * VIEW_ALIGN;
const SUMS_LEN = 3 * VIEW_ALIGN;

export interface StepInput {
  /** u32 row indices of this minibatch into the training data */
  idx: Tensor;
  rows: number;
  /** global step, 0-based: the RNG counter and Adam's t − 1 */
  step: number;
  epoch: number;
  lr: number;
  /** 1-element views to add Σ_i log p(x_i | z_i) and Σ_i KL_i into */
  sumLogLik: Tensor;
  sumKl: Tensor;
}

/** What the scheduler needs from a model. */
export interface Trainable {
  readonly backend: Backend;
  /** training rows */
  readonly rows: number;
  /** the model's parameters checked for NaN/Inf and restored on divergence */
  readonly params: Tensor;
  /** records one optimisation step (no flush, no readback) */
  step(s: StepInput): void;
  /** the trained objective per sample from the sums of a span of steps */
  objective(sumLogLik: number, sumKl: number, count: number): number;
}

export interface Progress {
  step: number;
  epoch: number;
  /** objective per sample (the bound itself, higher is better), mean over the steps since the last report */
  objective: number;
  logLik: number;
  kl: number;
  lr: number;
  samplesPerSecond: number;
  seconds: number;
}

export interface TrainOptions {
  epochs: number;
  batch: number;
  lr: number;
  schedule?: Schedule;
  seed: number;
  /** read the objective back every this many steps (default 20) */
  checkEvery?: number;
  /** reads in flight before the loop waits (default 3) */
  maxInFlight?: number;
  /** stop after this many steps in total (benchmarks) */
  maxSteps?: number;
  /** resume: the first epoch to run and the global step it starts at */
  startEpoch?: number;
  startStep?: number;
  onProgress?: (p: Progress) => void;
  /** called after each epoch (1-based count of epochs done); awaited */
  onEpoch?: (epochsDone: number, step: number, summary: EpochSummary) => Promise<void> | void;
}

export interface EpochSummary {
  epoch: number;
  objective: number;
  logLik: number;
  kl: number;
  samples: number;
}

export interface TrainResult {
  steps: number;
  epochsDone: number;
  seconds: number;
  samplesPerSecond: number;
  epochs: EpochSummary[];
  history: Progress[];
}

export class TrainingDiverged extends Error {
  constructor(readonly step: number, readonly lastGoodStep: number, detail: string) {
    super(`training diverged: ${detail} in the steps up to ${step}; the parameters were restored to step ${lastGoodStep}, the last checked good state`);
    this.name = 'TrainingDiverged';
  }
}

interface PendingCheck {
  step: number;
  epoch: number;
  samples: number;
  lr: number;
  slot: number;
  sums: Promise<Float32Array>;
}

/** Runs the epochs; resolves when all work is done and read. */
export async function train(model: Trainable, o: TrainOptions): Promise<TrainResult> {
  const be = model.backend;
  const n = model.rows;
  need(Number.isInteger(o.batch) && o.batch > 0 && o.batch <= n, 'train', `batch must be in [1, ${n}], got ${o.batch}`);
  need(Number.isInteger(o.epochs) && o.epochs >= 0, 'train', `epochs must be a non-negative integer, got ${o.epochs}`);
  need(o.lr > 0 && Number.isFinite(o.lr), 'train', `lr must be positive, got ${o.lr}`);
  const checkEvery = o.checkEvery ?? 20;
  const maxInFlight = Math.max(1, o.maxInFlight ?? 3);
  const schedule = o.schedule ?? { kind: 'constant' };
  const batches = Math.ceil(n / o.batch);
  // every minibatch's indices start on a view boundary
  const stride = Math.ceil(o.batch / VIEW_ALIGN) * VIEW_ALIGN;
  const idxAll = be.tensor(batches * stride, { dtype: 'u32', label: 'epoch indices' });
  const idxViews = Array.from({ length: batches }, (_, b) =>
    be.view(idxAll, b * stride, Math.min(o.batch, n - b * o.batch), `batch ${b} indices`));
  const sums = be.tensor(SUMS_LEN, { label: 'objective sums' });
  const sumLogLik = be.view(sums, SUM_LOGLIK, 1, 'Σ log p(x|z)');
  const sumKl = be.view(sums, SUM_KL, 1, 'Σ KL');
  const nonFinite = be.view(sums, SUM_NONFINITE, 1, 'non-finite parameters');
  const P = model.params.length;
  // snapshot ring: a check's slot is reused only after its read resolved and later checks were issued
  const ring = Array.from({ length: maxInFlight + 2 }, (_, i) => be.tensor(P, { label: `params snapshot ${i}` }));
  let checks = 0;
  let lastGood = { step: o.startStep ?? 0, slot: 0 };
  be.copy({ src: model.params, dst: ring[0]!, n: P });
  checks = 1;

  const pending: PendingCheck[] = [];
  const history: Progress[] = [];
  const epochs: EpochSummary[] = [];
  let epochAcc = { logLik: 0, kl: 0, samples: 0 };
  const t0 = now();
  let lastReport = { t: t0, samples: 0 };
  let samplesDone = 0;
  let samplesResolved = 0;
  let sinceCheck = 0;
  let step = o.startStep ?? 0;
  const maxSteps = o.maxSteps ?? Infinity;
  let stepsRun = 0;

  const resolveOldest = async (): Promise<void> => {
    const c = pending.shift()!;
    const s = await c.sums;
    const ll = s[SUM_LOGLIK]!;
    const kl = s[SUM_KL]!;
    const bad = s[SUM_NONFINITE]!;
    if (!Number.isFinite(ll) || !Number.isFinite(kl) || bad !== 0) {
      const detail = bad !== 0 ? `${bad} parameters became NaN/Inf` : `the objective became ${Number.isFinite(ll) ? kl : ll}`;
      pending.length = 0;
      be.copy({ src: ring[lastGood.slot]!, dst: model.params, n: P });
      await be.finish();
      throw new TrainingDiverged(c.step, lastGood.step, detail);
    }
    lastGood = { step: c.step, slot: c.slot };
    epochAcc.logLik += ll;
    epochAcc.kl += kl;
    epochAcc.samples += c.samples;
    samplesResolved += c.samples;
    const t = now();
    const p: Progress = {
      step: c.step,
      epoch: c.epoch,
      objective: model.objective(ll, kl, c.samples),
      logLik: ll / c.samples,
      kl: kl / c.samples,
      lr: c.lr,
      samplesPerSecond: (samplesResolved - lastReport.samples) / Math.max(1e-9, (t - lastReport.t) / 1000),
      seconds: (t - t0) / 1000,
    };
    lastReport = { t, samples: samplesResolved };
    history.push(p);
    o.onProgress?.(p);
  };

  const check = (epoch: number, lr: number): void => {
    be.countNonFinite({ x: model.params, out: nonFinite, n: P });
    const slot = checks % ring.length;
    checks++;
    be.copy({ src: model.params, dst: ring[slot]!, n: P });
    pending.push({ step, epoch, samples: sinceCheck, lr, slot, sums: be.read(sums) });
    be.fill({ x: sums, n: SUMS_LEN, value: 0 });
    sinceCheck = 0;
  };

  try {
    let epoch = o.startEpoch ?? 0;
    for (; epoch < o.epochs && stepsRun < maxSteps; epoch++) {
      be.upload(idxAll, paddedPermutation(epochPermutation(n, o.seed, epoch), o.batch, stride, batches));
      let lr = o.lr;
      for (let b = 0; b < batches && stepsRun < maxSteps; b++) {
        const rows = idxViews[b]!.length;
        lr = learningRate(o.lr, schedule, step);
        model.step({ idx: idxViews[b]!, rows, step, epoch, lr, sumLogLik, sumKl });
        step++;
        stepsRun++;
        samplesDone += rows;
        sinceCheck += rows;
        const lastOfEpoch = b === batches - 1 || stepsRun >= maxSteps;
        if (stepsRun % checkEvery === 0 || lastOfEpoch) check(epoch, lr);
        else be.flush();
        while (pending.length >= maxInFlight) await resolveOldest();
      }
      while (pending.length) await resolveOldest();
      const summary: EpochSummary = {
        epoch,
        objective: model.objective(epochAcc.logLik, epochAcc.kl, epochAcc.samples),
        logLik: epochAcc.logLik / epochAcc.samples,
        kl: epochAcc.kl / epochAcc.samples,
        samples: epochAcc.samples,
      };
      epochs.push(summary);
      epochAcc = { logLik: 0, kl: 0, samples: 0 };
      await o.onEpoch?.(epoch + 1, step, summary);
    }
    while (pending.length) await resolveOldest();
    await be.finish();
    const seconds = (now() - t0) / 1000;
    return { steps: step, epochsDone: epoch, seconds, samplesPerSecond: samplesDone / seconds, epochs, history };
  } finally {
    be.release(idxAll);
    be.release(sums);
    for (const r of ring) be.release(r);
  }
}

/** The permutation laid out one minibatch per `stride` slots. */
function paddedPermutation(perm: Uint32Array, batch: number, stride: number, batches: number): Uint32Array {
  const out = new Uint32Array(batches * stride);
  for (let b = 0; b < batches; b++) out.set(perm.subarray(b * batch, Math.min(perm.length, (b + 1) * batch)), b * stride);
  return out;
}

function now(): number {
  return typeof performance !== 'undefined' ? performance.now() : Date.now();
}
