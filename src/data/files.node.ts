// Node wrappers: read the user's data files and pick the data source the CLI names.
import { totalmem } from 'node:os';
import { basename, extname } from 'node:path';
import { parseCsvBytes, type HeaderMode } from './csv.ts';
import { DataError, checkSameWidth, printable, subsetRows, splitTrainTest, type Dataset, type MissingMode } from './dataset.ts';
import { loadMnist } from './mnist.node.ts';
import { decodeRows, parseNpy, rawF32Layout } from './npy.ts';
import { GiB, MiB, checkRegularFile, openRegular, readRegularFile, sizeText } from './read.node.ts';
import { RAW_F32_EXTENSIONS, isSliceableFile, openFileSource } from './source.node.ts';
import { splitSource, type RowSource } from './source.ts';
import { closeSync } from 'node:fs';
import { SYNTHETIC_FLAGS, syntheticPpca, syntheticProblem, type SyntheticPpca } from './synthetic.ts';

/**
 * Largest data file read: a quarter of this machine's memory, at most 2 GiB (a
 * file's values are copied into a float32 array and again into the train/test
 * split, so the peak is about three times the file). 70,000 × 784 float32 is 219 MB.
 */
export const DATA_FILE_MAX_BYTES = Math.min(2 * GiB, Math.floor(totalmem() / 4));
/** CSV/TSV text is also limited by the longest string JavaScript can hold (about 512 MiB). */
export const CSV_FILE_MAX_BYTES = Math.min(DATA_FILE_MAX_BYTES, 500 * MiB);

/** A .csv / .tsv / .txt table, a .npy array, or raw float32 rows (.f32/.bin, `dim` values a row). */
export function loadDataFile(path: string, opts: { header?: HeaderMode; missing?: MissingMode; dim?: number } = {}): Dataset {
  const ext = extname(path).toLowerCase();
  const source = basename(path);
  if (ext === '.npy') {
    return parseNpy(readRegularFile(path, 'data file', DATA_FILE_MAX_BYTES, 'use a sample of the rows (arr[::k]) or fewer columns'), { source, missing: opts.missing });
  }
  if ((RAW_F32_EXTENSIONS as readonly string[]).includes(ext)) {
    // the row width is checked against the size before the file is read
    const { fd, size } = openRegular(path, 'data file');
    closeSync(fd);
    const layout = rawF32Layout(size, opts.dim ?? NaN, source);
    const bytes = readRegularFile(path, 'data file', DATA_FILE_MAX_BYTES, 'use a sample of the rows or fewer columns');
    const x = new Float32Array(layout.n * layout.D);
    decodeRows(bytes, layout, 0, layout.n, x, source, opts.missing);
    return { name: source, x, n: layout.n, D: layout.D };
  }
  if (ext === '.csv' || ext === '.tsv' || ext === '.txt') {
    const bytes = readRegularFile(path, 'data file', CSV_FILE_MAX_BYTES, 'save it as float32 .npy (np.save) or use a sample of the rows');
    return parseCsvBytes(bytes, { source, header: opts.header, missing: opts.missing });
  }
  checkRegularFile(path, 'data file');
  throw new DataError(`${printable(path, 200)}: unknown data file type '${printable(ext) || '(none)'}' (use .csv, .tsv, .txt, .npy, or raw float32 .f32/.bin with --dim)`);
}

export interface DataSourceOptions {
  /** 'mnist' | 'synthetic' | a file path */
  data: string;
  /** a separate test file; without it a file is split by the canonical rule (row i is test when i % 5 == 4) */
  test?: string;
  /** first N training rows */
  subset?: number;
  /** first N test rows */
  testSubset?: number;
  header?: HeaderMode;
  /** 'nan': NaN (and, in CSV, empty or nan/NA cells) marks a missing entry; default: an error */
  missing?: MissingMode;
  /** synthetic PPCA data: rows (before the split), dimension, latent dimension, noise σ, seed */
  synthetic?: { n: number; D: number; d: number; sigma: number; seed: number };
  /** the row width of a raw float32 data file (.f32/.bin) */
  dim?: number;
  /** --host-memory in MiB: a .npy/raw file larger than this is read in slices (default: DATA_FILE_MAX_BYTES) */
  hostMemoryMB?: number;
  /**
   * Whether the run reads its data in slices when they are over the host budget
   * (`allowed`), and which models and methods do, for the error when it does not.
   */
  stream?: { allowed: boolean; which: string };
}

export interface LoadedData {
  /** the training rows; shape only (x empty) when they stream from trainSource */
  train: Dataset;
  /** the test rows; shape only (x empty) when they stream from testSource */
  test: Dataset;
  /** a data file over the host budget, read in slices (then train and test hold no rows) */
  trainSource?: RowSource;
  testSource?: RowSource;
  /** the generating parameters, for --data synthetic */
  truth?: SyntheticPpca;
}

