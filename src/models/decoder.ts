// The generative half shared by the VAE and the per-point model (DESIGN §1.3):
// a decoder MLP z → parameters of p(x | z), with a Bernoulli (logits) or a
// diagonal Gaussian likelihood.
//
// Gaussian variance floor: the log-variance is never a free parameter; it is
//   log σ² = log σ²_min + (log σ²_max − log σ²_min) · sigmoid(raw),
// so σ² stays in [σ²_min, σ²_max] smoothly and cannot collapse onto pixels that
// are constant in the data (117 MNIST pixels are 0 in every training row: there
// σ² runs to the floor and the floor decides the nats, so every Gaussian figure
// must quote it). raw is either a learned per-dimension vector ('vector') or a
// second decoder head ('output'); the vector is initialised from the per-pixel
// data variance so it does not start far from its optimum (DESIGN §1.3).
import { need, type Backend, type Tensor } from '../backend.ts';
import type { Activation } from '../kernels.ts';
import type { HostRng } from '../train/rng.ts';
import { HeadedMlp } from './mlp.ts';
import type { ParamLayout, ParamStore } from './params.ts';

export type Likelihood = 'bernoulli' | 'gaussian';
export type VarianceMode = 'vector' | 'output';

export interface DecoderConfig {
  latent: number;
  dataDim: number;
  hidden: readonly number[];
  act: Activation;
  likelihood: Likelihood;
  /** Gaussian only: per-dimension learned vector, or a decoder output */
  variance: VarianceMode;
  /** Gaussian only: σ²_min and σ²_max */
  varFloor: number;
  varCeil: number;
}

export const DEFAULT_VAR_FLOOR = 1e-3;
export const DEFAULT_VAR_CEIL = 4;

export class Decoder {
  readonly net: HeadedMlp;
  private readonly lvMin: number;
  private readonly lvRange: number;
  private store: ParamStore | null = null;
  private capacity = 0;
  // Gaussian working buffers: sigmoid(raw), the log-variance, dLoss/d(log-variance), dLoss/d(mean)
  private sg: Tensor | null = null;
  private lv: Tensor | null = null;
  private dLv: Tensor | null = null;
  private dMean: Tensor | null = null;
  private dRawHead: Tensor | null = null;
  private probs: Tensor | null = null;

  constructor(readonly backend: Backend, readonly cfg: DecoderConfig, layout: ParamLayout) {
    const gauss = cfg.likelihood === 'gaussian';
    if (gauss) {
      need(cfg.varFloor > 0 && cfg.varCeil > cfg.varFloor, 'Decoder',
        `the Gaussian variance bounds need 0 < floor < ceiling, got floor ${cfg.varFloor}, ceiling ${cfg.varCeil}`);
    }
    this.lvMin = Math.log(cfg.varFloor);
    this.lvRange = Math.log(cfg.varCeil) - this.lvMin;
    const heads = [{ name: 'mean', dim: cfg.dataDim }];
    if (gauss && cfg.variance === 'output') heads.push({ name: 'logvar', dim: cfg.dataDim });
    this.net = new HeadedMlp(backend, 'dec', cfg.latent, cfg.hidden, cfg.act, heads, layout);
    if (gauss && cfg.variance === 'vector') layout.add('dec.logvar', [cfg.dataDim]);
  }

  get gaussian(): boolean { return this.cfg.likelihood === 'gaussian'; }
  private get perRowVariance(): boolean { return this.gaussian && this.cfg.variance === 'output'; }

  /** raw such that the bounded log-variance equals log v (clamped inside the bounds) */
  rawForVariance(v: number): number {
    const p = Math.min(1 - 1e-4, Math.max(1e-4, (Math.log(Math.max(v, 1e-30)) - this.lvMin) / this.lvRange));
    return Math.log(p / (1 - p));
  }

  /** dataVariance: per-dimension variance of the training data (Gaussian only). */
  initHost(host: Float32Array, layout: ParamLayout, rng: HostRng, dataVariance?: Float32Array): void {
    this.net.initHost(host, layout, rng);
    if (!this.gaussian) return;
    need(dataVariance !== undefined && dataVariance.length === this.cfg.dataDim, 'Decoder',
      `a Gaussian decoder is initialised from the per-dimension data variance (${this.cfg.dataDim} values)`);
    const raw = this.cfg.variance === 'vector' ? layout.slice(host, 'dec.logvar') : layout.slice(host, 'dec.logvar.0.b');
    for (let j = 0; j < raw.length; j++) raw[j] = this.rawForVariance(dataVariance[j]!);
    if (this.cfg.variance === 'output') {
      // start close to the homoscedastic model: small weights on the variance head
      const w = layout.slice(host, 'dec.logvar.0.W');
      for (let i = 0; i < w.length; i++) w[i]! *= 0.1;
    }
  }

  bind(store: ParamStore): void {
    this.store = store;
    this.net.bind(store);
  }

