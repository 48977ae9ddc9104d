// Evaluation of a latent variable model on a set of rows (DESIGN §1.6): the
// ELBO per sample, the importance-weighted bound IWAE_K with q as proposal,
// reconstructions, samples from the prior, the decoded latent manifold (d = 2)
// and the posterior means. Everything runs on the device in chunks; only
// per-row results come back. The rows may be a RowSource streamed chunk by chunk.
import { KernelError, need, type Backend, type Tensor } from '../backend.ts';
import { arraySource, type RowSource } from '../data/source.ts';
import { STREAM, type LatentVariableModel } from './latent.ts';
import { DeviceRows, GroupedGather } from './rows.ts';
import { ChunkStream, streamChunkRows, streams, type MemoryBudget } from './stream.ts';

export interface EvalData {
  /** n×D row-major */
  x: Float32Array;
  n: number;
}

/**
 * Device copies of an evaluation set, shared by the evaluations below: resident (in
 * several buffers when over one binding), or streamed from a RowSource chunk by chunk
 * when it is not in memory or over `memory.deviceBytes` (src/models/stream.ts).
 */
export class EvalSet {
  readonly n: number;
  readonly source: RowSource;
  private readonly resident: DeviceRows | null = null;
  readonly stream: ChunkStream | null = null;
  private readonly grouped: GroupedGather | null = null;

  constructor(readonly backend: Backend, data: EvalData | RowSource, readonly D: number, memory?: MemoryBudget) {
    if ('read' in data) {
      need(data.D === D && data.n > 0, 'EvalSet', `${data.name} holds ${data.n} rows of ${data.D}, not rows of ${D}`);
      this.source = data;
    } else {
      need(data.x.length === data.n * D && data.n > 0, 'EvalSet', `${data.x.length} values are not ${data.n} rows of ${D}`);
      this.source = arraySource('eval x', data.x, data.n, D);
    }
    this.n = this.source.n;
    if (!streams(this.source, memory)) this.resident = new DeviceRows(backend, this.source.array!, this.n, D, 'eval x');
    else {
      this.stream = new ChunkStream(backend, this.source, streamChunkRows(backend, this.source, memory), 'eval x');
      this.grouped = new GroupedGather(backend, D);
    }
  }

  /** the resident rows (an error when they stream) */
  get rows(): DeviceRows {
    if (!this.resident) throw new KernelError('EvalSet', `${this.source.name} streams in chunks of ${this.stream!.chunkRows} rows; it is not resident`);
    return this.resident;
  }

  /** the rows in memory (an error for a source read in slices) */
  get data(): EvalData {
    const x = this.source.array;
    if (!x) throw new KernelError('EvalSet', `${this.source.name} is read in slices; its rows are not in memory`);
    return { x, n: this.n };
  }

  /** dst = the rows `host` names (also uploaded into idx, which the posterior reads); streamed chunks are loaded in turn */
  async gather(idx: Tensor, host: Uint32Array, dst: Tensor): Promise<void> {
    this.backend.upload(idx, host);
    if (this.resident) {
      this.resident.gather(idx, host, dst, host.length);
      return;
    }
    const stream = this.stream!;
    const R = stream.chunkRows;
    const used = this.grouped!.prepare(host, host.length, stream.chunks.length, (i) => {
      need(Number.isInteger(i) && i >= 0 && i < this.n, 'EvalSet', `row index ${i} is outside the ${this.n} rows`);
      return [Math.floor(i / R), i % R];
    });
    // chunks in ascending order, none read ahead: an evaluation asks for the same rows again (IWAE's samples)
    for (const c of used) this.grouped!.run(c, (await stream.load(c)).x, dst);
  }

  release(): void {
    this.resident?.release();
    this.stream?.release();
    this.grouped?.release();
  }
}

export interface ElboResult {
  /** mean over rows of the one-sample ELBO estimate, nats (the bound itself) */
  elbo: number;
  logLik: number;
  kl: number;
  rows: number;
}