/** The host budget in bytes: --host-memory, else the data-file cap. */
export function hostBudgetBytes(hostMemoryMB?: number): number {
  return hostMemoryMB === undefined ? DATA_FILE_MAX_BYTES : hostMemoryMB * MiB;
}

/** The size of a data file (its type and existence checked), or null when it is not a .npy/raw file. */
function sliceableSize(path: string): number | null {
  if (!isSliceableFile(path)) return null;
  const { fd, size } = openRegular(path, 'data file');
  closeSync(fd);
  return size;
}

/** A shape-only dataset for rows that stream (no values in memory). */
function shapeOf(src: RowSource): Dataset {
  return { name: src.name, x: new Float32Array(0), n: src.n, D: src.D };
}

/**
 * --data FILE (and --test FILE) over the host budget: RowSources read in slices
 * (the 2 GiB cap does not apply), split by the canonical rule without --test.
 * null when neither file is over the budget.
 */
function streamedFiles(o: DataSourceOptions): LoadedData | null {
  if (o.data === 'mnist' || o.data === 'synthetic') return null;
  const budget = hostBudgetBytes(o.hostMemoryMB);
  const files = [o.data, ...(o.test !== undefined ? [o.test] : [])];
  const big = files.find((f) => (sliceableSize(f) ?? 0) > budget);
  if (big === undefined) return null;
  const size = sliceableSize(big)!;
  const why = `${printable(big, 200)} is ${sizeText(size)}, over the host-memory budget of ${sizeText(budget)}${o.hostMemoryMB === undefined ? ' (¼ of RAM, at most 2 GiB; --host-memory MB sets it)' : ' (--host-memory)'}`;
  if (!o.stream?.allowed) throw new DataError(`${why}; only ${o.stream?.which ?? 'the streaming methods'} read a file in slices: use one of them, a larger --host-memory, or a sample of the rows`);
  if (o.subset !== undefined || o.testSubset !== undefined) throw new DataError(`${why}: --subset and --test-subset do not apply to a file read in slices; save a sample of the rows instead`);
  for (const f of files) {
    if (!isSliceableFile(f)) throw new DataError(`${why}, but ${printable(f, 200)} cannot be read in slices; convert it to .npy first (latentgpu convert FILE.csv FILE.npy)`);
  }
  const all = openFileSource(o.data, { dim: o.dim, missing: o.missing });
  let train: RowSource;
  let test: RowSource;
  if (o.test === undefined) {
    if (all.n < 5) throw new DataError(`${all.name}: ${all.n} rows are too few to split off a test set (every 5th row); give --test FILE`);
    ({ train, test } = splitSource(all));
  } else {
    train = all;
    test = openFileSource(o.test, { dim: o.dim, missing: o.missing });
  }
  if (train.D !== test.D) throw new DataError(`${test.name} has ${test.D} columns but ${train.name} has ${train.D}`);
  return { train: shapeOf(train), test: shapeOf(test), trainSource: train, testSource: test };
}

export function loadDataSource(o: DataSourceOptions): LoadedData {
  const streamed = streamedFiles(o);
  if (streamed) return streamed;
  let train: Dataset;
  let test: Dataset | undefined;
  let truth: SyntheticPpca | undefined;
  if (o.data === 'mnist') {
    ({ train, test } = loadMnist());
  } else if (o.data === 'synthetic') {
    if (!o.synthetic) throw new DataError('synthetic data needs its size, dimensions, noise and seed');
    const problem = syntheticProblem(o.synthetic, (k) => SYNTHETIC_FLAGS[k]);
    if (problem) throw new DataError(`--data synthetic: ${problem}`);
    truth = syntheticPpca(o.synthetic);
    ({ train, test } = splitTrainTest(truth.data));
  } else {
    const all = loadDataFile(o.data, { header: o.header, missing: o.missing, dim: o.dim });
    if (o.test === undefined) {
      if (all.n < 5) throw new DataError(`${all.name}: ${all.n} rows are too few to split off a test set (every 5th row); give --test FILE`);
      ({ train, test } = splitTrainTest(all));
    } else {
      train = all;
    }
  }
  if (o.test !== undefined) {
    if (o.data === 'mnist' || o.data === 'synthetic') throw new DataError(`--test FILE goes with --data FILE, not with --data ${o.data}`);
    test = loadDataFile(o.test, { header: o.header, missing: o.missing, dim: o.dim });
  }
  if (test === undefined) throw new DataError('no test data');
  if (o.subset !== undefined) train = subsetRows(train, o.subset);
  if (o.testSubset !== undefined) test = subsetRows(test, o.testSubset);
  checkSameWidth(train, test);
  return truth ? { train, test, truth } : { train, test };
}
