// Probabilistic PCA (DESIGN.md §1.1): x = W z + μ + σ ε, z ~ N(0, I_d).
// Parameters live on the backend (W: D×d row-major, μ: D); σ² and the small
// d×d Gram matrix WᵀW live on the host in float64, where the d×d algebra runs
// (see linalg.ts for why). Nothing here is node-only: the browser app uses it.
import { KernelError, dataChunkRows, need, type Backend, type DType, type Tensor } from '../../backend.ts';
import { checkFinite, type Dataset } from '../../data/dataset.ts';
import { HostRng } from '../../train/rng.ts';
import { factorSpd, identity, mul, transpose, type Mat, type SpdFactors } from './linalg.ts';

export const LOG_2PI = Math.log(2 * Math.PI);

export interface PpcaModel {
  readonly backend: Backend;
  readonly D: number;
  readonly d: number;
  /** D×d row-major */
  readonly W: Tensor;
  /** length D */
  readonly mu: Tensor;
  sigma2: number;
  /** WᵀW (d×d, float64), kept in step with W by whoever writes W */
  wtw: Mat;
}

/** Host copy of the parameters (float32 as stored, the form written to model files). */
export interface PpcaHost {
  D: number;
  d: number;
  W: Float32Array;
  mu: Float32Array;
  sigma2: number;
}

export function checkShape(kernel: string, D: number, d: number): void {
  need(Number.isInteger(D) && D >= 2, kernel, `data dimension D must be an integer ≥ 2, got ${D}`);
  need(Number.isInteger(d) && d >= 1, kernel, `latent dimension d must be a positive integer, got ${d}`);
  need(d < D, kernel, `latent dimension d=${d} must be smaller than the data dimension D=${D}`);
}

function checkFiniteArray(kernel: string, name: string, a: ArrayLike<number>): void {
  for (let i = 0; i < a.length; i++) {
    if (!Number.isFinite(a[i]!)) throw new KernelError(kernel, `${name}[${i}] is ${a[i]}, not a finite number`);
  }
}

/** WᵀW in float64 from a host W (D×d). */
export function gramOf(W: ArrayLike<number>, D: number, d: number): Mat {
  const g = new Float64Array(d * d);
  for (let r = 0; r < D; r++) {
    for (let i = 0; i < d; i++) {
      const wi = W[r * d + i]!;
      for (let j = i; j < d; j++) g[i * d + j]! += wi * W[r * d + j]!;
    }
  }
  for (let i = 0; i < d; i++) for (let j = 0; j < i; j++) g[i * d + j] = g[j * d + i]!;
  return g;
}

/** Uploads host parameters (checked: shape, finiteness, σ² > 0). */
export function createPpca(backend: Backend, h: PpcaHost): PpcaModel {
  const kernel = 'ppca';
  checkShape(kernel, h.D, h.d);
  need(h.W.length === h.D * h.d, kernel, `W has ${h.W.length} entries, needs D·d = ${h.D * h.d}`);
  need(h.mu.length === h.D, kernel, `mu has ${h.mu.length} entries, needs D = ${h.D}`);
  need(Number.isFinite(h.sigma2) && h.sigma2 > 0, kernel, `sigma2 must be a finite positive number, got ${h.sigma2}`);
  checkFiniteArray(kernel, 'W', h.W);
  checkFiniteArray(kernel, 'mu', h.mu);
  const W = backend.tensor(h.D * h.d, { label: 'ppca.W', data: Float32Array.from(h.W) });
  const mu = backend.tensor(h.D, { label: 'ppca.mu', data: Float32Array.from(h.mu) });
  return { backend, D: h.D, d: h.d, W, mu, sigma2: h.sigma2, wtw: gramOf(h.W, h.D, h.d) };
}

export async function readPpca(m: PpcaModel): Promise<PpcaHost> {
  const [W, mu] = await Promise.all([m.backend.read(m.W), m.backend.read(m.mu)]);
  return { D: m.D, d: m.d, W: W.subarray(0, m.D * m.d), mu: mu.subarray(0, m.D), sigma2: m.sigma2 };
}

export function releasePpca(m: PpcaModel): void {
  m.backend.release(m.W);
  m.backend.release(m.mu);
}

