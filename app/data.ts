// Datasets in the browser: the bundled MNIST binary (served as a static asset),
// synthetic PPCA data, or the user's own CSV / NPY file. Parsing is the shared,
// platform-neutral code of src/data; this module only fetches and reads files.
import mnistUrl from '../data/mnist-10k.bin?url';
import { parseCsvBytes } from '../src/data/csv.ts';
import { DataError, printable, splitTrainTest, subsetRows, validateForModel, type Dataset } from '../src/data/dataset.ts';
import { decodeMnist } from '../src/data/mnist.ts';
import { parseNpy } from '../src/data/npy.ts';
import { firstOutsideUnit } from '../src/models/likelihood.ts';
import { syntheticPpca } from '../src/data/synthetic.ts';

export interface AppData {
  train: Dataset;
  test: Dataset;
  /** values are intensities in [0,1]: draw as images without rescaling */
  unitRange: boolean;
  describe: string;
  /** model-file metadata describing these data (the CLI regenerates synthetic data from it) */
  meta: Record<string, string>;
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
  return { train, test: t, unitRange: true, describe: `MNIST: ${train.n} train, ${t.n} test rows, D = ${train.D}`, meta: {} };
}


export function makeSynthetic(o: { n: number; D: number; d: number; sigma: number; seed: number }): AppData {
  const { data } = syntheticPpca(o);
  const { train, test } = splitTrainTest(data);
  return {
    train, test, unitRange: false, describe: `synthetic PPCA: ${train.n} train, ${test.n} test rows, D = ${train.D}, true d = ${o.d}`,
    // the key and fields of src/cli/synthetic.ts: `latentgpu eval --data synthetic` regenerates these rows
    meta: { synthetic_data: JSON.stringify({ n: o.n, D: o.D, d: o.d, sigma: o.sigma, seed: o.seed }) },
  };
}

const NPY_MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // \x93NUMPY
/** Upper bounds on a user's file, checked before it is read into the page. */
const APP_NPY_MAX_BYTES = 2 * 2 ** 30;
const APP_CSV_MAX_BYTES = 500 * 2 ** 20;

/** A user's CSV or NPY file (by content: NPY files start with their magic string). */
export async function loadUserFile(file: File): Promise<AppData> {
  // the size is known before reading: the magic bytes decide the cap (CSV text is bounded by
  // the longest string a page can hold, about 512 MiB)
  if (file.size === 0) throw new DataError(`${printable(file.name, 200)}: the file is empty`);
  const head = new Uint8Array(await file.slice(0, NPY_MAGIC.length).arrayBuffer());
  const isNpy = NPY_MAGIC.every((b, i) => head[i] === b);
  const cap = isNpy ? APP_NPY_MAX_BYTES : APP_CSV_MAX_BYTES;
  if (file.size > cap) {
    throw new DataError(`${printable(file.name, 200)} is ${(file.size / 2 ** 20).toFixed(0)} MiB, over the page's ${cap / 2 ** 20} MiB limit for ${isNpy ? '.npy' : 'text'} files; use a sample of the rows${isNpy ? '' : ' or save it as float32 .npy'}`);
  }
  const bytes = new Uint8Array(await file.arrayBuffer());
  const all = isNpy
    ? parseNpy(bytes, { source: file.name })
    : parseCsvBytes(bytes, { source: file.name });
  validateForModel(all, {});
  if (all.n < 5) throw new DataError(`${file.name}: ${all.n} rows; at least 5 are needed (every 5th row is held out for testing)`);
  const { train, test } = splitTrainTest(all);
  return {
    train, test, unitRange: firstOutsideUnit([all]) === null,
    describe: `${file.name}: ${train.n} train, ${test.n} test rows, D = ${train.D}`,
    meta: {},
  };
}

