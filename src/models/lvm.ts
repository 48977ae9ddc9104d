// The non-amortized latent variable model (DESIGN §1.4): a mean-field
// q_i(z) = N(m_i, diag s_i²) per data point, φ_i = {m_i, log s_i²} stored for
// every training row on the device, with a shared decoder θ. Each minibatch
// gathers its rows' φ and their own Adam moments, takes `phiSteps` Adam steps on
// them (the last one also gives θ its gradient), and scatters them back.
//
// φ's Adam step count is per point: with a permutation per epoch every row is
// visited once per epoch, so in epoch e a row is on its e·phiSteps + s + 1-th
// update, exactly Adam's bias-correction t.
//
// Test rows: fitPosterior fits their φ with θ frozen, a fixed number of Adam
// steps (default FIT_STEPS at the φ learning rate) on chunks of rows, starting
// from the prior (m = 0, log s² = 0) like the training rows. The test rows come
// through an EvalSet, so they may be in several buffers or streamed; the training
// rows may stream too (src/models/stream.ts), φ staying resident.
import { need, type Backend, type Tensor } from '../backend.ts';
import type { RowSource } from '../data/source.ts';
import type { StepInput, Trainable } from '../train/trainer.ts';
import { HostRng, mixSeed } from '../train/rng.ts';
import { AdamState } from '../train/optimizer.ts';
import { LVM_DEFAULTS } from './config.ts';
import { Decoder } from './decoder.ts';
import {
  ElboBuffers, RowWeights, STREAM, checkLatentConfig, elboForwardBackward, makeAdam, phiStride,
  priorObjectiveForwardBackward, readParamState, trainedObjective, writeParamState,
  type LatentModelConfig, type LatentVariableModel,
} from './latent.ts';
import { EvalSet } from './evaluate.ts';
import type { DeviceRows } from './rows.ts';
import { TrainRows, initialVariance, type ChunkStream, type RowsOptions } from './stream.ts';
import { ParamLayout, ParamStore } from './params.ts';

export interface LvmConfig extends LatentModelConfig {
  /** Adam learning rate of the per-point parameters */
  phiLr: number;
  /** Adam steps on a minibatch's φ per training step */
  phiSteps: number;
}

/** Adam steps on a test chunk's φ with θ frozen (fitPosterior's default, LVM_DEFAULTS.fitSteps). */
export const FIT_STEPS = LVM_DEFAULTS.fitSteps;
const FIT_CHUNK = 512;

/** The per-point model's defaults (LVM_DEFAULTS): the classic decoder 20→400→784, ReLU, Bernoulli; φ 2 steps at 0.05. */
export function defaultLvmConfig(dataDim = 784): LvmConfig {
  const { latent, hidden, act, likelihood, variance, varFloor, varCeil, objective, phiLr, phiSteps } = LVM_DEFAULTS;
  return { dataDim, latent, decoderHidden: [...hidden], act, likelihood, variance, varFloor, varCeil, objective, seed: 1, phiLr, phiSteps };
}

/** φ = {m, log s²} for n rows and their Adam moments. */
class PhiTable {
  readonly mu: Tensor;
  readonly logvar: Tensor;
  readonly m: [Tensor, Tensor];
  readonly v: [Tensor, Tensor];

  constructor(readonly backend: Backend, readonly n: number, readonly d: number, label: string) {
    const be = backend;
    this.mu = be.tensor(n * d, { label: `${label}.m` });
    this.logvar = be.tensor(n * d, { label: `${label}.logvar` });
    this.m = [be.tensor(n * d, { label: `${label}.adam.m(m)` }), be.tensor(n * d, { label: `${label}.adam.m(logvar)` })];
    this.v = [be.tensor(n * d, { label: `${label}.adam.v(m)` }), be.tensor(n * d, { label: `${label}.adam.v(logvar)` })];
  }

  tensors(): Record<string, Tensor> {
    return {
      'phi.m': this.mu, 'phi.logvar': this.logvar,
      'phi.adam.m.m': this.m[0], 'phi.adam.m.logvar': this.m[1], 'phi.adam.v.m': this.v[0], 'phi.adam.v.logvar': this.v[1],
    };
  }