/** Recomputes WᵀW of the W on the backend, in float64 from W read back (a float32 device product is 2–3e-4 nats/sample off in the log-likelihood at d = 50, see em.ts). */
export async function refreshGram(m: PpcaModel): Promise<void> {
  m.wtw = gramOf((await m.backend.read(m.W)).subarray(0, m.D * m.d), m.D, m.d);
}

/** M = WᵀW + σ²I and what the posterior needs of it. */
export interface LatentFactors {
  M: SpdFactors;
  /** posterior covariance σ² M⁻¹ (shared by every data point) */
  postCov: Mat;
  /** lower Cholesky factor of σ² M⁻¹, for z = E + L ε */
  postChol: Mat;
}

export function latentFactors(wtw: Mat, sigma2: number, d: number): LatentFactors {
  const Mmat = Float64Array.from(wtw);
  for (let i = 0; i < d; i++) Mmat[i * d + i]! += sigma2;
  const M = factorSpd(Mmat, d, 'ppca: M = WᵀW + σ²I');
  const postCov = M.inverse.map((v) => v * sigma2);
  // chol(σ² M⁻¹) = σ · L⁻ᵀ is upper-triangular; reparamChol wants lower, so factor directly
  const postChol = factorSpd(postCov, d, 'ppca: posterior covariance').chol;
  return { M, postCov, postChol };
}

/** A dataset on the backend (uploaded once) with the host copy kept for O(nD) one-time prep. */
export interface DeviceData {
  name: string;
  /** all rows in one buffer; throws when the data are held in several (see parts) */
  x: Tensor;
  n: number;
  D: number;
  host: Float32Array;
  /** the rows in buffers of at most one storage binding each (absent: one part, x) */
  parts?: DataPart[];
}

/** Rows [r0, r0 + rows) of a dataset, in a buffer of their own. */
export interface DataPart {
  x: Tensor;
  r0: number;
  rows: number;
}

/** The buffers a dataset's rows are held in, in row order. */
export function dataParts(data: DeviceData): DataPart[] {
  return data.parts ?? [{ x: data.x, r0: 0, rows: data.n }];
}

/**
 * Uploads a dataset; rows beyond one storage binding go into several buffers
 * (backend.ts dataChunkRows; `chunkRows` forces a size). Paths that are not
 * chunk-aware read `x` and then fail with a message instead of reading a part.
 */
export function uploadData(backend: Backend, ds: Dataset, opts: { chunkRows?: number } = {}): DeviceData {
  need(ds.n >= 1 && ds.D >= 1, 'ppca', `${ds.name}: no data (${ds.n} rows × ${ds.D} columns)`);
  checkFinite(ds);
  const R = dataChunkRows(backend, ds.D, { override: opts.chunkRows });
  if (R >= ds.n) {
    const x = backend.tensor(ds.n * ds.D, { label: `data:${ds.name}`, data: ds.x });
    return { name: ds.name, x, n: ds.n, D: ds.D, host: ds.x };
  }
  const parts: DataPart[] = [];
  for (let r0 = 0; r0 < ds.n; r0 += R) {
    const rows = Math.min(R, ds.n - r0);
    const data = ds.x.subarray(r0 * ds.D, (r0 + rows) * ds.D);
    parts.push({ x: backend.tensor(rows * ds.D, { label: `data:${ds.name}[${parts.length}]`, data }), r0, rows });
  }
  const out: DeviceData = { name: ds.name, n: ds.n, D: ds.D, host: ds.x, parts, x: undefined as unknown as Tensor };
  Object.defineProperty(out, 'x', {
    enumerable: true,
    get(): Tensor {
      throw new KernelError('data', `${ds.name} (${ds.n} rows × ${ds.D}) is held in ${parts.length} device buffers of ${R} rows (over one storage binding); this method reads it as one buffer and does not support that yet: use exact EM (em | squarem | anderson), stochastic or online EM (sem | oem), or --backend cpu`);
    },
  });
  return out;
}

export function releaseData(backend: Backend, data: DeviceData): void {
  for (const p of dataParts(data)) backend.release(p.x);
}

