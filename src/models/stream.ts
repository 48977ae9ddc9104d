// Rows streamed from a RowSource to the device a chunk at a time (issue 14 item 3),
// model-neutral: the VAE, the per-point model and the evaluations use it, and any
// minibatch method can. Two device buffers: while the caller trains on one chunk,
// the next is read from the source into one reused host staging array and
// uploaded into the other. Memory is flat: the buffers and the staging are made
// once. When the data are in memory and fit the device budget, callers keep the
// resident path (DeviceRows) instead: `streams` decides.
//
// A training chunk is not one contiguous slice: files are often ordered (MNIST by
// digit), and minibatches drawn from one contiguous chunk would see one class at a
// time. The rows are cut into small blocks (contiguous, the read unit); each epoch
// permutes the blocks, and each run of about MIX_BLOCKS blocks in that order is one
// chunk (one upload), its rows shuffled (streamEpoch, DESIGN §3.4).
import { KernelError, dataChunkRows, need, type Backend, type Tensor } from '../backend.ts';
import { DataError } from '../data/dataset.ts';
import { arraySource, chunksOf, type Chunk, type RowSource } from '../data/source.ts';
import { epochPermutation, mixSeed } from '../train/rng.ts';
import type { StepInput } from '../train/trainer.ts';
import { columnVariance } from './latent.ts';
import { DeviceRows } from './rows.ts';

/** What the rows may take: bytes of host staging and of device buffers, or a forced chunk size. */
export interface MemoryBudget {
  /** host bytes for the staging of one chunk (default DEFAULT_HOST_BYTES) */
  hostBytes?: number;
  /** device bytes for the data: two chunk buffers when streaming (default: no limit) */
  deviceBytes?: number;
  /** rows per chunk, forcing a stream even of in-memory data that fit (tests, benchmarks) */
  chunkRows?: number;
}

/** The host staging a stream may use when no budget is given: 256 MiB. */
export const DEFAULT_HOST_BYTES = 256 * 2 ** 20;

/**
 * Blocks per training chunk, about: each chunk mixes rows from this many places in the
 * data. On MNIST ordered by digit, chunks of 1,280 rows in 10 blocks trained 4.6 nats short
 * of full shuffling after 5 epochs, in 80 blocks 0.65 nats (docs/scale-results.md).
 */
export const MIX_BLOCKS = 256;

const MB = 2 ** 20;

/**
 * Whether the rows must stream: they are not in memory, a chunk size is forced, or
 * n×D float32 exceed the device budget. Otherwise they go resident (DeviceRows).
 */
export function streams(source: RowSource, budget: MemoryBudget = {}): boolean {
  if (source.array === null || budget.chunkRows !== undefined) return true;
  return budget.deviceBytes !== undefined && source.n * source.D * 4 > budget.deviceBytes;
}

/**
 * Rows per streamed chunk: one host staging of a chunk within hostBytes, two device
 * buffers within deviceBytes, one buffer within a storage binding; at least one
 * minibatch of `batch` rows. A forced `chunkRows` is taken as given.
 */
export function streamChunkRows(backend: Backend, source: Pick<RowSource, 'n' | 'D' | 'name'>, budget: MemoryBudget = {}, batch = 1): number {
  const { n, D } = source;
  const rowBytes = D * 4;
  if (budget.chunkRows !== undefined) {
    need(Number.isInteger(budget.chunkRows) && budget.chunkRows >= 1, 'stream', `chunk rows must be a positive integer, got ${budget.chunkRows}`);
    need(budget.chunkRows >= Math.min(batch, n), 'stream', `chunks of ${budget.chunkRows} rows cannot hold a minibatch of ${batch}`);
    return Math.max(1, Math.min(budget.chunkRows, n));
  }
  const host = budget.hostBytes ?? DEFAULT_HOST_BYTES;
  const limits: number[] = [Math.max(1, n), dataChunkRows(backend, D), Math.floor(host / rowBytes)];
  if (budget.deviceBytes !== undefined) limits.push(Math.floor(budget.deviceBytes / 2 / rowBytes));
  const rows = Math.min(...limits);
  if (rows < 1) {
    throw new DataError(`${source.name}: a row of ${D} floats (${rowBytes} bytes) does not fit the memory budget (host ${(host / MB).toFixed(1)} MB${budget.deviceBytes === undefined ? '' : `, device ${(budget.deviceBytes / MB).toFixed(1)} MB for two chunk buffers`})`);
  }
  if (rows < Math.min(batch, n)) {
    throw new DataError(`${source.name}: the memory budget holds ${rows} rows per chunk, fewer than a minibatch of ${batch}; raise the budget (--device-memory, --host-memory) or lower --batch`);
  }
  return rows;
}

