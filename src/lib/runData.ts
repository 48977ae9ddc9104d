// A run's data in a page: a user's CSV or NPY file (a File or Blob, its size
// checked before it is read), synthetic PPCA data, or any dataset, split into
// train and test rows by the project's split (every 5th row is test) with the
// metadata a model file keeps about them.
import { SYNTHETIC_METADATA_KEY } from '../data/synthetic.ts';
import { parseCsvBytes } from '../data/csv.ts';
import { DataError, makeDataset, printable, splitTrainTest, validateForModel, type Dataset, type MissingMode } from '../data/dataset.ts';
import { parseNpy } from '../data/npy.ts';
import { syntheticPpca } from '../data/synthetic.ts';
import { firstOutsideUnit } from '../models/likelihood.ts';
import { HostRng } from '../train/rng.ts';
import { blobSource } from '../data/source.blob.ts';
import { splitSource, type RowSource } from '../data/source.ts';

/** Train and test rows of a run, with what a page needs to know of them. */
export interface RunData {
  /** the training rows */
  train: Dataset;
  /** the held-out rows */
  test: Dataset;
  /** every value lies in [0, 1] (intensities: drawn as images without rescaling; a Bernoulli decoder fits) */
  unitRange: boolean;
  /** model-file metadata describing the data (synthetic data: its generator settings, which the CLI regenerates) */
  metadata: Record<string, string>;
}

/** `\x93NUMPY`: an NPY file's first bytes */
const NPY_MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59];
/** Upper bounds on a file read into a page, checked before it is read (CSV text: the longest string a page holds is ~512 MiB). */
export const BLOB_LIMITS = {
  /** an NPY file: 2 GiB */
  npyBytes: 2 * 2 ** 30,
  /** a CSV/TSV/text file: 500 MiB */
  textBytes: 500 * 2 ** 20,
} as const;

/**
 * A CSV/TSV or NPY file (NPY by its magic bytes) as a dataset, its size checked
 * against {@link BLOB_LIMITS} before it is read and its values checked finite
 * (`missing: 'nan'`: NaN, and in CSV an empty or nan/NA cell, is a missing entry);
 * `name` names it in errors (default: the File's name).
 */
export async function readDataBlob(file: Blob, name = (file as Partial<File>).name ?? 'the file', opts: { missing?: MissingMode } = {}): Promise<Dataset> {
  const shown = printable(name, 200);
  if (file.size === 0) throw new DataError(`${shown}: the file is empty`);
  const head = new Uint8Array(await file.slice(0, NPY_MAGIC.length).arrayBuffer());
  const isNpy = NPY_MAGIC.every((b, i) => head[i] === b);
  const cap = isNpy ? BLOB_LIMITS.npyBytes : BLOB_LIMITS.textBytes;
  if (file.size > cap) {
    throw new DataError(`${shown} is ${(file.size / 2 ** 20).toFixed(0)} MiB, over the page's ${cap / 2 ** 20} MiB limit for ${isNpy ? '.npy' : 'text'} files; use a sample of the rows${isNpy ? '' : ' or save it as float32 .npy'}`);
  }
  const bytes = new Uint8Array(await file.arrayBuffer());
  const missing = opts.missing ?? 'error';
  const data = isNpy ? parseNpy(bytes, { source: name, missing }) : parseCsvBytes(bytes, { source: name, missing });
  validateForModel(data, { missing });
  return data;
}

/** A run's data read from a file a slice at a time: the training rows as a source, samples of both splits in memory. */
export interface StreamedRunData extends RunData {
  /** every training row (the project's split of the file), read in slices while training */
  source: RowSource;
  /** rows in the file */
  fileRows: number;
}

/** Rows of each split kept in memory from a streamed file, for the figures and pictures. */
export const STREAM_SAMPLE_ROWS = 2000;
/** Consecutive rows read at a time when sampling a streamed file: the sample is blocks spread evenly over the rows. */
const SAMPLE_BLOCK_ROWS = 50;

/** About `rows` rows of a source in blocks of SAMPLE_BLOCK_ROWS spread evenly over it (all of it when it is small). */
async function sampleRows(src: RowSource, rows: number, name: string): Promise<Dataset> {
  const { n, D } = src;
  const m = Math.min(rows, n);
  const blocks = Math.ceil(m / SAMPLE_BLOCK_ROWS);
  const x = new Float32Array(m * D);
  let at = 0;
  for (let b = 0; b < blocks; b++) {
    const count = Math.min(SAMPLE_BLOCK_ROWS, m - at);
    // block b starts at ⌊b·n/blocks⌋, moved back where it would run past the end
    const r0 = Math.min(Math.floor((b * n) / blocks), n - count);
    await src.read(r0, count, x.subarray(at * D, (at + count) * D));
    at += count;
  }
  return makeDataset(name, x, m, D);
}

