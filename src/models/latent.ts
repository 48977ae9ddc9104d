// What the VAE and the per-point model share: the decoder θ in one flat
// parameter buffer with its Adam state, the training data on the device, the
// per-row loss weights, and the ELBO terms (DESIGN §1.3–1.5) as named steps.
import { VIEW_ALIGN, need, type Backend, type Tensor } from '../backend.ts';
import type { Activation, RngKey } from '../kernels.ts';
import { AdamState, DEFAULT_ADAM, type AdamConfig } from '../train/optimizer.ts';
import { Decoder, type Likelihood, type VarianceMode } from './decoder.ts';
import type { ParamLayout, ParamStore } from './params.ts';

export type Objective = 'elbo' | 'prior';

/** Counter-RNG streams: each use of randomness has its own, the counter is the step. */
export const STREAM = {
  trainEps: 1,
  priorZ: 2,
  evalEps: 3,
  iwaeEps: 4,
  samples: 5,
  fitEps: 6,
} as const;

export interface LatentModelConfig {
  dataDim: number;
  latent: number;
  decoderHidden: number[];
  act: Activation;
  likelihood: Likelihood;
  variance: VarianceMode;
  varFloor: number;
  varCeil: number;
  objective: Objective;
  seed: number;
  adam?: AdamConfig;
}

/** The model half every latent model can be evaluated through (src/models/evaluate.ts). */
export interface LatentVariableModel {
  readonly backend: Backend;
  readonly decoder: Decoder;
  readonly latent: number;
  readonly dataDim: number;
  /**
   * q(z | x) for a chunk of evaluation rows: x (rows×D) holds the rows, idx
   * their row numbers in the evaluation set; writes mu and logvar (rows×latent).
   */
  posterior(x: Tensor, idx: Tensor, rows: number, mu: Tensor, logvar: Tensor): void;
}

/**
 * Per-column variance of row-major n×D data (for the Gaussian decoder's initial
 * variance), two-pass: E[x²] − m² cancels catastrophically on a large offset.
 */
export function columnVariance(x: Float32Array, n: number, D: number): Float32Array {
  const mean = new Float64Array(D);
  for (let i = 0; i < n; i++) for (let j = 0; j < D; j++) mean[j]! += x[i * D + j]!;
  for (let j = 0; j < D; j++) mean[j]! /= n;
  const sq = new Float64Array(D);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < D; j++) {
      const d = x[i * D + j]! - mean[j]!;
      sq[j]! += d * d;
    }
  }
  return Float32Array.from(sq, (v) => v / n);
}

/** Per-row loss weights ∓1/rows, cached per row count (minibatches and the last, ragged one). */
export class RowWeights {
  private readonly cache = new Map<number, { negInv: Tensor; posInv: Tensor }>();
  constructor(private readonly backend: Backend) {}

  get(rows: number): { negInv: Tensor; posInv: Tensor } {
    let w = this.cache.get(rows);
    if (!w) {
      w = {
        negInv: this.backend.tensor(rows, { label: `−1/${rows}`, data: new Float32Array(rows).fill(-1 / rows) }),
        posInv: this.backend.tensor(rows, { label: `1/${rows}`, data: new Float32Array(rows).fill(1 / rows) }),
      };
      this.cache.set(rows, w);
    }
    return w;
  }

  release(): void {
    for (const w of this.cache.values()) {
      this.backend.release(w.negInv);
      this.backend.release(w.posInv);
    }
    this.cache.clear();
  }
}

/** rows×d rounded up to a view boundary: where the log-variance half starts in [mu | logvar] buffers */
export function phiStride(rows: number, d: number): number {
  return Math.ceil((rows * d) / VIEW_ALIGN) * VIEW_ALIGN;
}

/** Minibatch working buffers of the ELBO step. */
export class ElboBuffers {
  capacity = 0;
  x!: Tensor;
  eps!: Tensor;
  z!: Tensor;
  logLik!: Tensor;
  kl!: Tensor;
  dz!: Tensor;
  /** dMu and dLogvar as two views of one tensor [dMu | pad | dLogvar], so one Adam dispatch covers both */
  dPhi!: Tensor;
  dMu!: Tensor;
  dLogvar!: Tensor;
  /** offset of dLogvar in dPhi */
  phiStride = 0;

  constructor(private readonly backend: Backend, private readonly D: number, private readonly d: number) {}

  reserve(rows: number): void {
    if (rows <= this.capacity) return;
    if (this.capacity) this.release();
    const be = this.backend;
    this.x = be.tensor(rows * this.D, { label: 'batch x' });
    this.eps = be.tensor(rows * this.d, { label: 'eps' });
    this.z = be.tensor(rows * this.d, { label: 'z' });
    this.logLik = be.tensor(rows, { label: 'log p(x|z)' });
    this.kl = be.tensor(rows, { label: 'KL(q‖p)' });
    this.dz = be.tensor(rows * this.d, { label: 'dz' });
    this.phiStride = phiStride(rows, this.d);
    this.dPhi = be.tensor(2 * this.phiStride, { label: 'dphi' });
    this.dMu = be.view(this.dPhi, 0, rows * this.d, 'dmu');
    this.dLogvar = be.view(this.dPhi, this.phiStride, rows * this.d, 'dlogvar');
    this.capacity = rows;
  }

  release(): void {
    if (!this.capacity) return;
    for (const t of [this.x, this.eps, this.z, this.logLik, this.kl, this.dz, this.dPhi]) this.backend.release(t);
    this.capacity = 0;
  }
}