/**
 * How training rows stream: chunks of at most `chunkRows` rows (one device buffer),
 * made of `blocksPerChunk` blocks of `blockRows` contiguous rows. A full chunk holds
 * whole minibatches (blocks are a multiple or a divisor of the batch), so an epoch has
 * ⌈n / batch⌉ minibatches whatever the grouping. When the rows fit one chunk, that
 * chunk holds every row and is read once.
 */
export interface StreamLayout {
  chunkRows: number;
  blockRows: number;
  blocksPerChunk: number;
}

/** The layout for chunk buffers of `chunkRows` rows (streamChunkRows) and minibatches of `batch`. */
export function streamLayout(chunkRows: number, n: number, batch: number): StreamLayout {
  need(Number.isInteger(batch) && batch >= 1, 'stream', `batch must be a positive integer, got ${batch}`);
  if (chunkRows >= n) return { chunkRows: n, blockRows: n, blocksPerChunk: 1 };
  need(chunkRows >= batch, 'stream', `chunks of ${chunkRows} rows cannot hold a minibatch of ${batch}`);
  const target = Math.max(1, Math.floor(chunkRows / MIX_BLOCKS));
  let blockRows = 1;
  if (target >= batch) blockRows = batch * Math.floor(target / batch);
  else for (let r = 1; r <= target; r++) if (batch % r === 0) blockRows = r;
  let blocksPerChunk = Math.floor(chunkRows / blockRows);
  if (blockRows < batch) blocksPerChunk -= blocksPerChunk % (batch / blockRows);
  return { chunkRows: blocksPerChunk * blockRows, blockRows, blocksPerChunk };
}

/** One chunk of an epoch: its blocks in ascending row order, and their rows in all. */
export interface EpochChunk {
  parts: Chunk[];
  rows: number;
}

/**
 * An epoch's order over streamed rows (DESIGN §3.4): the blocks of `blockRows` rows
 * are permuted by the order epochChunkOrder draws from (seed, epoch); consecutive runs
 * of `blocksPerChunk` full blocks in that order are the epoch's chunks, in that order,
 * and the blocks left over with the last, shorter block (if any) make the epoch's last
 * chunk; a chunk's rows (its blocks laid out in ascending order) are permuted by a
 * permutation drawn from (seed, epoch, chunk position). Minibatches are consecutive
 * runs of that permutation, so they never span two chunks.
 */
