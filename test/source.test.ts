// RowSources over files and Blobs read in slices: every layout gives the rows
// the whole-file parser gives, bad files fail with one clear line before any
// allocation, and a slice's non-finite value or a shrinking file is an error.
import { mkdtempSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { DataError, makeDataset, splitTrainTest } from '../src/data/dataset.ts';
import { parseNpy } from '../src/data/npy.ts';
import { blobSource, type BlobLike } from '../src/data/source.blob.ts';
import { openFileSource } from '../src/data/source.node.ts';
import { arraySource, splitSource, type RowSource } from '../src/data/source.ts';
import { CONTROL, npyBytes } from './data-files.ts';

const dir = mkdtempSync(join(tmpdir(), 'latentgpu-source-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Values with exact float32 representations, so every layout decodes to the same numbers. */
function values(n: number, D: number, seed = 1): Float32Array {
  const x = new Float32Array(n * D);
  let s = seed;
  for (let i = 0; i < x.length; i++) {
    s = (s * 1103515245 + 12345) >>> 0;
    x[i] = ((s >>> 8) % 2001) / 64 - 15.5;
  }
  return x;
}

/** A .npy file of x in the given dtype and byte order. */
function npyOf(x: Float32Array, n: number, D: number, size: 4 | 8, little: boolean): Uint8Array {
  const data = size === 4 ? new Float32Array(x) : Float64Array.from(x);
  const bytes = npyBytes(`${little ? '<' : '>'}f${size}`, [n, D], data);
  if (!little) {
    const start = bytes.length - data.byteLength;
    for (let i = start; i < bytes.length; i += size) bytes.subarray(i, i + size).reverse();
  }
  return bytes;
}

function write(name: string, bytes: Uint8Array): string {
  const path = join(dir, name);
  writeFileSync(path, bytes);
  return path;
}

async function rejection(p: Promise<unknown>, ...fragments: string[]): Promise<string> {
  const e = await p.then(() => null, (err: unknown) => err);
  expect(e, `expected a DataError mentioning ${fragments.join(' … ')}`).toBeInstanceOf(DataError);
  const m = (e as Error).message;
  expect(m).not.toMatch(/\n/);
  expect(m).not.toMatch(CONTROL);
  for (const f of fragments) expect(m).toContain(f);
  return m;
}

/** Reads random slices of `src` (counts 0 … n, not multiples of anything) and compares them to x. */
async function checkSlices(src: RowSource, x: Float32Array): Promise<void> {
  const { n, D } = src;
  const slices: Array<[number, number]> = [[0, n], [n - 1, 1], [0, 0], [3, 17], [n - 20, 20]];
  for (let k = 0; k < 12; k++) {
    const r0 = (k * 37) % n;
    slices.push([r0, Math.min(n - r0, 1 + ((k * 53) % 61))]);
  }
  for (const [r0, count] of slices) {
    const dst = new Float32Array(count * D + 3).fill(-999);
    await src.read(r0, count, dst);
    expect(dst.subarray(0, count * D)).toEqual(x.subarray(r0 * D, (r0 + count) * D));
    // nothing past the slice is written
    expect(Array.from(dst.subarray(count * D))).toEqual([-999, -999, -999]);
  }
}

describe('file sources', () => {
  const n = 211;
  const D = 13;
  const x = values(n, D);

  for (const size of [4, 8] as const) {
    for (const little of [true, false]) {
      it(`.npy f${size} ${little ? 'little' : 'big'}-endian: slices equal the whole-file parse (pieces of 1 KiB and 8 MiB)`, async () => {
        const bytes = npyOf(x, n, D, size, little);
        const path = write(`a-${size}-${little}.npy`, bytes);
        expect(parseNpy(bytes).x).toEqual(x);
        for (const sliceBytes of [1024, undefined]) {
          const src = openFileSource(path, sliceBytes === undefined ? {} : { sliceBytes });
          expect([src.n, src.D, src.array, src.name]).toEqual([n, D, null, `a-${size}-${little}.npy`]);
          await checkSlices(src, x);
          await src.close();
          await src.close();
          await rejection(src.read(0, 1, new Float32Array(D)), 'closed');
        }
      });
    }
  }

  it('raw float32 with its row width; a size that is not whole rows, or no width, is an error', async () => {
    const path = write('raw.f32', new Uint8Array(x.buffer));
    const src = openFileSource(path, { dim: D });
    expect([src.n, src.D]).toEqual([n, D]);
    await checkSlices(src, x);
    await src.close();
    expect(() => openFileSource(path, { dim: 7 })).toThrow(/not whole rows of 7 float32 values/);
    expect(() => openFileSource(path)).toThrow(/--dim D/);
    expect(() => openFileSource(write('empty.bin', new Uint8Array(0)), { dim: 3 })).toThrow(/empty/);
    expect(() => openFileSource(join(dir, 'a-4-true.npy'), { dim: D })).toThrow(/states its shape/);
  });

  it('bad .npy files fail on opening with the whole-file parser\'s messages', () => {
    const good = npyOf(x, n, D, 4, true);
    expect(() => openFileSource(write('trunc.npy', good.subarray(0, good.length - 4)))).toThrow(/truncated: shape \(211, 13\) of <f4 needs 10972 data bytes, the file has 10968/);
    const extra = new Uint8Array(good.length + 4);
    extra.set(good);
    expect(() => openFileSource(write('extra.npy', extra))).toThrow(/trailing bytes/);
    // a header claiming 10^15 rows: refused from the header and the file size, nothing allocated
    const huge = npyBytes('<f4', [1e15, 784], new Float32Array(4));
    expect(() => openFileSource(write('huge.npy', huge))).toThrow(/huge\.npy: shape \(1000000000000000, 784\) of <f4 would need/);
    expect(() => openFileSource(write('i4.npy', npyBytes('<i4', [2, 2], new Float32Array(4))))).toThrow(/dtype '<i4' is not supported/);
    expect(() => openFileSource(join(dir, 'missing.npy'))).toThrow(/no such file/);
    expect(() => openFileSource(dir)).toThrow(/only \.npy and raw float32/);
  });

  it('a non-finite value in a slice names the file, row and column; NaN passes when opened for missing values', async () => {
    const y = new Float32Array(x);
    y[150 * D + 4] = Number.NaN;
    y[170 * D + 0] = Number.POSITIVE_INFINITY;
    for (const [size, little] of [[4, true], [8, false]] as const) {
      const path = write(`bad-${size}.npy`, npyOf(y, n, D, size, little));
      const src = openFileSource(path, { sliceBytes: 512 });
      const dst = new Float32Array(n * D);
      await src.read(0, 150, dst); // rows before the bad one read fine
      await rejection(src.read(140, 20, dst), `bad-${size}.npy: row 151, column 5: value NaN is not finite`, '--missing nan');
      await src.close();
      const nan = openFileSource(path, { missing: 'nan', sliceBytes: 512 });
      await nan.read(140, 20, dst);
      expect(Number.isNaN(dst[10 * D + 4]!)).toBe(true);
      await rejection(nan.read(160, 20, dst), 'row 171, column 1: value Infinity is not finite');
      await nan.close();
    }
    // a float64 beyond float32's range
    const z = Float64Array.from(x);
    z[5] = 1e300;
    const path = write('over.npy', npyBytes('<f8', [n, D], z));
    const src = openFileSource(path);
    await rejection(src.read(0, 3, new Float32Array(3 * D)), 'over.npy: row 1, column 6: 1e+300 overflows float32');
    await src.close();
  });

  it('reads that overlap (a read ahead and an evaluation pass) each get their rows, through the shared scratch too', async () => {
    const path = write('overlap.npy', npyOf(x, n, D, 8, false));
    for (const src of [openFileSource(path, { sliceBytes: 800 }), splitSource(openFileSource(path, { sliceBytes: 800 }), 7).train]) {
      const want = src.n === n ? x : splitTrainTest(makeDataset('o', x, n, D)).train.x;
      const a = new Float32Array(50 * D);
      const b = new Float32Array(60 * D);
      const c = new Float32Array(3 * D);
      await Promise.all([src.read(0, 50, a), src.read(100, 60, b), src.read(7, 3, c)]);
      expect(a).toEqual(want.subarray(0, 50 * D));
      expect(b).toEqual(want.subarray(100 * D, 160 * D));
      expect(c).toEqual(want.subarray(7 * D, 10 * D));
      await src.close();
    }
  });

  it('a file that shrinks while it is read is an error', async () => {
    const path = write('shrink.npy', npyOf(x, n, D, 4, true));
    const src = openFileSource(path);
    const dst = new Float32Array(n * D);
    await src.read(0, n, dst);
    truncateSync(path, 2000);
    await rejection(src.read(100, 50, dst), 'shrink.npy: the file shrank while being read');
    await src.close();
  });

  it('slices outside the rows or a short destination are errors', async () => {
    const src = openFileSource(join(dir, 'raw.f32'), { dim: D });
    await rejection(src.read(n - 2, 3, new Float32Array(3 * D)), `rows [${n - 2}, ${n + 1}) are outside its ${n} rows`);
    await rejection(src.read(0, 3, new Float32Array(2 * D)), 'cannot hold 3 rows');
    await src.close();
  });
});

/** A Blob of the bytes (Node's Blob types want an ArrayBuffer-backed view). */
const blobOf = (b: Uint8Array): Blob => new Blob([b as Uint8Array<ArrayBuffer>]);

describe('the canonical split of a source', () => {
  it('splitSource reads the rows splitTrainTest keeps, in spans of any size', async () => {
    for (const n of [5, 9, 10, 14, 103]) {
      const D = 3;
      const x = values(n, D, n);
      const { train, test } = splitTrainTest(makeDataset('m', x, n, D));
      for (const span of [1, 4, 7, 1024]) {
        const s = splitSource(arraySource('m', x, n, D), span);
        expect([s.train.n, s.test.n]).toEqual([train.n, test.n]);
        for (const [src, want] of [[s.train, train], [s.test, test]] as const) {
          const got = new Float32Array(src.n * D);
          for (let r0 = 0; r0 < src.n; r0 += 3) await src.read(r0, Math.min(3, src.n - r0), got.subarray(r0 * D));
          expect(got).toEqual(want.x);
        }
      }
    }
  });
});

describe('Blob sources (the browser\'s large user files)', () => {
  const n = 97;
  const D = 29;
  const x = values(n, D, 7);

  it('.npy (f4, f8 big-endian) and raw float32 Blobs give the rows', async () => {
    for (const [size, little] of [[4, true], [8, false]] as const) {
      const src = await blobSource(blobOf(npyOf(x, n, D, size, little)), { name: 'user.npy', format: 'npy', sliceBytes: 700 });
      expect([src.n, src.D, src.array]).toEqual([n, D, null]);
      await checkSlices(src, x);
      await src.close();
    }
    const raw = await blobSource(blobOf(new Uint8Array(x.buffer)), { name: 'user.f32', format: 'f32', dim: D });
    await checkSlices(raw, x);
    await expect(blobSource(blobOf(new Uint8Array(x.buffer)), { name: 'user.f32', format: 'f32', dim: 5 })).rejects.toThrow(/not whole rows of 5/);
    await expect(blobSource(blobOf(new Uint8Array(10)), { name: 'user.npy', format: 'npy' })).rejects.toThrow(/not a NumPy .npy file/);
  });

  it('a Blob that returns fewer bytes than asked (a File changed on disk) is an error', async () => {
    const blob = blobOf(new Uint8Array(x.buffer));
    const short: BlobLike = {
      size: blob.size,
      slice: (a, b) => ({ arrayBuffer: async () => (await blob.slice(a, b).arrayBuffer()).slice(0, 8) }),
    };
    const src = await blobSource(short, { name: 'user.f32', format: 'f32', dim: D });
    await rejection(src.read(3, 4, new Float32Array(4 * D)), 'user.f32: the file shrank while being read');
  });
});
