// Minibatch steps of a Trainable model in ticks of K steps: epochs over a seeded
// permutation (src/train/rng.ts), one upload of the K minibatches' indices per
// tick, one submission per step, and one read of the summed objective (plus a
// count of non-finite parameters) at the end of the tick. The same epochs as
// src/train/trainer.ts, cut into pieces the page can interleave with drawing.
import { VIEW_ALIGN, type Backend, type Tensor } from '../../src/backend.ts';
import { epochPermutation } from '../../src/train/rng.ts';
import { SUM_KL, SUM_LOGLIK, type Trainable } from '../../src/train/trainer.ts';
import type { TickResult } from './runner.ts';

const SUM_NONFINITE = 2 * VIEW_ALIGN;

export class MinibatchStepper {
  step = 0;
  epoch = 0;
  /** minibatch number within the epoch */
  private batchInEpoch = 0;
  private perm: Uint32Array;
  private readonly stride: number;
  private idx: Tensor | null = null;
  private idxSteps = 0;
  private readonly sums: Tensor;
  private readonly be: Backend;

  constructor(readonly model: Trainable, readonly batch: number, readonly seed: number, start = { step: 0, epoch: 0 }) {
    this.be = model.backend;
    if (!(Number.isInteger(batch) && batch >= 1 && batch <= model.rows)) {
      throw new Error(`batch must be between 1 and the ${model.rows} training rows, got ${batch}`);
    }
    this.stride = Math.ceil(batch / VIEW_ALIGN) * VIEW_ALIGN;
    this.step = start.step;
    this.epoch = start.epoch;
    this.perm = epochPermutation(model.rows, seed, this.epoch);
    this.sums = this.be.tensor(3 * VIEW_ALIGN, { label: 'tick sums' });
  }

  private get batchesPerEpoch(): number {
    return Math.ceil(this.model.rows / this.batch);
  }

  async tick(K: number, lr: number): Promise<TickResult> {
    const be = this.be;
    const n = this.model.rows;
    if (!this.idx || this.idxSteps < K) {
      if (this.idx) be.release(this.idx);
      this.idx = be.tensor(K * this.stride, { dtype: 'u32', label: 'tick indices' });
      this.idxSteps = K;
    }
    const host = new Uint32Array(K * this.stride);
    const plan: { rows: number; epoch: number }[] = [];
    for (let s = 0; s < K; s++) {
      const b0 = this.batchInEpoch * this.batch;
      const rows = Math.min(this.batch, n - b0);
      host.set(this.perm.subarray(b0, b0 + rows), s * this.stride);
      plan.push({ rows, epoch: this.epoch });
      if (++this.batchInEpoch === this.batchesPerEpoch) {
        this.batchInEpoch = 0;
        this.epoch++;
        this.perm = epochPermutation(n, this.seed, this.epoch);
      }
    }
    be.upload(this.idx, host);
    be.fill({ x: this.sums, n: this.sums.length, value: 0 });
    const sumLogLik = be.view(this.sums, SUM_LOGLIK, 1);
    const sumKl = be.view(this.sums, SUM_KL, 1);
    let samples = 0;
    for (let s = 0; s < K; s++) {
      const { rows, epoch } = plan[s]!;
      const idx = be.view(this.idx, s * this.stride, rows, `batch ${this.step}`);
      this.model.step({ idx, rows, step: this.step, epoch, lr, sumLogLik, sumKl });
      this.step++;
      samples += rows;
      be.flush();
    }
    const params = this.model.params;
    be.countNonFinite({ x: params, out: be.view(this.sums, SUM_NONFINITE, 1), n: params.length });
    const s = await be.read(this.sums);
    const bad = s[SUM_NONFINITE]!;
    if (bad !== 0) throw new Error(`training diverged: ${bad} parameters became NaN/Inf by step ${this.step}; lower the learning rate and reset`);
    const objective = this.model.objective(s[SUM_LOGLIK]!, s[SUM_KL]!, samples);
    if (!Number.isFinite(objective)) throw new Error(`training diverged: the objective became ${objective} by step ${this.step}; lower the learning rate and reset`);
    return { samples, steps: K, trainObjective: objective };
  }

  release(): void {
    if (this.idx) this.be.release(this.idx);
    this.be.release(this.sums);
    this.idx = null;
  }
}
