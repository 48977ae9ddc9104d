// NumPy .npy arrays (format versions 1–3): 2-D float32 or float64 in C order,
// either byte order. Anything else is a clear error saying how to save it.
import { DataError, makeDataset, printable, type Dataset, type MissingMode } from './dataset.ts';
import { checkSlice, serialized, type RowSource } from './source.ts';

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // \x93NUMPY

/** Longest header accepted: NumPy's own np.load refuses headers over 10,000 bytes (max_header_size). */
export const NPY_MAX_HEADER_BYTES = 10_000;

export interface NpyHeader {
  descr: string;
  fortranOrder: boolean;
  shape: number[];
  /** byte offset of the data */
  dataOffset: number;
}

export function parseNpyHeader(bytes: Uint8Array, source = 'npy'): NpyHeader {
  source = printable(source, 200);
  if (bytes.length === 0) throw new DataError(`${source}: the file is empty`);
  if (bytes.length < 10 || MAGIC.some((b, i) => bytes[i] !== b)) throw new DataError(`${source}: not a NumPy .npy file (bad magic bytes)`);
  const major = bytes[6]!;
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let headerLen: number;
  let start: number;
  if (major === 1) {
    headerLen = dv.getUint16(8, true);
    start = 10;
  } else if (major === 2 || major === 3) {
    if (bytes.length < 12) throw new DataError(`${source}: truncated .npy header (${bytes.length} bytes)`);
    headerLen = dv.getUint32(8, true);
    start = 12;
  } else {
    throw new DataError(`${source}: unsupported .npy format version ${major}.${bytes[7]}`);
  }
  if (headerLen > NPY_MAX_HEADER_BYTES) {
    throw new DataError(`${source}: .npy header length ${headerLen} is over the ${NPY_MAX_HEADER_BYTES} bytes NumPy accepts (corrupt file?)`);
  }
  if (start + headerLen > bytes.length) {
    throw new DataError(`${source}: truncated .npy header: it claims ${headerLen} bytes, ${bytes.length - start} are present`);
  }
  const header = new TextDecoder(major === 3 ? 'utf-8' : 'latin1').decode(bytes.subarray(start, start + headerLen));
  const malformed = (): DataError => new DataError(`${source}: malformed .npy header "${printable(header.trim(), 120)}"`);
  if (!/^\s*\{[^]*\}\s*$/.test(header)) throw malformed();
  if (/'descr'\s*:\s*\[/.test(header)) {
    throw new DataError(`${source}: structured arrays are not supported; save a plain 2-D float32 or float64 array`);
  }
  const descr = /'descr'\s*:\s*'([^']*)'/.exec(header)?.[1];
  const fortran = /'fortran_order'\s*:\s*(True|False)/.exec(header)?.[1];
  const shapeText = /'shape'\s*:\s*\(([^)]*)\)/.exec(header)?.[1];
  if (descr === undefined || fortran === undefined || shapeText === undefined) throw malformed();
  const parts = shapeText.split(',').map((p) => p.trim());
  // "(3,)" has a trailing comma; "()" is a scalar
  if (parts.length > 1 && parts[parts.length - 1] === '') parts.pop();
  if (parts.length === 1 && parts[0] === '') parts.pop();
  const shape = parts.map((p) => {
    const dim = /^\d+L?$/.test(p) ? Number.parseInt(p, 10) : NaN;
    if (!Number.isSafeInteger(dim)) throw new DataError(`${source}: malformed shape (${printable(shapeText, 80)}) in the .npy header`);
    return dim;
  });
  return { descr, fortranOrder: fortran === 'True', shape, dataOffset: start + headerLen };
}

/**
 * Where the rows of a 2-D float array lie in a file: n rows of D values of
 * `itemSize` bytes (float32 or float64) in C order from byte `dataOffset`.
 */
export interface RowLayout {
  n: number;
  D: number;
  itemSize: 4 | 8;
  little: boolean;
  dataOffset: number;
  /** the dtype as the file names it, for messages ('<f4', 'raw float32') */
  descr: string;
}

/**
 * The row layout of a .npy file of `fileBytes` bytes from its header (the
 * first bytes of the file): float32/float64, C order, 2-D, non-empty, and
 * exactly as many data bytes as the shape needs. Used by the whole-file parser
 * and by the sources that read a file in slices.
 */