/** Mean one-sample ELBO over the evaluation rows (ε from the evalEps stream). */
export async function evaluateElbo(model: LatentVariableModel, set: EvalSet, opts: { chunk?: number; seed?: number } = {}): Promise<ElboResult> {
  const be = model.backend;
  const D = model.dataDim;
  const d = model.latent;
  const n = set.n;
  const chunk = Math.min(opts.chunk ?? 1000, n);
  const t = allocate(be, chunk, D, d);
  const sums = be.tensor(128, { label: 'eval sums' });
  const sumLl = be.view(sums, 0, 1);
  const sumKl = be.view(sums, 64, 1);
  try {
    for (let start = 0, c = 0; start < n; start += chunk, c++) {
      const rows = Math.min(chunk, n - start);
      await set.gather(t.idx, arange(start, rows), t.x);
      model.posterior(t.x, t.idx, rows, t.mu, t.logvar);
      be.reparamDiag({ m: t.mu, logvar: t.logvar, eps: t.eps, z: t.z, rows, cols: d, key: { seed: opts.seed ?? 1, stream: STREAM.evalEps, counter: c } });
      model.decoder.forward(t.z, rows);
      model.decoder.logLik(t.x, rows, t.ll);
      be.klStdNormal({ m: t.mu, logvar: t.logvar, out: t.kl, rows, cols: d });
      be.sumAll({ x: t.ll, out: sumLl, n: rows, accumulate: true });
      be.sumAll({ x: t.kl, out: sumKl, n: rows, accumulate: true });
      be.flush();
    }
    const s = await be.read(sums);
    return { elbo: (s[0]! - s[64]!) / n, logLik: s[0]! / n, kl: s[64]! / n, rows: n };
  } finally {
    release(be, t);
    be.release(sums);
  }
}

export interface IwaeResult {
  /** mean over rows of log (1/K) Σ_k p(x, z_k) / q(z_k | x), nats */
  iwae: number;
  K: number;
  rows: number;
  /** per-row bounds */
  perRow: Float64Array;
}

/**
 * IWAE_K (Burda et al. 2016) with q(z|x) as proposal. Samples are drawn in
 * chunks of at most `chunkSamples` (rows × samples per row); the per-row
 * log-sum-exp is accumulated on the host with a running maximum, so K can be
 * any size (5000 is fine).
 */
