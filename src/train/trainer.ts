// The one training driver of the CLI, the app and the library: epochs over a
// reshuffled index buffer, one command submission per step, and no readback
// inside the loop except the objective every `checkEvery` steps, read
// asynchronously with a few reads in flight. A check also counts non-finite
// parameters and snapshots them, so a NaN/Inf stops training with the last
// checked good parameters restored. It runs to the end (`run`) or a few steps
// at a time (`tick`: the page draws between ticks), stops between steps on an
// AbortSignal, evaluates held-out data every few steps, and resumes from
// (step, epoch). A model whose rows stream (Trainable.stream) is trained chunk by
// chunk in the order of streamEpoch (DESIGN §3.4). No Node imports.
import { VIEW_ALIGN, need, type Backend, type Tensor } from '../backend.ts';
import { chunkRowsOf, streamEpoch, streamLayout, type ChunkStream, type EpochChunk, type StreamLayout } from '../models/stream.ts';
import { epochPermutation } from './rng.ts';
import { learningRate, type Schedule } from './schedule.ts';

/** Offsets (elements) in the per-check sums tensor. */
export const SUM_LOGLIK = 0;
export const SUM_KL = VIEW_ALIGN;
const SUM_NONFINITE = 2 * VIEW_ALIGN;
const SUMS_LEN = 3 * VIEW_ALIGN;

/** Defaults of the check cadence: objective read every 20 steps, at most 3 reads outstanding. */
export const CHECK_EVERY = 20;
export const MAX_IN_FLIGHT = 3;

export interface StepInput {
  /** u32 row indices of this minibatch into the whole training data */
  idx: Tensor;
  /** the same indices on the host (a model whose rows are in several device buffers splits them by buffer) */
  idxHost?: ArrayLike<number>;
  rows: number;
  /**
   * when the rows stream: the resident chunk's rows on the device and this minibatch's
   * row indices into it (u32); `idx` still gives them in the whole data
   */
  chunk?: { x: Tensor; local: Tensor };
  /** global step, 0-based: the RNG counter and Adam's t − 1 */
  step: number;
  epoch: number;
  lr: number;
  /** 1-element views to add Σ_i log p(x_i | z_i) and Σ_i KL_i into */
  sumLogLik: Tensor;
  sumKl: Tensor;
}

/** What the trainer needs from a model. */
export interface Trainable {
  readonly backend: Backend;
  /** training rows */
  readonly rows: number;
  /** the training rows streamed chunk by chunk (src/models/stream.ts), or absent/null when resident */
  readonly stream?: ChunkStream | null;
  /** the model's parameters checked for NaN/Inf and restored on divergence */
  readonly params: Tensor;
  /** records one optimisation step (no flush, no readback) */
  step(s: StepInput): void;
  /** the trained objective per sample from the sums of a span of steps */
  objective(sumLogLik: number, sumKl: number, count: number): number;
}

/** One resolved check: the objective over the steps since the previous check. */
export interface Progress {
  step: number;
  epoch: number;
  /** objective per sample (the bound itself, higher is better), mean over the steps since the last report */
  objective: number;
  logLik: number;
  kl: number;
  lr: number;
  samplesPerSecond: number;
  /** training time so far (evaluations and time between ticks not counted) */
  seconds: number;
}

export interface EpochSummary {
  epoch: number;
  objective: number;
  logLik: number;
  kl: number;
  samples: number;
}

/** A held-out evaluation (the test curve) after `step` steps. */
export interface Evaluation {
  step: number;
  objective: number;
}

export interface TrainerOptions {
  /** epochs in all, counted from epoch 0 (a resumed run counts the epochs done); default: no end (stop by abort) */
  epochs?: number;
  batch: number;
  lr: number;
  schedule?: Schedule;
  seed: number;
  /** read the objective back every this many steps (default CHECK_EVERY) */
  checkEvery?: number;
  /** reads in flight before the loop waits (default MAX_IN_FLIGHT) */
  maxInFlight?: number;
  /** stop after this many steps run by this trainer (benchmarks); the run stays resumable mid-epoch */
  maxSteps?: number;
  /**
   * resume: the epoch and global step to start at. The minibatch within the
   * epoch is step − epoch × batches per epoch (0 when that is out of range), so
   * a run that kept its batch size resumes exactly, even mid-epoch.
   */
  startEpoch?: number;
  startStep?: number;
  /** stops the run cleanly between steps: the last steps are checked, the promise resolves */
  signal?: AbortSignal;
  onProgress?: (p: Progress) => void;
  /** called after each epoch (1-based count of epochs done); awaited */
  onEpoch?: (epochsDone: number, step: number, summary: EpochSummary) => Promise<void> | void;
  /**
   * held-out evaluation (the test curve): `run(step)` is awaited with the
   * parameters after `step` steps, at the start, whenever the step is a
   * multiple of `every`, and when the run ends; its time is not training time
   */
  evaluate?: { every: number; run: (step: number) => Promise<number> };
  onEvaluate?: (e: Evaluation) => void;
}

