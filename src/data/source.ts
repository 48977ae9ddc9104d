// Rows that need not be in memory all at once (issue: data of any size). A
// RowSource hands out slices of n×D float32 rows: from a typed array, a file
// read in slices (source.node.ts), a browser File/Blob, or a generator. The
// models that stream (stochastic and online EM, the VAE, the per-point model,
// exact EM in passes) read it chunk by chunk under a host-memory budget and
// upload chunks under a device-memory budget. Platform-neutral.
import { DataError } from './dataset.ts';
import { epochPermutation, mixSeed } from '../train/rng.ts';

/** n rows of D float32 values, read a slice at a time. */
export interface RowSource {
  /** names the data in messages (a file name, "synthetic", …) */
  readonly name: string;
  readonly n: number;
  readonly D: number;
  /**
   * The whole data when they are already in memory (fast paths take it), else null.
   * Sources over files and generators return null.
   */
  readonly array: Float32Array | null;
  /**
   * Copies rows [r0, r0 + count) into dst[0, count·D). Rejects with a DataError naming
   * the source when the slice cannot be read (a file that shrank, an I/O error) or holds
   * a non-finite value (unless the source was opened for missing values).
   */
  read(r0: number, count: number, dst: Float32Array): Promise<void>;
  /** releases what the source holds open (a file descriptor); idempotent */
  close(): Promise<void>;
}

/** A RowSource over rows already in memory (x is n×D row-major). */
export function arraySource(name: string, x: Float32Array, n: number, D: number): RowSource {
  if (!Number.isInteger(n) || !Number.isInteger(D) || n < 0 || D < 1) throw new DataError(`${name}: bad shape ${n}×${D}`);
  if (x.length !== n * D) throw new DataError(`${name}: ${x.length} values do not make ${n} rows of ${D}`);
  return {
    name, n, D, array: x,
    async read(r0: number, count: number, dst: Float32Array): Promise<void> {
      checkSlice(this, r0, count, dst);
      dst.set(x.subarray(r0 * D, (r0 + count) * D));
    },
    async close(): Promise<void> {},
  };
}

/** Throws a DataError unless [r0, r0 + count) lies within the source and dst holds count rows. */
export function checkSlice(src: RowSource, r0: number, count: number, dst: Float32Array): void {
  if (!Number.isInteger(r0) || !Number.isInteger(count) || r0 < 0 || count < 0 || r0 + count > src.n) {
    throw new DataError(`${src.name}: rows [${r0}, ${r0 + count}) are outside its ${src.n} rows`);
  }
  if (dst.length < count * src.D) throw new DataError(`${src.name}: a buffer of ${dst.length} floats cannot hold ${count} rows of ${src.D}`);
}

/** Contiguous rows [r0, r0 + rows) of a source: the unit that is read, uploaded and shuffled within. */
export interface Chunk {
  r0: number;
  rows: number;
}

/** Splits n rows into chunks of `chunkRows` (the last may be shorter). */
export function chunksOf(n: number, chunkRows: number): Chunk[] {
  if (!Number.isInteger(chunkRows) || chunkRows < 1) throw new DataError(`chunk size must be a positive integer, got ${chunkRows}`);
  const out: Chunk[] = [];
  for (let r0 = 0; r0 < n; r0 += chunkRows) out.push({ r0, rows: Math.min(chunkRows, n - r0) });
  return out;
}

/**
 * An epoch's order over chunked data, the documented rule (DESIGN §3.4): the chunk
 * order is a permutation of the chunks drawn from (seed, epoch), and within each
 * chunk the rows are permuted by a permutation drawn from (seed, epoch, chunk index).
 * With one chunk this is a full shuffle of the rows, though not the same stream as
 * `epochPermutation(n, seed, epoch)`.
 */
export function epochChunkOrder(chunks: readonly Chunk[], seed: number, epoch: number): { order: number[]; within: (c: number) => Uint32Array } {
  const perm = epochPermutation(chunks.length, mixSeed(seed, 0x63686e6b), epoch);
  return {
    order: Array.from(perm),
    within: (c: number) => epochPermutation(chunks[c]!.rows, mixSeed(seed, 0x726f7773, c), epoch),
  };
}

/**
 * `f` with its calls run one after another (each starts when the previous settled): a
 * source that reads through one scratch buffer stays correct when a read ahead and an
 * evaluation pass read it at the same time.
 */
export function serialized<A extends unknown[]>(f: (...args: A) => Promise<void>): (...args: A) => Promise<void> {
  let tail: Promise<void> = Promise.resolve();
  return (...args: A) => {
    const run = tail.then(() => f(...args));
    tail = run.catch(() => {});
    return run;
  };
}

/**
 * The canonical train/test split (dataset.ts isTestRow: row i is a test row when
 * i % 5 == 4) of a source, as two sources that read the rows they keep in spans
 * of at most `spanRows` source rows through one scratch buffer each.
 */
export function splitSource(src: RowSource, spanRows = 1024): { train: RowSource; test: RowSource } {
  const { n, D } = src;
  const nTest = Math.floor(n / 5);
  // the j-th kept row of each side, as a source row
  const trainRow = (j: number): number => j + Math.floor(j / 4);
  const testRow = (j: number): number => 5 * j + 4;
  const side = (name: string, count: number, at: (j: number) => number): RowSource => {
    let scratch: Float32Array | null = null;
    const out: RowSource = {
      name, n: count, D, array: null,
      read: serialized(async (r0: number, rows: number, dst: Float32Array): Promise<void> => {
        checkSlice(out, r0, rows, dst);
        let j = r0;
        while (j < r0 + rows) {
          const first = at(j);
          // the kept rows whose source rows fall in [first, first + spanRows)
          let last = j;
          while (last + 1 < r0 + rows && at(last + 1) < first + spanRows) last++;
          const span = at(last) - first + 1;
          scratch ??= new Float32Array(Math.min(spanRows, n) * D);
          await src.read(first, span, scratch);
          for (let k = j; k <= last; k++) dst.set(scratch.subarray((at(k) - first) * D, (at(k) - first + 1) * D), (k - r0) * D);
          j = last + 1;
        }
      }),
      close: () => src.close(),
    };
    return out;
  };
  return { train: side(`${src.name}:train`, n - nTest, trainRow), test: side(`${src.name}:test`, nTest, testRow) };
}