  release(): void {
    for (const t of Object.values(this.tensors())) this.backend.release(t);
  }
}

/** A minibatch's φ, Adam moments, each laid out [mu | pad | logvar] for one Adam dispatch. */
class PhiBatch {
  capacity = 0;
  stride = 0;
  phi!: Tensor;
  m!: Tensor;
  v!: Tensor;
  views!: { phi: [Tensor, Tensor]; m: [Tensor, Tensor]; v: [Tensor, Tensor] };

  constructor(private readonly backend: Backend, private readonly d: number) {}

  reserve(rows: number): void {
    if (rows <= this.capacity) return;
    this.release();
    const be = this.backend;
    const S = phiStride(rows, this.d);
    const len = rows * this.d;
    const make = (name: string): [Tensor, [Tensor, Tensor]] => {
      const t = be.tensor(2 * S, { label: `batch ${name}` });
      return [t, [be.view(t, 0, len, `batch ${name}(m)`), be.view(t, S, len, `batch ${name}(logvar)`)]];
    };
    const [phi, pv] = make('phi');
    const [m, mv] = make('adam.m');
    const [v, vv] = make('adam.v');
    this.phi = phi;
    this.m = m;
    this.v = v;
    this.views = { phi: pv, m: mv, v: vv };
    this.stride = S;
    this.capacity = rows;
  }

  gather(t: PhiTable, idx: Tensor, rows: number): void {
    const be = this.backend;
    const d = this.d;
    const pairs: [Tensor, Tensor][] = [
      [t.mu, this.views.phi[0]], [t.logvar, this.views.phi[1]],
      [t.m[0], this.views.m[0]], [t.m[1], this.views.m[1]], [t.v[0], this.views.v[0]], [t.v[1], this.views.v[1]],
    ];
    for (const [src, dst] of pairs) be.gatherRows({ src, idx, dst, rows, cols: d });
  }

  scatter(t: PhiTable, idx: Tensor, rows: number): void {
    const be = this.backend;
    const d = this.d;
    const pairs: [Tensor, Tensor][] = [
      [this.views.phi[0], t.mu], [this.views.phi[1], t.logvar],
      [this.views.m[0], t.m[0]], [this.views.m[1], t.m[1]], [this.views.v[0], t.v[0]], [this.views.v[1], t.v[1]],
    ];
    for (const [src, dst] of pairs) be.scatterRows({ src, idx, dst, rows, cols: d });
  }

  release(): void {
    if (!this.capacity) return;
    for (const t of [this.phi, this.m, this.v]) this.backend.release(t);
    this.capacity = 0;
  }
}

export class Lvm implements Trainable, LatentVariableModel {
  readonly layout = new ParamLayout();
  readonly decoder: Decoder;
  readonly store: ParamStore;
  readonly adam: AdamState;
  readonly train: TrainRows;
  readonly rows: number;
  readonly phi: PhiTable;
  readonly buf: ElboBuffers;
  private readonly batch: PhiBatch;
  private readonly weights: RowWeights;
  private readonly phiAdam: AdamState;
  /** the table posterior() reads: the training rows, or the last fitted evaluation rows */
  private evalTable: PhiTable;

