// An independent reference for the classic VAE (DESIGN §1.5) in TensorFlow.js:
// the forward pass is written with tf ops, and the gradients and the Adam step
// come from TF.js (tf.train.adam + its autodiff), not from latentgpu's kernels.
// It exists to check latentgpu's test ELBO / IWAE figures against a second
// implementation of the same model, and as the TF.js side of the VAE throughput
// benchmarks.
//
// The model matches src/models/vae.ts + decoder.ts: encoder D→hidden→(m, log s²),
// ReLU, decoder d→hidden→D Bernoulli logits, one-sample reparameterisation,
// loss = −(1/rows) Σ_i [log p(x_i | z_i) − KL(q_i ‖ p)]. The initial weights are
// PyTorch's nn.Linear rule (uniform ±1/√in for W and b), drawn from the same
// seeded host generator in the same block order as latentgpu's Vae, so with the
// same seed both start from identical parameters; only ε and the minibatch
// order differ.
//
// Works on whichever tfjs backend is active (initTfjsBackend sets one).
import * as tf from '@tensorflow/tfjs-core';
import { HostRng, mixSeed } from '../../src/lib/kernels.ts';

// tfjs-core ships its gradient functions unregistered (the @tensorflow/tfjs union
// package registers them) and only as bundler-style ESM: in Node its
// `import './gradients'` meets both gradients.js and a gradients/ folder and
// fails. A resolve hook that retries such imports with '.js' lets Node load
// them; they register into tfjs's process-global gradient registry, which the
// CommonJS build of tfjs-core (what Node's `import '@tensorflow/tfjs-core'`
// gives) reads as well. Bundlers (Vite) resolve the import unaided.
const DIR_IMPORT_HOOK = `export async function resolve(spec, ctx, next) {
  try { return await next(spec, ctx); } catch (e) {
    if (e && e.code === 'ERR_UNSUPPORTED_DIR_IMPORT' && spec.startsWith('.') &&
        String(ctx.parentURL).includes('/@tensorflow/tfjs-core/')) return next(spec + '.js', ctx);
    throw e;
  }
}`;

async function registerTfjsGradients(): Promise<void> {
  if (typeof process !== 'undefined' && process.versions?.node) {
    const { register } = await import('node:module');
    register(`data:text/javascript,${encodeURIComponent(DIR_IMPORT_HOOK)}`);
  }
  await import('@tensorflow/tfjs-core/dist/register_all_gradients.js');
}
await registerTfjsGradients();

export interface TfjsVaeConfig {
  dataDim: number;
  latent: number;
  /** hidden widths of the encoder; the decoder mirrors them */
  hidden: number[];
  lr: number;
  beta1: number;
  beta2: number;
  epsilon: number;
  /** initial weights and the ε stream */
  seed: number;
}

/** 784→400→(20, 20), 20→400→784, Adam 1e-3, β = (0.9, 0.999), ε = 1e-8 (latentgpu's DEFAULT_ADAM). */
export const CLASSIC_TFJS_VAE: TfjsVaeConfig = {
  dataDim: 784, latent: 20, hidden: [400], lr: 1e-3, beta1: 0.9, beta2: 0.999, epsilon: 1e-8, seed: 1,
};

export interface TfjsElbo {
  /** mean over rows of the one-sample ELBO, nats */
  elbo: number;
  logLik: number;
  kl: number;
  rows: number;
}

export interface TfjsIwae {
  /** mean over rows of log (1/K) Σ_k p(x, z_k) / q(z_k | x), nats */
  iwae: number;
  K: number;
  rows: number;
}

interface Dense {
  w: tf.Variable;
  b: tf.Variable;
}

let instances = 0;

/** Selects and readies a tfjs backend in Node: 'wasm' (XNNPACK, SIMD) or 'cpu'. */
export async function initTfjsBackend(name: 'wasm' | 'cpu'): Promise<string> {
  if (name === 'wasm') {
    const wasm = await import('@tensorflow/tfjs-backend-wasm');
    wasm.setWasmPaths(new URL('../../node_modules/@tensorflow/tfjs-backend-wasm/dist/', import.meta.url).pathname);
  } else {
    await import('@tensorflow/tfjs-backend-cpu');
  }
  const ok = await tf.setBackend(name);
  if (!ok) throw new Error(`tfjs backend '${name}' failed to initialise`);
  await tf.ready();
  return tf.getBackend();
}