export function checkLatentConfig(cfg: LatentModelConfig): void {
  need(Number.isInteger(cfg.latent) && cfg.latent > 0, 'model', `latent must be a positive integer, got ${cfg.latent}`);
  need(Number.isInteger(cfg.dataDim) && cfg.dataDim > 0, 'model', `dataDim must be a positive integer, got ${cfg.dataDim}`);
  need(cfg.likelihood === 'bernoulli' || cfg.likelihood === 'gaussian', 'model', `likelihood must be bernoulli or gaussian, got ${cfg.likelihood}`);
  need(cfg.objective === 'elbo' || cfg.objective === 'prior', 'model', `objective must be elbo or prior, got ${cfg.objective}`);
  need(cfg.variance === 'vector' || cfg.variance === 'output', 'model', `variance must be vector or output, got ${cfg.variance}`);
}

/**
 * The ELBO's reconstruction and KL terms of one minibatch, forward and backward:
 * z = mu + eps ∘ exp(½ logvar), log p(x|z), KL(q‖p), and the gradient of
 * −(1/rows) Σ_i [log p(x_i|z_i) − KL_i] into the decoder's parameters and into
 * dMu, dLogvar (buf.dMu / buf.dLogvar). decoderGrads = false propagates
 * through the decoder without touching its gradients (the prior objective).
 */
export function elboForwardBackward(
  be: Backend, decoder: Decoder, buf: ElboBuffers, weights: RowWeights,
  mu: Tensor, logvar: Tensor, rows: number, d: number, key: RngKey,
  sumLogLik: Tensor | null, sumKl: Tensor | null, decoderGrads: boolean,
): void {
  const w = weights.get(rows);
  be.reparamDiag({ m: mu, logvar, eps: buf.eps, z: buf.z, rows, cols: d, key });
  decoder.forward(buf.z, rows);
  decoder.logLik(buf.x, rows, buf.logLik);
  be.klStdNormal({ m: mu, logvar, out: buf.kl, rows, cols: d });
  if (sumLogLik) be.sumAll({ x: buf.logLik, out: sumLogLik, n: rows, accumulate: true });
  if (sumKl) be.sumAll({ x: buf.kl, out: sumKl, n: rows, accumulate: true });
  decoder.backward(buf.x, buf.z, rows, w.negInv, buf.dz, { paramGrads: decoderGrads });
  be.reparamDiagBackward({ dz: buf.dz, eps: buf.eps, logvar, dM: buf.dMu, dLogvar: buf.dLogvar, rows, cols: d });
  be.klStdNormalBackward({ m: mu, logvar, dOut: w.posInv, dM: buf.dMu, dLogvar: buf.dLogvar, rows, cols: d, accumulate: true });
}

/**
 * The seed's bad estimate (DESIGN §1.3): −(1/rows) Σ_i log p(x_i | ẑ_i), ẑ_i ~ p(z),
 * forward and backward into the decoder's parameters only.
 */
export function priorObjectiveForwardBackward(
  be: Backend, decoder: Decoder, buf: ElboBuffers, weights: RowWeights,
  rows: number, d: number, key: RngKey, sumLogLik: Tensor | null,
): void {
  be.normal({ out: buf.z, n: rows * d, key });
  decoder.forward(buf.z, rows);
  decoder.logLik(buf.x, rows, buf.logLik);
  if (sumLogLik) be.sumAll({ x: buf.logLik, out: sumLogLik, n: rows, accumulate: true });
  decoder.backward(buf.x, buf.z, rows, weights.get(rows).negInv, undefined);
}

export function trainedObjective(objective: Objective, sumLogLik: number, sumKl: number, count: number): number {
  return objective === 'elbo' ? (sumLogLik - sumKl) / count : sumLogLik / count;
}

export function makeAdam(be: Backend, layout: ParamLayout, cfg?: AdamConfig, label = 'adam'): AdamState {
  return new AdamState(be, layout.size, cfg ?? DEFAULT_ADAM, label);
}

/** params, and Adam moments, as host arrays for a checkpoint */
export async function readParamState(store: ParamStore, adam: AdamState): Promise<Record<string, Float32Array>> {
  const be = store.backend;
  return { params: await be.read(store.params), 'adam.m': await be.read(adam.m), 'adam.v': await be.read(adam.v) };
}

export function writeParamState(store: ParamStore, adam: AdamState, s: Record<string, Float32Array>): void {
  const be = store.backend;
  for (const [name, t] of [['params', store.params], ['adam.m', adam.m], ['adam.v', adam.v]] as const) {
    const a = s[name];
    need(a !== undefined, 'loadState', `the state has no '${name}' tensor`);
    need(a.length === store.layout.size, 'loadState',
      `'${name}' has ${a.length} values, this architecture needs ${store.layout.size}`);
    be.upload(t, a);
  }
}

/**
 * The same decoder with the prior N(0, I) as q: IWAE through it is the prior
 * Monte-Carlo estimate log (1/K) Σ_k p(x | z_k), z_k ~ p(z), and the ELBO through it
 * is the seed's prior Jensen bound E_p log p(x | z) (DESIGN §1.6).
 */
export class PriorProposal implements LatentVariableModel {
  constructor(private readonly inner: LatentVariableModel) {}
  get backend(): Backend { return this.inner.backend; }
  get decoder(): Decoder { return this.inner.decoder; }
  get latent(): number { return this.inner.latent; }
  get dataDim(): number { return this.inner.dataDim; }
  posterior(_x: Tensor, _idx: Tensor, rows: number, mu: Tensor, logvar: Tensor): void {
    this.backend.fill({ x: mu, n: rows * this.latent, value: 0 });
    this.backend.fill({ x: logvar, n: rows * this.latent, value: 0 });
  }
}