export async function evaluateIwae(model: LatentVariableModel, set: EvalSet, K: number,
  opts: { chunkSamples?: number; seed?: number; onChunk?: (rowsDone: number) => void } = {}): Promise<IwaeResult> {
  const be = model.backend;
  const D = model.dataDim;
  const d = model.latent;
  const n = set.n;
  need(Number.isInteger(K) && K >= 1, 'evaluateIwae', `K must be a positive integer, got ${K}`);
  const S = Math.max(1, opts.chunkSamples ?? 4096);
  const kPer = Math.min(K, S);
  const rowsPer = Math.max(1, Math.min(n, Math.floor(S / kPer)));
  const total = rowsPer * kPer;
  const post = allocate(be, rowsPer, D, d);
  const rep = allocate(be, total, D, d);
  const zeros = be.tensor(total * d, { label: 'prior mean 0' });
  const zeroLv = be.tensor(1, { label: 'prior logvar 0' });
  const logq = be.tensor(total, { label: 'log q(z|x)' });
  const logpz = be.tensor(total, { label: 'log p(z)' });
  const localIdx = be.tensor(total, { dtype: 'u32', label: 'sample → row' });
  const runMax = new Float64Array(n).fill(-Infinity);
  const runSum = new Float64Array(n);
  const inflight: { start: number; rows: number; k: number; w: Promise<Float32Array> }[] = [];

  const absorb = async (): Promise<void> => {
    const c = inflight.shift()!;
    const w = await c.w;
    for (let r = 0; r < c.rows; r++) {
      const row = c.start + r;
      let m = runMax[row]!;
      let s = runSum[row]!;
      for (let j = 0; j < c.k; j++) {
        const v = w[r * c.k + j]!;
        if (v > m) {
          s = s * Math.exp(m - v) + 1;
          m = v;
        } else s += Math.exp(v - m);
      }
      runMax[row] = m;
      runSum[row] = s;
    }
    opts.onChunk?.(c.start + c.rows);
  };

  try {
    let counter = 0;
    for (let start = 0; start < n; start += rowsPer) {
      const rows = Math.min(rowsPer, n - start);
      await set.gather(post.idx, arange(start, rows), post.x);
      model.posterior(post.x, post.idx, rows, post.mu, post.logvar);
      for (let k0 = 0; k0 < K; k0 += kPer) {
        const k = Math.min(kPer, K - k0);
        const m = rows * k;
        const local = new Uint32Array(m);
        const global = new Uint32Array(m);
        for (let r = 0; r < rows; r++) for (let j = 0; j < k; j++) {
          local[r * k + j] = r;
          global[r * k + j] = start + r;
        }
        be.upload(localIdx, local);
        await set.gather(rep.idx, global, rep.x);
        be.gatherRows({ src: post.mu, idx: localIdx, dst: rep.mu, rows: m, cols: d });
        be.gatherRows({ src: post.logvar, idx: localIdx, dst: rep.logvar, rows: m, cols: d });
        be.reparamDiag({ m: rep.mu, logvar: rep.logvar, eps: rep.eps, z: rep.z, rows: m, cols: d,
          key: { seed: opts.seed ?? 1, stream: STREAM.iwaeEps, counter: counter++ } });
        be.gaussianLogDensity({ x: rep.z, mu: rep.mu, logvar: rep.logvar, out: logq, rows: m, cols: d, logvarMode: 'element' });
        be.gaussianLogDensity({ x: rep.z, mu: zeros, logvar: zeroLv, out: logpz, rows: m, cols: d, logvarMode: 'scalar' });
        model.decoder.forward(rep.z, m);
        model.decoder.logLik(rep.x, m, rep.ll);
        // log w = log p(x|z) + log p(z) − log q(z|x)
        be.axpy({ x: logpz, y: rep.ll, n: m, alpha: 1 });
        be.axpy({ x: logq, y: rep.ll, n: m, alpha: -1 });
        inflight.push({ start, rows, k, w: be.read(rep.ll) });
        // the idx uploads of the next chunk must not overwrite tensors still being read: reads are ordered copies, so only the count matters
        while (inflight.length >= 3) await absorb();
      }
    }
    while (inflight.length) await absorb();
  } finally {
    release(be, post);
    release(be, rep);
    for (const t of [zeros, zeroLv, logq, logpz, localIdx]) be.release(t);
  }
  const perRow = new Float64Array(n);
  let total2 = 0;
  for (let i = 0; i < n; i++) {
    perRow[i] = runMax[i]! + Math.log(runSum[i]!) - Math.log(K);
    total2 += perRow[i]!;
  }
  return { iwae: total2 / n, K, rows: n, perRow };
}

/**
 * Posterior means E_q[z] (rows×d) and reconstructions E[x | z = mean] (rows×D) of
 * the first `rows` rows, or of the rows at `indices` into the set (for the
 * per-point model these also index its fitted q table).
 */
export async function reconstruct(model: LatentVariableModel, set: EvalSet, rows: number | Uint32Array): Promise<{ means: Float32Array; recon: Float32Array }> {
  const be = model.backend;
  const indices = typeof rows === 'number' ? arange(0, Math.min(rows, set.n)) : rows;
  for (const i of indices) need(i < set.n, 'reconstruct', `row ${i} is outside the set's ${set.n} rows`);
  rows = indices.length;
  const t = allocate(be, rows, model.dataDim, model.latent);
  try {
    await set.gather(t.idx, indices, t.x);
    model.posterior(t.x, t.idx, rows, t.mu, t.logvar);
    model.decoder.forward(t.mu, rows);
    const e = model.decoder.expectation(rows);
    const recon = (await be.read(e)).subarray(0, rows * model.dataDim);
    const means = (await be.read(t.mu)).subarray(0, rows * model.latent);
    return { means, recon };
  } finally {
    release(be, t);
  }
}

/** Posterior means of all rows, n×d. */
export async function latentMeans(model: LatentVariableModel, set: EvalSet, chunk = 1000): Promise<Float32Array> {
  const be = model.backend;
  const n = set.n;
  const d = model.latent;
  chunk = Math.min(chunk, n);
  const t = allocate(be, chunk, model.dataDim, d);
  const out = new Float32Array(n * d);
  try {
    for (let start = 0; start < n; start += chunk) {
      const rows = Math.min(chunk, n - start);
      await set.gather(t.idx, arange(start, rows), t.x);
      model.posterior(t.x, t.idx, rows, t.mu, t.logvar);
      out.set((await be.read(t.mu)).subarray(0, rows * d), start * d);
    }
    return out;
  } finally {
    release(be, t);
  }
}