export class TfjsVae {
  readonly cfg: TfjsVaeConfig;
  private readonly encTrunk: Dense[];
  private readonly encMu: Dense;
  private readonly encLogvar: Dense;
  private readonly decTrunk: Dense[];
  private readonly decMean: Dense;
  private readonly optimizer: tf.Optimizer;
  private readonly vars: tf.Variable[];
  /** latentgpu's block name of each variable (tfjs variable names must be unique per process) */
  private readonly names: string[] = [];
  /** seeds of tf.randomNormal, one per call, from the config seed */
  private readonly epsRng: HostRng;
  private steps = 0;

  constructor(cfg: Partial<TfjsVaeConfig> = {}) {
    const c = { ...CLASSIC_TFJS_VAE, ...cfg };
    for (const s of [c.dataDim, c.latent, ...c.hidden]) {
      if (!Number.isInteger(s) || s <= 0) throw new Error(`TfjsVae: layer sizes must be positive integers, got D=${c.dataDim} d=${c.latent} hidden=[${c.hidden.join(', ')}]`);
    }
    this.cfg = c;
    // same draw order as latentgpu's Vae: encoder trunk, mu head, logvar head, decoder trunk, mean head
    const rng = new HostRng(mixSeed(c.seed, 0x1417));
    const tag = `tfjsvae${instances++}`;
    const dense = (name: string, inDim: number, outDim: number): Dense => {
      const bound = 1 / Math.sqrt(inDim);
      const draw = (n: number): Float32Array => {
        const a = new Float32Array(n);
        for (let i = 0; i < n; i++) a[i] = (2 * rng.uniform() - 1) * bound;
        return a;
      };
      this.names.push(`${name}.W`, `${name}.b`);
      return {
        w: tf.variable(tf.tensor2d(draw(inDim * outDim), [inDim, outDim]), true, `${tag}/${name}.W`),
        b: tf.variable(tf.tensor1d(draw(outDim)), true, `${tag}/${name}.b`),
      };
    };
    const encSizes = [c.dataDim, ...c.hidden];
    this.encTrunk = encSizes.slice(1).map((o, l) => dense(`enc.${l}`, encSizes[l]!, o));
    const top = encSizes[encSizes.length - 1]!;
    this.encMu = dense('enc.mu.0', top, c.latent);
    this.encLogvar = dense('enc.logvar.0', top, c.latent);
    const decSizes = [c.latent, ...[...c.hidden].reverse()];
    this.decTrunk = decSizes.slice(1).map((o, l) => dense(`dec.${l}`, decSizes[l]!, o));
    this.decMean = dense('dec.mean.0', decSizes[decSizes.length - 1]!, c.dataDim);
    this.vars = [...this.encTrunk, this.encMu, this.encLogvar, ...this.decTrunk, this.decMean].flatMap((L) => [L.w, L.b]);
    this.optimizer = tf.train.adam(c.lr, c.beta1, c.beta2, c.epsilon);
    this.epsRng = new HostRng(mixSeed(c.seed, 0xe951));
  }

  /** number of trainable scalars */
  get paramCount(): number {
    return this.vars.reduce((s, v) => s + v.size, 0);
  }

  /** training steps taken */
  get step(): number {
    return this.steps;
  }

  /** y = act(x W + b), one fused matmul */
  private static dense(x: tf.Tensor2D, L: Dense, activation: 'relu' | 'linear'): tf.Tensor2D {
    return tf.fused.matMul({ a: x, b: L.w as tf.Tensor2D, bias: L.b, activation }) as tf.Tensor2D;
  }

  private encode(x: tf.Tensor2D): { mu: tf.Tensor2D; logvar: tf.Tensor2D } {
    let h = x;
    for (const L of this.encTrunk) h = TfjsVae.dense(h, L, 'relu');
    return { mu: TfjsVae.dense(h, this.encMu, 'linear'), logvar: TfjsVae.dense(h, this.encLogvar, 'linear') };
  }

  private decodeLogits(z: tf.Tensor2D): tf.Tensor2D {
    let h = z;
    for (const L of this.decTrunk) h = TfjsVae.dense(h, L, 'relu');
    return TfjsVae.dense(h, this.decMean, 'linear');
  }

