// Exact (batch) EM for PPCA, Tipping & Bishop (DESIGN.md §1.1), and two
// accelerations of it: SQUAREM (Varadhan & Roland 2008, scheme S3 with the
// monotonicity safeguard) and Anderson acceleration (see runAnderson). μ is the
// sample mean throughout, so the rows are centred once, in float64 on the host
// (scale.ts), before they are uploaded. One EM
// map F(W, σ²) is two submissions with small read-backs:
//   device: Y = Xc W (n×d; on WebGPU held transposed per 256-row chunk), YᵀY, G = Xcᵀ Y (D×d),
//           and per row ‖L⁻¹ y_i‖²
//   host:   log-lik of (W, σ²); S = nσ²M⁻¹ + M⁻¹ YᵀY M⁻¹; B = M⁻¹ S⁻¹
//   device: W_new = G B, read back for W_newᵀW_new in float64 (see gramOfSlot)
//   host:   σ²_new = (Σ‖x_i−μ‖² − tr(S WᵀW_new)) / nD
// because Σ_i (x_i−μ) E_iᵀ = G M⁻¹ and Σ_i E_i E_iᵀ = M⁻¹ YᵀY M⁻¹.
// The log-likelihood is a small difference of large terms (Σ‖L⁻¹y‖²/σ² is ~5×
// the result on MNIST d = 50), so every float32 quantity in it must be free of
// errors that are the same for all rows: measured against a float64 host
// evaluation it is within 6e-5 nats/sample, and the float32 map itself is
// monotone to that level.
// Data not all on the device (a RowSource, or over a device budget) are fitted in
// passes: every EM map reads the rows block by block, centres each on the host and
// uploads it into one of two reused buffers, and sums the blocks' products in float64.
import { KernelError, VIEW_ALIGN, dataChunkRows, need, type Backend, type Tensor } from '../../backend.ts';
import { DataError } from '../../data/dataset.ts';
import { chunksOf, type Chunk, type RowSource } from '../../data/source.ts';
import { PPCA_DEFAULTS } from '../config.ts';
import { factorSpd, mul, symmetrize, toF32, traceOfProduct, transpose, type Mat } from './linalg.ts';
import {
  Workspace, centeredRowNorms, checkShape, createPpca, gramOf, initialFromMoments, initialPpca, latentFactors,
  type DeviceData, type HostData, type PpcaHost, type PpcaModel,
} from './model.ts';
import { logLikFromSquares, whitenedLatents } from './loglik.ts';
import { centredHost, checkDataScale, columnStats as columnStatsOf, internalScale, type ColumnStats } from './scale.ts';
import { sourceColumnStats } from './sourceStats.ts';

export type EmMethod = 'em' | 'squarem' | 'anderson';
export const EM_METHODS: readonly EmMethod[] = ['em', 'squarem', 'anderson'];

export interface EmOptions {
  d: number;
  method?: EmMethod;
  /** maximum number of EM-map evaluations (SQUAREM spends three per cycle) */
  maxIters?: number;
  /**
   * rows per device buffer of the data (default: one storage binding's worth; see backend.ts
   * dataChunkRows); with a RowSource, rows per block of a pass, forcing passes (rounded up to 256)
   */
  chunkRows?: number;
  /**
   * With a RowSource: bytes of host staging and of device memory for the rows. Rows in memory
   * whose n×D float32 fit `deviceBytes` (or any, without it) stay on the device for the whole
   * fit; others are read and uploaded block by block in every EM map (default host: 256 MiB).
   */
  budget?: EmBudget;
  /** stop when the log-likelihood per sample changes by less than this between iterates */
  tol?: number;
  /** Anderson acceleration: how many past iterates the extrapolation uses (default ANDERSON_MEMORY) */
  memory?: number;
  seed?: number;
  /** starting parameters (default: initialPpca); μ is replaced by the sample mean */
  init?: PpcaHost;
  /** called with every new iterate's log-likelihood */
  onIter?: (p: EmProgress) => void;
  /** with a RowSource read in passes: called with the rows done of the statistics pass before the fit */
  onStatsRows?: (rows: number) => void;
}

/** Memory for exact EM over a RowSource (the fields of stream.ts MemoryBudget it uses). */
export interface EmBudget {
  hostBytes?: number;
  deviceBytes?: number;
}

/** host staging exact EM's passes use when no budget is given */
const DEFAULT_PASS_HOST_BYTES = 256 * 2 ** 20;

export interface EmProgress {
  /** EM-map evaluations spent to produce this iterate */
  iteration: number;
  /** mean exact log-likelihood per sample of the iterate */
  loglik: number;
  sigma2: number;
  seconds: number;
}

export interface EmResult {
  model: PpcaModel;
  method: EmMethod;
  /** EM-map evaluations (= M-steps) spent */
  iterations: number;
  /** SQUAREM cycles (equal to iterations for plain EM) */
  cycles: number;
  /** log-likelihood per sample of the returned model */
  loglik: number;
  converged: boolean;
  trace: EmProgress[];
  seconds: number;
  /** rows per block when the data were read in passes (absent: on the device throughout) */
  passRows?: number;
}

/** One point of the parameter space as the EM engine sees it. */
interface Point {
  slot: number;
  wtw: Mat;
  sigma2: number;
}

interface MapResult {
  /** log-likelihood per sample of the input point */
  loglik: number;
  out: Point;
}

/** W slots SQUAREM needs: θ₀, θ₁, θ₂, r, v */
const SQUAREM_SLOTS = 5;
/** rows per chunk of the n-long sums (a multiple of VIEW_ALIGN and of DOT_BLOCK) */
const SUM_CHUNK_ROWS = 256;
/** rows per block Gram of the per-row squares (see rowSquares) */
const DOT_BLOCK = 16;
/** block Grams per call: a batch is one workgroup per product on WebGPU (≤ 65,535 per dimension) */
const DOT_BLOCKS_PER_CALL = 32768;
/** chunks per batched call of the transposed products (views of 64-element multiples: R·dp is one) */
const BATCH_LIMIT = 32768;

function gcd(a: number, b: number): number {
  return b === 0 ? a : gcd(b, a % b);
}

/** d rounded up to a multiple of 4: on the device W, Y and G carry zero columns up to this width */
function paddedLatent(d: number): number {
  return Math.ceil(d / 4) * 4;
}

