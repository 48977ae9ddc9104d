// Writes a float32 .npy of generated PPCA rows (src/data/generated.ts) a slice at a
// time, never all in memory: the data files of the out-of-core checks
// (docs/scale-results.md). Written to FILE.partial, then renamed.
//   npx tsx bench/ppca-file.ts FILE.npy --n 680000 [--D 784] [--d 10] [--seed 1]
import { closeSync, openSync, renameSync, writeSync } from 'node:fs';
import { encodeNpy } from '../src/data/npy.ts';
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
// the header of an n×D array: encodeNpy of no rows, with the shape patched in
const header = encodeNpy(new Float32Array(0), 0, D);
const text = new TextDecoder('latin1').decode(header.subarray(10)).replace('(0, ', `(${n}, `);
const padded = text.trimEnd().padEnd(Math.ceil((10 + text.trimEnd().length + 1) / 64) * 64 - 11) + '\n';
const head = new Uint8Array(10 + padded.length);
head.set(header.subarray(0, 8));
new DataView(head.buffer).setUint16(8, padded.length, true);
head.set(new TextEncoder().encode(padded), 10);
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