export function streamEpoch(n: number, layout: StreamLayout, seed: number, epoch: number): { chunks: EpochChunk[]; within: (k: number) => Uint32Array } {
  // Blocks are kept as indices (block b is rows [b·blockRows, …)): at 10⁷ rows an object per
  // block cost 275 MiB; only the chunks being loaded build their parts.
  const { blockRows, blocksPerChunk } = layout;
  const count = Math.ceil(n / blockRows);
  const rowsOf = (b: number): number => Math.min(blockRows, n - b * blockRows);
  const short = rowsOf(count - 1) < blockRows ? count - 1 : -1;
  // the order epochChunkOrder draws for `count` blocks
  const perm = epochPermutation(count, mixSeed(seed, 0x63686e6b), epoch);
  const full = short >= 0 ? perm.filter((b) => b !== short) : perm;
  const bounds: [number, number][] = [];
  for (let i = 0; i < full.length; i += blocksPerChunk) bounds.push([i, Math.min(i + blocksPerChunk, full.length)]);
  // the short block joins the leftover blocks, so every other chunk holds whole minibatches
  const shortAlone = short >= 0 && (bounds.length === 0 || bounds.at(-1)![1] - bounds.at(-1)![0] === blocksPerChunk);
  if (shortAlone) bounds.push([full.length, full.length]);
  const recent: { k: number; parts: Chunk[] }[] = [];
  const partsOf = (k: number): Chunk[] => {
    const hit = recent.find((r) => r.k === k);
    if (hit) return hit.parts;
    const [i0, i1] = bounds[k]!;
    const ids = Array.from(full.subarray(i0, i1));
    if (short >= 0 && k === bounds.length - 1) ids.push(short);
    const parts = ids.sort((x, y) => x - y).map((id): Chunk => ({ r0: id * blockRows, rows: rowsOf(id) }));
    recent.unshift({ k, parts });
    if (recent.length > 3) recent.pop();
    return parts;
  };
  const chunks = bounds.map(([i0, i1], k): EpochChunk => {
    const rows = (i1 - i0) * blockRows + (short >= 0 && k === bounds.length - 1 ? rowsOf(short) : 0);
    return { rows, get parts(): Chunk[] { return partsOf(k); } };
  });
  return { chunks, within: (k: number) => epochPermutation(chunks[k]!.rows, mixSeed(seed, 0x67727570, k), epoch) };
}

/** The data rows of positions `local` in a chunk's buffer (its blocks laid out in order), into `out` at `at`. */
export function chunkRowsOf(chunk: EpochChunk, local: ArrayLike<number>, out: Uint32Array, at = 0): void {
  const starts: number[] = [];
  let o = 0;
  for (const p of chunk.parts) {
    starts.push(o);
    o += p.rows;
  }
  for (let i = 0; i < local.length; i++) {
    const l = local[i]!;
    let k = chunk.parts.length - 1;
    while (starts[k]! > l) k--;
    out[at + i] = chunk.parts[k]!.r0 + l - starts[k]!;
  }
}

/** The device rows of a chunk: valid until the stream's next load. */
export interface LoadedChunk {
  x: Tensor;
  rows: number;
}

/**
 * A source's rows streamed into two device buffers of `chunkRows` rows (one when the
 * rows fit one). `loadParts(parts, next)` makes the rows of `parts` (slices laid out
 * one after the other) resident, at once when they already are or when the previous
 * load read them ahead, and starts reading `next` into the other buffer. `load(c)`
 * does it for the contiguous chunk c of `chunks`.
 */
export class ChunkStream {
  /** contiguous chunks of chunkRows rows (load's unit) */
  readonly chunks: Chunk[];
  readonly D: number;
  /** slices read from the source so far (tests and benchmarks) */
  reads = 0;
  private readonly slots: { x: Tensor; key: string }[];
  private readonly staging: Float32Array;
  private current = -1;
  private prefetch: { key: string; slot: number; done: Promise<void> } | null = null;
  private released = false;

  constructor(readonly backend: Backend, readonly source: RowSource, readonly chunkRows: number, label = 'rows') {
    need(Number.isInteger(chunkRows) && chunkRows >= 1, 'stream', `chunk rows must be a positive integer, got ${chunkRows}`);
    need(source.n > 0, 'stream', `${source.name} has no rows`);
    this.D = source.D;
    this.chunks = chunksOf(source.n, chunkRows);
    const R = this.chunks[0]!.rows;
    const count = this.chunks.length === 1 ? 1 : 2;
    this.slots = Array.from({ length: count }, (_, i) => ({ x: backend.tensor(R * this.D, { label: `${label} chunk buffer ${i}` }), key: '' }));
    this.staging = new Float32Array(R * this.D);
  }

