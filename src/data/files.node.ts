// Node wrappers: read the user's data files and pick the data source the CLI names.
import { readFileSync } from 'node:fs';
import { basename, extname } from 'node:path';
import { parseCsv, type HeaderMode } from './csv.ts';
import { DataError, checkSameWidth, subsetRows, splitTrainTest, type Dataset } from './dataset.ts';
import { loadMnist } from './mnist.node.ts';
import { parseNpy } from './npy.ts';
import { syntheticPpca, type SyntheticPpca } from './synthetic.ts';

function readBytes(path: string): Uint8Array {
  try {
    return readFileSync(path);
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    const why = err.code === 'ENOENT' ? 'no such file' : err.code === 'EISDIR' ? 'is a directory' : err.message;
    throw new DataError(`cannot read data file ${path}: ${why}`);
  }
}

/** A .csv / .tsv / .txt table or a .npy array. */
export function loadDataFile(path: string, opts: { header?: HeaderMode } = {}): Dataset {
  const ext = extname(path).toLowerCase();
  const bytes = readBytes(path);
  const source = basename(path);
  if (ext === '.npy') return parseNpy(bytes, { source });
  if (ext === '.csv' || ext === '.tsv' || ext === '.txt') {
    return parseCsv(new TextDecoder('utf-8').decode(bytes), { source, header: opts.header });
  }
  throw new DataError(`${path}: unknown data file type '${ext || '(none)'}' (use .csv, .tsv, .txt or .npy)`);
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
    truth = syntheticPpca(o.synthetic);
    ({ train, test } = splitTrainTest(truth.data));
  } else {
    const all = loadDataFile(o.data, { header: o.header });
    if (o.test === undefined) {
      if (all.n < 5) throw new DataError(`${all.name}: ${all.n} rows are too few to split off a test set (every 5th row); give --test FILE`);
      ({ train, test } = splitTrainTest(all));
    } else {
      train = all;
    }
  }
  if (o.test !== undefined) {
    if (o.data === 'mnist' || o.data === 'synthetic') throw new DataError(`--test FILE goes with --data FILE, not with --data ${o.data}`);
    test = loadDataFile(o.test, { header: o.header });
  }
  if (test === undefined) throw new DataError('no test data');
  if (o.subset !== undefined) train = subsetRows(train, o.subset);
  if (o.testSubset !== undefined) test = subsetRows(test, o.testSubset);
  checkSameWidth(train, test);
  return truth ? { train, test, truth } : { train, test };
}
