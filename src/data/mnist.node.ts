// Node loader for the bundled MNIST binary (data/mnist-10k.bin in the repository).
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { DataError } from './dataset.ts';
import { MNIST_FILE, decodeMnist, type MnistOptions, type MnistSplit } from './mnist.ts';

export const MNIST_PATH = fileURLToPath(new URL(`../../data/${MNIST_FILE}`, import.meta.url));

export function loadMnist(opts: MnistOptions & { path?: string } = {}): MnistSplit {
  const path = opts.path ?? MNIST_PATH;
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(path);
  } catch (e) {
    throw new DataError(`cannot read the MNIST file ${path}: ${(e as Error).message} (run: npx tsx scripts/convert-mnist.ts)`);
  }
  return decodeMnist(bytes, opts);
}