/** rows×from (row-major) copied into rows×to float32, the extra columns 0 (to ≥ from) or dropped (to < from). */
function withColumns(a: ArrayLike<number>, rows: number, from: number, to: number): Float32Array {
  const out = new Float32Array(rows * to);
  const w = Math.min(from, to);
  for (let i = 0; i < rows; i++) for (let j = 0; j < w; j++) out[i * to + j] = a[i * from + j]!;
  return out;
}

/** a d×d float64 matrix as dp×dp with zero rows and columns beyond d */
function paddedMat(a: Mat, d: number, dp: number): Mat {
  const out = new Float64Array(dp * dp);
  for (let i = 0; i < d; i++) for (let j = 0; j < d; j++) out[i * dp + j] = a[i * d + j]!;
  return out;
}

/**
 * A RowSource's rows for passes of exact EM: read a block at a time into one host
 * staging array, centred and scaled there in float64 (rounded once, as centredHost),
 * padded with zero rows to whole SUM_CHUNK_ROWS, and uploaded into one of two device
 * buffers in turn. Uploads are queued in order behind the work already recorded
 * (backend.ts upload), so a buffer is rewritten only after the products that read it.
 */
class PassRows {
  readonly blocks: Chunk[];
  private readonly raw: Float32Array;
  private readonly centred: Float32Array;
  private readonly buffers: Tensor[];

  constructor(private readonly b: Backend, private readonly source: RowSource, private readonly mu: Float64Array, private readonly scale: number, readonly blockRows: number) {
    const { D } = source;
    this.blocks = chunksOf(source.n, blockRows);
    this.raw = new Float32Array(blockRows * D);
    this.centred = new Float32Array(blockRows * D);
    this.buffers = Array.from({ length: Math.min(2, this.blocks.length) }, (_, i) => b.tensor(blockRows * D, { label: `ppca.em.pass${i}` }));
  }

  /** Block k, centred and padded (a view of the staging, valid until the next read). */
  async read(k: number): Promise<Float32Array> {
    const { D } = this.source;
    const { r0, rows } = this.blocks[k]!;
    await this.source.read(r0, rows, this.raw);
    const { raw, centred, mu, scale } = this;
    for (let i = 0; i < rows; i++) for (let j = 0; j < D; j++) centred[i * D + j] = (raw[i * D + j]! - mu[j]!) * scale;
    const padded = Math.ceil(rows / SUM_CHUNK_ROWS) * SUM_CHUNK_ROWS;
    centred.fill(0, rows * D, padded * D);
    return centred.subarray(0, padded * D);
  }

  /** Uploads a block read by `read` into buffer k mod 2; returns it (rows × D, rows a multiple of SUM_CHUNK_ROWS). */
  upload(k: number, host: Float32Array): Tensor {
    const buf = this.buffers[k % this.buffers.length]!;
    const t = host.length === buf.length ? buf : this.b.view(buf, 0, host.length, 'ppca.em.pass rows');
    this.b.upload(t, host);
    return t;
  }

  release(): void {
    for (const t of this.buffers) this.b.release(t);
  }
}

/** What the EM engine fits: rows held on the device for the whole fit, or a source read in passes. */
type EmRows =
  | { data: HostData; source?: undefined }
  | { source: RowSource; stats: ColumnStats; blockRows: number; data?: undefined };

/** The device state of exact EM over one dataset. */
class EmEngine {
  readonly n: number;
  readonly D: number;
  /** the centred rows in device buffers of `blockRows` rows each (the last padded with zero rows to whole SUM_CHUNK_ROWS); empty when fitting in passes */
  readonly xc: Tensor[];
  /** the rows read in passes (a RowSource), or null when they are on the device (xc) */
  private readonly passes: PassRows | null;
  /** rows per buffer of xc: a multiple of SUM_CHUNK_ROWS, so block k's rows of y start at row k·blockRows */
  readonly blockRows: number;
  /** Σ‖x_i − μ‖² (times scale²) */
  readonly totalNorm: number;
  /** row chunks of the n-long sums (see rowSum) */
  readonly chunks: number;
  /** W slots: slotCount views of slotLen elements in one buffer (padding stays 0) */
  readonly slotBuffer: Tensor;
  readonly slots: Tensor[];
  readonly slotLen: number;
  /**
   * the device width of W, Y and G: on WebGPU d rounded up to a multiple of 4, the extra
   * columns 0 (they stay 0 through every product and combination). Aligned shapes take the
   * vec4 matmul kernels: on llvmpipe Y = Xc W at d = 10 ran 3× slower unaligned. The CPU
   * backend gains nothing from it and keeps d.
   */
  readonly dp: number;
  /**
   * WebGPU holds Y transposed, chunk-major: chunk c (rows c·R … c·R + R − 1) as a dp×R block
   * at c·R·dp, so every product streams Xc untransposed along the wide side. On llvmpipe
   * Yᵀ_c = Wᵀ Xc_cᵀ on the texture kernel took 14–18 ms of CPU against 40–45 ms for
   * Y = Xc W on vec4 (8,192 × 784 × 12; docs/kernels-results.md §7). The CPU backend keeps Y.
   */
  private readonly yt: boolean;
  private readonly ws: Workspace;

  /**
   * Fits the centred rows times `scale` (scale.ts internalScale: a power of two, 1 for data of
   * ordinary scale): slots hold cW, points c²σ²; log-likelihoods and export() are data-space.
   */
  constructor(readonly backend: Backend, rows: EmRows, readonly d: number, readonly mu: Float64Array, readonly slotCount: number, readonly scale = 1, chunkRows?: number) {
    const b = backend;
    const data = rows.data ?? rows.source;
    this.n = data.n;
    this.D = data.D;
    this.ws = new Workspace(b, 'ppca.em');
    const { n, D } = this;
    this.chunks = Math.ceil(n / SUM_CHUNK_ROWS);
    this.xc = [];
    if (rows.source) {
      this.totalNorm = rows.stats.variance.reduce((s, v) => s + v, 0) * n * scale * scale;
      this.blockRows = rows.blockRows;
      this.passes = new PassRows(b, rows.source, mu, scale, rows.blockRows);
    } else {
      this.totalNorm = centeredRowNorms(rows.data, mu).reduce((s, v) => s + v * scale * scale, 0);
      this.passes = null;
      // in several buffers when n×D is over one storage binding (backend.ts dataChunkRows)
      this.blockRows = Math.min(this.chunks * SUM_CHUNK_ROWS, dataChunkRows(b, D, { align: SUM_CHUNK_ROWS, override: chunkRows }));
      this.uploadRows(rows.data);
    }
    this.dp = b.info.backend === 'webgpu' ? paddedLatent(d) : d;
    this.yt = b.info.backend === 'webgpu';
    this.slotLen = Math.ceil((D * this.dp) / VIEW_ALIGN) * VIEW_ALIGN;
    this.slotBuffer = b.tensor(slotCount * this.slotLen, { label: 'ppca.em.W' });
    this.slots = Array.from({ length: slotCount }, (_, i) => b.view(this.slotBuffer, i * this.slotLen, D * this.dp, `ppca.em.W${i}`));
  }