  /** trainX: n×D rows, or a RowSource (resident or streamed by `opts.memory`, as for the VAE) */
  constructor(readonly backend: Backend, readonly cfg: LvmConfig, trainX: Float32Array | RowSource, n?: number,
    opts: RowsOptions & { columnVariance?: Float32Array } = {}) {
    checkLatentConfig(cfg);
    const source = TrainRows.source(trainX, n, cfg.dataDim, 'Lvm');
    need(source.n > 0, 'Lvm', 'the training data have no rows');
    need(cfg.phiLr > 0, 'Lvm', `phiLr must be positive, got ${cfg.phiLr}`);
    need(Number.isInteger(cfg.phiSteps) && cfg.phiSteps >= 1, 'Lvm', `phiSteps must be a positive integer, got ${cfg.phiSteps}`);
    const d = cfg.latent;
    this.decoder = new Decoder(backend, {
      latent: d, dataDim: cfg.dataDim, hidden: cfg.decoderHidden, act: cfg.act, likelihood: cfg.likelihood,
      variance: cfg.variance, varFloor: cfg.varFloor, varCeil: cfg.varCeil,
    }, this.layout);
    const host = this.layout.zeros();
    this.decoder.initHost(host, this.layout, new HostRng(mixSeed(cfg.seed, 0x1417)),
      cfg.likelihood === 'gaussian' ? initialVariance(source, opts.columnVariance) : undefined);
    this.store = new ParamStore(backend, this.layout, host);
    this.decoder.bind(this.store);
    this.adam = makeAdam(backend, this.layout, cfg.adam);
    // the moment buffers are the batch's own; only the hyperparameters are used
    this.phiAdam = new AdamState(backend, 1, cfg.adam, 'phi.adam.cfg');
    this.train = new TrainRows(backend, source, opts);
    this.rows = source.n;
    this.phi = new PhiTable(backend, source.n, d, 'phi');
    this.evalTable = this.phi;
    this.buf = new ElboBuffers(backend, cfg.dataDim, d);
    this.batch = new PhiBatch(backend, d);
    this.weights = new RowWeights(backend);
  }

  /** the resident training rows (an error when they stream) */
  get data(): DeviceRows { return this.train.rows; }
  get stream(): ChunkStream | null { return this.train.stream; }
  get latent(): number { return this.cfg.latent; }
  get dataDim(): number { return this.cfg.dataDim; }
  get params(): Tensor { return this.store.params; }

  step(s: StepInput): void {
    const be = this.backend;
    const { rows } = s;
    const d = this.cfg.latent;
    const ps = this.cfg.phiSteps;
    this.buf.reserve(rows);
    this.batch.reserve(rows);
    this.train.gather(s, this.buf.x);
    this.batch.gather(this.phi, s.idx, rows);
    const prior = this.cfg.objective === 'prior';
    for (let k = 0; k < ps; k++) {
      const last = k === ps - 1;
      if (last) this.store.zeroGrads();
      elboForwardBackward(be, this.decoder, this.buf, this.weights, this.batch.views.phi[0], this.batch.views.phi[1], rows, d,
        { seed: this.cfg.seed, stream: STREAM.trainEps, counter: s.step * ps + k },
        last && !prior ? s.sumLogLik : null, last ? s.sumKl : null, last && !prior);
      this.phiUpdate(rows, this.cfg.phiLr, s.epoch * ps + k + 1);
    }
    if (prior) {
      priorObjectiveForwardBackward(be, this.decoder, this.buf, this.weights, rows, d,
        { seed: this.cfg.seed, stream: STREAM.priorZ, counter: s.step }, s.sumLogLik);
    }
    this.store.finishGrads();
    this.adam.apply(this.store.params, this.store.grads, s.lr, s.step + 1);
    this.batch.scatter(this.phi, s.idx, rows);
  }

  /** Adam on the gathered φ of `rows` rows, both halves in one dispatch. */
  private phiUpdate(rows: number, lr: number, t: number): void {
    const S = this.batch.stride;
    need(this.buf.phiStride === S, 'Lvm', 'batch and gradient layouts differ');
    this.phiAdam.apply(this.batch.phi, this.buf.dPhi, lr, t, S + rows * this.cfg.latent, this.batch.m, this.batch.v);
  }

  objective(sumLogLik: number, sumKl: number, count: number): number {
    return trainedObjective(this.cfg.objective, sumLogLik, sumKl, count);
  }

