// Helpers for the data tests: .npy files (NumPy's layout with any header text,
// or a 2-D array as np.save writes it) and the check on a data error's message.
import { expect } from 'vitest';
import { DataError } from '../src/data/dataset.ts';

/** C0, DEL and C1 controls: none may reach a message raw. */
export const CONTROL = /[\x00-\x08\x0b-\x1f\x7f-\x9f]/;

/** The message of the DataError fn throws, checked to be one printable line containing every fragment. */
export function clearError(fn: () => unknown, ...fragments: Array<string | RegExp>): string {
  let caught: unknown;
  try {
    fn();
  } catch (e) {
    caught = e;
  }
  expect(caught, `expected a DataError mentioning ${fragments.join(' … ')}`).toBeInstanceOf(DataError);
  const m = (caught as Error).message;
  expect(m).not.toMatch(/\n/);
  expect(m).not.toMatch(CONTROL);
  for (const f of fragments) {
    if (typeof f === 'string') expect(m).toContain(f);
    else expect(m).toMatch(f);
  }
  return m;
}

/** Magic, version, header length (u16 for version 1, u32 for 2 and 3), header text, data. */
export function npyFile(header: string, data: Uint8Array = new Uint8Array(0), version = 1, headerLength?: number): Uint8Array {
  const text = new TextEncoder().encode(header);
  const start = version === 1 ? 10 : 12;
  const out = new Uint8Array(start + text.length + data.length);
  out.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, version, 0]);
  const dv = new DataView(out.buffer);
  if (version === 1) dv.setUint16(8, headerLength ?? text.length, true);
  else dv.setUint32(8, headerLength ?? text.length, true);
  out.set(text, start);
  out.set(data, start + text.length);
  return out;
}

/** NumPy's header dict for `descr` and `shape` (given as text, e.g. "(2, 3)"), padded as np.save pads it. */
export function npyHeader(descr: string, shape: string, fortran = false): string {
  const header = `{'descr': '${descr}', 'fortran_order': ${fortran ? 'True' : 'False'}, 'shape': ${shape}, }`;
  return header + ' '.repeat(63 - ((10 + header.length) % 64)) + '\n';
}

/** A version-1 .npy file of `data` with the given dtype and shape. */
export function npyBytes(descr: string, shape: number[], data: Float32Array | Float64Array, fortran = false): Uint8Array {
  const shapeText = `(${shape.join(', ')}${shape.length === 1 ? ',' : ''})`;
  return npyFile(npyHeader(descr, shapeText, fortran), new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
}