  /**
   * The centred rows into xc, centred once on the host in float64 (x − μ on the device in
   * float32 would leave every row the same offset μ − fround(μ), and cancel when a column's
   * mean is large next to its spread); rows padded with zeros to whole chunks of
   * SUM_CHUNK_ROWS (zero rows add nothing to the sums).
   */
  private uploadRows(data: HostData): void {
    const { backend: b, n, D, mu, scale } = this;
    for (let r0 = 0; r0 < n; r0 += this.blockRows) {
      const rows = Math.min(this.blockRows, n - r0);
      const host = { host: data.host.subarray(r0 * D, (r0 + rows) * D), n: rows, D };
      const padded = Math.ceil(rows / SUM_CHUNK_ROWS) * SUM_CHUNK_ROWS;
      this.xc.push(b.tensor(padded * D, { label: `ppca.em.xc${this.xc.length}`, data: centredHost(host, mu, scale, padded) }));
    }
  }

  /** Uploads a D×d W (host, already scaled) into a slot. */
  uploadSlot(slot: number, W: Float32Array): void {
    this.backend.upload(this.slots[slot]!, withColumns(W, this.D, this.d, this.dp));
  }

  /** Runs E-step + M-step from `inp` into slot `outSlot`; returns the log-lik of `inp`. */
  async map(inp: Point, outSlot: number): Promise<MapResult> {
    const { backend: b, ws, n, D, d, dp } = this;
    const f = latentFactors(inp.wtw, inp.sigma2, d);
    const W = this.slots[inp.slot]!;
    const gT = ws.get('gT', dp * D);
    let ytyH: ArrayLike<number>;
    let explained: number;
    if (this.passes) {
      const sums = await this.pass(W, f.M.cholInv, true);
      b.upload(gT, Float32Array.from(sums.gT));
      ({ yty: ytyH, explained } = sums);
    } else {
      const nPad = this.chunks * SUM_CHUNK_ROWS;
      const y = ws.get('y', nPad * dp);
      const yty = ws.get('yty', dp * dp);
      this.project(W, y);
      this.rowSum(y, (k) => this.yBlock(y, k), dp, true, yty, 'ytyParts');
      // Gᵀ = Yᵀ Xc rather than G = Xcᵀ Y: the wide operand untransposed (25% faster on llvmpipe)
      this.rowSum(y, (k) => this.xc[k]!, D, false, gT, 'gParts');
      const rowSq = this.rowSquares(y, f.M.cholInv, nPad);
      const [ytyR, rowH] = await Promise.all([b.read(yty), b.read(rowSq)]);
      ytyH = ytyR;
      explained = addSquares(0, rowH, n);
    }
    const loglik = this.loglikFrom(explained, inp.sigma2, f.M.logDet);

    // M-step on the host (d×d), then W_new = G·B on the device
    const YtY = Float64Array.from(withColumns(ytyH, d, dp, d));
    const Minv = f.M.inverse;
    const S = symmetrize(mul(mul(Minv, YtY, d, d, d), Minv, d, d, d), d);
    for (let i = 0; i < d * d; i++) S[i]! += n * inp.sigma2 * Minv[i]!;
    const Sinv = factorSpd(S, d, 'ppca EM: Σ⟨z zᵀ⟩').inverse;
    const B = mul(Minv, Sinv, d, d, d);
    const Bt = ws.upload('B', toF32(paddedMat(B, d, dp)));
    const Wout = this.slots[outSlot]!;
    b.matmul({ a: gT, b: Bt, c: Wout, m: D, n: dp, k: dp, transA: true });
    const wtwNew = await this.gramOfSlot(outSlot);
    // σ²_new = (Σ‖x_i−μ‖² − tr(S WᵀW_new)) / nD, from W_new S = G M⁻¹
    let sigma2 = (this.totalNorm - traceOfProduct(S, wtwNew, d)) / (n * D);
    if (!Number.isFinite(sigma2)) throw new KernelError('ppca EM', `σ² became ${sigma2}`);
    // the residual variance cannot reach 0 unless the data lie in a d-dimensional affine subspace
    sigma2 = Math.max(sigma2, 1e-12 * (this.totalNorm / (n * D)));
    return { loglik, out: { slot: outSlot, wtw: wtwNew, sigma2 } };
  }

  /**
   * out = Aᵀ B (p×q) for A (nPad×p), B (nPad×q), summed over the rows chunk by
   * chunk and the chunk products then added by the tree reduction: a float32 sum
   * of n = 8,000 products in one accumulator can carry ~n·ε relative error, and
   * SQUAREM extrapolates differences of EM maps, where that error is not small.
   */
  private rowSum(y: Tensor, bOf: (block: number) => Tensor, q: number, bIsY: boolean, out: Tensor, name: string): void {
    const { backend: b, ws, chunks, xc, dp: p } = this;
    const R = SUM_CHUNK_ROWS;
    if (xc.length === 1) {
      this.chunkSum(y, bOf(0), q, bIsY, out, name, chunks);
      return;
    }
    // each buffer's chunk products at a view-aligned offset, perRows rows of parts per buffer; rows
    // a buffer leaves unwritten stay 0 (when chunksPer is a multiple of align: the one-buffer layout)
    const chunksPer = this.blockRows / R;
    const align = VIEW_ALIGN / gcd(p * q, VIEW_ALIGN);
    const perRows = xc.length === 1 ? chunks : Math.ceil(chunksPer / align) * align;
    const stride = perRows * p * q;
    const rows = perRows * xc.length;
    const parts = ws.get(name, rows * p * q);
    for (let k = 0; k < xc.length; k++) {
      const nb = Math.min(chunksPer, chunks - k * chunksPer);
      const c = xc.length === 1 ? parts : b.view(parts, k * stride, nb * p * q, `${name} block`);
      b.matmul({ ...this.chunkOperands(bIsY), a: this.yBlock(y, k), b: bOf(k), c, m: p, n: q, k: R, batch: nb, strideA: R * p, strideB: R * q, strideC: p * q });
    }
    b.sumCols({ x: parts, out, rows, cols: p * q });
  }