  /**
   * Fits φ for the n evaluation rows x with θ frozen: `steps` Adam steps (lr:
   * the φ learning rate) on each chunk of rows, from the prior. posterior()
   * then reads these rows. x: n×D rows, or an EvalSet (rows in several buffers or
   * streamed). Returns after the work is submitted.
   */
  async fitPosterior(x: Float32Array | EvalSet, n: number, opts: { steps?: number; lr?: number; seed?: number } = {}): Promise<void> {
    const D = this.cfg.dataDim;
    if (x instanceof EvalSet) {
      need(x.n === n && x.D === D, 'Lvm.fitPosterior', `the set holds ${x.n} rows of ${x.D}, not ${n}×${D}`);
      return this.fitSet(x, opts);
    }
    need(x.length === n * D && n > 0, 'Lvm.fitPosterior', `data has ${x.length} values, not ${n}×${D}`);
    const set = new EvalSet(this.backend, { x, n }, D);
    try {
      await this.fitSet(set, opts);
    } finally {
      set.release();
    }
  }

  private async fitSet(set: EvalSet, opts: { steps?: number; lr?: number; seed?: number }): Promise<void> {
    const be = this.backend;
    const d = this.cfg.latent;
    const n = set.n;
    const steps = opts.steps ?? FIT_STEPS;
    const lr = opts.lr ?? this.cfg.phiLr;
    if (this.evalTable !== this.phi) this.evalTable.release();
    const table = new PhiTable(be, n, d, 'eval phi');
    this.evalTable = table;
    const chunk = Math.min(FIT_CHUNK, n);
    this.buf.reserve(chunk);
    this.batch.reserve(chunk);
    const idx = be.tensor(chunk, { dtype: 'u32', label: 'eval rows' });
    for (let start = 0, c = 0; start < n; start += chunk, c++) {
      const rows = Math.min(chunk, n - start);
      await set.gather(idx, Uint32Array.from({ length: rows }, (_, i) => start + i), this.buf.x);
      this.batch.gather(table, idx, rows);
      for (let t = 0; t < steps; t++) {
        elboForwardBackward(be, this.decoder, this.buf, this.weights, this.batch.views.phi[0], this.batch.views.phi[1], rows, d,
          { seed: opts.seed ?? this.cfg.seed, stream: STREAM.fitEps, counter: c * steps + t }, null, null, false);
        this.phiUpdate(rows, lr, t + 1);
        be.flush();
      }
      this.batch.scatter(table, idx, rows);
      // keep the queue short: one chunk in flight
      await be.finish();
    }
    be.release(idx);
  }

  /** Reads the training rows' φ again (after fitPosterior). */
  useTrainingPosterior(): void {
    if (this.evalTable !== this.phi) this.evalTable.release();
    this.evalTable = this.phi;
  }

  posterior(_x: Tensor, idx: Tensor, rows: number, mu: Tensor, logvar: Tensor): void {
    need(rows <= this.evalTable.n, 'Lvm.posterior', `${rows} rows, but the fitted table holds ${this.evalTable.n}`);
    this.backend.gatherRows({ src: this.evalTable.mu, idx, dst: mu, rows, cols: this.cfg.latent });
    this.backend.gatherRows({ src: this.evalTable.logvar, idx, dst: logvar, rows, cols: this.cfg.latent });
  }

  async state(): Promise<Record<string, Float32Array>> {
    const s = await readParamState(this.store, this.adam);
    for (const [k, t] of Object.entries(this.phi.tensors())) s[k] = await this.backend.read(t);
    return s;
  }

  /** Loads trained parameters only (evaluation); the optimizer state is left as is. */
  loadParams(params: Float32Array): void {
    need(params.length === this.layout.size, 'loadParams',
      `the model file holds ${params.length} parameters, this architecture needs ${this.layout.size}`);
    this.backend.upload(this.store.params, params);
  }

  loadState(s: Record<string, Float32Array>): void {
    writeParamState(this.store, this.adam, s);
    for (const [k, t] of Object.entries(this.phi.tensors())) {
      const a = s[k];
      need(a !== undefined && a.length === t.length, 'loadState', `'${k}' needs ${t.length} values (${this.rows} rows × ${this.cfg.latent})`);
      this.backend.upload(t, a);
    }
  }

  release(): void {
    this.useTrainingPosterior();
    this.decoder.releaseBuffers();
    this.buf.release();
    this.batch.release();
    this.weights.release();
    this.store.release();
    this.adam.release();
    this.phiAdam.release();
    this.phi.release();
    this.train.release();
  }
}
