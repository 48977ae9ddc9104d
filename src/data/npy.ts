// NumPy .npy arrays (format versions 1–3): 2-D float32 or float64 in C order,
// either byte order. Anything else is a clear error saying how to save it.
import { DataError, checkFinite, makeDataset, type Dataset } from './dataset.ts';

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // \x93NUMPY

export interface NpyHeader {
  descr: string;
  fortranOrder: boolean;
  shape: number[];
  /** byte offset of the data */
  dataOffset: number;
}

export function parseNpyHeader(bytes: Uint8Array, source = 'npy'): NpyHeader {
  if (bytes.length < 10 || MAGIC.some((b, i) => bytes[i] !== b)) throw new DataError(`${source}: not a NumPy .npy file (bad magic bytes)`);
  const major = bytes[6]!;
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let headerLen: number;
  let start: number;
  if (major === 1) {
    headerLen = dv.getUint16(8, true);
    start = 10;
  } else if (major === 2 || major === 3) {
    if (bytes.length < 12) throw new DataError(`${source}: truncated .npy header`);
    headerLen = dv.getUint32(8, true);
    start = 12;
  } else {
    throw new DataError(`${source}: unsupported .npy format version ${major}.${bytes[7]}`);
  }
  if (start + headerLen > bytes.length) throw new DataError(`${source}: truncated .npy header`);
  const header = new TextDecoder(major === 3 ? 'utf-8' : 'latin1').decode(bytes.subarray(start, start + headerLen));
  const descr = /'descr'\s*:\s*'([^']*)'/.exec(header)?.[1];
  const fortran = /'fortran_order'\s*:\s*(True|False)/.exec(header)?.[1];
  const shapeText = /'shape'\s*:\s*\(([^)]*)\)/.exec(header)?.[1];
  if (descr === undefined || fortran === undefined || shapeText === undefined) {
    throw new DataError(`${source}: malformed .npy header ${JSON.stringify(header.trim())}`);
  }
  const shape = shapeText
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '')
    .map((s) => {
      if (!/^\d+L?$/.test(s)) throw new DataError(`${source}: malformed shape (${shapeText}) in the .npy header`);
      return Number.parseInt(s, 10);
    });
  return { descr, fortranOrder: fortran === 'True', shape, dataOffset: start + headerLen };
}

export function parseNpy(bytes: Uint8Array, opts: { source?: string } = {}): Dataset {
  const source = opts.source ?? 'npy';
  const h = parseNpyHeader(bytes, source);
  const m = /^([<>|=])f([48])$/.exec(h.descr);
  if (!m) throw new DataError(`${source}: dtype '${h.descr}' is not supported; save the array as float32 or float64 (arr.astype(np.float32))`);
  if (h.fortranOrder) throw new DataError(`${source}: Fortran-order arrays are not supported; save np.ascontiguousarray(arr)`);
  if (h.shape.length !== 2) throw new DataError(`${source}: array has shape (${h.shape.join(', ')}); need a 2-D array (rows × features)`);
  const [n, D] = h.shape as [number, number];
  const size = Number(m[2]);
  // '=' is native order; NumPy writes it only for single-byte types, so treat it as little-endian
  const little = m[1] !== '>';
  const need = n * D * size;
  const have = bytes.length - h.dataOffset;
  if (have < need) throw new DataError(`${source}: truncated: ${have} data bytes, shape (${n}, ${D}) of ${h.descr} needs ${need}`);
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
  checkFinite(ds);
  return ds;
}