/**
 * A .npy File/Blob read a slice at a time, never whole (data larger than a
 * page's memory): the training rows (every row but each 5th) as a RowSource
 * for the models that stream (STREAMING_KINDS), and STREAM_SAMPLE_ROWS rows of each split in
 * memory for the figures, pictures and the likelihood choice. The file's
 * values are checked as they are read.
 */
export async function streamDataBlob(file: Blob, name = (file as Partial<File>).name ?? 'the file'): Promise<StreamedRunData> {
  const src = await blobSource(file, { name, format: 'npy' });
  if (src.n < 5) throw new DataError(`${printable(name, 200)}: ${src.n} rows; at least 5 are needed (every 5th row is held out for testing)`);
  const { train, test } = splitSource(src);
  const trainSample = await sampleRows(train, STREAM_SAMPLE_ROWS, `${name}:train sample`);
  const testSample = await sampleRows(test, STREAM_SAMPLE_ROWS, `${name}:test sample`);
  return {
    train: trainSample, test: testSample, unitRange: firstOutsideUnit([trainSample, testSample]) === null, metadata: {}, source: train, fileRows: src.n,
  };
}

/** The NaN (missing) entries of a dataset. */
export function countMissing(ds: Dataset): number {
  let c = 0;
  for (const v of ds.x) if (Number.isNaN(v)) c++;
  return c;
}

/** A run's data with entries hidden (NaN), and the complete rows they came from. */
export interface HiddenRunData extends RunData {
  /** the rows before hiding */
  complete: {
    /** the training rows, complete */
    train: Dataset;
    /** the held-out rows, complete */
    test: Dataset;
  };
  /** entries hidden, train and test together */
  hidden: number;
}

/**
 * Hides each entry of the train and test rows independently with probability
 * `fraction` (seeded: HostRng(seed) draws one uniform per entry, train rows
 * first, then test), to fit with missing values and score the imputation.
 */
export function hideAtRandom(data: RunData, fraction: number, seed: number): HiddenRunData {
  if (!(fraction >= 0 && fraction < 1)) throw new DataError(`the fraction of entries to hide must lie in [0, 1), got ${fraction}`);
  const rng = new HostRng(seed);
  let hidden = 0;
  const hide = (ds: Dataset): Dataset => {
    const x = Float32Array.from(ds.x, (v) => {
      if (rng.uniform() >= fraction) return v;
      hidden++;
      return NaN;
    });
    return makeDataset(`${ds.name} (${+(100 * fraction).toFixed(2)}% hidden)`, x, ds.n, ds.D, ds.labels);
  };
  const train = hide(data.train);
  const test = hide(data.test);
  return { ...data, train, test, complete: { train: data.train, test: data.test }, hidden };
}

/** Root-mean-square error of `imputed` against `complete` over the entries that are NaN in `withMissing` and known in `complete` (all row-major, same length). */
export function imputationRmse(complete: Float32Array, withMissing: Float32Array, imputed: Float32Array): { rmse: number; entries: number } {
  if (complete.length !== withMissing.length || imputed.length !== withMissing.length) {
    throw new Error(`imputation RMSE: arrays of ${complete.length}, ${withMissing.length} and ${imputed.length} values; they must be equal`);
  }
  let s = 0;
  let entries = 0;
  for (let k = 0; k < withMissing.length; k++) {
    if (!Number.isNaN(withMissing[k]!) || Number.isNaN(complete[k]!)) continue;
    s += (imputed[k]! - complete[k]!) ** 2;
    entries++;
  }
  return { rmse: entries ? Math.sqrt(s / entries) : NaN, entries };
}

/** A dataset split into train and test rows (row i is test when i % 5 == 4); at least 5 rows. */
export function splitRunData(all: Dataset, metadata: Record<string, string> = {}): RunData {
  if (all.n < 5) throw new DataError(`${printable(all.name, 200)}: ${all.n} rows; at least 5 are needed (every 5th row is held out for testing)`);
  const { train, test } = splitTrainTest(all);
  return { train, test, unitRange: firstOutsideUnit([all]) === null, metadata };
}

/** Seeded synthetic PPCA data (x = W z + μ + σ ε), split, its settings kept for the model file (`latentgpu eval --data synthetic` regenerates it). */
export function syntheticRunData(o: { n: number; D: number; d: number; sigma: number; seed: number }): RunData {
  const { data } = syntheticPpca(o);
  const { train, test } = splitTrainTest(data);
  const settings = { n: o.n, D: o.D, d: o.d, sigma: o.sigma, seed: o.seed };
  return { train, test, unitRange: false, metadata: { [SYNTHETIC_METADATA_KEY]: JSON.stringify(settings) } };
}
