// Datasets as the models see them: n rows of D float32 features, row-major,
// plus the checks every loader and the CLI share. Platform-neutral.

export interface Dataset {
  name: string;
  /** n×D row-major */
  x: Float32Array;
  n: number;
  D: number;
  /** digit labels for MNIST */
  labels?: Uint8Array;
}

/** Bad or unusable data; the message names the source (file), and row/column where relevant. */
export class DataError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DataError';
  }
}

/**
 * A string from a file (a cell, a header name, a file name) made safe to put in
 * a one-line message: control characters (C0, DEL, C1, line and bidi
 * separators) are escaped as \xNN or \uNNNN, and anything past `max`
 * characters is cut and marked with "…".
 */
export function printable(s: string, max = 60): string {
  const cut = s.length > max ? `${s.slice(0, max)}…` : s;
  return cut.replace(/[\x00-\x1f\x7f-\x9f\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069\ufeff]/g, (c) => {
    const k = c.charCodeAt(0);
    return k <= 0xff ? `\\x${k.toString(16).padStart(2, '0')}` : `\\u${k.toString(16).padStart(4, '0')}`;
  });
}

/** Wraps a row-major array as a dataset, checking the shape. */
export function makeDataset(name: string, x: Float32Array, n: number, D: number, labels?: Uint8Array): Dataset {
  if (!Number.isInteger(n) || !Number.isInteger(D) || n < 0 || D < 0) throw new DataError(`${name}: bad shape ${n}×${D}`);
  if (x.length !== n * D) throw new DataError(`${name}: ${x.length} values do not make ${n} rows of ${D}`);
  if (labels && labels.length !== n) throw new DataError(`${name}: ${labels.length} labels for ${n} rows`);
  return labels ? { name, x, n, D, labels } : { name, x, n, D };
}

/**
 * `rows` rows spread evenly over the dataset (row ⌊i·n/rows⌋, copied), so a
 * subset of digit-ordered data such as the MNIST split keeps every class;
 * the whole dataset when it has no more.
 */
export function subsetRows(ds: Dataset, rows: number): Dataset {
  if (!Number.isInteger(rows) || rows < 1) throw new DataError(`${ds.name}: subset size must be a positive integer, got ${rows}`);
  if (rows >= ds.n) return ds;
  const picks = new Set<number>();
  for (let i = 0; i < rows; i++) picks.add(Math.floor((i * ds.n) / rows));
  return selectRows(ds, `${ds.name}[${rows} of ${ds.n}]`, (i) => picks.has(i));
}

/** Rows selected by a predicate on the row index, copied in order. */
export function selectRows(ds: Dataset, name: string, keep: (i: number) => boolean): Dataset {
  const idx: number[] = [];
  for (let i = 0; i < ds.n; i++) if (keep(i)) idx.push(i);
  const x = new Float32Array(idx.length * ds.D);
  const labels = ds.labels ? new Uint8Array(idx.length) : undefined;
  idx.forEach((src, dst) => {
    x.set(ds.x.subarray(src * ds.D, (src + 1) * ds.D), dst * ds.D);
    if (labels) labels[dst] = ds.labels![src]!;
  });
  return makeDataset(name, x, idx.length, ds.D, labels);
}

/**
 * The project's canonical split: row i is a test row when i % 5 == 4.
 * MNIST uses it on the digit-ordered rows; user files without --test use it too.
 */
export function isTestRow(i: number): boolean {
  return i % 5 === 4;
}

export function splitTrainTest(ds: Dataset): { train: Dataset; test: Dataset } {
  return {
    train: selectRows(ds, `${ds.name}:train`, (i) => !isTestRow(i)),
    test: selectRows(ds, `${ds.name}:test`, isTestRow),
  };
}

/** How a loader treats NaN: an error (the default), or a missing entry (`--missing nan`; ±∞ stays an error). */
export type MissingMode = 'error' | 'nan';

/** Every value finite (NaN allowed when `missing` is 'nan'); otherwise the first bad one by row and column (1-based). */
export function checkFinite(ds: Dataset, missing: MissingMode = 'error'): void {
  const { x, D } = ds;
  for (let k = 0; k < x.length; k++) {
    const v = x[k]!;
    if (!Number.isFinite(v) && !(missing === 'nan' && Number.isNaN(v))) {
      const hint = Number.isNaN(v) && missing === 'error' ? ' (to treat NaN as a missing entry: --missing nan, for train or eval of --model ppca or fa)' : '';
      throw new DataError(`${ds.name}: row ${Math.floor(k / D) + 1}, column ${(k % D) + 1}: value ${v} is not finite${hint}`);
    }
  }
}

/** Checks that a latent-variable model with `latent` dimensions and minibatches of `batch` rows can use the data. */
export function validateForModel(ds: Dataset, opts: { latent?: number; batch?: number; missing?: MissingMode }): void {
  if (ds.n === 0 || ds.D === 0) throw new DataError(`${ds.name}: no data (${ds.n} rows × ${ds.D} columns)`);
  checkFinite(ds, opts.missing);
  const { latent, batch } = opts;
  if (latent !== undefined) {
    if (!Number.isInteger(latent) || latent < 1) throw new DataError(`latent dimension must be a positive integer, got ${latent}`);
    if (latent >= ds.D) {
      throw new DataError(`${ds.name}: latent dimension d=${latent} must be smaller than the data dimension D=${ds.D}`);
    }
  }
  if (batch !== undefined) {
    if (!Number.isInteger(batch) || batch < 1) throw new DataError(`batch size must be a positive integer, got ${batch}`);
    if (ds.n < batch) throw new DataError(`${ds.name}: ${ds.n} rows, fewer than the batch size ${batch}`);
  }
}

/** The train and test sets must have the same number of columns. */
export function checkSameWidth(train: Dataset, test: Dataset): void {
  if (train.D !== test.D) {
    throw new DataError(`${test.name} has ${test.D} columns but ${train.name} has ${train.D}`);
  }
}
