// Node loader for the bundled MNIST binary (data/mnist-10k.bin in the repository).
import { fileURLToPath } from 'node:url';
import { DataError } from './dataset.ts';
import { MNIST_FILE, decodeMnist, type MnistOptions, type MnistSplit } from './mnist.ts';
import { MiB, readRegularFile } from './read.node.ts';

export const MNIST_PATH = fileURLToPath(new URL(`../../data/${MNIST_FILE}`, import.meta.url));

/** The bundled file is 7.9 MB; anything far larger is not it. */
const MNIST_MAX_BYTES = 64 * MiB;
const RESTORE = 'restore data/mnist-10k.bin from the repository (git checkout data/mnist-10k.bin) or rebuild it: npx tsx scripts/convert-mnist.ts';

export function loadMnist(opts: MnistOptions & { path?: string } = {}): MnistSplit {
  const path = opts.path ?? MNIST_PATH;
  let bytes: Uint8Array;
  try {
    bytes = readRegularFile(path, 'the MNIST file', MNIST_MAX_BYTES, 'it is not the bundled file');
  } catch (e) {
    throw new DataError(`${(e as Error).message} (${RESTORE})`);
  }
  try {
    return decodeMnist(bytes, opts);
  } catch (e) {
    throw new DataError(`${(e as Error).message}; ${RESTORE}`);
  }
}