  /** How a chunk of Y (R×dp rows, or dp×R when held transposed) enters Yᵀ B: A transposed or not; B = Y's chunk transposed or not. */
  private chunkOperands(bIsY: boolean): { transA: boolean; transB: boolean } {
    return { transA: !this.yt, transB: bIsY && this.yt };
  }

  /** out = Yᵀ B (dp×q) for Y and B (R·chunks rows each, B = Y when bIsY) in one buffer each, summed as rowSum does (queued). */
  private chunkSum(a: Tensor, bm: Tensor, q: number, bIsY: boolean, out: Tensor, name: string, chunks: number): void {
    const { backend: b, ws, dp: p } = this;
    const R = SUM_CHUNK_ROWS;
    const t = this.chunkOperands(bIsY);
    if (chunks === 1) {
      b.matmul({ ...t, a, b: bm, c: out, m: p, n: q, k: R });
      return;
    }
    const parts = ws.get(name, chunks * p * q);
    b.matmul({ ...t, a, b: bm, c: parts, m: p, n: q, k: R, batch: chunks, strideA: R * p, strideB: R * q, strideC: p * q });
    b.sumCols({ x: parts, out, rows: chunks, cols: p * q });
  }

  /**
   * One pass over the source's rows, block by block: Y_k = Xc_k W, Σ‖L⁻¹y_i‖², and with
   * `sums` YᵀY and Gᵀ = YᵀXc, each block's read back and added in float64 in block order.
   * Block k+1 is read from the source while block k's products run; at most two blocks'
   * read-backs are outstanding.
   */
  private async pass(W: Tensor, cholInv: Mat, sums: boolean): Promise<{ yty: Float64Array; gT: Float64Array; explained: number }> {
    const { backend: b, ws, D, dp } = this;
    const p = this.passes!;
    const y = ws.get('y', p.blockRows * dp);
    const yty = ws.get('yty', dp * dp);
    const gBlock = ws.get('gBlock', dp * D);
    const out = { yty: new Float64Array(dp * dp), gT: new Float64Array(dp * D), explained: 0 };
    let folded: Promise<void> = Promise.resolve();
    let next = p.read(0);
    for (let k = 0; k < p.blocks.length; k++) {
      const host = await next;
      const rowsPad = host.length / D;
      const xc = p.upload(k, host);
      // the staging is free once uploaded (writeBuffer copies it): read the next block meanwhile
      if (k + 1 < p.blocks.length) next = p.read(k + 1);
      const yk = rowsPad * dp === y.length ? y : b.view(y, 0, rowsPad * dp, 'ppca.em.y block');
      this.projectBlock(xc, W, yk);
      const reads: Promise<Float32Array>[] = [];
      if (sums) {
        this.chunkSum(yk, yk, dp, true, yty, 'ytyParts', rowsPad / SUM_CHUNK_ROWS);
        this.chunkSum(yk, xc, D, false, gBlock, 'gParts', rowsPad / SUM_CHUNK_ROWS);
        reads.push(b.read(yty), b.read(gBlock));
      }
      reads.push(b.read(this.rowSquares(yk, cholInv, rowsPad)));
      const rows = p.blocks[k]!.rows;
      const got = Promise.all(reads);
      await folded;
      folded = got.then((r) => {
        if (sums) {
          for (let i = 0; i < dp * dp; i++) out.yty[i]! += r[0]![i]!;
          for (let i = 0; i < dp * D; i++) out.gT[i]! += r[1]![i]!;
        }
        out.explained = addSquares(out.explained, r.at(-1)!, rows);
      });
    }
    await folded;
    return out;
  }

  /** Y = Xc W (nPad×dp, or transposed chunk by chunk: see yt), buffer by buffer (queued). */
  private project(W: Tensor, y: Tensor): void {
    for (let k = 0; k < this.xc.length; k++) this.projectBlock(this.xc[k]!, W, this.yBlock(y, k));
  }

  /** y = xc W for one buffer of rows (a multiple of SUM_CHUNK_ROWS): row-major, or Yᵀ_c = Wᵀ Xc_cᵀ per chunk (queued). */
  private projectBlock(xc: Tensor, W: Tensor, y: Tensor): void {
    const { backend: b, D, dp } = this;
    const rows = xc.length / D;
    if (!this.yt) {
      b.matmul({ a: xc, b: W, c: y, m: rows, n: dp, k: D });
      return;
    }
    const R = SUM_CHUNK_ROWS;
    forBatches(rows / R, (c0, nc) => b.matmul({
      a: W, b: b.view(xc, c0 * R * D, nc * R * D, 'ppca.em.xc chunks'), c: b.view(y, c0 * R * dp, nc * R * dp, 'ppca.em.yT chunks'),
      m: dp, n: R, k: D, transA: true, transB: true, batch: nc, strideA: 0, strideB: R * D, strideC: dp * R,
    }));
  }

  /** The rows of y (nPad×dp) that buffer k of xc produces. */
  private yBlock(y: Tensor, k: number): Tensor {
    if (this.xc.length === 1) return y;
    const rows = this.xc[k]!.length / this.D;
    return this.backend.view(y, k * this.blockRows * this.dp, rows * this.dp, 'ppca.em.y block');
  }

  /** Log-likelihood per sample of a point (the E-step half of map). */
  async loglik(p: Point): Promise<number> {
    const { backend: b, ws, D, d, dp } = this;
    const f = latentFactors(p.wtw, p.sigma2, d);
    if (this.passes) return this.loglikFrom((await this.pass(this.slots[p.slot]!, f.M.cholInv, false)).explained, p.sigma2, f.M.logDet);
    const nPad = this.chunks * SUM_CHUNK_ROWS;
    const y = ws.get('y', nPad * dp);
    this.project(this.slots[p.slot]!, y);
    return this.loglikFrom(addSquares(0, await b.read(this.rowSquares(y, f.M.cholInv, nPad)), this.n), p.sigma2, f.M.logDet);
  }

