// Resumable minibatch fitters (stochastic EM, online EM). A fitter owns its
// device state — parameters, the minibatch stream, the global step t that the
// Robbins–Monro step sizes and the online-EM weights γ_t depend on, and (online
// EM) the running averages of the sufficient statistics — so `step(k)` called
// repeatedly is the same run as one long call. The browser app drives one a
// tick at a time; fitSem/fitOem are loops over it. snapshot()/restore() carry
// that state through a checkpoint file (checkpoint.ts) for --resume.
import { KernelError, need } from '../../backend.ts';
import { meanLogLik } from './loglik.ts';
import { checkShape, type DeviceData, type PpcaModel } from './model.ts';
import { checkDataScale, type ColumnStats } from './scale.ts';

export interface StochasticProgress {
  step: number;
  epoch: number;
  /** mean exact log-likelihood per sample on the training data */
  loglik: number;
  sigma2: number;
  /** busy seconds of the fitter (steps and evaluations) so far */
  seconds: number;
}

export interface FitterState {
  /** steps done so far (the global t) */
  step: number;
  epoch: number;
  sigma2: number;
  /** seconds spent in steps (evaluations excluded) so far */
  trainSeconds: number;
}

export interface StochasticResult {
  model: PpcaModel;
  steps: number;
  loglik: number;
  trace: StochasticProgress[];
  seconds: number;
  /** seconds spent in evaluations (excluded from steps per second) */
  evalSeconds: number;
  stepsPerSecond: number;
}

export interface FitterOptions {
  d: number;
  batch: number;
  seed?: number;
  /** exact train log-likelihood every this many steps inside step() (default: once per epoch; 0: never) */
  evalEvery?: number;
  onEval?: (p: StochasticProgress) => void;
}

/**
 * Everything a fitter needs to continue a run bit-identically: the global step,
 * the optimizer or running-statistics state (float32 device state as F32,
 * float64 host state as F64) and the evaluations so far. The minibatch stream
 * is replayed from the seed up to `step`.
 */
export interface FitterSnapshot {
  method: 'sem' | 'oem';
  step: number;
  state: Record<string, Float32Array | Float64Array>;
  trace: StochasticProgress[];
}

export interface StochasticFitter {
  readonly method: 'sem' | 'oem';
  readonly stepsPerEpoch: number;
  /** step() evaluates every this many steps (0: never) */
  readonly evalEvery: number;
  /** steps done so far */
  readonly steps: number;
  /**
   * The current parameters, owned by the fitter: valid until dispose(), current
   * whenever no step() is running. Use detach() for a copy that outlives the fitter.
   */
  readonly model: PpcaModel;
  /** every evaluation so far, in order */
  readonly trace: StochasticProgress[];
  readonly trainSeconds: number;
  readonly evalSeconds: number;
  /** runs nSteps more minibatch steps (evaluating every evalEvery steps) */
  step(nSteps: number): Promise<FitterState>;
  /** exact mean train log-likelihood of the current parameters, appended to the trace */
  evaluate(): Promise<StochasticProgress>;
  /** the state a checkpoint holds (see FitterSnapshot) */
  snapshot(): Promise<FitterSnapshot>;
  /** continues from a snapshot of a run with the same data and options (before any step) */
  restore(s: FitterSnapshot): Promise<void>;
  /** a standalone copy of the current parameters (the caller releases it) */
  detach(): PpcaModel;
  /** releases the device state; the fitter cannot step afterwards */
  dispose(): void;
}

/**
 * Training rows that are not in memory (stream.ts PpcaStream): their column
 * statistics from a streamed pass, the centred rows streamed to the device in
 * chunks, and the exact log-likelihood by another pass.
 */
export interface StreamedRows {
  readonly name: string;
  readonly n: number;
  readonly D: number;
  readonly stats: ColumnStats;
  /** exact mean log-likelihood per row of a model over every row (a pass over the source) */
  loglik(model: PpcaModel): Promise<number>;
  /** minibatches per epoch (absent: ⌈n / batch⌉) */
  readonly stepsPerEpoch?: number;
}

/** Whether a fitter's rows stream (else they are on the device with a host copy). */
export function isStreamed(data: DeviceData | StreamedRows): data is StreamedRows {
  return 'stats' in data;
}

