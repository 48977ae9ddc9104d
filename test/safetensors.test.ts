// Model files: the safetensors encoding (exact bytes for hand-computed
// examples, round trips, clear errors for corrupt input) and atomic saves.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { loadSafetensors, saveSafetensors, writeFileAtomic } from '../src/io/atomic.node.ts';
import { ModelFileError, decodeSafetensors, encodeSafetensors, type TensorMap } from '../src/io/safetensors.ts';
import { randomArray } from './gpu.ts';

const ascii = (s: string) => Array.from(s, (c) => c.charCodeAt(0));

/** A file built byte by byte: 8-byte length, the header text as given, then the data bytes. */
function rawFile(header: string, data: number[] = [], declaredLength?: number): Uint8Array {
  const h = new TextEncoder().encode(header);
  const out = new Uint8Array(8 + h.length + data.length);
  new DataView(out.buffer).setUint32(0, declaredLength ?? h.length, true);
  out.set(h, 8);
  out.set(data, 8 + h.length);
  return out;
}

describe('safetensors encoding', () => {
  it('writes the exact bytes of a hand-computed file', () => {
    const bytes = encodeSafetensors({ a: { dtype: 'F32', shape: [2], data: Float32Array.from([1, 2]) } });
    // the 54-byte header padded with 2 spaces to 56 = 0x38; 1.0f = 0x3f800000, 2.0f = 0x40000000
    const header = '{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}  ';
    expect(Array.from(bytes)).toEqual([
      0x38, 0, 0, 0, 0, 0, 0, 0,
      ...ascii(header),
      0, 0, 0x80, 0x3f, 0, 0, 0, 0x40,
    ]);
  });

  it('puts metadata first and 8-byte types before narrower ones, so every tensor is aligned', () => {
    const bytes = encodeSafetensors({
      b: { dtype: 'U8', shape: [3], data: Uint8Array.from([7, 8, 9]) },
      a: { dtype: 'F64', shape: [1, 1], data: Float64Array.from([0.5]) },
    }, { format: 'latentgpu' });
    const header = '{"__metadata__":{"format":"latentgpu"},' +
      '"a":{"dtype":"F64","shape":[1,1],"data_offsets":[0,8]},"b":{"dtype":"U8","shape":[3],"data_offsets":[8,11]}}';
    expect(header.length).toBe(147); // padded with 5 spaces to 152 = 0x98
    expect(Array.from(bytes)).toEqual([
      0x98, 0, 0, 0, 0, 0, 0, 0,
      ...ascii(header + '     '),
      0, 0, 0, 0, 0, 0, 0xe0, 0x3f, // 0.5 = 0x3fe0000000000000
      7, 8, 9,
    ]);
  });

  it('round-trips every dtype, scalars, empty tensors and odd names', () => {
    const tensors: TensorMap = {
      W: { dtype: 'F32', shape: [17, 3], data: randomArray(51, 1) },
      'decoder.layer.0/σ²': { dtype: 'F64', shape: [4], data: Float64Array.from([Math.PI, -0, 1e-300, -Infinity]) },
      idx: { dtype: 'U32', shape: [3], data: Uint32Array.from([0, 1, 0xffffffff]) },
      steps: { dtype: 'I32', shape: [], data: Int32Array.from([-7]) },
      mask: { dtype: 'U8', shape: [5], data: Uint8Array.from([1, 0, 255, 3, 2]) },
      empty: { dtype: 'F32', shape: [0, 5], data: new Float32Array(0) },
      nan: { dtype: 'F32', shape: [1], data: Float32Array.from([NaN]) },
    };
    const metadata = { model: 'ppca', latent: '10', note: 'ünïcødé' };
    const back = decodeSafetensors(encodeSafetensors(tensors, metadata));
    expect(back.metadata).toEqual(metadata);
    expect(Object.keys(back.tensors).sort()).toEqual(Object.keys(tensors).sort());
    for (const [name, t] of Object.entries(tensors)) {
      const b = back.tensors[name]!;
      expect(b.dtype, name).toBe(t.dtype);
      expect(b.shape, name).toEqual(t.shape);
      expect(b.data.constructor, name).toBe(t.data.constructor);
      expect(Array.from(b.data), name).toEqual(Array.from(t.data));
    }
    expect(Object.is(back.tensors['decoder.layer.0/σ²']!.data[1], -0)).toBe(true);
  });

  it('reads files another writer laid out differently (unsorted offsets, extra padding)', () => {
    const header = '{"y":{"dtype":"I32","shape":[1],"data_offsets":[4,8]},"x":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}       ';
    const file = rawFile(header, [0, 0, 0x80, 0xbf, 0xfe, 0xff, 0xff, 0xff]);
    const { tensors, metadata } = decodeSafetensors(file);
    expect(metadata).toEqual({});
    expect(Array.from(tensors.x!.data)).toEqual([-1]);
    expect(Array.from(tensors.y!.data)).toEqual([-2]);
  });

  it('rejects bad tensors on encode with the tensor named', () => {
    expect(() => encodeSafetensors({ w: { dtype: 'F32', shape: [2, 2], data: new Float32Array(3) } })).toThrow(/tensor 'w': shape \[2, 2\] has 4 elements, data has 3/);
    expect(() => encodeSafetensors({ w: { dtype: 'F32', shape: [2], data: new Float64Array(2) as unknown as Float32Array } })).toThrow(/tensor 'w': dtype F32 needs a Float32Array, got Float64Array/);
    expect(() => encodeSafetensors({ __metadata__: { dtype: 'U8', shape: [0], data: new Uint8Array(0) } })).toThrow(ModelFileError);
    expect(() => encodeSafetensors({}, { n: 3 as unknown as string })).toThrow(/metadata 'n' must be a string/);
  });

  it('rejects truncated and malformed files with the problem named', () => {
    const good = encodeSafetensors({
      a: { dtype: 'F32', shape: [2, 3], data: randomArray(6, 2) },
      b: { dtype: 'U8', shape: [3], data: Uint8Array.from([1, 2, 3]) },
    });
    const cases: [Uint8Array, RegExp][] = [
      [good.subarray(0, 5), /the file is 5 bytes, shorter than the 8-byte header length field/],
      [good.subarray(0, 40), /header length \d+ exceeds the 32 bytes after the length field \(truncated file\?\)/],
      [good.subarray(0, good.length - 1), /tensor 'b': data_offsets \[24, 27\] are out of range of the 26-byte data section \(truncated file\?\)/],
      [Uint8Array.from([...good, 0]), /the tensors cover 27 bytes but the data section has 28 \(trailing bytes\)/],
      [rawFile('{}', [], 5000), /header length 5000 exceeds the 2 bytes after the length field/],
      [rawFile('{}', [], 2 ** 31), /header length 2147483648 is over the 4194304-byte limit/],
      [rawFile('[1, 2]'), /must be a JSON object starting with '\{'/],
      [rawFile('{"a": '), /invalid JSON header/],
      [rawFile('{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}', [1, 2, 3, 4, 5, 6, 7]), /tensor 'a': data_offsets \[0, 8\] are out of range/],
      [rawFile('{"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}', [0, 0, 0, 0, 0, 0, 0, 0]), /tensor 'a': shape \[3\] of F32 needs 12 bytes, data_offsets \[0, 8\] hold 8/],
      [rawFile('{"a":{"dtype":"F33","shape":[1],"data_offsets":[0,4]}}', [0, 0, 0, 0]), /tensor 'a': unknown dtype "F33"/],
      [rawFile('{"a":{"dtype":"BF16","shape":[2],"data_offsets":[0,4]}}', [0, 0, 0, 0]), /tensor 'a': dtype BF16 is not supported here/],
      [rawFile('{"a":{"dtype":"U8","shape":[-1],"data_offsets":[0,4]}}', [0, 0, 0, 0]), /tensor 'a': shape must be an array of non-negative integers/],
      [rawFile('{"a":{"dtype":"U8","shape":[4],"data_offsets":[4,0]}}', [0, 0, 0, 0]), /end before they begin/],
      [rawFile('{"a":{"dtype":"U8","shape":[4],"data_offsets":[0,4]},"b":{"dtype":"U8","shape":[4],"data_offsets":[2,6]}}', [0, 0, 0, 0, 0, 0]),
        /tensors 'a' and 'b' overlap at byte 2 of the data section/],
      [rawFile('{"a":{"dtype":"U8","shape":[2],"data_offsets":[2,4]}}', [0, 0, 0, 0]), /bytes \[0, 2\) of the data section belong to no tensor/],
      [rawFile('{"__metadata__":{"epochs":3}}'), /__metadata__ 'epochs' must be a string, got 3/],
      [rawFile('{"a":[0,4]}', [0, 0, 0, 0]), /tensor 'a': entry is not an object/],
    ];
    for (const [bytes, msg] of cases) {
      let err: unknown;
      try {
        decodeSafetensors(bytes);
      } catch (e) {
        err = e;
      }
      expect(err, String(msg)).toBeInstanceOf(ModelFileError);
      expect((err as Error).message, String(msg)).toMatch(/^not a valid safetensors file: /);
      expect((err as Error).message).toMatch(msg);
    }
  });

  it('fails cleanly on every truncation of a valid file', () => {
    const good = encodeSafetensors({ w: { dtype: 'F32', shape: [3], data: Float32Array.from([1, 2, 3]) } }, { k: 'v' });
    for (let len = 0; len < good.length; len++) {
      expect(() => decodeSafetensors(good.subarray(0, len)), `length ${len}`).toThrow(ModelFileError);
    }
  });
});

