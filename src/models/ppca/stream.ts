// Stochastic and online EM over rows streamed from a RowSource (issue 14 items
// 3-4): the column statistics from one streamed pass (float64), then every
// epoch reads the rows chunk by chunk (host budget), centres and scales each
// chunk on the host in float64 exactly as the in-memory path does (scale.ts
// centredHost), uploads it into one of two device buffers (device budget;
// models/stream.ts ChunkStream reads chunk k+1 while chunk k's minibatches run)
// and takes the minibatches from it in the epoch order of models/stream.ts
// streamEpoch (blocks of whole minibatches in a random order, a run of them
// per chunk, the chunk's rows in a random order, consecutive runs of `batch`
// of them; the one short minibatch is the one holding the last block).
import { need, type Backend, type Tensor } from '../../backend.ts';
import type { RowSource } from '../../data/source.ts';
import { ChunkStream, chunkRowsOf, streamChunkRows, streamEpoch, streamLayout, type EpochChunk, type MemoryBudget, type StreamLayout } from '../stream.ts';
import type { StreamedRows } from './fitter.ts';
import { gramOf, latentFactors, type PpcaModel, type Workspace } from './model.ts';
import { logLikFromSquares } from './loglik.ts';
import { internalScale, type ColumnStats } from './scale.ts';
import { sourceColumnStats } from './sourceStats.ts';

/** Rows per slice of the host passes (statistics, log-likelihood): about 8 MiB of float32. */
function passRows(D: number, n: number): number {
  return Math.max(1, Math.min(n, Math.floor((8 * 2 ** 20) / (4 * D))));
}

/**
 * The source's rows as the fit sees them: (x − μ̂)·scale per entry in float64,
 * rounded once to float32 (scale.ts centredHost, entry for entry), and when
 * `norms` is given ‖row‖² of every row read (float64), for online EM.
 */
export function centredSource(src: RowSource, mu: Float64Array, scale: number, norms?: Float64Array): RowSource {
  const { D } = src;
  return {
    name: src.name, n: src.n, D, array: null,
    async read(r0: number, count: number, dst: Float32Array): Promise<void> {
      await src.read(r0, count, dst);
      for (let i = 0; i < count; i++) {
        let s = 0;
        for (let j = 0; j < D; j++) {
          const k = i * D + j;
          dst[k] = (dst[k]! - mu[j]!) * scale;
          s += dst[k]! * dst[k]!;
        }
        if (norms) norms[r0 + i] = s;
      }
    },
    close: () => src.close(),
  };
}

/**
 * Exact mean log-likelihood per row of a model over a source's rows, float64 on
 * the host in one pass of slices: log p(x) from ‖x − μ‖² and ‖L⁻¹Wᵀ(x − μ)‖²
 * (loglik.ts logLikFromSquares), L the Cholesky factor of M = WᵀW + σ²I.
 */
export async function sourceLogLik(model: PpcaModel, src: RowSource): Promise<number> {
  const { backend: b, D, d, sigma2 } = model;
  need(src.D === D, 'ppca', `${src.name} has ${src.D} columns, the model D=${D}`);
  const [W, mu] = await Promise.all([b.read(model.W), b.read(model.mu)]);
  const f = latentFactors(gramOf(W.subarray(0, D * d), D, d), sigma2, d);
  const Li = f.M.cholInv;
  const R = passRows(D, src.n);
  const buf = new Float32Array(R * D);
  const r = new Float64Array(D);
  const y = new Float64Array(d);
  let total = 0;
  for (let r0 = 0; r0 < src.n; r0 += R) {
    const m = Math.min(R, src.n - r0);
    await src.read(r0, m, buf);
    for (let i = 0; i < m; i++) {
      let centred = 0;
      for (let j = 0; j < D; j++) {
        r[j] = buf[i * D + j]! - mu[j]!;
        centred += r[j]! * r[j]!;
      }
      y.fill(0);
      for (let j = 0; j < D; j++) {
        const v = r[j]!;
        if (v !== 0) for (let k = 0; k < d; k++) y[k]! += W[j * d + k]! * v;
      }
      let explained = 0;
      for (let k = 0; k < d; k++) {
        let z = 0;
        for (let l = 0; l <= k; l++) z += Li[k * d + l]! * y[l]!;
        explained += z * z;
      }
      total += logLikFromSquares(centred, explained, sigma2, D, d, f.M.logDet);
    }
  }
  return total / src.n;
}

export interface PpcaStreamOptions {
  /** minibatch rows: chunks hold whole minibatches when they can */
  batch: number;
  /** host and device budgets, or a forced chunk size (models/stream.ts) */
  memory?: MemoryBudget;
  /** keep ‖centred row‖² of every row (online EM's running ‖x‖²) */
  norms?: boolean;
  /** called with the rows done of the statistics pass */
  onStatsRows?: (rows: number) => void;
}

/**
 * A source's rows for a stochastic fitter: their column statistics (one
 * streamed pass, made by `open`), the centred and scaled rows in chunks on
 * the device (models/stream.ts: blocks of whole minibatches, several blocks
 * from across the data per chunk), and the minibatches of step t in the
 * documented epoch order (models/stream.ts streamEpoch).
 */