  /**
   * ‖L⁻¹ y_i‖² of every row of y (nPad×dp; queued), as loglik.ts explainedSquares
   * computes them (z = Y L⁻ᵀ with L⁻ᵀ as a float32 pair, then a float32 dot product
   * per row), but the dot products as the diagonals of Gram blocks Z_b Z_bᵀ of
   * DOT_BLOCK rows: llvmpipe runs one workgroup per batched product, and 1×1
   * products cost 5–8× more than 16×16 ones at n = 8,000. Row i's square is entry
   * i·DOT_BLOCK + i mod DOT_BLOCK of the result (see addSquares). `rows`: a multiple of DOT_BLOCK.
   */
  private rowSquares(y: Tensor, cholInv: Mat, rows: number): Tensor {
    const { backend: b, ws, d, dp } = this;
    const z = this.yt ? this.whitenedFromT(y, paddedMat(cholInv, d, dp), rows) : whitenedLatents(b, ws, y, paddedMat(cholInv, d, dp), rows, dp);
    const grams = ws.get('rowGrams', rows * DOT_BLOCK);
    const per = DOT_BLOCK * DOT_BLOCKS_PER_CALL;
    for (let r0 = 0; r0 < rows; r0 += per) {
      const nr = Math.min(per, rows - r0);
      const zb = b.view(z, r0 * dp, nr * dp, 'z rows');
      const out = b.view(grams, r0 * DOT_BLOCK, nr * DOT_BLOCK, 'rowGrams rows');
      const s = DOT_BLOCK * dp;
      b.matmul({ a: zb, b: zb, c: out, m: DOT_BLOCK, n: DOT_BLOCK, k: dp, transB: true, batch: nr / DOT_BLOCK, strideA: s, strideB: s, strideC: DOT_BLOCK * DOT_BLOCK });
    }
    return grams;
  }

  /**
   * z = Y L⁻ᵀ (rows×dp, row-major; ws's 'z') from Y held transposed chunk by chunk:
   * z_c = (Yᵀ_c)ᵀ L⁻ᵀ, with L⁻ᵀ as a float32 pair as whitenedLatents has it (queued).
   */
  private whitenedFromT(yT: Tensor, cholInv: Mat, rows: number): Tensor {
    const { backend: b, ws, dp } = this;
    const R = SUM_CHUNK_ROWS;
    const t = transpose(cholInv, dp, dp);
    const hi = ws.upload('cholInvT', Float32Array.from(t));
    const lo = ws.upload('cholInvTLo', Float32Array.from(t, (v, i) => v - Math.fround(v)));
    const z = ws.get('z', rows * dp);
    forBatches(rows / R, (c0, nc) => {
      const a = b.view(yT, c0 * R * dp, nc * R * dp, 'ppca.em.yT chunks');
      const c = b.view(z, c0 * R * dp, nc * R * dp, 'z chunks');
      const shape = { a, c, m: R, n: dp, k: dp, transA: true, batch: nc, strideA: dp * R, strideB: 0, strideC: R * dp };
      b.matmul({ ...shape, b: hi });
      b.matmul({ ...shape, b: lo, accumulate: true });
    });
    return z;
  }

  /**
   * Mean log p(x_i) from Σ‖L⁻¹y_i‖² (device, per row: rowSquares; summed by addSquares) and
   * ‖x_i−μ‖² (host, float64), summed and divided by σ² in float64 — the
   * evaluation of loglik.ts, on the engine's centered rows.
   */
  private loglikFrom(explained: number, sigma2: number, logDetM: number): number {
    const { n, D, d } = this;
    // log p(x) = log p(cx) + D log c
    return logLikFromSquares(this.totalNorm / n, explained / n, sigma2, D, d, logDetM) + D * Math.log(this.scale);
  }

  /** 〈W_i, W_j〉 for all slots (slotCount×slotCount), from one product over the slot buffer. */
  async slotGram(): Promise<Float64Array> {
    const { backend: b, ws, slotCount: k } = this;
    const g = ws.get('slotGram', k * k);
    b.matmul({ a: this.slotBuffer, b: this.slotBuffer, c: g, m: k, n: k, k: this.slotLen, transB: true });
    return Float64Array.from((await b.read(g)).subarray(0, k * k));
  }

  /** slot `out` = Σ c_k · slot `src_k` (queued). */
  combineInto(out: number, terms: [number, number][]): void {
    const { backend: b, D, dp } = this;
    const dst = this.slots[out]!;
    b.fill({ x: dst, n: D * dp, value: 0 });
    for (const [slot, c] of terms) b.axpy({ x: this.slots[slot]!, y: dst, n: D * dp, alpha: c });
  }

  /** slot `out` = Σ c_k · slot `src_k`, and its WᵀW. */
  async combine(out: number, terms: [number, number][]): Promise<Mat> {
    this.combineInto(out, terms);
    return this.gramOfSlot(out);
  }

  /**
   * WᵀW of the W a slot holds, in float64 on the host from W read back (D×d; the
   * O(D·d²) product is n times smaller than the map's). It must be the Gram of the
   * stored float32 W, and exact: the log-likelihood multiplies a relative error
   * δ in M = WᵀW + σ²I by about Σ‖L⁻¹y‖²/(2nσ²) ≈ 1,800 on MNIST d = 50, so the
   * float32 product on the device (δ ~ 1e-7) was 2–3e-4 nats/sample off.
   */
  async gramOfSlot(slot: number): Promise<Mat> {
    const { D, d, dp } = this;
    return gramOf(withColumns(await this.backend.read(this.slots[slot]!), D, dp, d), D, d);
  }

  /** Copies a slot into a standalone model. */
  export(p: Point): PpcaModel {
    const { backend: b, D, d, dp } = this;
    const W = b.tensor(D * d, { label: 'ppca.W' });
    const c = this.scale;
    // W = slot · E, E (dp×d) the first d columns of I/c: exact (c is a power of two, the rest are zeros)
    const E = new Float32Array(dp * d);
    for (let j = 0; j < d; j++) E[j * d + j] = 1 / c;
    b.matmul({ a: this.slots[p.slot]!, b: this.ws.upload('select', E), c: W, m: D, n: d, k: dp });
    const mu = b.tensor(D, { label: 'ppca.mu', data: Float32Array.from(this.mu) });
    return { backend: b, D, d, W, mu, sigma2: p.sigma2 / (c * c), wtw: p.wtw.map((v) => v / (c * c)) };
  }

  release(): void {
    for (const t of this.xc) this.backend.release(t);
    this.passes?.release();
    this.backend.release(this.slotBuffer);
    this.ws.releaseAll();
  }
}