export interface TrainOptions extends TrainerOptions {
  epochs: number;
}

export interface TrainResult {
  steps: number;
  epochsDone: number;
  seconds: number;
  samplesPerSecond: number;
  epochs: EpochSummary[];
  history: Progress[];
  evaluations: Evaluation[];
  /** stopped by the AbortSignal before the end */
  aborted: boolean;
}

/** What one `tick` did. */
export interface TickReport {
  steps: number;
  samples: number;
  /** the trained objective per sample over the tick's steps (NaN when none ran) */
  objective: number;
  logLik: number;
  kl: number;
  /** checks, epochs and evaluations completed in this tick */
  progress: Progress[];
  epochs: EpochSummary[];
  evaluations: Evaluation[];
  /** the run reached its end (epochs, maxSteps) or was aborted */
  done: boolean;
}

export class TrainingDiverged extends Error {
  constructor(readonly step: number, readonly lastGoodStep: number, detail: string) {
    super(`training diverged: ${detail} in the steps up to ${step}; the parameters were restored to step ${lastGoodStep}, the last checked good state (lower the learning rate)`);
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

interface Sums {
  logLik: number;
  kl: number;
  samples: number;
}

const zeroSums = (): Sums => ({ logLik: 0, kl: 0, samples: 0 });

/**
 * The resumable training driver. `tick(k)` runs k steps and resolves with their
 * objective read back; `run()` runs to the end. Both may be mixed: the
 * parameters after any sequence of ticks equal those of one run of as many
 * steps (the minibatches, step sizes and RNG counters are functions of the
 * seed, the epoch and the step).
 */
export class Trainer {
  /** global step: steps done, counting those before a resume */
  step: number;
  /** current epoch (0-based); equals the epochs done at an epoch boundary */
  epoch: number;
  readonly stepsPerEpoch: number;
  readonly history: Progress[] = [];
  readonly epochSummaries: EpochSummary[] = [];
  readonly evaluations: Evaluation[] = [];
  /** steps and samples run by this trainer */
  stepsRun = 0;
  samplesDone = 0;

  private readonly be: Backend;
  private readonly n: number;
  private readonly epochs: number;
  private readonly schedule: Schedule;
  private readonly checkEvery: number;
  private readonly maxInFlight: number;
  private readonly maxSteps: number;
  private batchInEpoch: number;
  private uploadedEpoch = -1;
  /** the host copy of idxAll for uploadedEpoch */
  private idxHost: Uint32Array = new Uint32Array(0);
  /** resident rows: the epoch's permutation laid out one minibatch per stride, and a view per minibatch */
  private readonly idxAll: Tensor | null = null;
  private readonly idxViews: Tensor[] = [];
  /** streamed rows: the minibatches of the resident chunk */
  private readonly feed: StreamFeed | null = null;
  private readonly stride: number;
  private readonly sums: Tensor;
  private readonly sumLogLik: Tensor;
  private readonly sumKl: Tensor;
  private readonly nonFinite: Tensor;
  private readonly ring: Tensor[];
  private checks = 0;
  private lastGood: { step: number; slot: number };
  private readonly pending: PendingCheck[] = [];
  private epochAcc = zeroSums();
  private tickAcc = zeroSums();
  private tickLog: { progress: Progress[]; epochs: EpochSummary[]; evaluations: Evaluation[] } | null = null;
  private sinceCheck = 0;
  private lastLr: number;
  private samplesResolved = 0;
  private lastReport = { ms: 0, samples: 0 };
  /** training milliseconds before the current tick, and when the current tick's training time started */
  private activeMs = 0;
  private tickStart: number | null = null;
  private failed: Error | null = null;
  private released = false;

  constructor(readonly model: Trainable, readonly options: TrainerOptions) {
    const o = options;
    const be = (this.be = model.backend);
    const n = (this.n = model.rows);
    need(Number.isInteger(o.batch) && o.batch > 0 && o.batch <= n, 'train', `batch must be in [1, ${n}], got ${o.batch}`);
    this.epochs = o.epochs ?? Infinity;
    need(this.epochs === Infinity || (Number.isInteger(this.epochs) && this.epochs >= 0), 'train', `epochs must be a non-negative integer, got ${o.epochs}`);
    need(o.lr > 0 && Number.isFinite(o.lr), 'train', `lr must be positive, got ${o.lr}`);
    this.checkEvery = o.checkEvery ?? CHECK_EVERY;
    need(this.checkEvery >= 1, 'train', `checkEvery must be at least 1, got ${o.checkEvery}`);
    need(o.evaluate === undefined || (Number.isInteger(o.evaluate.every) && o.evaluate.every >= 1), 'train',
      `evaluate.every must be a positive integer, got ${o.evaluate?.every}`);
    this.maxInFlight = Math.max(1, o.maxInFlight ?? MAX_IN_FLIGHT);
    this.maxSteps = o.maxSteps ?? Infinity;
    this.schedule = o.schedule ?? { kind: 'constant' };
    this.lastLr = o.lr;
    // every minibatch's indices start on a view boundary
    this.stride = Math.ceil(o.batch / VIEW_ALIGN) * VIEW_ALIGN;
    if (model.stream) {
      this.feed = new StreamFeed(be, model.stream, o.batch, this.stride, o.seed, this.epochs);
      this.stepsPerEpoch = this.feed.stepsPerEpoch;
    } else {
      this.stepsPerEpoch = Math.ceil(n / o.batch);
      const idxAll = (this.idxAll = be.tensor(this.stepsPerEpoch * this.stride, { dtype: 'u32', label: 'epoch indices' }));
      this.idxViews = Array.from({ length: this.stepsPerEpoch }, (_, b) =>
        be.view(idxAll, b * this.stride, Math.min(o.batch, n - b * o.batch), `batch ${b} indices`));
    }
    const batches = this.stepsPerEpoch;
    this.epoch = o.startEpoch ?? 0;
    this.step = o.startStep ?? 0;
    const within = this.step - this.epoch * batches;
    this.batchInEpoch = Number.isInteger(within) && within >= 0 && within < batches ? within : 0;
    this.sums = be.tensor(SUMS_LEN, { label: 'objective sums' });
    this.sumLogLik = be.view(this.sums, SUM_LOGLIK, 1, 'Σ log p(x|z)');
    this.sumKl = be.view(this.sums, SUM_KL, 1, 'Σ KL');
    this.nonFinite = be.view(this.sums, SUM_NONFINITE, 1, 'non-finite parameters');
    const P = model.params.length;
    // snapshot ring: a check's slot is reused only after its read resolved and later checks were issued
    this.ring = Array.from({ length: this.maxInFlight + 2 }, (_, i) => be.tensor(P, { label: `params snapshot ${i}` }));
    this.lastGood = { step: this.step, slot: 0 };
    be.copy({ src: model.params, dst: this.ring[0]!, n: P });
    this.checks = 1;
  }

  /** The run reached its epochs or maxSteps, or its AbortSignal (options.signal) fired. */
  get done(): boolean {
    return this.finished || this.options.signal?.aborted === true;
  }

  private get finished(): boolean {
    return this.epoch >= this.epochs || this.stepsRun >= this.maxSteps;
  }

  /** Training seconds so far (ticks only; evaluations excluded). */
  get seconds(): number {
    return this.clock() / 1000;
  }

  /**
   * Runs up to `steps` steps (fewer at the end of the run, or when `signal`
   * fires: that stops this tick only), checks the last of them, and resolves
   * once every check of the tick is read back.
   */
  async tick(steps: number, signal?: AbortSignal): Promise<TickReport> {
    need((Number.isInteger(steps) && steps >= 0) || steps === Infinity, 'train', `steps must be a non-negative integer, got ${steps}`);
    this.usable();
    const t = now();
    this.tickStart = t;
    this.tickAcc = zeroSums();
    const log = (this.tickLog = { progress: [], epochs: [], evaluations: [] });
    const stepsBefore = this.stepsRun;
    const samplesBefore = this.samplesDone;
    try {
      // the starting point of the test curve
      if (this.stepsRun === 0) await this.evaluateOnce();
      for (let k = 0; k < steps && !this.done && !signal?.aborted; k++) await this.stepOnce();
      if (this.sinceCheck > 0) this.check(this.lastLr);
      await this.drain();
      if (this.finished) await this.evaluateOnce();
      if (this.done) await this.be.finish();
    } catch (e) {
      this.failed = e as Error;
      throw e;
    } finally {
      this.activeMs += now() - this.tickStart;
      this.tickStart = null;
      this.tickLog = null;
    }
    const acc = this.tickAcc;
    return {
      steps: this.stepsRun - stepsBefore,
      samples: this.samplesDone - samplesBefore,
      objective: acc.samples > 0 ? this.model.objective(acc.logLik, acc.kl, acc.samples) : NaN,
      logLik: acc.logLik / acc.samples,
      kl: acc.kl / acc.samples,
      done: this.done,
      ...log,
    };
  }

  /** Runs to the end (or the abort) and returns the whole run's record. */
  async run(): Promise<TrainResult> {
    need(this.epochs !== Infinity || this.maxSteps !== Infinity || this.options.signal !== undefined, 'train',
      'a run needs epochs, maxSteps or an AbortSignal to end');
    await this.tick(Infinity);
    return this.result();
  }

  result(): TrainResult {
    const seconds = this.seconds;
    return {
      steps: this.step, epochsDone: this.epoch, seconds, samplesPerSecond: this.samplesDone / seconds,
      epochs: this.epochSummaries, history: this.history, evaluations: this.evaluations, aborted: this.options.signal?.aborted === true && !this.finished,
    };
  }

  /** Frees the trainer's device buffers (not the model's). */
  release(): void {
    if (this.released) return;
    this.released = true;
    if (this.idxAll) this.be.release(this.idxAll);
    this.feed?.release();
    this.be.release(this.sums);
    for (const r of this.ring) this.be.release(r);
  }

  private usable(): void {
    need(!this.released, 'train', 'the trainer was released');
    if (this.failed) throw this.failed;
  }

  private clock(): number {
    return this.activeMs + (this.tickStart === null ? 0 : now() - this.tickStart);
  }

  private async stepOnce(): Promise<void> {
    const be = this.be;
    const o = this.options;
    const b = this.batchInEpoch;
    let batch: Pick<StepInput, 'idx' | 'idxHost' | 'rows' | 'chunk'>;
    if (this.feed) batch = await this.feed.batch(this.epoch, b);
    else {
      if (this.uploadedEpoch !== this.epoch) {
        this.idxHost = paddedPermutation(epochPermutation(this.n, o.seed, this.epoch), o.batch, this.stride, this.stepsPerEpoch);
        be.upload(this.idxAll!, this.idxHost);
        this.uploadedEpoch = this.epoch;
      }
      const idx = this.idxViews[b]!;
      batch = { idx, idxHost: this.idxHost.subarray(b * this.stride, b * this.stride + idx.length), rows: idx.length };
    }
    const { rows } = batch;
    const lr = (this.lastLr = learningRate(o.lr, this.schedule, this.step));
    this.model.step({ ...batch, step: this.step, epoch: this.epoch, lr, sumLogLik: this.sumLogLik, sumKl: this.sumKl });
    this.step++;
    this.stepsRun++;
    this.samplesDone += rows;
    this.sinceCheck += rows;
    const lastOfEpoch = b === this.stepsPerEpoch - 1;
    if (this.stepsRun % this.checkEvery === 0 || lastOfEpoch || this.stepsRun >= this.maxSteps) this.check(lr);
    else be.flush();
    while (this.pending.length >= this.maxInFlight) await this.resolveOldest();
    if (lastOfEpoch) {
      await this.drain();
      const a = this.epochAcc;
      const summary: EpochSummary = {
        epoch: this.epoch, objective: this.model.objective(a.logLik, a.kl, a.samples), logLik: a.logLik / a.samples, kl: a.kl / a.samples, samples: a.samples,
      };
      this.epochSummaries.push(summary);
      this.tickLog?.epochs.push(summary);
      this.epochAcc = zeroSums();
      this.batchInEpoch = 0;
      this.epoch++;
      await o.onEpoch?.(this.epoch, this.step, summary);
    } else {
      this.batchInEpoch++;
    }
    const ev = o.evaluate;
    if (ev && this.step % ev.every === 0) await this.evaluateOnce();
  }

  /** The held-out evaluation at this step, unless there is none or it was done. */
  private async evaluateOnce(): Promise<void> {
    const ev = this.options.evaluate;
    if (!ev || this.evaluations.at(-1)?.step === this.step) return;
    // a diverged state is reported by its check, not evaluated
    await this.drain();
    const t0 = now();
    const e: Evaluation = { step: this.step, objective: await ev.run(this.step) };
    // evaluation time is not training time
    if (this.tickStart !== null) this.tickStart += now() - t0;
    this.evaluations.push(e);
    this.tickLog?.evaluations.push(e);
    this.options.onEvaluate?.(e);
  }

  private check(lr: number): void {
    const be = this.be;
    const P = this.model.params.length;
    be.countNonFinite({ x: this.model.params, out: this.nonFinite, n: P });
    const slot = this.checks % this.ring.length;
    this.checks++;
    be.copy({ src: this.model.params, dst: this.ring[slot]!, n: P });
    this.pending.push({ step: this.step, epoch: this.epoch, samples: this.sinceCheck, lr, slot, sums: be.read(this.sums) });
    be.fill({ x: this.sums, n: SUMS_LEN, value: 0 });
    this.sinceCheck = 0;
  }

  private async drain(): Promise<void> {
    while (this.pending.length) await this.resolveOldest();
  }

  private async resolveOldest(): Promise<void> {
    const c = this.pending.shift()!;
    const s = await c.sums;
    const ll = s[SUM_LOGLIK]!;
    const kl = s[SUM_KL]!;
    const bad = s[SUM_NONFINITE]!;
    if (!Number.isFinite(ll) || !Number.isFinite(kl) || bad !== 0) {
      const detail = bad !== 0 ? `${bad} parameters became NaN/Inf` : `the objective became ${Number.isFinite(ll) ? kl : ll}`;
      // the later reads are of no use now; their failures (a lost device) are not reported twice
      for (const p of this.pending.splice(0)) p.sums.catch(() => {});
      this.be.copy({ src: this.ring[this.lastGood.slot]!, dst: this.model.params, n: this.model.params.length });
      await this.be.finish();
      throw new TrainingDiverged(c.step, this.lastGood.step, detail);
    }
    this.lastGood = { step: c.step, slot: c.slot };
    for (const acc of [this.epochAcc, this.tickAcc]) {
      acc.logLik += ll;
      acc.kl += kl;
      acc.samples += c.samples;
    }
    this.samplesResolved += c.samples;
    const ms = this.clock();
    const p: Progress = {
      step: c.step,
      epoch: c.epoch,
      objective: this.model.objective(ll, kl, c.samples),
      logLik: ll / c.samples,
      kl: kl / c.samples,
      lr: c.lr,
      samplesPerSecond: (this.samplesResolved - this.lastReport.samples) / Math.max(1e-9, (ms - this.lastReport.ms) / 1000),
      seconds: ms / 1000,
    };
    this.lastReport = { ms, samples: this.samplesResolved };
    this.history.push(p);
    this.tickLog?.progress.push(p);
    this.options.onProgress?.(p);
  }
}

/** Runs the epochs to the end (or the abort); resolves when all work is done and read. */
export async function train(model: Trainable, o: TrainOptions): Promise<TrainResult> {
  const t = new Trainer(model, o);
  try {
    return await t.run();
  } finally {
    t.release();
  }
}

/**
 * The minibatches of streamed rows: an epoch visits the chunks streamEpoch draws from
 * (seed, epoch) in turn (blocks of whole minibatches, permuted, grouped into chunks),
 * each chunk's rows in its own permutation, cut into minibatches that never span two
 * chunks. The chunk after the current one (the next epoch's first at an epoch's end)
 * is read ahead. Index memory is one chunk's: the local and the global row indices of
 * its minibatches.
 */
class StreamFeed {
  readonly stepsPerEpoch: number;
  private readonly layout: StreamLayout;
  private readonly local: Tensor;
  private readonly global: Tensor;
  private readonly localHost: Uint32Array;
  private readonly globalHost: Uint32Array;
  private readonly views = new Map<string, { local: Tensor; global: Tensor }>();
  private plan: { epoch: number; chunks: EpochChunk[]; within: (k: number) => Uint32Array; starts: number[] } | null = null;
  private nextPlan: { epoch: number; chunks: EpochChunk[]; within: (k: number) => Uint32Array } | null = null;
  private loaded: { pos: number; x: Tensor } | null = null;

  constructor(private readonly be: Backend, private readonly stream: ChunkStream, private readonly size: number,
    private readonly stride: number, private readonly seed: number, private readonly epochs: number) {
    this.layout = streamLayout(stream.chunkRows, stream.n, size);
    const { chunks } = streamEpoch(stream.n, this.layout, seed, 0);
    this.stepsPerEpoch = chunks.reduce((a, c) => a + Math.ceil(c.rows / size), 0);
    const slots = Math.ceil(this.layout.chunkRows / size) * stride;
    this.localHost = new Uint32Array(slots);
    this.globalHost = new Uint32Array(slots);
    this.local = be.tensor(slots, { dtype: 'u32', label: 'chunk batch indices' });
    this.global = be.tensor(slots, { dtype: 'u32', label: 'chunk batch rows' });
  }

  /** minibatch b of the epoch, its chunk resident */
  async batch(epoch: number, b: number): Promise<Pick<StepInput, 'idx' | 'idxHost' | 'rows' | 'chunk'>> {
    if (this.plan?.epoch !== epoch) {
      // the plan read ahead for the previous epoch's last chunk, when it is this epoch's
      const { chunks, within } = this.nextPlan?.epoch === epoch ? this.nextPlan : streamEpoch(this.stream.n, this.layout, this.seed, epoch);
      const starts = [0];
      for (const c of chunks) starts.push(starts.at(-1)! + Math.ceil(c.rows / this.size));
      this.plan = { epoch, chunks, within, starts };
      this.loaded = null;
    }
    const { chunks, starts } = this.plan;
    let pos = this.loaded?.pos ?? 0;
    if (!(this.loaded && b >= starts[pos]! && b < starts[pos + 1]!)) {
      pos = 0;
      while (starts[pos + 1]! <= b) pos++;
      this.loaded = { pos, x: await this.load(pos) };
    }
    const k = b - starts[pos]!;
    const rows = Math.min(this.size, chunks[pos]!.rows - k * this.size);
    const key = `${k}:${rows}`;
    let v = this.views.get(key);
    if (!v) {
      v = { local: this.be.view(this.local, k * this.stride, rows, `chunk batch ${k}`), global: this.be.view(this.global, k * this.stride, rows, `chunk batch ${k} rows`) };
      this.views.set(key, v);
    }
    return {
      idx: v.global, idxHost: this.globalHost.subarray(k * this.stride, k * this.stride + rows), rows,
      chunk: { x: this.loaded.x, local: v.local },
    };
  }

  /** uploads the minibatch indices of the epoch's chunk at position pos, once its rows are on the device */
  private async load(pos: number): Promise<Tensor> {
    const plan = this.plan!;
    const chunk = plan.chunks[pos]!;
    const { x } = await this.stream.loadParts(chunk.parts, this.following(pos)?.parts);
    const perm = plan.within(pos);
    const batches = Math.ceil(chunk.rows / this.size);
    for (let k = 0; k < batches; k++) {
      const part = perm.subarray(k * this.size, Math.min(chunk.rows, (k + 1) * this.size));
      this.localHost.set(part, k * this.stride);
      chunkRowsOf(chunk, part, this.globalHost, k * this.stride);
    }
    this.be.upload(this.local, this.localHost);
    this.be.upload(this.global, this.globalHost);
    return x;
  }

  /** the chunk after position pos: the next of this epoch, or the next epoch's first */
  private following(pos: number): EpochChunk | undefined {
    const plan = this.plan!;
    if (pos + 1 < plan.chunks.length) return plan.chunks[pos + 1];
    const e = plan.epoch + 1;
    if (e >= this.epochs) return undefined;
    if (this.nextPlan?.epoch !== e) this.nextPlan = { epoch: e, ...streamEpoch(this.stream.n, this.layout, this.seed, e) };
    return this.nextPlan.chunks[0];
  }

  release(): void {
    this.be.release(this.local);
    this.be.release(this.global);
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
