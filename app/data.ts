// The page's datasets: the bundled MNIST binary (served as a static asset),
// synthetic PPCA data, or the user's own CSV / NPY file, read by the library
// (src/browser.ts); this module fetches, caches and describes them.
import mnistUrl from '../data/mnist-10k.bin?url';
import { DataError, decodeMnist, readDataBlob, splitRunData, subsetRows, syntheticRunData, type RunData } from '../src/browser.ts';

/** A run's data with a one-line description for the page. */
export interface AppData extends RunData {
  describe: string;
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

/** A user's CSV or NPY file (size-checked before it is read). */
export async function loadUserFile(file: File): Promise<AppData> {
  const data = splitRunData(await readDataBlob(file, file.name));
  return { ...data, describe: `${file.name}: ${data.train.n} train, ${data.test.n} test rows, D = ${data.train.D}` };
}