/** f(c0, count) over [0, chunks) in runs of at most BATCH_LIMIT (a batch is one workgroup per product on WebGPU, ≤ 65,535 per dimension) */
function forBatches(chunks: number, f: (c0: number, count: number) => void): void {
  for (let c0 = 0; c0 < chunks; c0 += BATCH_LIMIT) f(c0, Math.min(BATCH_LIMIT, chunks - c0));
}

/** acc + Σ ‖L⁻¹y_i‖² over the first `rows` rows, from rowSquares' Gram blocks (row i: entry i·DOT_BLOCK + i mod DOT_BLOCK), in row order */
function addSquares(acc: number, grams: Float32Array, rows: number): number {
  for (let i = 0; i < rows; i++) acc += grams[i * DOT_BLOCK + (i % DOT_BLOCK)]!;
  return acc;
}

function now(): number {
  return performance.now() / 1000;
}

function isSource(data: DeviceData | RowSource): data is RowSource {
  return typeof (data as RowSource).read === 'function';
}

/**
 * Rows per block of exact EM's passes: a multiple of SUM_CHUNK_ROWS within one storage
 * binding, with the host staging (raw and centred rows, one block's row squares) within
 * hostBytes and the device rows (two blocks, Y, the whitened latents, row squares and
 * Gᵀ's chunk products) within deviceBytes. A forced chunkRows is rounded up to SUM_CHUNK_ROWS.
 */
export function emPassRows(backend: Backend, source: Pick<RowSource, 'n' | 'D' | 'name'>, d: number, budget: EmBudget = {}, chunkRows?: number): number {
  const { n, D } = source;
  const R = SUM_CHUNK_ROWS;
  const whole = Math.ceil(n / R) * R;
  if (chunkRows !== undefined) return Math.min(whole, dataChunkRows(backend, D, { align: R, override: chunkRows }));
  const dp = paddedLatent(d);
  const hostRow = 4 * (2 * D + DOT_BLOCK);
  const deviceRow = 4 * (2 * D + 2 * dp + DOT_BLOCK + Math.ceil((dp * (D + dp)) / R));
  const limits = [whole, dataChunkRows(backend, D, { align: R }), Math.floor((budget.hostBytes ?? DEFAULT_PASS_HOST_BYTES) / hostRow)];
  if (budget.deviceBytes !== undefined) limits.push(Math.floor(budget.deviceBytes / deviceRow));
  const rows = Math.floor(Math.min(...limits) / R) * R;
  if (rows < R) {
    const mb = (v: number): string => (v / 2 ** 20).toFixed(1);
    throw new DataError(`${source.name}: exact EM in passes needs blocks of at least ${R} rows of ${D} (${mb(R * hostRow)} MiB host, ${mb(R * deviceRow)} MiB device); raise the memory budget (--host-memory, --device-memory)`);
  }
  return rows;
}

/**
 * Fits PPCA by exact EM (plain, SQUAREM- or Anderson-accelerated), on data already on the
 * backend or on a RowSource: rows in memory that fit `opts.budget.deviceBytes` are uploaded
 * once, others read in passes (see EmOptions.budget), their column statistics from one pass.
 */
export async function fitEm(backend: Backend, input: DeviceData | RowSource, opts: EmOptions): Promise<EmResult> {
  const method = opts.method ?? PPCA_DEFAULTS.method;
  if (!EM_METHODS.includes(method)) throw new KernelError('ppca EM', `unknown method '${method as string}' (${EM_METHODS.join(' | ')})`);
  const memory = opts.memory ?? ANDERSON_MEMORY;
  need(Number.isInteger(memory) && memory >= 1, 'ppca EM', `Anderson memory must be a positive integer, got ${memory}`);
  checkShape('ppca EM', input.D, opts.d);
  const maxIters = opts.maxIters ?? PPCA_DEFAULTS.iters;
  const tol = opts.tol ?? PPCA_DEFAULTS.tol;
  const seed = opts.seed ?? 0;
  const src = isSource(input) ? input : null;
  const budget = opts.budget ?? {};
  const resident = !src || (src.array !== null && opts.chunkRows === undefined && (budget.deviceBytes === undefined || src.n * src.D * 4 <= budget.deviceBytes));
  const data: HostData & { name: string } = src ? { name: src.name, n: src.n, D: src.D, host: src.array ?? new Float32Array(0) } : input as DeviceData;
  let rows: EmRows;
  let stats: ColumnStats;
  if (resident) {
    ({ stats } = checkDataScale(data, opts.d));
    rows = { data };
  } else {
    const blockRows = emPassRows(backend, src!, opts.d, budget, opts.chunkRows);
    stats = src!.array ? columnStatsOf(data) : await sourceColumnStats(src!, blockRows, opts.onStatsRows);
    checkDataScale(data, opts.d, stats);
    rows = { source: src!, stats, blockRows };
  }
  let init = opts.init;
  if (!init) {
    init = resident ? initialPpca(data, { d: opts.d, seed })
      : initialFromMoments(data.name, stats.mu, stats.variance.reduce((a, v) => a + v, 0) / data.D, { d: opts.d, seed });
  }
  if (init.D !== data.D || init.d !== opts.d) {
    throw new KernelError('ppca EM', `initial model is ${init.D}×${init.d}, data need ${data.D}×${opts.d}`);
  }
  // validate the starting point the same way a loaded model is checked
  const check = createPpca(backend, init);
  backend.release(check.W);
  backend.release(check.mu);
  const slotCount = method === 'anderson' ? andersonSlots(memory) : method === 'squarem' ? SQUAREM_SLOTS : 2;
  const c = internalScale(stats);
  const engine = new EmEngine(backend, rows, opts.d, stats.mu, slotCount, c, opts.chunkRows);
  const t0 = now();
  const trace: EmProgress[] = [];
  const record = (iteration: number, loglik: number, sigma2: number): void => {
    const p = { iteration, loglik, sigma2: sigma2 / (c * c), seconds: now() - t0 };
    trace.push(p);
    opts.onIter?.(p);
  };
  try {
    const W0 = Float32Array.from(init.W, (w) => w * c);
    engine.uploadSlot(0, W0);
    const start: Point = { slot: 0, wtw: gramOf(W0, init.D, init.d), sigma2: init.sigma2 * c * c };
    const r = method === 'em' ? await runEm(engine, start, maxIters, tol, record)
      : method === 'squarem' ? await runSquarem(engine, start, maxIters, tol, record)
        : await runAnderson(engine, start, maxIters, tol, memory, record);
    const loglik = await engine.loglik(r.point);
    record(r.iterations, loglik, r.point.sigma2);
    const model = engine.export(r.point);
    return {
      model, method, iterations: r.iterations, cycles: r.cycles, loglik,
      converged: r.converged, trace, seconds: now() - t0, ...(resident ? {} : { passRows: engine.blockRows }),
    };
  } finally {
    engine.release();
  }
}