describe('model files on disk', () => {
  const dir = mkdtempSync(join(tmpdir(), 'latentgpu-safetensors-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const leftovers = () => readdirSync(dir).filter((f) => f.endsWith('.tmp'));
  const tensors = (n: number): TensorMap => ({ W: { dtype: 'F32', shape: [n], data: randomArray(n, n) } });

  it('saves and loads a model, replacing an existing file', async () => {
    const path = join(dir, 'model.safetensors');
    await saveSafetensors(path, tensors(10), { model: 'ppca' });
    await saveSafetensors(path, tensors(20), { model: 'ppca', iterations: '5' });
    const back = await loadSafetensors(path);
    expect(back.metadata).toEqual({ model: 'ppca', iterations: '5' });
    expect(Array.from(back.tensors.W!.data)).toEqual(Array.from(tensors(20).W!.data));
    expect(leftovers()).toEqual([]);
  });

  it('names the file when loading fails', async () => {
    const missing = join(dir, 'missing.safetensors');
    await expect(loadSafetensors(missing)).rejects.toThrow(new RegExp(`cannot read model file ${missing}`));
    const corrupt = join(dir, 'corrupt.safetensors');
    writeFileSync(corrupt, encodeSafetensors(tensors(8)).subarray(0, 50));
    await expect(loadSafetensors(corrupt)).rejects.toThrow(new RegExp(`^${corrupt}: not a valid safetensors file: .*truncated file`));
    await expect(saveSafetensors(join(dir, 'x'), { w: { dtype: 'F32', shape: [2], data: new Float32Array(1) } })).rejects.toThrow(/cannot write .*tensor 'w'/);
  });

  it('leaves the old file intact when a write fails before the rename', async () => {
    const path = join(dir, 'keep.safetensors');
    await saveSafetensors(path, tensors(10));
    const before = readFileSync(path);
    let tempSeen = '';
    await expect(saveSafetensors(path, tensors(1000), undefined, {
      beforeRename: (temp) => {
        tempSeen = temp;
        expect(readFileSync(temp).length).toBeGreaterThan(4000); // the new bytes were fully written
        throw new Error('simulated crash');
      },
    })).rejects.toThrow(/cannot write .*keep\.safetensors: simulated crash \(any previous file is unchanged\)/);
    expect(tempSeen.startsWith(dir)).toBe(true); // same directory, so the rename is atomic
    expect(readFileSync(path).equals(before)).toBe(true);
    expect(leftovers()).toEqual([]);
    await expect(writeFileAtomic(join(dir, 'no-such-dir', 'm.safetensors'), new Uint8Array(4))).rejects.toThrow(/cannot write .*no-such-dir.*ENOENT/);
  });

  it('leaves the old file intact when the disk write itself fails (file size limit)', () => {
    // a child process whose file-size limit (ulimit -f, 1 KiB blocks) stops the write mid-way with EFBIG
    const path = join(dir, 'limited.safetensors');
    writeFileSync(path, encodeSafetensors(tensors(10)));
    const before = readFileSync(path);
    const module = fileURLToPath(new URL('../src/io/atomic.node.ts', import.meta.url));
    const script = `import { saveSafetensors } from ${JSON.stringify(module)};
      try { await saveSafetensors(${JSON.stringify(path)}, { W: { dtype: 'F32', shape: [100000], data: new Float32Array(100000) } }); console.log('saved'); }
      catch (e) { console.log(e.name + ': ' + e.message); }`;
    const out = execFileSync('bash', ['-c', 'ulimit -f 16 && exec "$0" --import tsx --input-type=module -e "$1"', process.execPath, script],
      { encoding: 'utf8', cwd: fileURLToPath(new URL('..', import.meta.url)) });
    expect(out).toMatch(/^ModelFileError: cannot write .*limited\.safetensors: .*EFBIG/);
    expect(readFileSync(path).equals(before)).toBe(true);
    expect(leftovers()).toEqual([]);
  });
});