  get n(): number {
    return this.source.n;
  }

  /** device bytes of the chunk buffers */
  get deviceBytes(): number {
    return this.slots.length * this.chunks[0]!.rows * this.D * 4;
  }

  /** host bytes of the staging */
  get hostBytes(): number {
    return this.staging.byteLength;
  }

  /** contiguous chunk c (and reads chunk `next` ahead) */
  load(c: number, next?: number): Promise<LoadedChunk> {
    need(Number.isInteger(c) && c >= 0 && c < this.chunks.length, 'stream', `chunk ${c} is outside the ${this.chunks.length} chunks`);
    return this.loadParts([this.chunks[c]!], next === undefined ? undefined : [this.chunks[next]!]);
  }

  /**
   * The rows of `parts` on the device, one slice after the other; then starts reading
   * `next` (if given) into the other buffer. The tensor returned by the previous load
   * is overwritten from then on.
   */
  async loadParts(parts: readonly Chunk[], next?: readonly Chunk[]): Promise<LoadedChunk> {
    need(!this.released, 'stream', 'the stream was released');
    const key = keyOf(parts);
    const rows = parts.reduce((s, p) => s + p.rows, 0);
    need(rows <= this.chunks[0]!.rows, 'stream', `${rows} rows do not fit a chunk buffer of ${this.chunks[0]!.rows}`);
    let slot = this.slots.findIndex((s) => s.key === key);
    if (slot < 0) {
      const p = this.prefetch;
      if (p) {
        this.prefetch = null;
        // a read in flight into the staging: wait for it (and for its error) even when it is of no use now
        await p.done;
        if (p.key === key) slot = p.slot;
      }
      if (slot < 0) {
        slot = this.slots.length === 1 || this.current !== 0 ? 0 : 1;
        await this.fill(parts, key, slot);
      }
    } else if (this.prefetch?.slot === slot) {
      // the read ahead landed: it was of these rows
      this.prefetch = null;
    }
    this.current = slot;
    const nextKey = next && keyOf(next);
    if (next && nextKey !== key && this.slots.length > 1 && !this.slots.some((s) => s.key === nextKey) && !this.prefetch) {
      const other = 1 - slot;
      const done = this.fill(next, nextKey!, other);
      // a failed read is reported by the load that needs it
      done.catch(() => {});
      this.prefetch = { key: nextKey!, slot: other, done };
    }
    return { x: this.slots[slot]!.x, rows };
  }

  /** reads the parts from the source one after the other into the staging, and uploads them into slot */
  private async fill(parts: readonly Chunk[], key: string, slot: number): Promise<void> {
    const s = this.slots[slot]!;
    s.key = '';
    let o = 0;
    for (const { r0, rows } of parts) {
      await this.source.read(r0, rows, this.staging.subarray(o * this.D, (o + rows) * this.D));
      this.reads++;
      o += rows;
    }
    if (this.released) return;
    this.backend.upload(s.x, this.staging.subarray(0, o * this.D));
    s.key = key;
  }

  /** Waits for a read ahead in flight (before the source is closed). */
  async settle(): Promise<void> {
    const p = this.prefetch;
    this.prefetch = null;
    if (p) await p.done.catch(() => {});
  }

  /** Frees the device buffers (the source stays open: its owner closes it). */
  release(): void {
    if (this.released) return;
    this.released = true;
    for (const s of this.slots) this.backend.release(s.x);
  }
}

function keyOf(parts: readonly Chunk[]): string {
  return parts.map((p) => `${p.r0}+${p.rows}`).join(',');
}

/**
 * Per-column variance of a source's rows in float64, two streamed passes (the mean,
 * then the squared deviations) of chunks within hostBytes: the Gaussian decoder's
 * initial variance when the rows are not in memory.
 */