interface RunResult {
  point: Point;
  iterations: number;
  cycles: number;
  converged: boolean;
}

type Recorder = (iteration: number, loglik: number, sigma2: number) => void;

async function runEm(engine: EmEngine, start: Point, maxIters: number, tol: number, record: Recorder): Promise<RunResult> {
  let cur = start;
  let prev = -Infinity;
  let it = 0;
  while (it < maxIters) {
    const r = await engine.map(cur, cur.slot === 0 ? 1 : 0);
    record(it, r.loglik, cur.sigma2);
    const change = r.loglik - prev;
    prev = r.loglik;
    cur = r.out;
    it++;
    // the change between the previous iterate and this one; the new iterate is at least as good
    if (Math.abs(change) < tol) return { point: cur, iterations: it, cycles: it, converged: true };
  }
  return { point: cur, iterations: it, cycles: it, converged: false };
}

/**
 * SQUAREM, scheme S3 (Varadhan & Roland 2008): with r = θ₁−θ₀ and v = θ₂−2θ₁+θ₀
 * in (W, log σ²), step α = ‖r‖/‖v‖ clipped to [1, αmax], θ' = θ₀ + 2αr + α²v
 * (α = 1 gives θ₂), then one stabilising EM step, which also yields log p(θ').
 * Safeguard and step policy as in their reference implementation: if
 * log p(θ') < log p(θ₀) the extrapolation is dropped and the cycle ends at θ₂
 * (two plain EM steps, always monotone) — its stabilising step is still a useful
 * EM step, so a rejection costs nothing extra; αmax starts at 1, grows ×4 each
 * time a step at the cap is accepted and shrinks ×4 after a rejected one (see below).
 * Measured: halving α towards 1 on rejection instead spends one EM map per halving
 * and needed ~2× the evaluations (float64 model, MNIST d = 10: 85 vs 49; plain EM 331).
 * On MNIST d = 50 it needs 133 maps to 1e-3 against plain EM's 380 (runAnderson: 41).
 */
async function runSquarem(engine: EmEngine, start: Point, maxIters: number, tol: number, record: Recorder): Promise<RunResult> {
  let p0 = start;
  let evals = 0;
  let cycles = 0;
  let stepMax = 1;
  const STEP_FACTOR = 4;
  /** extrapolations rejected since the last accepted one */
  let rejections = 0;
  let prevLoglik = -Infinity;
  const freeSlots = (used: number[]): number[] => [0, 1, 2, 3, 4].filter((s) => !used.includes(s));
  while (evals + 3 <= maxIters) {
    const [s1, s2, s3, s4] = freeSlots([p0.slot]) as [number, number, number, number];
    const used = evals;
    const r1 = await engine.map(p0, s1);
    evals++;
    const l0 = r1.loglik;
    record(used, l0, p0.sigma2);
    if (Math.abs(l0 - prevLoglik) < tol) return { point: p0, iterations: evals, cycles, converged: true };
    prevLoglik = l0;
    const p1 = r1.out;
    const r2 = await engine.map(p1, s2);
    evals++;
    const p2 = r2.out;
    const [a, b, c] = [p0.slot, p1.slot, p2.slot];
    const [l0s, l1s, l2s] = [Math.log(p0.sigma2), Math.log(p1.sigma2), Math.log(p2.sigma2)];
    // r and v are formed on the device before the dot products: ‖r‖² from Gram
    // entries (~‖W‖²) would cancel catastrophically in float32 near convergence
    engine.combineInto(s3, [[b, 1], [a, -1]]);
    engine.combineInto(s4, [[c, 1], [b, -2], [a, 1]]);
    const gram = await engine.slotGram();
    const rr = gram[s3 * SQUAREM_SLOTS + s3]! + (l1s - l0s) ** 2;
    const vv = gram[s4 * SQUAREM_SLOTS + s4]! + (l2s - 2 * l1s + l0s) ** 2;
    let alpha = vv > 0 && rr > 0 ? Math.sqrt(rr / vv) : 1;
    alpha = Math.max(1, Math.min(stepMax, alpha));
    cycles++;
    if (alpha > 1) {
      // θ' = θ₀ + 2α r + α² v from the r and v slots, into θ₁'s slot (no longer needed).
      // The equal form (1−α)²θ₀ + 2α(1−α)θ₁ + α²θ₂ cancels terms of size α²‖W‖ in
      // float32 (~1e-3 relative error at α ≈ 60) and the extrapolated points were then
      // rejected cycle after cycle (llvmpipe, MNIST d = 10: 200 EM maps to 1e-3 nats).
      const wtw = await engine.combine(b, [[a, 1], [s3, 2 * alpha], [s4, alpha * alpha]]);
      const logS2 = l0s + 2 * alpha * (l1s - l0s) + alpha * alpha * (l2s - 2 * l1s + l0s);
      const pExt: Point = { slot: b, wtw, sigma2: Math.exp(logS2) };
      const r3 = await engine.map(pExt, s3);
      evals++;
      if (r3.loglik >= l0) {
        if (alpha === stepMax) stepMax *= STEP_FACTOR;
        rejections = 0;
        p0 = r3.out;
        continue;
      }
      // rejected (a NaN log-likelihood lands here too): back to θ₂
      // the reference policy shrinks the cap only when α was at it; a second rejection in
      // a row shrinks it below α too: ‖r‖/‖v‖ can sit just under the cap and be rejected
      // cycle after cycle (llvmpipe, MNIST d = 10: α ≈ 63 < 64 for hundreds of cycles).
      // Shrinking after every rejection instead cost 76 vs 47 EM maps (float64 model).
      rejections++;
      if (alpha === stepMax || rejections >= 2) stepMax = Math.max(1, Math.min(stepMax, alpha) / STEP_FACTOR);
      if (evals >= maxIters) return { point: p2, iterations: evals, cycles, converged: false };
    } else if (stepMax === 1) {
      stepMax *= STEP_FACTOR;
    }
    // α = 1: the cycle's stabilising step is plain EM from θ₂
    const r3 = await engine.map(p2, s3);
    evals++;
    p0 = r3.out;
  }
  return { point: p0, iterations: evals, cycles, converged: false };
}

