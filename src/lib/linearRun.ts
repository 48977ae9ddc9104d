// What the host-evaluated linear-Gaussian runs share (factor analysis, PPCA with
// missing values): x = W z + μ + noise, pictured on the host in float64 from
// the posterior means each model defines: reconstructions W E + μ, decoded
// latents and prior samples W z + μ (the noise-free decoder mean), W itself.
import { HostRng } from '../train/rng.ts';
import type { ResolvedRunConfig } from './run.ts';

/** The loadings and mean of a linear-Gaussian model (W is D×d row-major). */
export interface LinearParams {
  D: number;
  d: number;
  W: ArrayLike<number>;
  mu: ArrayLike<number>;
}

export abstract class LinearHostRun {
  abstract readonly config: ResolvedRunConfig;
  /** the current parameters */
  protected abstract linear(): LinearParams;
  /** posterior means E[z | x] of x's rows (rows×d) */
  protected abstract means(x: Float32Array, rows: number): Float64Array;

  /** W z + μ for z (rows×d). */
  private decodeHost(z: ArrayLike<number>, rows: number): Float32Array {
    const { D, d, W, mu } = this.linear();
    const out = new Float32Array(rows * D);
    for (let i = 0; i < rows; i++) {
      for (let j = 0; j < D; j++) {
        let s = mu[j]!;
        for (let a = 0; a < d; a++) s += W[j * d + a]! * z[i * d + a]!;
        out[i * D + j] = s;
      }
    }
    return out;
  }

  async reconstruct(x: Float32Array, rows: number): Promise<Float32Array> {
    return this.decodeHost(this.means(x, rows), rows);
  }

  async latentMeans(x: Float32Array, rows: number): Promise<Float32Array> {
    return Float32Array.from(this.means(x, rows));
  }

  async decode(z: Float32Array, rows: number): Promise<Float32Array> {
    return this.decodeHost(z, rows);
  }

  async samplePrior(rows: number): Promise<Float32Array> {
    const rng = new HostRng(this.config.seed);
    return this.decodeHost(Float64Array.from({ length: rows * this.linear().d }, () => rng.normal()), rows);
  }

  async loadings(): Promise<Float32Array> {
    return Float32Array.from(this.linear().W);
  }
}
