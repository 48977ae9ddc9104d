// Reading a file whose size is known before it is read: only regular files,
// under a stated cap, exactly as many bytes as fstat reports.
import { closeSync, constants, fstatSync, openSync, readSync, type Stats } from 'node:fs';
import { DataError, printable } from './dataset.ts';

export const MiB = 2 ** 20;
export const GiB = 2 ** 30;

export function sizeText(bytes: number): string {
  return bytes >= GiB ? `${(bytes / GiB).toFixed(2)} GiB` : bytes >= MiB ? `${(bytes / MiB).toFixed(1)} MiB` : `${bytes} bytes`;
}

function fileKind(st: Stats): string {
  if (st.isDirectory()) return 'a directory';
  if (st.isFIFO()) return 'a named pipe (FIFO)';
  if (st.isCharacterDevice()) return 'a character device';
  if (st.isBlockDevice()) return 'a block device';
  if (st.isSocket()) return 'a socket';
  return 'a special file';
}

/** Opens `path` without blocking (a FIFO would wait for a writer) and checks that it is a regular file; returns the descriptor and size. */
export function openRegular(path: string, what: string): { fd: number; size: number } {
  const shown = printable(path, 200);
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | (constants.O_NONBLOCK ?? 0));
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    const why = err.code === 'ENOENT' ? 'no such file' : err.code === 'EACCES' ? 'permission denied' : err.code === 'ENXIO' ? 'it is a socket, not a regular file' : (err.code ?? err.message);
    throw new DataError(`cannot read ${what} ${shown}: ${why}`);
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) throw new DataError(`cannot read ${what} ${shown}: it is ${fileKind(st)}, not a regular file`);
    return { fd, size: st.size };
  } catch (e) {
    closeSync(fd);
    throw e;
  }
}

/** Throws the error readRegularFile would for a path that is missing or not a regular file. */
export function checkRegularFile(path: string, what: string): void {
  closeSync(openRegular(path, what).fd);
}

/**
 * The bytes of a regular file, its size known before reading: rejects anything
 * but a regular file and files over `maxBytes`, then reads exactly that many
 * bytes. `what` names the file in messages ("data file"); `tooBig` says what to do.
 */
export function readRegularFile(path: string, what: string, maxBytes: number, tooBig = 'use a smaller file'): Uint8Array {
  const shown = printable(path, 200);
  const { fd, size } = openRegular(path, what);
  try {
    if (size > maxBytes) throw new DataError(`${what} ${shown} is ${sizeText(size)}, over the ${sizeText(maxBytes)} limit; ${tooBig}`);
    const out = new Uint8Array(size);
    let done = 0;
    while (done < size) {
      const k = readSync(fd, out, done, size - done, done);
      if (k === 0) break;
      done += k;
    }
    if (done < size) throw new DataError(`cannot read ${what} ${shown}: it shrank while being read (${done} of ${size} bytes)`);
    return out;
  } catch (e) {
    if (e instanceof DataError) throw e;
    throw new DataError(`cannot read ${what} ${shown}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  } finally {
    closeSync(fd);
  }
}