/** past iterates Anderson acceleration combines by default */
export const ANDERSON_MEMORY = 10;

/** θ, F(θ), g = F(θ)−θ of the current and the last accepted iterate, one ΔF and Δg being formed, m − 1 of each kept */
function andersonSlots(memory: number): number {
  return 2 * memory + 5;
}

/**
 * Anderson acceleration of the EM map (type II, Walker & Ni 2011), with the
 * restarts and the monotonicity safeguard of DAAREM (Henderson & Varadhan 2019)
 * but no damping. In θ = (W, log σ²), with g = F(θ) − θ and the last m
 * differences ΔF_j, Δg_j of consecutive accepted iterates:
 *   γ = argmin ‖g_k − Σ γ_j Δg_j‖,   θ_{k+1} = F(θ_k) − Σ γ_j ΔF_j,
 * one EM map per iterate. If log p(θ_{k+1}) < log p(θ_k) (known from the map of
 * θ_{k+1}) that map is dropped, θ_{k+1} = F(θ_k) — the plain EM step, monotone —
 * and the history restarts. Why not SQUAREM here: S3's one step length serves
 * every rate of the EM map at once, and on MNIST d = 50, where many eigenvalue
 * gaps near d give many slow rates, it needed 1/3 of plain EM's maps at best.
 */
async function runAnderson(engine: EmEngine, start: Point, maxIters: number, tol: number, memory: number, record: Recorder): Promise<RunResult> {
  const free = Array.from({ length: engine.slotCount }, (_, i) => i).filter((i) => i !== start.slot);
  const take = (): number => {
    const s = free.pop();
    if (s === undefined) throw new KernelError('ppca EM', 'Anderson acceleration ran out of W slots');
    return s;
  };
  const release = (...slots: number[]): void => {
    for (const s of slots) if (!free.includes(s)) free.push(s);
  };
  /** log σ² of what each slot holds (its W part is on the device) */
  const logS2 = new Float64Array(engine.slotCount);
  logS2[start.slot] = Math.log(start.sigma2);
  /** ΔF_j and Δg_j slots, oldest first */
  const dF: number[] = [];
  const dG: number[] = [];
  /** the last accepted iterate's F(θ) and g */
  let acc: { loglik: number; f: Point; g: number } | null = null;
  let x = start;
  /** whether x is an extrapolation (else it is F of the last accepted iterate, which is never rejected) */
  let extrapolated = false;
  let evals = 0;
  let cycles = 0;
  const restart = (): void => {
    release(...dF, ...dG);
    dF.length = 0;
    dG.length = 0;
  };
  while (evals < maxIters) {
    const r = await engine.map(x, take());
    evals++;
    logS2[r.out.slot] = Math.log(r.out.sigma2);
    if (extrapolated && acc && !(r.loglik >= acc.loglik)) {
      // the extrapolated θ is worse than the last accepted one (or NaN): take the EM step from that one instead
      release(x.slot, r.out.slot, acc.g);
      restart();
      x = acc.f;
      acc = null;
      extrapolated = false;
      continue;
    }
    record(evals - 1, r.loglik, x.sigma2);
    const converged = acc !== null && Math.abs(r.loglik - acc.loglik) < tol;
    cycles++;
    // g = F(θ) − θ, then the differences to the last accepted iterate, formed on the device (see runSquarem)
    const g = take();
    engine.combineInto(g, [[r.out.slot, 1], [x.slot, -1]]);
    logS2[g] = logS2[r.out.slot]! - logS2[x.slot]!;
    if (acc) {
      if (dF.length >= memory) release(dF.shift()!, dG.shift()!);
      const df = take();
      const dg = take();
      engine.combineInto(df, [[r.out.slot, 1], [acc.f.slot, -1]]);
      engine.combineInto(dg, [[g, 1], [acc.g, -1]]);
      logS2[df] = logS2[r.out.slot]! - logS2[acc.f.slot]!;
      logS2[dg] = logS2[g]! - logS2[acc.g]!;
      release(acc.f.slot, acc.g);
      dF.push(df);
      dG.push(dg);
    }
    release(x.slot);
    acc = { loglik: r.loglik, f: r.out, g };
    if (converged) return { point: r.out, iterations: evals, cycles, converged: true };
    if (dG.length === 0) {
      // a plain EM step; x then shares its slot with acc.f
      x = r.out;
      extrapolated = false;
      continue;
    }
    const gamma = andersonCoefficients(await engine.slotGram(), engine.slotCount, dG, g, logS2);
    const next = take();
    const terms: [number, number][] = [[r.out.slot, 1], ...dF.map((s, j): [number, number] => [s, -gamma[j]!])];
    const wtw = await engine.combine(next, terms);
    let ls = logS2[r.out.slot]!;
    for (let j = 0; j < dF.length; j++) ls -= gamma[j]! * logS2[dF[j]!]!;
    logS2[next] = ls;
    x = { slot: next, wtw, sigma2: Math.exp(ls) };
    extrapolated = true;
  }
  return { point: acc ? acc.f : x, iterations: evals, cycles, converged: false };
}

/**
 * γ = argmin ‖g − Σ γ_j Δg_j‖² from the slot Gram matrix (float32, on the device)
 * plus the log σ² products (float64), by Cholesky of the normal equations with a
 * small ridge (the Δg_j become nearly collinear as the iterates converge).
 */
function andersonCoefficients(gram: Float64Array, k: number, dG: number[], g: number, logS2: Float64Array): Float64Array {
  const m = dG.length;
  const A = new Float64Array(m * m);
  const rhs = new Float64Array(m);
  const dot = (a: number, b: number): number => gram[a * k + b]! + logS2[a]! * logS2[b]!;
  let scale = 0;
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < m; j++) A[i * m + j] = dot(dG[i]!, dG[j]!);
    rhs[i] = dot(dG[i]!, g);
    scale = Math.max(scale, A[i * m + i]!);
  }
  for (let i = 0; i < m; i++) A[i * m + i]! += ANDERSON_RIDGE * scale;
  const f = factorSpd(symmetrize(A, m), m, 'ppca Anderson normal equations');
  const gamma = new Float64Array(m);
  for (let i = 0; i < m; i++) for (let j = 0; j < m; j++) gamma[i]! += f.inverse[i * m + j]! * rhs[j]!;
  return gamma;
}

/** ridge of the Anderson normal equations, relative to their largest diagonal entry */
const ANDERSON_RIDGE = 1e-8;