export function npyLayout(headerBytes: Uint8Array, fileBytes: number, source: string): RowLayout {
  source = printable(source, 200);
  const h = parseNpyHeader(headerBytes, source);
  const m = /^([<>|=])f([48])$/.exec(h.descr);
  if (!m) throw new DataError(`${source}: dtype '${printable(h.descr, 40)}' is not supported; save the array as float32 or float64 (arr.astype(np.float32))`);
  if (h.fortranOrder) throw new DataError(`${source}: Fortran-order arrays are not supported; save np.ascontiguousarray(arr)`);
  if (h.shape.length !== 2) throw new DataError(`${source}: array has shape (${h.shape.join(', ')}); need a 2-D array (rows × features)`);
  const [n, D] = h.shape as [number, number];
  if (D === 0) throw new DataError(`${source}: shape (${n}, 0) has no columns; need at least one feature per row`);
  if (n === 0) throw new DataError(`${source}: shape (0, ${D}) has no rows (the array is empty)`);
  const size = Number(m[2]) as 4 | 8;
  const have = fileBytes - h.dataOffset;
  // both dims are ≥ 1 here, so n·D·size over the safe range is also over any real file
  const need = n * D * size;
  if (!Number.isSafeInteger(need)) {
    throw new DataError(`${source}: shape (${n}, ${D}) of ${h.descr} would need ${need.toExponential(3)} bytes, but the file has ${have} after the header (corrupt header?)`);
  }
  if (have !== need) {
    const what = have < need ? 'truncated' : 'trailing bytes';
    throw new DataError(`${source}: ${what}: shape (${n}, ${D}) of ${h.descr} needs ${need} data bytes, the file has ${have} after the header`);
  }
  // '=' is native order; NumPy writes it only for single-byte types, so treat it as little-endian
  return { n, D, itemSize: size, little: m[1] !== '>', dataOffset: h.dataOffset, descr: h.descr };
}

/** The row layout of a headerless little-endian float32 file of `fileBytes` bytes with D values a row. */
export function rawF32Layout(fileBytes: number, D: number, source: string): RowLayout {
  source = printable(source, 200);
  if (!Number.isSafeInteger(D) || D < 1) throw new DataError(`${source}: a raw float32 file needs its row width D (--dim D), got ${D}`);
  if (fileBytes === 0) throw new DataError(`${source}: the file is empty`);
  if (fileBytes % (4 * D) !== 0) {
    throw new DataError(`${source}: ${fileBytes} bytes are not whole rows of ${D} float32 values (${4 * D} bytes a row); wrong --dim, or not raw float32?`);
  }
  return { n: fileBytes / (4 * D), D, itemSize: 4, little: true, dataOffset: 0, descr: 'raw float32' };
}

/**
 * Decodes `count` rows of the layout, starting at row `r0` of the file, from
 * their bytes into dst (float64 narrowed to float32), and checks every value:
 * a float64 that overflows float32, or a non-finite value (NaN allowed with
 * `missing: 'nan'`), is an error naming the source, row and column (1-based).
 */
export function decodeRows(bytes: Uint8Array, layout: RowLayout, r0: number, count: number, dst: Float32Array, source: string, missing: MissingMode = 'error'): void {
  const { D, itemSize, little } = layout;
  const len = count * D;
  if (bytes.length < len * itemSize) throw new DataError(`${source}: ${bytes.length} bytes do not hold ${count} rows of ${D} (${layout.descr})`);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, len * itemSize);
  if (itemSize === 4) {
    for (let i = 0; i < len; i++) dst[i] = dv.getFloat32(4 * i, little);
  } else {
    for (let i = 0; i < len; i++) {
      const v = dv.getFloat64(8 * i, little);
      dst[i] = v;
      if (Number.isFinite(v) && !Number.isFinite(dst[i]!)) {
        throw new DataError(`${source}: row ${r0 + Math.floor(i / D) + 1}, column ${(i % D) + 1}: ${v} overflows float32`);
      }
    }
  }
  checkFiniteRows(dst, len, D, r0, source, missing);
}

/** checkFinite on rows [r0, r0 + len/D) held in x[0, len): the first bad value by its row in the whole data. */
export function checkFiniteRows(x: Float32Array, len: number, D: number, r0: number, source: string, missing: MissingMode = 'error'): void {
  for (let k = 0; k < len; k++) {
    const v = x[k]!;
    if (v - v !== 0 && !(missing === 'nan' && Number.isNaN(v))) {
      const hint = Number.isNaN(v) && missing === 'error' ? ' (to treat NaN as a missing entry: --missing nan, for train or eval of --model ppca or fa)' : '';
      throw new DataError(`${source}: row ${r0 + Math.floor(k / D) + 1}, column ${(k % D) + 1}: value ${v} is not finite${hint}`);
    }
  }
}

