// Hostile data files: header fields at extreme values, truncations, seeded byte
// flips, special files and binary text, in every format the loaders read
// (NPY, CSV/TSV, the MNIST binary, synthetic settings). Each input is either
// rejected with one clear line naming the file, or loads with finite values —
// never a crash, a hang or a runaway allocation. Most cases run in-process;
// a representative set goes through the real command line (test/hostile).
import { execFileSync } from 'node:child_process';
import { closeSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, symlinkSync, writeFileSync, ftruncateSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { syntheticOptionsForEval, SYNTHETIC_METADATA_KEY } from '../src/cli/synthetic.ts';
import { CSV_MAX_COLUMNS, parseCsv, parseCsvBytes } from '../src/data/csv.ts';
import { DataError, printable, type Dataset } from '../src/data/dataset.ts';
import { CSV_FILE_MAX_BYTES, DATA_FILE_MAX_BYTES, loadDataFile, loadDataSource } from '../src/data/files.node.ts';
import { MNIST_HEADER_BYTES, decodeMnistAll } from '../src/data/mnist.ts';
import { MNIST_PATH, loadMnist } from '../src/data/mnist.node.ts';
import { NPY_MAX_HEADER_BYTES, parseNpy } from '../src/data/npy.ts';
import { HostRng } from '../src/train/rng.ts';
import { readRegularFile } from '../src/data/read.node.ts';
import { SYNTHETIC_MAX_VALUES, syntheticPpca } from '../src/data/synthetic.ts';
import { decodeSafetensors, encodeSafetensors } from '../src/io/safetensors.ts';
import { expectRejected, runCliChild } from './hostile/run.ts';
import { CONTROL, clearError, npyBytes, npyFile, npyHeader } from './data-files.ts';

const dir = mkdtempSync(join(tmpdir(), 'latentgpu-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const posix = process.platform !== 'win32';

/**
 * A mutated input must be rejected with one clear line naming `name`, or load
 * with finite values, within `ms`. Returns which.
 */
function rejectsOrLoads(fn: () => Dataset, name: string, what: string, ms = 1000): 'rejected' | 'loaded' {
  const t0 = performance.now();
  let ds: Dataset | undefined;
  let caught: unknown;
  try {
    ds = fn();
  } catch (e) {
    caught = e;
  }
  expect(performance.now() - t0, what).toBeLessThan(ms);
  if (ds) {
    expect(ds.x.length, what).toBe(ds.n * ds.D);
    expect(ds.n * ds.D, what).toBeGreaterThan(0);
    expect(ds.x.every(Number.isFinite), what).toBe(true);
    return 'loaded';
  }
  expect(caught, `${what}: ${String(caught)}`).toBeInstanceOf(DataError);
  const m = (caught as Error).message;
  expect(m, what).not.toMatch(/\n/);
  expect(m, what).not.toMatch(CONTROL);
  expect(m, what).toContain(name);
  expect(m.length, what).toBeLessThan(600);
  return 'rejected';
}

/** `count` copies of `bytes`, each with 1–4 bytes set to random values; `headerBias` of the flips land in the first `headerBytes`. */
function mutants(bytes: Uint8Array, count: number, seed: number, headerBytes = bytes.length, headerBias = 0): Uint8Array[] {
  const rnd = new HostRng(seed, 'mulberry32');
  const pick = (k: number): number => Math.floor(rnd.uniform() * k);
  return Array.from({ length: count }, () => {
    const m = bytes.slice();
    const flips = 1 + pick(4);
    for (let f = 0; f < flips; f++) {
      const at = rnd.uniform() < headerBias ? pick(headerBytes) : pick(bytes.length);
      m[at] = pick(256);
    }
    return m;
  });
}

describe('reading files: only regular files, size known and capped before reading', () => {
  it.runIf(posix)('/dev/zero is rejected at once as a character device (it used to grow past 9 GB)', () => {
    const t0 = performance.now();
    clearError(() => loadDataFile('/dev/zero'), 'cannot read data file /dev/zero', 'character device', 'not a regular file');
    clearError(() => loadDataFile('/dev/zero.npy'), 'no such file');
    // a link with a data file's name is judged by what it points to
    symlinkSync('/dev/zero', join(dir, 'zero.npy'));
    clearError(() => loadDataFile(join(dir, 'zero.npy')), 'zero.npy', 'character device, not a regular file');
    expect(performance.now() - t0).toBeLessThan(500);
  });

  it('a directory is rejected whatever its name', () => {
    mkdirSync(join(dir, 'folder.csv'));
    clearError(() => loadDataFile(join(dir, 'folder.csv')), 'folder.csv', 'a directory, not a regular file');
    clearError(() => loadDataFile(dir), 'a directory, not a regular file');
  });

  it('a file over the cap is rejected from its size before any byte is read (a sparse 3 GiB file)', () => {
    const path = join(dir, 'sparse.npy');
    const fd = openSync(path, 'w');
    ftruncateSync(fd, 3 * 2 ** 30);
    closeSync(fd);
    const t0 = performance.now();
    clearError(() => loadDataFile(path), 'data file', 'sparse.npy is 3.00 GiB, over the', 'limit');
    expect(performance.now() - t0).toBeLessThan(500);
    writeFileSync(join(dir, 'small.csv'), '1,2\n3,4\n');
    clearError(() => readRegularFile(join(dir, 'small.csv'), 'data file', 4), 'small.csv is 8 bytes, over the 4 bytes limit');
    rmSync(path);
  });

  it('states caps that still take a 70,000 × 784 float32 array (219 MB) on a machine with 1 GiB or more', () => {
    expect(DATA_FILE_MAX_BYTES).toBeLessThanOrEqual(2 * 2 ** 30);
    expect(DATA_FILE_MAX_BYTES).toBeGreaterThanOrEqual(Math.min(2 * 2 ** 30, Math.floor(1024 * 2 ** 20 / 4)));
    expect(CSV_FILE_MAX_BYTES).toBeLessThanOrEqual(500 * 2 ** 20);
  });

  it('empty files say so', () => {
    writeFileSync(join(dir, 'empty.npy'), '');
    writeFileSync(join(dir, 'empty.csv'), '');
    writeFileSync(join(dir, 'blank.tsv'), '\n \r\n\t\n');
    clearError(() => loadDataFile(join(dir, 'empty.npy')), 'empty.npy', 'empty');
    clearError(() => loadDataFile(join(dir, 'empty.csv')), 'empty.csv: no data (the file is empty)');
    clearError(() => loadDataFile(join(dir, 'blank.tsv')), 'blank.tsv: no data');
  });
});

describe('NPY headers at extreme values', () => {
  const f4 = (n: number): Uint8Array => new Uint8Array(4 * n);

  it('10^12 rows of 0 columns is "no columns", at once (it used to kill Node at 2.5 GB)', () => {
    const bytes = npyFile(npyHeader('<f4', '(1000000000000, 0)'));
    expect(bytes.length).toBe(128);
    const t0 = performance.now();
    clearError(() => parseNpy(bytes, { source: 'huge.npy' }), 'huge.npy', 'shape (1000000000000, 0) has no columns');
    expect(performance.now() - t0).toBeLessThan(100);
  });

  const cases: Array<[string, string, Uint8Array, string[]]> = [
    ['0 rows', '(0, 1000000000000)', f4(0), ['no rows']],
    ['0 × 0', '(0, 0)', f4(0), ['no columns']],
    ['a product past 2^53', '(1000000000000, 1000000000000)', f4(6), ['would need', 'corrupt header']],
    ['a product past any file', '(1000000, 1000000)', f4(6), ['truncated', 'needs 4000000000000 data bytes, the file has 24']],
    ['a dimension past 2^53', '(9007199254740993, 1)', f4(1), ['malformed shape']],
    ['a 23-digit dimension', '(99999999999999999999999, 2)', f4(2), ['malformed shape']],
    ['a negative dimension', '(-1, 3)', f4(3), ['malformed shape']],
    ['a fractional dimension', '(2.5, 2)', f4(5), ['malformed shape']],
    ['rank 1', '(6,)', f4(6), ['shape (6)', '2-D']],
    ['rank 0', '()', f4(1), ['shape ()', '2-D']],
    ['rank 3', '(1, 2, 3)', f4(6), ['shape (1, 2, 3)', '2-D']],
    ['one byte short', '(2, 3)', f4(6).subarray(1), ['truncated', 'needs 24 data bytes, the file has 23']],
    ['one byte over', '(2, 3)', new Uint8Array(25), ['trailing bytes', 'needs 24 data bytes, the file has 25']],
    ['no data at all', '(2, 3)', f4(0), ['truncated', 'the file has 0']],
  ];
  for (const [what, shape, data, fragments] of cases) {
    it(`shape ${shape} (${what})`, () => {
      clearError(() => parseNpy(npyFile(npyHeader('<f4', shape), data), { source: 'x.npy' }), 'x.npy', ...fragments);
    });
  }

  it('bad header lengths, versions, dtypes and dicts', () => {
    const good = npyHeader('<f4', '(2, 3)');
    const body = f4(6);
    const bad = (bytes: Uint8Array, ...fragments: string[]): string => clearError(() => parseNpy(bytes, { source: 'h.npy' }), 'h.npy', ...fragments);
    bad(npyFile(good, body, 1, 0xffff), `header length 65535 is over the ${NPY_MAX_HEADER_BYTES} bytes`);
    bad(npyFile(good, body, 2, 0xffffffff), 'header length 4294967295 is over');
    bad(npyFile(good, body, 3, 5000), 'truncated .npy header: it claims 5000 bytes');
    bad(npyFile(good, body, 1, 20), 'malformed .npy header');
    bad(npyFile(good, body, 1, 0), 'malformed .npy header');
    bad(npyFile(good, body, 4), 'unsupported .npy format version 4.0');
    bad(npyFile(good, body, 0), 'unsupported .npy format version 0.0');
    bad(npyFile(good, body, 2).subarray(0, 11), 'truncated .npy header (11 bytes)');
    bad(npyFile(npyHeader('<f2', '(2, 3)'), body), "dtype '<f2' is not supported", 'float32');
    bad(npyFile(npyHeader('<i4', '(2, 3)'), body), "dtype '<i4'");
    bad(npyFile(npyHeader('|O', '(2, 3)'), body), "dtype '|O'");
    bad(npyFile(npyHeader('<f4\x1b[2J', '(2, 3)'), body), "dtype '<f4\\x1b[2J'");
    bad(npyFile("{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (2, 3), }\n", body), 'structured arrays');
    bad(npyFile(npyHeader('<f4', '(2, 3)', true), body), 'Fortran-order');
    bad(npyFile("{'descr': '<f4', 'fortran_order': False, 'shape': 6, }\n", body), 'malformed .npy header');
    bad(npyFile("{'descr': '<f4', 'shape': (2, 3), }\n", body), 'malformed .npy header');
    bad(npyFile("'descr': '<f4', 'fortran_order': False, 'shape': (2, 3)\n", body), 'malformed .npy header');
    bad(npyFile(`{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), 'x': '${'\x07'.repeat(300)}'}\n`, f4(1)), 'truncated');
    bad(new Uint8Array(0), 'the file is empty');
    bad(Uint8Array.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1]), 'not a NumPy .npy file');
    // a header that is not valid text for its version cannot smuggle control characters out
    const m = bad(npyFile(`{\x1b]0;pwned\x07\x9b31m}\n`, body), 'malformed .npy header');
    expect(m).toContain('{\\x1b]0;pwned\\x07');
  });

  it('non-finite and float32-overflowing values name the row and column', () => {
    clearError(() => parseNpy(npyBytes('<f4', [2, 2], Float32Array.from([1, 2, Infinity, 4])), { source: 'i.npy' }), 'i.npy: row 2, column 1', 'not finite');
    clearError(() => parseNpy(npyBytes('<f8', [2, 2], Float64Array.from([1, 2, 3, -3.5e38])), { source: 'o.npy' }), 'o.npy: row 2, column 2', 'overflows float32');
    const tiny = parseNpy(npyBytes('<f8', [1, 2], Float64Array.from([1e-300, -1e-50])));
    expect(Array.from(tiny.x)).toEqual([0, -0]);
  });

  const valid = npyBytes('<f4', [4, 3], Float32Array.from({ length: 12 }, (_, i) => i / 3 - 1.5));
  const validBe = npyBytes('>f8', [3, 2], Float64Array.from([1, 2, 3, 4, 5, 6]));
  // the big-endian float64 data, byte-swapped as NumPy stores '>f8'
  for (let i = 0; i < 6; i++) validBe.subarray(validBe.length - 48 + 8 * i, validBe.length - 40 + 8 * i).reverse();

  it('every truncation of a valid file is rejected clearly', () => {
    expect(parseNpy(validBe).x).toEqual(Float32Array.from([1, 2, 3, 4, 5, 6]));
    for (const bytes of [valid, validBe]) {
      for (let len = 0; len < bytes.length; len++) {
        expect(rejectsOrLoads(() => parseNpy(bytes.subarray(0, len), { source: 't.npy' }), 't.npy', `first ${len} bytes`)).toBe('rejected');
      }
    }
  });

  it('seeded random byte flips of a valid file: rejected clearly or loaded finite', () => {
    const outcome = { rejected: 0, loaded: 0 };
    mutants(valid, 800, 12, 128, 0.7).forEach((m, k) => outcome[rejectsOrLoads(() => parseNpy(m, { source: 'flip.npy' }), 'flip.npy', `mutant ${k}`)]++);
    mutants(validBe, 300, 13, 128, 0.7).forEach((m, k) => outcome[rejectsOrLoads(() => parseNpy(m, { source: 'flip.npy' }), 'flip.npy', `be mutant ${k}`)]++);
    // both outcomes occur: flips in the header mostly reject, flips in the data mostly load
    expect(outcome.rejected).toBeGreaterThan(100);
    expect(outcome.loaded).toBeGreaterThan(20);
  });
});

describe('CSV / TSV', () => {
  it('a binary file given as CSV is "not a text file", not "row 1 has 2 cells"', () => {
    const rnd = new HostRng(5, 'mulberry32');
    const random = Uint8Array.from({ length: 4096 }, () => Math.floor(rnd.uniform() * 256));
    const npy = npyBytes('<f4', [4, 3], new Float32Array(12).fill(1));
    const png = Uint8Array.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13]);
    for (const [name, bytes] of [['random.csv', random], ['array.csv', npy], ['image.csv', png]] as const) {
      clearError(() => parseCsvBytes(bytes, { source: name }), `${name} is not a text file (`);
    }
    clearError(() => parseCsvBytes(Uint8Array.from([0xff, 0xfe, 0x31, 0, 0x2c, 0, 0x32, 0]), { source: 'u16.csv' }), 'u16.csv is not a text file (it is UTF-16; save it as UTF-8)');
    clearError(() => parseCsvBytes(new TextEncoder().encode('1,2\n3,\x004\n'), { source: 'nul.csv' }), 'nul.csv is not a text file (a NUL byte at offset 6');
    clearError(() => parseCsvBytes(Uint8Array.from([0x31, 0x2c, 0x81, 0x82, 0x0a]), { source: 'c1.csv' }), 'c1.csv is not a text file (byte 0x81 at offset 2');
    writeFileSync(join(dir, 'binary.csv'), random);
    clearError(() => loadDataFile(join(dir, 'binary.csv')), 'binary.csv is not a text file');
  });

  it('UTF-8 with a BOM, Latin-1 headers and a multi-byte character cut at the probe load', () => {
    const bom = parseCsvBytes(new TextEncoder().encode('\ufeffa,b\n1,2\n'), { source: 'bom.csv' });
    expect([bom.n, bom.D, ...bom.x]).toEqual([1, 2, 1, 2]);
    expect(parseCsv('\ufeff1,2\n').x).toEqual(Float32Array.from([1, 2]));
    const latin1 = Uint8Array.from([...Buffer.from('temp', 'latin1'), 0xe9, ...Buffer.from(',humidit', 'latin1'), 0xe9, 0x0a, ...Buffer.from('1,2\n3,4\n')]);
    const l = parseCsvBytes(latin1, { source: 'l1.csv' });
    expect([l.n, l.D]).toEqual([2, 2]);
    // "é" (2 bytes in UTF-8) straddling byte 1024
    const header = `${'a'.repeat(1023)}é,b\n`;
    expect(parseCsvBytes(new TextEncoder().encode(`${header}1,2\n`), { source: 'long.csv' }).D).toBe(2);
  });

  it('a .tsv whose header contains a comma loads (the delimiter of a .tsv is tab)', () => {
    const text = 'height, cm\tweight, kg\n170\t65\n180\t80\n';
    const tsv = parseCsv(text, { source: 'people.tsv' });
    expect([tsv.n, tsv.D, ...tsv.x]).toEqual([2, 2, 170, 65, 180, 80]);
    writeFileSync(join(dir, 'people.tsv'), text);
    expect(loadDataFile(join(dir, 'people.tsv')).x).toEqual(tsv.x);
    // .csv / .txt: the delimiter comes from a data row, not from the header's punctuation
    expect(parseCsv(text, { source: 'people.txt' }).D).toBe(2);
    expect(parseCsv('a;b,c\n1,2\n', { source: 's.csv' }).D).toBe(2);
    // np.savetxt's default: values separated by spaces
    const spaced = parseCsv('1.000000000000000000e+00 2.5e+00\n-3.0e+00  4\n', { source: 'savetxt.txt' });
    expect([spaced.n, spaced.D, ...spaced.x]).toEqual([2, 2, 1, 2.5, -3, 4]);
    // one column: nothing to split
    expect(parseCsv('x\n1\n2\n').D).toBe(1);
  });

  it('control characters from a cell, a header name or a file name are escaped, long cells cut', () => {
    const m1 = clearError(() => parseCsv('a,b\n1,\x1b[31mred\x1b[0m\n', { source: 'ctl.csv' }), 'ctl.csv: row 1 (line 2), column 2 ("b")', 'non-numeric cell "\\x1b[31mred\\x1b[0m"');
    expect(m1).not.toContain('\x1b');
    clearError(() => parseCsv('a,\x07bell\u202eevil\n1,x\n', { source: 'h.csv' }), '("\\x07bell\\u202eevil")');
    clearError(() => parseCsv('1,2\n3\n', { source: 'name\x1b[2J\r.csv' }), 'name\\x1b[2J\\x0d.csv: row 2');
    clearError(() => parseCsv('1,2\n3,\x9b6n\n'), '"\\x9b6n"');
    const long = clearError(() => parseCsv(`a,b\n1,${'z'.repeat(100_000)}\n`, { source: 'long.csv' }), 'non-numeric cell "zzz', '…"');
    expect(long.length).toBeLessThan(200);
    expect(printable('a\x00b\x7fc\u2028d', 5)).toBe('a\\x00b\\x7fc…');
    expect(printable('plain text')).toBe('plain text');
  });

  it('header-only, too wide, overflowing, non-finite and underflowing values', () => {
    clearError(() => parseCsv('a,b,c\n\n', { source: 'hdr.csv' }), 'hdr.csv: no data rows (only a header on line 1)');
    clearError(() => parseCsv('\n\nx\ty\n', { source: 'hdr.tsv' }), 'hdr.tsv: no data rows (only a header on line 3)');
    const t0 = performance.now();
    clearError(() => parseCsv(`${','.repeat(CSV_MAX_COLUMNS)}\n`, { source: 'wide.csv' }), `wide.csv: line 1 has ${CSV_MAX_COLUMNS + 1} cells, more than the ${CSV_MAX_COLUMNS} columns`);
    clearError(() => parseCsv(`1,2\n${','.repeat(5_000_000)}\n`, { source: 'wide2.csv' }), 'wide2.csv: row 2 (line 2) has 5000001 cells, expected 2');
    expect(performance.now() - t0).toBeLessThan(3000);
    clearError(() => parseCsv('1,2\n3,1e39\n', { source: 'o.csv' }), 'o.csv: row 2 (line 2), column 2', '1e39 overflows float32');
    clearError(() => parseCsv('1,2\n3,1e999\n', { source: 'o.csv' }), '1e999 overflows float32');
    clearError(() => parseCsv('1,2\n3,-Infinity\n', { source: 'i.csv' }), '"-Infinity" is not a finite number');
    clearError(() => parseCsv('1,2\n0x1F,2\n', { source: 'hex.csv' }), 'non-numeric cell "0x1F"');
    expect(Array.from(parseCsv('1e-50,-1e-400\n').x)).toEqual([0, -0]);
  });

  const rows = Array.from({ length: 12 }, (_, i) => `${(i * 0.37).toFixed(3)},${-i},${i % 3}e-2`);
  const valid = new TextEncoder().encode(`x,y,z\n${rows.join('\n')}\n`);

  it('every truncation of a valid file loads finite or is rejected clearly', () => {
    for (let len = 0; len < valid.length; len++) {
      rejectsOrLoads(() => parseCsvBytes(valid.subarray(0, len), { source: 't.csv' }), 't.csv', `first ${len} bytes`);
    }
  });

  it('seeded random byte flips of a valid file: rejected clearly or loaded finite', () => {
    const outcome = { rejected: 0, loaded: 0 };
    mutants(valid, 1000, 21).forEach((m, k) => outcome[rejectsOrLoads(() => parseCsvBytes(m, { source: 'flip.csv' }), 'flip.csv', `mutant ${k}`)]++);
    expect(outcome.rejected).toBeGreaterThan(100);
    expect(outcome.loaded).toBeGreaterThan(5);
  });
});

