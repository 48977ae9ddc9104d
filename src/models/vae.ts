// The variational autoencoder (DESIGN §1.5): an encoder MLP gives m(x) and
// log s²(x), z = m + ε ∘ s, a decoder gives p(x | z); encoder φ and decoder θ
// are trained jointly on minibatches by maximising the ELBO. With objective
// 'prior' the decoder is trained on the seed's bad estimate Σ log p(x | ẑ),
// ẑ ~ p(z), while the encoder still fits q by the ELBO (with the decoder's
// gradient from it discarded) so that the resulting decoder's test ELBO and
// IWAE can be measured and set against the ELBO-trained one.
import { need, type Backend, type Tensor } from '../backend.ts';
import type { Trainable, StepInput } from '../train/trainer.ts';
import { HostRng, mixSeed } from '../train/rng.ts';
import type { AdamState } from '../train/optimizer.ts';
import { VAE_DEFAULTS } from './config.ts';
import { Decoder } from './decoder.ts';
import {
  ElboBuffers, RowWeights, STREAM, checkLatentConfig, elboForwardBackward, makeAdam,
  priorObjectiveForwardBackward, readParamState, trainedObjective, writeParamState,
  type LatentModelConfig, type LatentVariableModel,
} from './latent.ts';
import type { DeviceRows } from './rows.ts';
import { TrainRows, initialVariance, type ChunkStream, type RowsOptions } from './stream.ts';
import type { RowSource } from '../data/source.ts';
import { HeadedMlp } from './mlp.ts';
import { ParamLayout, ParamStore } from './params.ts';

export interface VaeConfig extends LatentModelConfig {
  encoderHidden: number[];
}

/** The classic architecture (VAE_DEFAULTS): 784→400→(20, 20), 20→400→784, ReLU, Bernoulli. */
export function classicVaeConfig(dataDim = 784): VaeConfig {
  const { latent, hidden, act, likelihood, variance, varFloor, varCeil, objective } = VAE_DEFAULTS;
  return {
    dataDim, latent, encoderHidden: [...hidden], decoderHidden: [...hidden].reverse(), act,
    likelihood, variance, varFloor, varCeil, objective, seed: 1,
  };
}

export class Vae implements Trainable, LatentVariableModel {
  readonly layout = new ParamLayout();
  readonly encoder: HeadedMlp;
  readonly decoder: Decoder;
  readonly store: ParamStore;
  readonly adam: AdamState;
  /** training rows, n×D: on the device, or streamed chunk by chunk */
  readonly train: TrainRows;
  readonly rows: number;
  /** minibatch buffers (x, eps, z, ...) of the last step, exposed for tests */
  readonly buf: ElboBuffers;
  private readonly weights: RowWeights;

  /**
   * trainX: the n×D training rows (uploaded once), or a RowSource whose rows go
   * resident or stream by `opts.memory` (src/models/stream.ts). The Gaussian
   * decoder's variance starts at their per-column variance (`opts.columnVariance`
   * when the rows are not in memory: sourceColumnVariance computes it).
   */
  constructor(readonly backend: Backend, readonly cfg: VaeConfig, trainX: Float32Array | RowSource, n?: number,
    opts: RowsOptions & { columnVariance?: Float32Array } = {}) {
    checkLatentConfig(cfg);
    const source = TrainRows.source(trainX, n, cfg.dataDim, 'Vae');
    const d = cfg.latent;
    this.encoder = new HeadedMlp(backend, 'enc', cfg.dataDim, cfg.encoderHidden, cfg.act,
      [{ name: 'mu', dim: d }, { name: 'logvar', dim: d }], this.layout);
    this.decoder = new Decoder(backend, {
      latent: d, dataDim: cfg.dataDim, hidden: cfg.decoderHidden, act: cfg.act, likelihood: cfg.likelihood,
      variance: cfg.variance, varFloor: cfg.varFloor, varCeil: cfg.varCeil,
    }, this.layout);
    const host = this.layout.zeros();
    const rng = new HostRng(mixSeed(cfg.seed, 0x1417));
    this.encoder.initHost(host, this.layout, rng);
    this.decoder.initHost(host, this.layout, rng, cfg.likelihood === 'gaussian' ? initialVariance(source, opts.columnVariance) : undefined);
    this.store = new ParamStore(backend, this.layout, host);
    this.encoder.bind(this.store);
    this.decoder.bind(this.store);
    this.adam = makeAdam(backend, this.layout, cfg.adam);
    this.train = new TrainRows(backend, source, opts);
    this.rows = source.n;
    this.buf = new ElboBuffers(backend, cfg.dataDim, d);
    this.weights = new RowWeights(backend);
  }