  reserve(rows: number): void {
    this.net.reserve(rows);
    if (rows <= this.capacity) return;
    const be = this.backend;
    for (const t of [this.sg, this.lv, this.dLv, this.dMean, this.dRawHead, this.probs]) if (t) be.release(t);
    const D = this.cfg.dataDim;
    const lvLen = this.perRowVariance ? rows * D : D;
    this.probs = null;
    if (this.gaussian) {
      this.sg = be.tensor(lvLen, { label: 'dec.sigmoid(raw)' });
      this.lv = be.tensor(lvLen, { label: 'dec.logvar' });
      this.dLv = be.tensor(lvLen, { label: 'dec.dlogvar' });
      this.dRawHead = this.perRowVariance ? be.tensor(rows * D, { label: 'dec.draw' }) : null;
    }
    this.dMean = be.tensor(rows * D, { label: 'dec.dmean' });
    this.capacity = rows;
  }

  /** Decodes z (rows×latent); returns the mean head (logits for Bernoulli). */
  forward(z: Tensor, rows: number): Tensor {
    this.reserve(rows);
    const outs = this.net.forward(z, rows);
    if (this.gaussian) {
      const raw = this.perRowVariance ? outs[1]! : this.store!.param('dec.logvar');
      const n = this.perRowVariance ? rows * this.cfg.dataDim : this.cfg.dataDim;
      this.backend.activation({ x: raw, y: this.sg!, n, act: 'sigmoid' });
      this.backend.fill({ x: this.lv!, n, value: this.lvMin });
      this.backend.axpy({ x: this.sg!, y: this.lv!, n, alpha: this.lvRange });
    }
    return outs[0]!;
  }

  /** out[i] = log p(x_i | z_i) for the last forward. */
  logLik(x: Tensor, rows: number, out: Tensor): void {
    const mean = this.net.heads[0]!.output;
    const cols = this.cfg.dataDim;
    if (this.gaussian) {
      this.backend.gaussianLogDensity({
        x, mu: mean, logvar: this.lv!, out, rows, cols, logvarMode: this.perRowVariance ? 'element' : 'column',
      });
    } else {
      this.backend.bernoulliLogLik({ x, logits: mean, out, rows, cols });
    }
  }

  /**
   * Backward of Σ_i dOut[i] · log p(x_i | z_i) for the last forward(z, rows):
   * accumulates the decoder's parameter gradients (unless paramGrads is false)
   * and writes (or adds, with accumulateDz) dz.
   */
  backward(x: Tensor, z: Tensor, rows: number, dOut: Tensor, dz: Tensor | undefined,
    opts: { paramGrads?: boolean; accumulateDz?: boolean } = {}): void {
    const be = this.backend;
    const D = this.cfg.dataDim;
    const mean = this.net.heads[0]!.output;
    const paramGrads = opts.paramGrads ?? true;
    let dRaw: Tensor | null = null;
    if (this.gaussian) {
      const mode = this.perRowVariance ? 'element' : 'column';
      const n = this.perRowVariance ? rows * D : D;
      be.gaussianLogDensityBackward({
        x, mu: mean, logvar: this.lv!, dOut, dMu: this.dMean!, dLogvar: this.dLv!, rows, cols: D, logvarMode: mode,
      });
      // chain rule through log σ² = lvMin + range · sigmoid(raw)
      be.scale({ x: this.dLv!, n, alpha: this.lvRange });
      if (this.perRowVariance) {
        dRaw = this.dRawHead!;
        be.activationBackward({ y: this.sg!, dy: this.dLv!, dx: dRaw, n, act: 'sigmoid' });
      } else if (paramGrads) {
        const t = this.store!.gradTarget('dec.logvar');
        be.activationBackward({ y: this.sg!, dy: this.dLv!, dx: t.grad, n, act: 'sigmoid', accumulate: t.accumulate });
      }
    } else {
      be.bernoulliLogLikBackward({ x, logits: mean, dOut, dLogits: this.dMean!, rows, cols: D });
    }
    const dHeads = this.perRowVariance ? [this.dMean!, dRaw] : [this.dMean!];
    this.net.backward(z, rows, dHeads, { dInput: dz, accumulateInput: opts.accumulateDz, paramGrads });
  }

  /** E[x | z] of the last forward, rows×dataDim: sigmoid(logits) or the Gaussian mean. */
  expectation(rows: number): Tensor {
    const mean = this.net.heads[0]!.output;
    if (this.gaussian) return mean;
    if (!this.probs) this.probs = this.backend.tensor(this.capacity * this.cfg.dataDim, { label: 'dec.probs' });
    this.backend.activation({ x: mean, y: this.probs, n: rows * this.cfg.dataDim, act: 'sigmoid' });
    return this.probs;
  }

  /** The current per-dimension variance bounds, for reports. */
  get varianceBounds(): { floor: number; ceiling: number } {
    return { floor: this.cfg.varFloor, ceiling: this.cfg.varCeil };
  }

  releaseBuffers(): void {
    this.net.releaseBuffers();
    for (const t of [this.sg, this.lv, this.dLv, this.dMean, this.dRawHead, this.probs]) if (t) this.backend.release(t);
    this.sg = this.lv = this.dLv = this.dMean = this.dRawHead = this.probs = null;
    this.capacity = 0;
  }
}