describe('the bundled MNIST binary, corrupted', () => {
  const good = new Uint8Array(readFileSync(MNIST_PATH));
  const dv = (b: Uint8Array): DataView => new DataView(b.buffer, b.byteOffset, b.byteLength);
  const decode = (b: Uint8Array): Dataset => decodeMnistAll(b, 'mnist-10k.bin');

  it('truncated at many offsets: a clear error', () => {
    const lengths = [0, 1, 7, 8, 15, 16, 17, MNIST_HEADER_BYTES + 10_000, good.length - 1];
    for (let len = 100; len < good.length; len += 99_991) lengths.push(len);
    for (const len of lengths) {
      expect(rejectsOrLoads(() => decode(good.subarray(0, len)), 'mnist-10k.bin', `first ${len} bytes`)).toBe('rejected');
    }
  });

  it('header fields at extreme values, a bad label, trailing bytes', () => {
    const edit = (at: number, v: number): Uint8Array => {
      const b = good.slice();
      dv(b).setUint32(at, v, true);
      return b;
    };
    clearError(() => decode(edit(8, 0)), 'mnist-10k.bin', '0 rows of 784 pixels');
    clearError(() => decode(edit(12, 0)), '10000 rows of 0 pixels');
    clearError(() => decode(edit(8, 0xffffffff)), 'truncated', 'for 4294967295 rows');
    clearError(() => decode(edit(12, 0xffffffff)), 'truncated');
    const label = good.slice();
    label[MNIST_HEADER_BYTES + 3] = 200;
    clearError(() => decode(label), 'row 4 has digit label 200');
    const longer = new Uint8Array(good.length + 1);
    longer.set(good);
    clearError(() => decode(longer), 'trailing bytes');
    const magic = good.slice();
    magic[0] = 0x1b;
    clearError(() => decode(magic), 'not a latentgpu MNIST file (magic "\\x1bGMNIST1")');
  });

  it('loadMnist names the file and how to restore it; a special file is refused', () => {
    const path = join(dir, 'mnist-cut.bin');
    writeFileSync(path, good.subarray(0, 5000));
    clearError(() => loadMnist({ path }), 'truncated', 'git checkout data/mnist-10k.bin');
    clearError(() => loadMnist({ path: dir }), 'a directory, not a regular file', 'convert-mnist');
  });
});