export async function sourceColumnVariance(source: RowSource, hostBytes = DEFAULT_HOST_BYTES): Promise<Float32Array> {
  const { n, D } = source;
  need(n > 0, 'stream', `${source.name} has no rows`);
  const R = Math.max(1, Math.min(n, Math.floor(hostBytes / (D * 4))));
  const buf = new Float32Array(R * D);
  const mean = new Float64Array(D);
  const sq = new Float64Array(D);
  for (const pass of [0, 1]) {
    for (const { r0, rows } of chunksOf(n, R)) {
      await source.read(r0, rows, buf);
      for (let i = 0; i < rows; i++) {
        for (let j = 0; j < D; j++) {
          const v = buf[i * D + j]!;
          if (pass === 0) mean[j]! += v;
          else {
            const d = v - mean[j]!;
            sq[j]! += d * d;
          }
        }
      }
    }
    if (pass === 0) for (let j = 0; j < D; j++) mean[j]! /= n;
  }
  return Float32Array.from(sq, (v) => v / n);
}

/** How a model takes its training rows: a memory budget, and the minibatch size the chunks are cut to. */
export interface RowsOptions {
  memory?: MemoryBudget;
  /** chunks hold whole minibatches of this many rows (default 1) */
  batch?: number;
}

/** A model's training rows: resident (DeviceRows, in as many buffers as bindings need) or streamed (ChunkStream). */
export class TrainRows {
  readonly resident: DeviceRows | null = null;
  readonly stream: ChunkStream | null = null;

  constructor(readonly backend: Backend, readonly source: RowSource, opts: RowsOptions = {}, label = 'train x') {
    if (!streams(source, opts.memory)) this.resident = new DeviceRows(backend, source.array!, source.n, source.D, label);
    else this.stream = new ChunkStream(backend, source, streamChunkRows(backend, source, opts.memory, opts.batch), label);
  }

  /** rows given as a typed array (n×D), or a source */
  static source(x: Float32Array | RowSource, n: number | undefined, D: number, label: string): RowSource {
    if (!(x instanceof Float32Array)) {
      need(x.D === D && (n === undefined || n === x.n), label, `the source ${x.name} holds ${x.n} rows of ${x.D}, not ${n ?? x.n} of ${D}`);
      return x;
    }
    need(n !== undefined && x.length === n * D, label, `training data has ${x.length} values, not ${n}×${D}`);
    return arraySource(label, x, n, D);
  }

  /** dst (rows×D) = the minibatch's rows: from the resident rows, or from the streamed chunk the trainer holds */
  gather(s: Pick<StepInput, 'idx' | 'idxHost' | 'rows' | 'chunk'>, dst: Tensor): void {
    if (s.chunk) this.backend.gatherRows({ src: s.chunk.x, idx: s.chunk.local, dst, rows: s.rows, cols: this.source.D });
    else if (this.resident) this.resident.gather(s.idx, s.idxHost, dst, s.rows);
    else throw new KernelError('TrainRows', 'the rows stream, and this step came without its chunk (train through the Trainer)');
  }

  /** the resident rows; an error when they stream */
  get rows(): DeviceRows {
    if (!this.resident) throw new KernelError('TrainRows', `the training rows stream in chunks of ${this.stream!.chunkRows}; they are not resident`);
    return this.resident;
  }

  release(): void {
    this.resident?.release();
    this.stream?.release();
  }
}

/** The Gaussian decoder's initial variance: `given`, else the rows' column variance when they are in memory. */
export function initialVariance(source: RowSource, given?: Float32Array): Float32Array {
  if (given) {
    need(given.length === source.D, 'model', `the column variance has ${given.length} values, not D = ${source.D}`);
    return given;
  }
  if (!source.array) throw new KernelError('model', `${source.name} is not in memory: give its column variance (sourceColumnVariance) for the Gaussian decoder`);
  return columnVariance(source.array, source.n, source.D);
}