export class PpcaStream implements StreamedRows {
  readonly name: string;
  readonly n: number;
  readonly D: number;
  readonly scale: number;
  readonly stream: ChunkStream;
  readonly layout: StreamLayout;
  readonly stepsPerEpoch: number;
  /** ‖centred, scaled row‖² per row, filled as chunks are read (online EM) */
  readonly norms: Float64Array | null;
  private plan: { seed: number; epoch: number; chunks: EpochChunk[]; within: (k: number) => Uint32Array; starts: number[] } | null = null;
  private loaded: { pos: number; perm: Uint32Array; x: Tensor } | null = null;
  private lastDrawn: { seed: number; epoch: number; order: ReturnType<typeof streamEpoch> } | null = null;
  private readonly rowsOut: Uint32Array;

  private constructor(readonly backend: Backend, readonly source: RowSource, readonly stats: ColumnStats, readonly batch: number, opts: PpcaStreamOptions) {
    this.name = source.name;
    this.n = source.n;
    this.D = source.D;
    this.scale = internalScale(stats);
    this.norms = opts.norms ? new Float64Array(source.n) : null;
    const centred = centredSource(source, stats.mu, this.scale, this.norms ?? undefined);
    this.layout = streamLayout(streamChunkRows(backend, source, opts.memory, batch), source.n, batch);
    this.stream = new ChunkStream(backend, centred, this.layout.chunkRows, 'ppca centred rows');
    // blocks are whole minibatches but the last, so the epoch has as many minibatches as in memory
    this.stepsPerEpoch = Math.ceil(source.n / batch);
    this.rowsOut = new Uint32Array(batch);
  }

  /** Reads the column statistics (one pass) and sets up the chunk stream. */
  static async open(backend: Backend, source: RowSource, opts: PpcaStreamOptions): Promise<PpcaStream> {
    need(Number.isInteger(opts.batch) && opts.batch >= 1 && opts.batch <= source.n, 'ppca stream', `batch size ${opts.batch} must be from 1 to the ${source.n} rows`);
    const stats = await sourceColumnStats(source, passRows(source.D, source.n), opts.onStatsRows);
    return new PpcaStream(backend, source, stats, opts.batch, opts);
  }

  /** streamEpoch's order for (seed, epoch); the last one drawn is kept (the next epoch's, read ahead at an epoch's end) */
  private drawn(seed: number, epoch: number): ReturnType<typeof streamEpoch> {
    if (this.lastDrawn?.seed !== seed || this.lastDrawn.epoch !== epoch) this.lastDrawn = { seed, epoch, order: streamEpoch(this.n, this.layout, seed, epoch) };
    return this.lastDrawn.order;
  }

  private epochPlan(seed: number, epoch: number): NonNullable<PpcaStream['plan']> {
    if (this.plan?.epoch === epoch && this.plan.seed === seed) return this.plan;
    const { chunks, within } = this.drawn(seed, epoch);
    const starts = [0];
    for (const c of chunks) starts.push(starts.at(-1)! + Math.ceil(c.rows / this.batch));
    need(starts.at(-1) === this.stepsPerEpoch, 'ppca stream', `an epoch of ${starts.at(-1)} minibatches, expected ${this.stepsPerEpoch}`);
    this.plan = { seed, epoch, chunks, within, starts };
    this.loaded = null;
    return this.plan;
  }

  /**
   * Minibatch t (global step) of the epoch order drawn from `seed`: its chunk
   * made resident (the next chunk's read started), its rows gathered into xb
   * (rows×D); returns its rows' indices in the source.
   */
  async gather(t: number, seed: number, ws: Workspace, xb: Tensor): Promise<{ idx: Uint32Array; rows: number }> {
    const epoch = Math.floor(t / this.stepsPerEpoch);
    const k = t - epoch * this.stepsPerEpoch;
    const plan = this.epochPlan(seed, epoch);
    let pos = 0;
    while (plan.starts[pos + 1]! <= k) pos++;
    const chunk = plan.chunks[pos]!;
    if (this.loaded?.pos !== pos) {
      const next = pos + 1 < plan.chunks.length ? plan.chunks[pos + 1]! : this.drawn(seed, epoch + 1).chunks[0]!;
      const { x } = await this.stream.loadParts(chunk.parts, next.parts);
      this.loaded = { pos, perm: plan.within(pos), x };
    }
    const { perm, x } = this.loaded;
    const j = k - plan.starts[pos]!;
    const local = perm.subarray(j * this.batch, Math.min(chunk.rows, (j + 1) * this.batch));
    const rows = local.length;
    this.backend.gatherRows({ src: x, idx: ws.upload('streamIdx', local), dst: xb, rows, cols: this.D });
    chunkRowsOf(chunk, local, this.rowsOut);
    return { idx: this.rowsOut.subarray(0, rows), rows };
  }

  /** exact mean log-likelihood per row over the source (a host pass) */
  loglik(model: PpcaModel): Promise<number> {
    return sourceLogLik(model, this.source);
  }

  /** Frees the chunk buffers (a read in flight is dropped; the source stays open: its owner closes it after settle()). */
  release(): void {
    this.stream.release();
  }

  /** Waits for a read ahead in flight, before the source is closed. */
  settle(): Promise<void> {
    return this.stream.settle();
  }
}
