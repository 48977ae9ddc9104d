// The page's datasets: the bundled MNIST binary (served as a static asset),
// synthetic PPCA data, or the user's own CSV / NPY file, read by the library
// (src/browser.ts); this module fetches, caches and describes them.
import mnistUrl from '../data/mnist-10k.bin?url';
import {
  DataError, STREAM_SAMPLE_ROWS, countMissing, decodeMnist, hideAtRandom, readDataBlob, splitRunData, streamDataBlob, subsetRows, syntheticRunData,
  type Dataset, type RunData, type StreamedRunData,
} from '../src/browser.ts';

/** A run's data with a one-line description for the page. */
export interface AppData extends RunData {
  describe: string;
  /** missing (NaN) entries, train and test together */
  missing?: number;
  /** entries were hidden by the page: the rows before hiding, to score the imputation */
  complete?: { train: Dataset; test: Dataset };
  /** a large file read in slices: every training row (train and test are then samples) */
  source?: StreamedRunData['source'];
}

let mnistBytes: Promise<Uint8Array> | null = null;

async function fetchMnistBytes(): Promise<Uint8Array> {
  mnistBytes ??= (async () => {
    const res = await fetch(mnistUrl);
    if (!res.ok) throw new DataError(`${mnistUrl}: HTTP ${res.status} ${res.statusText}`);
    return new Uint8Array(await res.arrayBuffer());
  })();
  try {
    return await mnistBytes;
  } catch (e) {
    mnistBytes = null;
    throw e;
  }
}

export async function loadMnist(trainRows: number, testRows: number): Promise<AppData> {
  const { train, test } = decodeMnist(await fetchMnistBytes(), { subset: trainRows });
  // the split is digit-ordered; an evenly spread subset keeps every digit in the scatter
  const t = subsetRows(test, testRows);
  return { train, test: t, unitRange: true, describe: `MNIST: ${train.n} train, ${t.n} test rows, D = ${train.D}`, metadata: {} };
}

export function makeSynthetic(o: { n: number; D: number; d: number; sigma: number; seed: number }): AppData {
  const data = syntheticRunData(o);
  return { ...data, describe: `synthetic PPCA: ${data.train.n} train, ${data.test.n} test rows, D = ${data.train.D}, true d = ${o.d}` };
}

/** `\x93NUMPY`: an NPY file's first bytes */
const NPY_MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59];

/**
 * A user's CSV or NPY file (size-checked before it is read); NaN (CSV: empty,
 * nan, NA) is read as a missing entry and counted. An NPY file over
 * `streamBytes` is never read whole: its training rows are read a slice at a
 * time while training (PPCA's stochastic and online EM, the VAE), samples kept in memory.
 */
export async function loadUserFile(file: File, streamBytes = Infinity): Promise<AppData> {
  const head = new Uint8Array(await file.slice(0, NPY_MAGIC.length).arrayBuffer());
  if (file.size > streamBytes && NPY_MAGIC.every((b, i) => head[i] === b)) {
    const s = await streamDataBlob(file, file.name);
    const describe = `${file.name}: ${s.fileRows.toLocaleString('en-US')} rows, D = ${s.train.D}, read in slices while training ` +
      `(${(file.size / 2 ** 20).toFixed(0)} MiB; figures and pictures on ${s.train.n} train and ${s.test.n} test rows sampled, at most ${STREAM_SAMPLE_ROWS} each)`;
    return { ...s, describe };
  }
  const data = splitRunData(await readDataBlob(file, file.name, { missing: 'nan' }));
  const missing = countMissing(data.train) + countMissing(data.test);
  const describe = `${file.name}: ${data.train.n} train, ${data.test.n} test rows, D = ${data.train.D}` + (missing ? `, ${missing} missing entries` : '');
  return { ...data, describe, missing };
}

/** `data` with `pct` % of its entries hidden at random (seeded), the complete rows kept to score the imputation. */
export function hideEntries(data: AppData, pct: number, seed: number): AppData {
  const h = hideAtRandom(data, pct / 100, seed);
  return {
    train: h.train, test: h.test, unitRange: h.unitRange, metadata: h.metadata, complete: h.complete,
    missing: (data.missing ?? 0) + h.hidden, describe: `${data.describe}; ${pct}% of entries hidden at random (${h.hidden} entries)`,
  };
}
