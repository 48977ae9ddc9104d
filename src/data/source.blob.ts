// A RowSource over a browser File/Blob read a slice at a time
// (blob.slice(a, b).arrayBuffer()), so a large user file is never held whole:
// .npy (float32/float64) or headerless little-endian float32 with its row width.
import { DataError, printable, type MissingMode } from './dataset.ts';
import { NPY_MAX_HEADER_BYTES, layoutSource, npyLayout, rawF32Layout, type RowLayout } from './npy.ts';
import type { RowSource } from './source.ts';

/** What blobSource needs of a Blob (a File is one). */
export interface BlobLike {
  readonly size: number;
  slice(start?: number, end?: number): { arrayBuffer(): Promise<ArrayBuffer> };
}

export interface BlobSourceOptions {
  /** names the data in messages (a File's name) */
  name: string;
  /** 'npy', or 'f32' for headerless little-endian float32 rows of `dim` values */
  format: 'npy' | 'f32';
  dim?: number;
  /** 'nan': NaN is a missing entry; default: an error naming the row and column */
  missing?: MissingMode;
  /** largest piece read through the scratch buffer (tests force small pieces) */
  sliceBytes?: number;
}

async function sliceBytes(blob: BlobLike, name: string, a: number, b: number): Promise<Uint8Array> {
  let buf: ArrayBuffer;
  try {
    buf = await blob.slice(a, b).arrayBuffer();
  } catch (e) {
    // a File changed or removed since it was chosen: the browser's NotReadableError
    throw new DataError(`cannot read ${name}: ${(e as Error).message}`);
  }
  if (buf.byteLength !== b - a) throw new DataError(`${name}: the file shrank while being read (bytes ${a}–${b} of ${blob.size})`);
  return new Uint8Array(buf);
}

/** A RowSource over a File/Blob: reads its header now and its rows slice by slice. */
export async function blobSource(blob: BlobLike, opts: BlobSourceOptions): Promise<RowSource> {
  const name = printable(opts.name, 200);
  let layout: RowLayout;
  if (opts.format === 'npy') {
    if (opts.dim !== undefined) throw new DataError(`${name}: a .npy file states its shape; dim is for raw float32`);
    const head = await sliceBytes(blob, name, 0, Math.min(blob.size, 12 + NPY_MAX_HEADER_BYTES));
    layout = npyLayout(head, blob.size, name);
  } else {
    if (opts.dim === undefined) throw new DataError(`${name}: a raw float32 file has no header; give its row width`);
    layout = rawF32Layout(blob.size, opts.dim, name);
  }
  const readAt = async (pos: number, into: Uint8Array): Promise<void> => {
    into.set(await sliceBytes(blob, name, pos, pos + into.length));
  };
  return layoutSource(name, layout, readAt, async () => {}, opts.missing, opts.sliceBytes);
}