/** `missing: 'nan'` lets NaN through as a missing entry (default: an error). */
export function parseNpy(bytes: Uint8Array, opts: { source?: string; missing?: MissingMode } = {}): Dataset {
  const source = printable(opts.source ?? 'npy', 200);
  const layout = npyLayout(bytes, bytes.length, source);
  const { n, D } = layout;
  const x = new Float32Array(n * D);
  decodeRows(bytes.subarray(layout.dataOffset), layout, 0, n, x, source, opts.missing);
  return makeDataset(source, x, n, D);
}

/** The header of a 2-D little-endian float32 .npy file (format 1.0) of n rows of D: write the rows after it (files written a slice at a time). */
export function encodeNpyHeader(n: number, D: number): Uint8Array {
  let header = `{'descr': '<f4', 'fortran_order': False, 'shape': (${n}, ${D}), }`;
  // magic (6) + version (2) + length (2) + header + '\n', padded to a multiple of 64
  header += ' '.repeat(63 - ((10 + header.length) % 64)) + '\n';
  const out = new Uint8Array(10 + header.length);
  out.set(MAGIC, 0);
  out[6] = 1;
  new DataView(out.buffer).setUint16(8, header.length, true);
  out.set(new TextEncoder().encode(header), 10);
  return out;
}

/** A 2-D little-endian float32 .npy file (format 1.0) of n rows of D. */
export function encodeNpy(x: Float32Array, n: number, D: number): Uint8Array {
  if (x.length !== n * D) throw new Error(`encodeNpy: ${x.length} values do not make ${n} rows of ${D}`);
  const head = encodeNpyHeader(n, D);
  const out = new Uint8Array(head.length + 4 * x.length);
  out.set(head, 0);
  const dv = new DataView(out.buffer, head.length);
  for (let i = 0; i < x.length; i++) dv.setFloat32(4 * i, x[i]!, true);
  return out;
}

/** Bytes a source reads from its file at once: slices larger than this go in pieces through one scratch buffer. */
export const SLICE_BYTES = 8 * 2 ** 20;

const HOST_LITTLE = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/**
 * A RowSource over a file's rows as `layout` places them. `readAt(pos, into)`
 * fills `into` with the file's bytes from `pos` or rejects with a DataError (a
 * file that shrank); little-endian float32 on a little-endian host is read
 * straight into the destination, anything else through a scratch buffer of at
 * most `sliceBytes`. Every slice is checked as decodeRows does.
 */
export function layoutSource(
  name: string, layout: RowLayout, readAt: (pos: number, into: Uint8Array) => Promise<void>,
  close: () => Promise<void>, missing: MissingMode = 'error', sliceBytes = SLICE_BYTES,
): RowSource {
  const { n, D, itemSize, dataOffset } = layout;
  const direct = itemSize === 4 && layout.little === HOST_LITTLE;
  const rowsPerPiece = Math.max(1, Math.floor(sliceBytes / (D * itemSize)));
  let scratch: Uint8Array | null = null;
  let closed = false;
  const src: RowSource = {
    name, n, D, array: null,
    // one read at a time: the scratch buffer is shared (a read ahead and an evaluation pass may overlap)
    read: serialized(async (r0: number, count: number, dst: Float32Array): Promise<void> => {
      checkSlice(src, r0, count, dst);
      if (closed) throw new DataError(`${name}: read after the source was closed`);
      for (let done = 0; done < count;) {
        const rows = direct ? count - done : Math.min(rowsPerPiece, count - done);
        const pos = dataOffset + (r0 + done) * D * itemSize;
        const out = dst.subarray(done * D, (done + rows) * D);
        if (direct) {
          await readAt(pos, new Uint8Array(out.buffer, out.byteOffset, out.byteLength));
          checkFiniteRows(out, out.length, D, r0 + done, name, missing);
        } else {
          scratch ??= new Uint8Array(Math.min(rowsPerPiece, n) * D * itemSize);
          const bytes = scratch.subarray(0, rows * D * itemSize);
          await readAt(pos, bytes);
          decodeRows(bytes, layout, r0 + done, rows, out, name, missing);
        }
        done += rows;
      }
    }),
    async close(): Promise<void> {
      if (closed) return;
      closed = true;
      scratch = null;
      await close();
    },
  };
  return src;
}