describe('synthetic data sizes', () => {
  it('the flags are capped, naming them and the cap', () => {
    const synthetic = (o: Partial<Record<'n' | 'D' | 'd' | 'sigma' | 'seed', number>>) => () =>
      loadDataSource({ data: 'synthetic', synthetic: { n: 100, D: 5, d: 2, sigma: 0.5, seed: 1, ...o } });
    const t0 = performance.now();
    clearError(synthetic({ n: 1e8, D: 1000 }), '--n × --dim = 100,000,000,000 values, over the cap of 67,108,864');
    clearError(synthetic({ n: 1e15 }), '--n × --dim');
    clearError(synthetic({ D: 100_000, d: 1000 }), '--dim × --true-latent', 'over the cap');
    clearError(synthetic({ n: 60_000, D: 1000, d: 100 }), '--n × --dim × --true-latent', 'multiply-adds');
    clearError(synthetic({ seed: 1e23 }), '--data-seed must be a non-negative integer');
    clearError(synthetic({ n: 2.5 }), '--n must be a positive integer, got 2.5');
    clearError(synthetic({ sigma: Infinity }), '--sigma must be a finite number');
    expect(performance.now() - t0).toBeLessThan(200);
    clearError(() => syntheticPpca({ n: 10, D: 3, d: 1, sigma: 1e39, seed: 1 }), 'synthetic data: values overflow float32', 'smaller sigma');
    expect(SYNTHETIC_MAX_VALUES).toBeGreaterThanOrEqual(70_000 * 784);
  });

  describe('eval reads the settings from a model file: every field checked', () => {
    const none = (): boolean => false;
    const meta = (settings: unknown): Record<string, string> => ({ [SYNTHETIC_METADATA_KEY]: typeof settings === 'string' ? settings : JSON.stringify(settings) });
    const ok = { n: 500, D: 9, d: 3, sigma: 0.3, seed: 6 };
    const evalError = (settings: unknown, ...fragments: string[]): void => {
      let caught: unknown;
      try {
        syntheticOptionsForEval('m.safetensors', meta(settings), {}, none);
      } catch (e) {
        caught = e;
      }
      expect(caught, JSON.stringify(settings)).toBeInstanceOf(Error);
      const m = (caught as Error).message;
      expect(m).not.toMatch(CONTROL);
      for (const f of ['m.safetensors: metadata synthetic_data', ...fragments]) expect(m).toContain(f);
    };

    it('accepts good settings and lets flags override bad ones', () => {
      expect(syntheticOptionsForEval('m.safetensors', meta(ok), {}, none)).toEqual({ n: 500, dim: 9, trueLatent: 3, sigma: 0.3, dataSeed: 6 });
      const given = (k: string): boolean => k === 'n';
      expect(syntheticOptionsForEval('m.safetensors', meta({ ...ok, n: 1e15 }), { n: 100 }, given).n).toBe(100);
    });

    it('rejects n unbounded, wrong kinds and ranges, and non-objects', () => {
      evalError({ ...ok, n: 1e15 }, "'n' × 'D'", 'over the cap', 'give --n, --dim');
      evalError({ ...ok, n: 'abc' }, "no numeric 'n'");
      evalError({ ...ok, n: -5 }, "'n' must be a positive integer, got -5");
      evalError({ ...ok, d: 2.5 }, "'d' must be a positive integer, got 2.5");
      evalError({ ...ok, sigma: -1 }, "'sigma' must be a finite number ≥ 0");
      evalError({ ...ok, seed: 1e23 }, "'seed' must be a non-negative integer");
      evalError({ ...ok, D: 100_000, d: 10_000 }, 'generator entries');
      evalError([1, 2, 3], 'is not a JSON object');
      evalError('null', 'is not a JSON object');
      evalError('{"n": 1\x1b[2J', 'is not JSON: "{"n": 1\\x1b[2J"');
    });
  });
});