export function checkStochastic(kernel: string, data: Pick<DeviceData, 'name' | 'n' | 'D'>, o: { d: number; batch: number }): void {
  checkShape(kernel, data.D, o.d);
  need(Number.isInteger(o.batch) && o.batch >= 1, kernel, `batch size must be a positive integer, got ${o.batch}`);
  need(o.batch <= data.n, kernel, `${data.name}: ${data.n} rows, fewer than the batch size ${o.batch}`);
}

/** The bookkeeping every fitter shares: step counting, timing, evaluations, disposal. */
export abstract class FitterBase implements StochasticFitter {
  abstract readonly method: 'sem' | 'oem';
  abstract readonly model: PpcaModel;
  readonly stepsPerEpoch: number;
  readonly trace: StochasticProgress[] = [];
  readonly evalEvery: number;
  private t = 0;
  private trainMs = 0;
  private evalMs = 0;
  private disposed = false;
  private busy = false;
  /** the data's column statistics (checked by checkDataScale) */
  protected readonly stats: ColumnStats;

  constructor(protected readonly kernel: string, protected readonly data: DeviceData | StreamedRows, private readonly opts: FitterOptions) {
    checkStochastic(kernel, data, opts);
    this.stats = isStreamed(data)
      ? checkDataScale({ name: data.name, host: new Float32Array(0), n: data.n, D: data.D }, opts.d, data.stats).stats
      : checkDataScale(data, opts.d).stats;
    this.stepsPerEpoch = (isStreamed(data) ? data.stepsPerEpoch : undefined) ?? Math.ceil(data.n / opts.batch);
    this.evalEvery = opts.evalEvery ?? this.stepsPerEpoch;
    need(Number.isInteger(this.evalEvery) && this.evalEvery >= 0, kernel, `evalEvery must be a non-negative integer, got ${this.evalEvery}`);
  }

  get steps(): number {
    return this.t;
  }
  get trainSeconds(): number {
    return this.trainMs / 1000;
  }
  get evalSeconds(): number {
    return this.evalMs / 1000;
  }

  /** One minibatch step at global step t (0-based). */
  protected abstract stepOnce(t: number): Promise<void>;
  /** Brings `model` up to date with the training state (after a run of steps). */
  protected abstract syncModel(): void;
  protected abstract releaseState(): void;
  protected abstract get sigma2(): number;
  /** the subclass's state (FitterSnapshot.state) */
  protected abstract exportState(): Promise<FitterSnapshot['state']>;
  /** loads exportState's output (checked with stateArray) and replays the minibatch stream to `step` */
  protected abstract importState(state: FitterSnapshot['state'], step: number): void;

  /** state[name], which must hold `length` values of the given precision */
  protected stateArray<T extends Float32Array | Float64Array>(state: FitterSnapshot['state'], name: string, length: number, type: new (n: number) => T): T {
    const a = Object.hasOwn(state, name) ? state[name] : undefined;
    need(a instanceof type, this.kernel, `the checkpoint state has no ${(type as unknown) === Float64Array ? 'F64' : 'F32'} '${name}'`);
    need(a.length === length, this.kernel, `checkpoint state '${name}' has ${a.length} values, this run needs ${length}`);
    for (let i = 0; i < a.length; i++) need(Number.isFinite(a[i]!), this.kernel, () => `checkpoint state '${name}' holds ${a[i]} at index ${i}`);
    return a as T;
  }

  private enter(what: string): void {
    if (this.disposed) throw new KernelError(this.kernel, `${what} after dispose()`);
    if (this.busy) throw new KernelError(this.kernel, `${what} while another call is running (await it first)`);
    this.busy = true;
  }

  async step(nSteps: number): Promise<FitterState> {
    need(Number.isInteger(nSteps) && nSteps >= 0, this.kernel, `step count must be a non-negative integer, got ${nSteps}`);
    this.enter('step()');
    try {
      for (let k = 0; k < nSteps; k++) {
        const s0 = performance.now();
        await this.stepOnce(this.t);
        this.t++;
        this.trainMs += performance.now() - s0;
        if (this.evalEvery > 0 && this.t % this.evalEvery === 0) await this.evaluateNow();
      }
      this.syncModel();
    } finally {
      this.busy = false;
    }
    return { step: this.t, epoch: this.t / this.stepsPerEpoch, sigma2: this.sigma2, trainSeconds: this.trainSeconds };
  }

  async evaluate(): Promise<StochasticProgress> {
    this.enter('evaluate()');
    try {
      return await this.evaluateNow();
    } finally {
      this.busy = false;
    }
  }

