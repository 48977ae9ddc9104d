// Node wrappers: read the user's data files and pick the data source the CLI names.
import { totalmem } from 'node:os';
import { basename, extname } from 'node:path';
import { parseCsvBytes, type HeaderMode } from './csv.ts';
import { DataError, checkSameWidth, printable, subsetRows, splitTrainTest, type Dataset, type MissingMode } from './dataset.ts';
import { loadMnist } from './mnist.node.ts';
import { parseNpy } from './npy.ts';
import { GiB, MiB, checkRegularFile, readRegularFile } from './read.node.ts';
import { SYNTHETIC_FLAGS, syntheticPpca, syntheticProblem, type SyntheticPpca } from './synthetic.ts';

/**
 * Largest data file read: a quarter of this machine's memory, at most 2 GiB (a
 * file's values are copied into a float32 array and again into the train/test
 * split, so the peak is about three times the file). 70,000 × 784 float32 is 219 MB.
 */
export const DATA_FILE_MAX_BYTES = Math.min(2 * GiB, Math.floor(totalmem() / 4));
/** CSV/TSV text is also limited by the longest string JavaScript can hold (about 512 MiB). */
export const CSV_FILE_MAX_BYTES = Math.min(DATA_FILE_MAX_BYTES, 500 * MiB);

/** A .csv / .tsv / .txt table or a .npy array. */
export function loadDataFile(path: string, opts: { header?: HeaderMode; missing?: MissingMode } = {}): Dataset {
  const ext = extname(path).toLowerCase();
  const source = basename(path);
  if (ext === '.npy') {
    return parseNpy(readRegularFile(path, 'data file', DATA_FILE_MAX_BYTES, 'use a sample of the rows (arr[::k]) or fewer columns'), { source, missing: opts.missing });
  }
  if (ext === '.csv' || ext === '.tsv' || ext === '.txt') {
    const bytes = readRegularFile(path, 'data file', CSV_FILE_MAX_BYTES, 'save it as float32 .npy (np.save) or use a sample of the rows');
    return parseCsvBytes(bytes, { source, header: opts.header, missing: opts.missing });
  }
  checkRegularFile(path, 'data file');
  throw new DataError(`${printable(path, 200)}: unknown data file type '${printable(ext) || '(none)'}' (use .csv, .tsv, .txt or .npy)`);
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
}

export interface LoadedData {
  train: Dataset;
  test: Dataset;
  /** the generating parameters, for --data synthetic */
  truth?: SyntheticPpca;
}

export function loadDataSource(o: DataSourceOptions): LoadedData {
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
    const all = loadDataFile(o.data, { header: o.header, missing: o.missing });
    if (o.test === undefined) {
      if (all.n < 5) throw new DataError(`${all.name}: ${all.n} rows are too few to split off a test set (every 5th row); give --test FILE`);
      ({ train, test } = splitTrainTest(all));
    } else {
      train = all;
    }
  }
  if (o.test !== undefined) {
    if (o.data === 'mnist' || o.data === 'synthetic') throw new DataError(`--test FILE goes with --data FILE, not with --data ${o.data}`);
    test = loadDataFile(o.test, { header: o.header, missing: o.missing });
  }
  if (test === undefined) throw new DataError('no test data');
  if (o.subset !== undefined) train = subsetRows(train, o.subset);
  if (o.testSubset !== undefined) test = subsetRows(test, o.testSubset);
  checkSameWidth(train, test);
  return truth ? { train, test, truth } : { train, test };
}
