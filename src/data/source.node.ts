// RowSources over data files read a slice at a time (never the whole file):
// .npy (float32/float64, either byte order, C order) and headerless
// little-endian float32 (.f32/.bin, the row width given). Reads go through
// libuv's thread pool, so a read overlaps the work on the previous chunk.
import { close as closeCb, read as readCb, readSync } from 'node:fs';
import { basename, extname } from 'node:path';
import { DataError, printable, type MissingMode } from './dataset.ts';
import { NPY_MAX_HEADER_BYTES, layoutSource, npyLayout, rawF32Layout, type RowLayout } from './npy.ts';
import { openRegular } from './read.node.ts';
import type { RowSource } from './source.ts';

/** Extensions of the headerless float32 files (row width from --dim). */
export const RAW_F32_EXTENSIONS = ['.f32', '.bin'] as const;

/** Whether a file can be opened as a RowSource (a .npy or raw float32 file). */
export function isSliceableFile(path: string): boolean {
  const ext = extname(path).toLowerCase();
  return ext === '.npy' || (RAW_F32_EXTENSIONS as readonly string[]).includes(ext);
}

export interface FileSourceOptions {
  /** the row width of a raw float32 file (required there, refused for .npy) */
  dim?: number;
  /** 'nan': NaN is a missing entry; default: an error naming the row and column */
  missing?: MissingMode;
  /** largest piece read through the scratch buffer (tests force small pieces) */
  sliceBytes?: number;
}

function readAtFd(fd: number, name: string, size: number): (pos: number, into: Uint8Array) => Promise<void> {
  return async (pos, into) => {
    let done = 0;
    while (done < into.length) {
      const k = await new Promise<number>((resolve, reject) => {
        readCb(fd, into, done, into.length - done, pos + done, (err, bytes) => (err ? reject(err) : resolve(bytes)));
      }).catch((e: NodeJS.ErrnoException) => {
        throw new DataError(`cannot read ${name}: ${e.code ?? e.message}`);
      });
      if (k === 0) throw new DataError(`${name}: the file shrank while being read (byte ${pos + done} of the ${size} it had when opened)`);
      done += k;
    }
  };
}

/**
 * Opens a .npy or raw float32 (.f32/.bin, `dim` values a row) data file as a
 * RowSource: only its header is read here, and its size checked against the
 * shape before anything is allocated. Close it when done.
 */
export function openFileSource(path: string, opts: FileSourceOptions = {}): RowSource {
  const name = printable(basename(path), 200);
  const ext = extname(path).toLowerCase();
  if (!isSliceableFile(path)) throw new DataError(`${printable(path, 200)}: only .npy and raw float32 (${RAW_F32_EXTENSIONS.join(', ')}) files are read in slices`);
  if (ext === '.npy' && opts.dim !== undefined) throw new DataError(`${name}: --dim is for raw float32 files; a .npy file states its shape`);
  const { fd, size } = openRegular(path, 'data file');
  const closeFd = (): Promise<void> => new Promise((resolve) => closeCb(fd, () => resolve()));
  try {
    let layout: RowLayout;
    if (ext === '.npy') {
      const head = new Uint8Array(Math.min(size, 12 + NPY_MAX_HEADER_BYTES));
      let got = 0;
      while (got < head.length) {
        const k = readSync(fd, head, got, head.length - got, got);
        if (k === 0) break;
        got += k;
      }
      layout = npyLayout(head.subarray(0, got), size, name);
    } else {
      if (opts.dim === undefined) throw new DataError(`${name}: a raw float32 file has no header; give its row width with --dim D`);
      layout = rawF32Layout(size, opts.dim, name);
    }
    return layoutSource(name, layout, readAtFd(fd, name, size), closeFd, opts.missing, opts.sliceBytes);
  } catch (e) {
    void closeFd();
    throw e;
  }
}