  /** Σ_j log Bernoulli(x_j | sigmoid(l_j)) per row = Σ_j [x l − softplus(l)], softplus in its stable form. */
  private static bernoulliLogLik(x: tf.Tensor2D, logits: tf.Tensor2D): tf.Tensor1D {
    const softplus = tf.add(tf.relu(logits), tf.log1p(tf.exp(tf.neg(tf.abs(logits)))));
    return tf.sum(tf.sub(tf.mul(x, logits), softplus), 1);
  }

  /** KL(N(m, e^lv) ‖ N(0, I)) per row */
  private static klStdNormal(mu: tf.Tensor2D, logvar: tf.Tensor2D): tf.Tensor1D {
    return tf.mul(0.5, tf.sum(tf.sub(tf.add(tf.square(mu), tf.exp(logvar)), tf.add(1, logvar)), 1));
  }

  private normal(shape: [number, number]): tf.Tensor2D {
    return tf.randomNormal(shape, 0, 1, 'float32', this.epsRng.nextU32()) as tf.Tensor2D;
  }

  private rowsOf(x: Float32Array, rows: number | undefined, what: string): number {
    const D = this.cfg.dataDim;
    const r = rows ?? x.length / D;
    if (!Number.isInteger(r) || r <= 0 || r * D > x.length) {
      throw new Error(`TfjsVae.${what}: ${x.length} values do not hold ${rows ?? 'whole'} rows of ${D}`);
    }
    return r;
  }

  /**
   * One Adam step on the minibatch (rows×D, row-major; rows defaults to
   * batch.length / D). Returns the minibatch loss −ELBO per sample, nats.
   */
  trainStep(batch: Float32Array, rows?: number): number {
    const r = this.rowsOf(batch, rows, 'trainStep');
    const D = this.cfg.dataDim;
    const loss = tf.tidy(() => {
      const x = tf.tensor2d(batch.subarray(0, r * D), [r, D]);
      const eps = this.normal([r, this.cfg.latent]);
      return this.optimizer.minimize(() => {
        const { mu, logvar } = this.encode(x);
        const z = tf.add(mu, tf.mul(eps, tf.exp(tf.mul(0.5, logvar)))) as tf.Tensor2D;
        const ll = TfjsVae.bernoulliLogLik(x, this.decodeLogits(z));
        const kl = TfjsVae.klStdNormal(mu, logvar);
        return tf.neg(tf.mean(tf.sub(ll, kl))) as tf.Scalar;
      }, true, this.vars)!;
    });
    const v = loss.dataSync()[0]!;
    loss.dispose();
    this.steps++;
    return v;
  }

  /** Mean one-sample ELBO over the n rows of x. */
  evaluateElbo(x: Float32Array, n?: number, chunk = 1000): TfjsElbo {
    const rows = this.rowsOf(x, n, 'evaluateElbo');
    const D = this.cfg.dataDim;
    let sumLl = 0;
    let sumKl = 0;
    for (let s = 0; s < rows; s += chunk) {
      const r = Math.min(chunk, rows - s);
      const [ll, kl] = tf.tidy(() => {
        const xb = tf.tensor2d(x.subarray(s * D, (s + r) * D), [r, D]);
        const { mu, logvar } = this.encode(xb);
        const z = tf.add(mu, tf.mul(this.normal([r, this.cfg.latent]), tf.exp(tf.mul(0.5, logvar)))) as tf.Tensor2D;
        return [tf.sum(TfjsVae.bernoulliLogLik(xb, this.decodeLogits(z))), tf.sum(TfjsVae.klStdNormal(mu, logvar))];
      });
      sumLl += ll!.dataSync()[0]!;
      sumKl += kl!.dataSync()[0]!;
      ll!.dispose();
      kl!.dispose();
    }
    return { elbo: (sumLl - sumKl) / rows, logLik: sumLl / rows, kl: sumKl / rows, rows };
  }