  /** the resident training rows (an error when they stream) */
  get data(): DeviceRows { return this.train.rows; }
  get stream(): ChunkStream | null { return this.train.stream; }
  get latent(): number { return this.cfg.latent; }
  get dataDim(): number { return this.cfg.dataDim; }
  get params(): Tensor { return this.store.params; }

  /** Records one training step on the minibatch idx (see Trainable). */
  step(s: StepInput): void {
    this.gradients(s);
    this.adam.apply(this.store.params, this.store.grads, s.lr, s.step + 1);
  }

  /**
   * Gathers the minibatch and leaves the gradient of the minimised loss
   * −(1/rows) Σ_i [log p(x_i|z_i) − KL_i] (or the prior objective's) in store.grads;
   * ε is drawn from the key (seed, trainEps, step).
   */
  gradients(s: Pick<StepInput, 'idx' | 'idxHost' | 'rows' | 'chunk' | 'step' | 'sumLogLik' | 'sumKl'>): void {
    const be = this.backend;
    const { rows } = s;
    const d = this.cfg.latent;
    this.buf.reserve(rows);
    this.store.zeroGrads();
    this.train.gather(s, this.buf.x);
    const [mu, logvar] = this.encoder.forward(this.buf.x, rows);
    const prior = this.cfg.objective === 'prior';
    elboForwardBackward(be, this.decoder, this.buf, this.weights, mu!, logvar!, rows, d,
      { seed: this.cfg.seed, stream: STREAM.trainEps, counter: s.step },
      prior ? null : s.sumLogLik, s.sumKl, !prior);
    this.encoder.backward(this.buf.x, rows, [this.buf.dMu, this.buf.dLogvar]);
    if (prior) {
      priorObjectiveForwardBackward(be, this.decoder, this.buf, this.weights, rows, d,
        { seed: this.cfg.seed, stream: STREAM.priorZ, counter: s.step }, s.sumLogLik);
    }
    this.store.finishGrads();
  }

  objective(sumLogLik: number, sumKl: number, count: number): number {
    return trainedObjective(this.cfg.objective, sumLogLik, sumKl, count);
  }

  posterior(x: Tensor, _idx: Tensor, rows: number, mu: Tensor, logvar: Tensor): void {
    const [m, lv] = this.encoder.forward(x, rows);
    this.backend.copy({ src: m!, dst: mu, n: rows * this.cfg.latent });
    this.backend.copy({ src: lv!, dst: logvar, n: rows * this.cfg.latent });
  }

  async state(): Promise<Record<string, Float32Array>> {
    return readParamState(this.store, this.adam);
  }

  /** Loads trained parameters only (evaluation); the optimizer state is left as is. */
  loadParams(params: Float32Array): void {
    need(params.length === this.layout.size, 'loadParams',
      `the model file holds ${params.length} parameters, this architecture needs ${this.layout.size}`);
    this.backend.upload(this.store.params, params);
  }

  loadState(s: Record<string, Float32Array>): void {
    writeParamState(this.store, this.adam, s);
  }

  release(): void {
    this.encoder.releaseBuffers();
    this.decoder.releaseBuffers();
    this.buf.release();
    this.weights.release();
    this.store.release();
    this.adam.release();
    this.train.release();
  }
}