/** Rows on the host, row-major n×D (a Dataset or a DeviceData). */
export interface HostData {
  name?: string;
  host: Float32Array;
  n: number;
  D: number;
}

/**
 * Column means in float64, shifted by the first row: μ_j = x_0j + mean(x_ij − x_0j),
 * so a constant column's mean is its value exactly (a plain sum of n copies of 1e30
 * need not divide back to 1e30, and the ulp it is off by becomes a spread of 1e14).
 */
export function sampleMean(data: HostData): Float64Array {
  const { host, n, D } = data;
  const mu = new Float64Array(D);
  if (n === 0) return mu;
  for (let i = 1; i < n; i++) for (let j = 0; j < D; j++) mu[j]! += host[i * D + j]! - host[j]!;
  for (let j = 0; j < D; j++) mu[j] = host[j]! + mu[j]! / n;
  return mu;
}

/** ‖x_i − μ‖² per row in float64. */
export function centeredRowNorms(data: HostData, mu: ArrayLike<number>): Float64Array {
  const { host, n, D } = data;
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let s = 0;
    for (let j = 0; j < D; j++) {
      const r = host[i * D + j]! - mu[j]!;
      s += r * r;
    }
    out[i] = s;
  }
  return out;
}

export interface InitOptions {
  d: number;
  seed: number;
}

/**
 * Starting point for every fitting method: μ = sample mean (the ML μ of any
 * PPCA), σ² = mean per-dimension variance, W with N(0, σ²/(2d)) entries so
 * that W Wᵀ starts with about half the total variance.
 */
export function initialPpca(data: HostData & { name: string }, opts: InitOptions): PpcaHost {
  checkShape('ppca init', data.D, opts.d);
  const mu = sampleMean(data);
  const norms = centeredRowNorms(data, mu);
  let total = 0;
  for (const v of norms) total += v;
  return initialFromMoments(data.name, mu, total / (data.n * data.D), opts);
}

/** initialPpca from the column means and the mean per-dimension variance (data read in passes). */
export function initialFromMoments(name: string, mu: Float64Array, meanVar: number, opts: InitOptions): PpcaHost {
  const D = mu.length;
  const { d } = opts;
  checkShape('ppca init', D, d);
  need(meanVar > 0, 'ppca init', `${name}: every column is constant, there is nothing to model`);
  const rnd = new HostRng(opts.seed, 'mulberry32');
  const s = Math.sqrt(meanVar / (2 * d));
  const W = Float32Array.from({ length: D * d }, () => s * rnd.normal());
  return { D, d, W, mu: Float32Array.from(mu), sigma2: meanVar };
}

/** Keeps named scratch tensors alive across steps; grows them when needed. */
export class Workspace {
  private readonly tensors = new Map<string, Tensor>();
  constructor(private readonly backend: Backend, private readonly prefix: string) {}

  get(name: string, length: number, dtype: DType = 'f32'): Tensor {
    const have = this.tensors.get(name);
    if (have && have.length >= length && have.dtype === dtype) return have;
    if (have) this.backend.release(have);
    const t = this.backend.tensor(Math.max(1, length), { dtype, label: `${this.prefix}.${name}` });
    this.tensors.set(name, t);
    return t;
  }

  /** A tensor filled with `value` (refilled only when created or resized). */
  constant(name: string, length: number, value: number): Tensor {
    const key = `${name}=${value}`;
    const have = this.tensors.get(key);
    if (have && have.length >= length) return have;
    const t = this.get(key, length);
    this.backend.fill({ x: t, n: t.length, value });
    return t;
  }

  upload(name: string, data: Float32Array | Uint32Array): Tensor {
    const t = this.get(name, data.length, data instanceof Uint32Array ? 'u32' : 'f32');
    this.backend.upload(t, data);
    return t;
  }

  releaseAll(): void {
    for (const t of this.tensors.values()) this.backend.release(t);
    this.tensors.clear();
  }
}

/** Transposed copy of a small row-major matrix as float32 (for x·Aᵀ products). */
export function f32Transposed(a: Mat, k: number): Float32Array {
  return Float32Array.from(transpose(a, k, k));
}

export { identity, mul };
