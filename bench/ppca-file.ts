// Writes a float32 .npy of generated PPCA rows (src/data/generated.ts) a slice at a
// time, never all in memory: the data files of the out-of-core checks
// (docs/scale-results.md). Written to FILE.partial, then renamed.
//   npx tsx bench/ppca-file.ts FILE.npy --n 680000 [--D 784] [--d 10] [--seed 1]
import { closeSync, openSync, renameSync, writeSync } from 'node:fs';
import { encodeNpyHeader } from '../src/data/npy.ts';
import { generatedPpca } from '../src/data/generated.ts';

const args = process.argv.slice(2);
const arg = (name: string, fallback: number): number => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : fallback;
};
const file = args[0];
if (!file || !file.endsWith('.npy')) throw new Error('usage: npx tsx bench/ppca-file.ts FILE.npy --n ROWS [--D 784] [--d 10] [--seed 1]');
const n = arg('n', 100_000);
const D = arg('D', 784);
const src = generatedPpca({ n, D, d: arg('d', 10), seed: arg('seed', 1), name: file });
const head = encodeNpyHeader(n, D);
const fd = openSync(`${file}.partial`, 'w');
writeSync(fd, head);
const R = 8192;
const buf = new Float32Array(R * D);
for (let r0 = 0; r0 < n; r0 += R) {
  const m = Math.min(R, n - r0);
  await src.read(r0, m, buf);
  writeSync(fd, new Uint8Array(buf.buffer, 0, m * D * 4));
}
closeSync(fd);
renameSync(`${file}.partial`, file);
console.log(`${file}: ${n} × ${D} float32, ${((head.length + n * D * 4) / 2 ** 20).toFixed(1)} MiB`);