describe('hostile data through the command line (child process, heap and time limits)', () => {
  const train = (data: string, ...more: string[]): string[] => ['train', '--model', 'ppca', '--data', data, '--latent', '1', '--backend', 'cpu', ...more];

  it.runIf(posix)('--data /dev/zero fails at once: not a regular file', () => {
    expectRejected(runCliChild(train('/dev/zero'), { timeoutMs: 30_000 }), ['/dev/zero', 'not a regular file'], { ms: 10_000 });
  });

  it.runIf(posix)('a FIFO is refused without waiting for a writer; a directory is refused', () => {
    const fifo = join(dir, 'pipe.csv');
    execFileSync('mkfifo', [fifo]);
    expectRejected(runCliChild(train(fifo), { timeoutMs: 30_000 }), ['pipe.csv', 'named pipe (FIFO), not a regular file'], { ms: 10_000 });
    mkdirSync(join(dir, 'dir.npy'));
    expectRejected(runCliChild(train(join(dir, 'dir.npy')), { timeoutMs: 30_000 }), ['dir.npy', 'a directory, not a regular file'], { ms: 10_000 });
  });

  it('the 128-byte NPY claiming 10^12 rows of 0 columns: one line, small memory', () => {
    const path = join(dir, 'huge.npy');
    writeFileSync(path, npyFile(npyHeader('<f4', '(1000000000000, 0)')));
    expectRejected(runCliChild(train(path), { heapMb: 256, watch: [path] }), ['huge.npy', 'no columns'], { ms: 10_000 });
  });

  it('a binary file given as CSV, and a CSV with control characters', () => {
    const bin = join(dir, 'photo.csv');
    writeFileSync(bin, Uint8Array.from({ length: 2048 }, (_, i) => (i * 131 + 7) & 0xff));
    expectRejected(runCliChild(train(bin), { watch: [bin] }), ['photo.csv is not a text file'], { ms: 10_000 });
    const ctl = join(dir, 'ctl.csv');
    writeFileSync(ctl, 'a,b\n1,2\n3,\x1b]0;owned\x07\x1b[31m\n');
    const r = runCliChild(train(ctl), { watch: [ctl] });
    expectRejected(r, ['ctl.csv: row 2 (line 3), column 2 ("b")', '\\x1b]0;owned\\x07\\x1b[31m'], { ms: 10_000 });
  });

  it('--n × --dim over the cap names the flags', () => {
    expectRejected(runCliChild(train('synthetic', '--n', '1000000000', '--dim', '1000000')), ['--n × --dim', 'over the cap'], { ms: 10_000 });
  });

  it('eval: a model file whose synthetic_data metadata claims n = 10^15 names the file', () => {
    const model = join(dir, 'syn.safetensors');
    const made = runCliChild(train('synthetic', '--n', '100', '--dim', '5', '--out', model));
    expect(made.code, made.stderr).toBe(0);
    const file = decodeSafetensors(readFileSync(model));
    const settings = JSON.parse(file.metadata[SYNTHETIC_METADATA_KEY]!) as Record<string, number>;
    writeFileSync(model, encodeSafetensors(file.tensors, { ...file.metadata, [SYNTHETIC_METADATA_KEY]: JSON.stringify({ ...settings, n: 1e15 }) }));
    const r = runCliChild(['eval', '--model', model, '--data', 'synthetic', '--backend', 'cpu'], { watch: [model] });
    expectRejected(r, ['syn.safetensors: metadata synthetic_data', "'n' × 'D'", 'over the cap'], { ms: 10_000 });
  });
});

// last: it leaves this worker's memory high, and a child forked from it starts with that peak in its maxRSS
describe('a large legitimate file', () => {
  it('loads a 70,000 × 784 float32 .npy (219 MB)', () => {
    const n = 70_000;
    const D = 784;
    const header = npyHeader('<f4', `(${n}, ${D})`);
    const path = join(dir, 'mnist70k.npy');
    const bytes = npyFile(header, new Uint8Array(n * D * 4));
    new DataView(bytes.buffer).setFloat32(bytes.length - 4, 0.5, true);
    writeFileSync(path, bytes);
    expect(bytes.length).toBeGreaterThan(219e6);
    const ds = loadDataFile(path);
    expect([ds.n, ds.D, ds.x[n * D - 1]]).toEqual([n, D, 0.5]);
    rmSync(path);
  });
});