  /**
   * IWAE_K (Burda et al. 2016) with q(z|x) as proposal. Rows go in chunks of
   * `rowChunk`, samples in blocks so that at most `maxDecode` decoder rows are
   * live at once; the per-row log-mean-exp is accumulated in float64 on the
   * host with a running maximum.
   */
  evaluateIwae(x: Float32Array, K: number, n?: number, opts: { rowChunk?: number; maxDecode?: number } = {}): TfjsIwae {
    if (!Number.isInteger(K) || K < 1) throw new Error(`TfjsVae.evaluateIwae: K must be a positive integer, got ${K}`);
    const rows = this.rowsOf(x, n, 'evaluateIwae');
    const D = this.cfg.dataDim;
    const d = this.cfg.latent;
    const rowChunk = Math.min(opts.rowChunk ?? 25, rows);
    const kPer = Math.max(1, Math.min(K, Math.floor((opts.maxDecode ?? 5000) / rowChunk)));
    let total = 0;
    for (let s = 0; s < rows; s += rowChunk) {
      const r = Math.min(rowChunk, rows - s);
      const xb = tf.tensor2d(x.subarray(s * D, (s + r) * D), [r, D]);
      const { mu, logvar } = tf.tidy(() => this.encode(xb));
      const runMax = new Float64Array(r).fill(-Infinity);
      const runSum = new Float64Array(r);
      for (let k0 = 0; k0 < K; k0 += kPer) {
        const k = Math.min(kPer, K - k0);
        const logw = tf.tidy(() => {
          // sample-major: row (j·r + i) is sample j of data row i
          const eps = this.normal([k * r, d]);
          const muK = tf.tile(mu, [k, 1]);
          const lvK = tf.tile(logvar, [k, 1]);
          const z = tf.add(muK, tf.mul(eps, tf.exp(tf.mul(0.5, lvK)))) as tf.Tensor2D;
          const ll = TfjsVae.bernoulliLogLik(tf.tile(xb, [k, 1]) as tf.Tensor2D, this.decodeLogits(z));
          // log p(z) − log q(z|x): the 2π terms cancel, (z − m)² / s² = ε²
          const logPz = tf.mul(-0.5, tf.sum(tf.square(z), 1));
          const logQz = tf.mul(-0.5, tf.sum(tf.add(tf.square(eps), lvK), 1));
          return tf.add(ll, tf.sub(logPz, logQz));
        });
        const w = logw.dataSync();
        logw.dispose();
        for (let j = 0; j < k; j++) {
          for (let i = 0; i < r; i++) {
            const v = w[j * r + i]!;
            if (v > runMax[i]!) {
              runSum[i] = runSum[i]! * Math.exp(runMax[i]! - v) + 1;
              runMax[i] = v;
            } else {
              runSum[i]! += Math.exp(v - runMax[i]!);
            }
          }
        }
      }
      for (let i = 0; i < r; i++) total += runMax[i]! + Math.log(runSum[i]!) - Math.log(K);
      tf.dispose([xb, mu, logvar]);
    }
    return { iwae: total / rows, K, rows };
  }

  /** A copy of every parameter, by latentgpu's block names (enc.0.W, ..., dec.mean.0.b). */
  parameters(): Record<string, Float32Array> {
    const out: Record<string, Float32Array> = {};
    this.vars.forEach((v, i) => { out[this.names[i]!] = v.dataSync() as Float32Array; });
    return out;
  }

  /** Overwrites parameters by latentgpu's block names (e.g. a trained latentgpu model's), shapes checked. */
  setParameters(params: Record<string, Float32Array>): void {
    // check every block before assigning any, so a bad record leaves the model as it was
    const blocks = this.vars.map((v, i) => {
      const name = this.names[i]!;
      const a = params[name];
      if (!a) throw new Error(`TfjsVae.setParameters: no '${name}' block`);
      if (a.length !== v.size) throw new Error(`TfjsVae.setParameters: '${name}' has ${a.length} values, this model needs ${v.size}`);
      return a;
    });
    this.vars.forEach((v, i) => tf.tidy(() => v.assign(tf.tensor(blocks[i]!, v.shape))));
  }

  dispose(): void {
    tf.dispose(this.vars);
    this.optimizer.dispose();
  }
}

/** Builds the classic VAE (or a variant) on the active tfjs backend. */
export function createTfjsVae(cfg: Partial<TfjsVaeConfig> = {}): TfjsVae {
  return new TfjsVae(cfg);
}