/** E[x | z] for z given on the host (rows×d), e.g. prior draws or a manifold grid. */
export async function decode(model: LatentVariableModel, z: Float32Array): Promise<Float32Array> {
  const be = model.backend;
  const rows = z.length / model.latent;
  need(Number.isInteger(rows) && rows > 0, 'decode', `${z.length} values are not rows of ${model.latent}`);
  const zt = be.tensor(z.length, { label: 'z', data: z });
  try {
    model.decoder.forward(zt, rows);
    return (await be.read(model.decoder.expectation(rows))).subarray(0, rows * model.dataDim);
  } finally {
    be.release(zt);
  }
}

/** `rows` draws z ~ N(0, I) decoded to E[x | z]. */
export async function priorSamples(model: LatentVariableModel, rows: number, seed = 1): Promise<Float32Array> {
  const be = model.backend;
  const z = be.tensor(rows * model.latent, { label: 'prior z' });
  try {
    be.normal({ out: z, n: rows * model.latent, key: { seed, stream: STREAM.samples, counter: 0 } });
    return await decode(model, await be.read(z));
  } finally {
    be.release(z);
  }
}

/** A side×side grid of z over the central mass of N(0, I_2), row-major from top-left. */
export function manifoldGrid(side: number): Float32Array {
  const z = new Float32Array(side * side * 2);
  for (let r = 0; r < side; r++) {
    for (let c = 0; c < side; c++) {
      // normal quantiles of evenly spaced probabilities, as in Kingma & Welling's figure
      z[(r * side + c) * 2] = normalQuantile((c + 0.5) / side);
      z[(r * side + c) * 2 + 1] = normalQuantile(1 - (r + 0.5) / side);
    }
  }
  return z;
}

/** Φ⁻¹(p), Acklam's rational approximation (relative error < 1.2e-9). */
export function normalQuantile(p: number): number {
  const a = [-39.69683028665376, 220.9460984245205, -275.9285104469687, 138.357751867269, -30.66479806614716, 2.506628277459239];
  const b = [-54.47609879822406, 161.5858368580409, -155.6989798598866, 66.80131188771972, -13.28068155288572];
  const c = [-0.007784894002430293, -0.3223964580411365, -2.400758277161838, -2.549732539343734, 4.374664141464968, 2.938163982698783];
  const dd = [0.007784695709041462, 0.3224671290700398, 2.445134137142996, 3.754408661907416];
  const lo = 0.02425;
  if (p < lo) {
    const q = Math.sqrt(-2 * Math.log(p));
    return (((((c[0]! * q + c[1]!) * q + c[2]!) * q + c[3]!) * q + c[4]!) * q + c[5]!) / ((((dd[0]! * q + dd[1]!) * q + dd[2]!) * q + dd[3]!) * q + 1);
  }
  if (p > 1 - lo) return -normalQuantile(1 - p);
  const q = p - 0.5;
  const r = q * q;
  return (((((a[0]! * r + a[1]!) * r + a[2]!) * r + a[3]!) * r + a[4]!) * r + a[5]!) * q /
    (((((b[0]! * r + b[1]!) * r + b[2]!) * r + b[3]!) * r + b[4]!) * r + 1);
}

interface ChunkTensors { idx: Tensor; x: Tensor; mu: Tensor; logvar: Tensor; eps: Tensor; z: Tensor; ll: Tensor; kl: Tensor }

function allocate(be: Backend, rows: number, D: number, d: number): ChunkTensors {
  return {
    idx: be.tensor(rows, { dtype: 'u32', label: 'eval idx' }),
    x: be.tensor(rows * D, { label: 'eval batch x' }),
    mu: be.tensor(rows * d, { label: 'q mean' }),
    logvar: be.tensor(rows * d, { label: 'q logvar' }),
    eps: be.tensor(rows * d, { label: 'eval eps' }),
    z: be.tensor(rows * d, { label: 'eval z' }),
    ll: be.tensor(rows, { label: 'eval log p(x|z)' }),
    kl: be.tensor(rows, { label: 'eval KL' }),
  };
}

function release(be: Backend, t: ChunkTensors): void {
  for (const v of Object.values(t)) be.release(v);
}

function arange(start: number, n: number): Uint32Array {
  return Uint32Array.from({ length: n }, (_, i) => start + i);
}
