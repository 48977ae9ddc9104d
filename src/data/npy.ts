// NumPy .npy arrays (format versions 1–3): 2-D float32 or float64 in C order,
// either byte order. Anything else is a clear error saying how to save it.
import { DataError, checkFinite, makeDataset, printable, type Dataset, type MissingMode } from './dataset.ts';

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

/** `missing: 'nan'` lets NaN through as a missing entry (default: an error). */
export function parseNpy(bytes: Uint8Array, opts: { source?: string; missing?: MissingMode } = {}): Dataset {
  const source = printable(opts.source ?? 'npy', 200);
  const h = parseNpyHeader(bytes, source);
  const m = /^([<>|=])f([48])$/.exec(h.descr);
  if (!m) throw new DataError(`${source}: dtype '${printable(h.descr, 40)}' is not supported; save the array as float32 or float64 (arr.astype(np.float32))`);
  if (h.fortranOrder) throw new DataError(`${source}: Fortran-order arrays are not supported; save np.ascontiguousarray(arr)`);
  if (h.shape.length !== 2) throw new DataError(`${source}: array has shape (${h.shape.join(', ')}); need a 2-D array (rows × features)`);
  const [n, D] = h.shape as [number, number];
  if (D === 0) throw new DataError(`${source}: shape (${n}, 0) has no columns; need at least one feature per row`);
  if (n === 0) throw new DataError(`${source}: shape (0, ${D}) has no rows (the array is empty)`);
  const size = Number(m[2]);
  // '=' is native order; NumPy writes it only for single-byte types, so treat it as little-endian
  const little = m[1] !== '>';
  const have = bytes.length - h.dataOffset;
  // both dims are ≥ 1 here, so n·D·size over the safe range is also over any real file
  const need = n * D * size;
  if (!Number.isSafeInteger(need)) {
    throw new DataError(`${source}: shape (${n}, ${D}) of ${h.descr} would need ${need.toExponential(3)} bytes, but the file has ${have} after the header (corrupt header?)`);
  }
  if (have !== need) {
    const what = have < need ? 'truncated' : 'trailing bytes';
    throw new DataError(`${source}: ${what}: shape (${n}, ${D}) of ${h.descr} needs ${need} data bytes, the file has ${have} after the header`);
  }
  const dv = new DataView(bytes.buffer, bytes.byteOffset + h.dataOffset, need);
  const x = new Float32Array(n * D);
  if (size === 4) for (let i = 0; i < x.length; i++) x[i] = dv.getFloat32(4 * i, little);
  else {
    for (let i = 0; i < x.length; i++) {
      const v = dv.getFloat64(8 * i, little);
      x[i] = v;
      if (Number.isFinite(v) && !Number.isFinite(x[i]!)) {
        throw new DataError(`${source}: row ${Math.floor(i / D) + 1}, column ${(i % D) + 1}: ${v} overflows float32`);
      }
    }
  }
  const ds = makeDataset(source, x, n, D);
  checkFinite(ds, opts.missing);
  return ds;
}

/** A 2-D little-endian float32 .npy file (format 1.0) of n rows of D. */
export function encodeNpy(x: Float32Array, n: number, D: number): Uint8Array {
  if (x.length !== n * D) throw new Error(`encodeNpy: ${x.length} values do not make ${n} rows of ${D}`);
  let header = `{'descr': '<f4', 'fortran_order': False, 'shape': (${n}, ${D}), }`;
  // magic (6) + version (2) + length (2) + header + '\n', padded to a multiple of 64
  header += ' '.repeat(63 - ((10 + header.length) % 64)) + '\n';
  const out = new Uint8Array(10 + header.length + 4 * x.length);
  out.set(MAGIC, 0);
  out[6] = 1;
  new DataView(out.buffer).setUint16(8, header.length, true);
  out.set(new TextEncoder().encode(header), 10);
  const dv = new DataView(out.buffer, 10 + header.length);
  for (let i = 0; i < x.length; i++) dv.setFloat32(4 * i, x[i]!, true);
  return out;
}