  private async evaluateNow(): Promise<StochasticProgress> {
    const e0 = performance.now();
    this.syncModel();
    const loglik = isStreamed(this.data) ? await this.data.loglik(this.model) : await meanLogLik(this.model, this.data);
    this.evalMs += performance.now() - e0;
    const p = { step: this.t, epoch: this.t / this.stepsPerEpoch, loglik, sigma2: this.sigma2, seconds: (this.trainMs + this.evalMs) / 1000 };
    this.trace.push(p);
    this.opts.onEval?.(p);
    return p;
  }

  async snapshot(): Promise<FitterSnapshot> {
    this.enter('snapshot()');
    try {
      return { method: this.method, step: this.t, state: await this.exportState(), trace: this.trace.map((p) => ({ ...p })) };
    } finally {
      this.busy = false;
    }
  }

  async restore(s: FitterSnapshot): Promise<void> {
    this.enter('restore()');
    try {
      need(this.t === 0 && this.trace.length === 0, this.kernel, `restore() needs a fresh fitter, this one has run ${this.t} steps`);
      need(s.method === this.method, this.kernel, `the checkpoint is of method '${s.method}', not '${this.method}'`);
      need(Number.isSafeInteger(s.step) && s.step >= 0, this.kernel, `the checkpoint's step must be a non-negative integer, got ${s.step}`);
      this.importState(s.state, s.step);
      this.t = s.step;
      this.trace.push(...s.trace.map((p) => ({ ...p })));
      this.syncModel();
    } finally {
      this.busy = false;
    }
  }

  detach(): PpcaModel {
    if (this.disposed) throw new KernelError(this.kernel, 'detach() after dispose()');
    const m = this.model;
    const b = m.backend;
    const W = b.tensor(m.D * m.d, { label: 'ppca.W' });
    const mu = b.tensor(m.D, { label: 'ppca.mu' });
    b.copy({ src: m.W, dst: W, n: m.D * m.d });
    b.copy({ src: m.mu, dst: mu, n: m.D });
    return { backend: b, D: m.D, d: m.d, W, mu, sigma2: m.sigma2, wtw: Float64Array.from(m.wtw) };
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.releaseState();
  }
}

export interface RunOptions {
  epochs: number;
  /** continue from this snapshot (its step counts towards epochs) */
  resume?: FitterSnapshot;
  /** called after every whole epoch (1-based count), e.g. to write a checkpoint */
  onEpoch?: (epoch: number, fitter: StochasticFitter) => Promise<void>;
}

/**
 * A whole fit: restore (when resuming), evaluate at step 0 (when evaluating and
 * not resuming), run to epochs × steps per epoch an epoch at a time, evaluate at
 * the end, detach, dispose.
 */
export async function runStochasticFit(fitter: StochasticFitter, run: RunOptions): Promise<StochasticResult> {
  try {
    const { epochs } = run;
    need(Number.isFinite(epochs) && epochs > 0, `ppca ${fitter.method}`, `epochs must be positive, got ${epochs}`);
    const spe = fitter.stepsPerEpoch;
    const totalSteps = Math.max(1, Math.round(epochs * spe));
    if (run.resume) {
      need(run.resume.step <= totalSteps, `ppca ${fitter.method}`,
        `the checkpoint is at step ${run.resume.step} (epoch ${run.resume.step / spe}), beyond the ${totalSteps} steps of ${epochs} epochs`);
      await fitter.restore(run.resume);
    }
    const first = fitter.steps;
    if (fitter.evalEvery > 0 && fitter.steps === 0) await fitter.evaluate();
    while (fitter.steps < totalSteps) {
      const next = Math.min(totalSteps, (Math.floor(fitter.steps / spe) + 1) * spe);
      await fitter.step(next - fitter.steps);
      if (fitter.steps % spe === 0) await run.onEpoch?.(fitter.steps / spe, fitter);
    }
    const last = fitter.trace.at(-1);
    const loglik = last?.step === fitter.steps ? last.loglik : (await fitter.evaluate()).loglik;
    const model = fitter.detach();
    const seconds = fitter.trainSeconds + fitter.evalSeconds;
    return {
      model, steps: totalSteps, loglik, trace: [...fitter.trace], seconds, evalSeconds: fitter.evalSeconds,
      stepsPerSecond: (totalSteps - first) / fitter.trainSeconds,
    };
  } finally {
    fitter.dispose();
  }
}
