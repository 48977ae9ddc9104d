// Writes the bundled MNIST split (8,000 train / 2,000 test) without the pixels that are
// constant in the training rows, as two .npy files, for comparing models whose
// per-column noise would otherwise fit those pixels exactly (factor analysis:
// docs/fa-results.md). Usage: npx tsx scripts/mnist-varying-columns.ts OUT_DIR
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Dataset } from '../src/data/dataset.ts';
import { loadMnist } from '../src/data/mnist.node.ts';

/** A float32 C-order .npy file of `cols` of the rows of ds. */
function npy(ds: Dataset, cols: number[]): Uint8Array {
  let header = `{'descr': '<f4', 'fortran_order': False, 'shape': (${ds.n}, ${cols.length}), }`;
  header = header.padEnd(Math.ceil((header.length + 11) / 64) * 64 - 11) + '\n';
  const head = new Uint8Array(10 + header.length);
  head.set([0x93, ...Array.from('NUMPY', (c) => c.charCodeAt(0)), 1, 0, header.length & 0xff, header.length >> 8]);
  head.set(Array.from(header, (c) => c.charCodeAt(0)), 10);
  const body = new Float32Array(ds.n * cols.length);
  for (let i = 0; i < ds.n; i++) cols.forEach((c, k) => { body[i * cols.length + k] = ds.x[i * ds.D + c]!; });
  const out = new Uint8Array(head.length + body.byteLength);
  out.set(head);
  out.set(new Uint8Array(body.buffer), head.length);
  return out;
}

const dir = process.argv[2];
if (!dir) throw new Error('usage: npx tsx scripts/mnist-varying-columns.ts OUT_DIR');
const { train, test } = loadMnist();
const varying: number[] = [];
for (let c = 0; c < train.D; c++) {
  let v = false;
  for (let i = 1; i < train.n && !v; i++) v = train.x[i * train.D + c] !== train.x[c];
  if (v) varying.push(c);
}
mkdirSync(dir, { recursive: true });
writeFileSync(join(dir, 'mnist-varying-train.npy'), npy(train, varying));
writeFileSync(join(dir, 'mnist-varying-test.npy'), npy(test, varying));
console.log(`${varying.length} of ${train.D} pixels vary in the training rows; wrote ${dir}/mnist-varying-{train,test}.npy`);
