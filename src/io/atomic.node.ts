// Node file I/O for model files: atomic writes (temp file in the same
// directory, fsync, rename) so a failed or interrupted save never clobbers the
// previous file, and safetensors save/load whose errors name the file.
import { randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { open, readdir, rename, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import {
  ModelFileError, decodeSafetensors, decodeSafetensorsHeader, encodeSafetensors, safetensorsHeaderLength, type Safetensors, type TensorMap,
} from './safetensors.ts';

export interface AtomicWriteHooks {
  /** runs after the temp file is written and synced, before the rename (tests inject failures here) */
  beforeRename?: (tempPath: string) => void | Promise<void>;
}

/**
 * Writes bytes to path atomically: readers see the old file or the complete
 * new one, never a partial write. The temp file lives in the target directory
 * because rename is only atomic within one file system.
 */
export async function writeFileAtomic(path: string, bytes: Uint8Array, hooks: AtomicWriteHooks = {}): Promise<void> {
  const dir = dirname(path);
  await sweepStaleTemps(dir, basename(path));
  const temp = join(dir, `.${basename(path)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
  let created = false;
  try {
    const fh = await open(temp, 'wx');
    created = true;
    try {
      let done = 0;
      while (done < bytes.length) {
        const { bytesWritten } = await fh.write(bytes, done, bytes.length - done);
        done += bytesWritten;
      }
      await fh.sync();
    } finally {
      await fh.close();
    }
    await hooks.beforeRename?.(temp);
    await rename(temp, path);
    created = false;
  } catch (e) {
    if (created) await unlink(temp).catch(() => undefined);
    throw new ModelFileError(`cannot write ${path}: ${(e as Error).message} (any previous file is unchanged)`);
  }
  // persist the rename itself; some file systems cannot fsync a directory, which only weakens crash durability
  try {
    const dh = await open(dir, 'r');
    try {
      await dh.sync();
    } finally {
      await dh.close();
    }
  } catch {
    // directory fsync unsupported (e.g. some network file systems): the file itself is complete
  }
}

/** Temp files of writeFileAtomic: `.<basename>.<pid>.<12 hex>.tmp`. */
const TEMP_NAME = /^\.(.+)\.(\d{1,10})\.[0-9a-f]{12}\.tmp$/;

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    // EPERM: the process exists but belongs to someone else
    return (e as NodeJS.ErrnoException).code !== 'ESRCH';
  }
}

/**
 * Removes temp files left in `dir` by writes whose process was killed (its pid
 * no longer runs); a live process's temp is never touched. With `target`, only
 * temps of that file name. Returns the names removed; failures are ignored (a
 * sweep never stops a save).
 */
export async function sweepStaleTemps(dir: string, target?: string): Promise<string[]> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return [];
  }
  const removed: string[] = [];
  for (const name of names) {
    const m = TEMP_NAME.exec(name);
    if (!m || (target !== undefined && m[1] !== target)) continue;
    const pid = Number(m[2]);
    if (pid === process.pid || pid < 1 || processAlive(pid)) continue;
    try {
      await unlink(join(dir, name));
      removed.push(name);
    } catch {
      // removed by another sweep, or not ours to remove
    }
  }
  return removed;
}

export async function saveSafetensors(path: string, tensors: TensorMap, metadata?: Record<string, string>,
  hooks?: AtomicWriteHooks): Promise<void> {
  let bytes: Uint8Array;
  try {
    bytes = encodeSafetensors(tensors, metadata);
  } catch (e) {
    throw e instanceof ModelFileError ? new ModelFileError(`cannot write ${path}: ${e.message}`) : e;
  }
  await writeFileAtomic(path, bytes, hooks);
}

/** The largest model file read (1 GiB): checked against the file's size before reading. */
export const MAX_MODEL_FILE_BYTES = 2 ** 30;

type FileHandle = Awaited<ReturnType<typeof open>>;

/**
 * Opens a model file for `use`: only a regular file (not a device, FIFO or
 * directory) whose size, known before anything is read, is within the cap.
 * Errors name the file.
 */
async function withModelFile<T>(path: string, use: (fh: FileHandle, size: number) => Promise<T>, maxBytes = MAX_MODEL_FILE_BYTES): Promise<T> {
  const cannot = (why: string): never => { throw new ModelFileError(`cannot read model file ${path}: ${why}`); };
  let fh: FileHandle;
  try {
    // O_NONBLOCK: opening a FIFO must not wait for a writer (it is rejected below as not a regular file)
    fh = await open(path, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    return cannot(code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : (e as Error).message);
  }
  try {
    const st = await fh.stat();
    if (!st.isFile()) cannot(`it is ${st.isDirectory() ? 'a directory' : 'not a regular file (a device, FIFO or socket)'}; give a .safetensors file`);
    if (st.size > maxBytes) cannot(`it is ${st.size} bytes, over the ${maxBytes}-byte limit for a model file`);
    return await use(fh, st.size);
  } catch (e) {
    if (e instanceof ModelFileError) throw e;
    return cannot((e as Error).message);
  } finally {
    await fh.close();
  }
}

/** Reads exactly `length` bytes at `position`; a file that shrank is an error. */
async function readExactly(fh: FileHandle, path: string, length: number, position: number): Promise<Uint8Array> {
  const bytes = new Uint8Array(length);
  let done = 0;
  while (done < length) {
    const { bytesRead } = await fh.read(bytes, done, length - done, position + done);
    if (bytesRead === 0) throw new ModelFileError(`cannot read model file ${path}: it shrank while being read`);
    done += bytesRead;
  }
  return bytes;
}

/** A model file's bytes (see withModelFile for the checks). */
export async function readModelBytes(path: string, maxBytes = MAX_MODEL_FILE_BYTES): Promise<Uint8Array> {
  return withModelFile(path, (fh, size) => readExactly(fh, path, size, 0), maxBytes);
}

/** Prefixes a decode error with the file. */
function named<T>(path: string, decode: () => T): T {
  try {
    return decode();
  } catch (e) {
    throw e instanceof ModelFileError ? new ModelFileError(`${path}: ${e.message}`) : e;
  }
}

export async function loadSafetensors(path: string): Promise<Safetensors> {
  const bytes = await readModelBytes(path);
  return named(path, () => decodeSafetensors(bytes));
}

/** A safetensors file's metadata, reading and checking only its header (no tensor data). */
export async function loadSafetensorsMetadata(path: string): Promise<Record<string, string>> {
  return withModelFile(path, async (fh, size) => {
    const first = await readExactly(fh, path, Math.min(8, size), 0);
    const headerLen = named(path, () => safetensorsHeaderLength(first, size));
    const header = await readExactly(fh, path, headerLen, 8);
    return named(path, () => decodeSafetensorsHeader(header, size).metadata);
  });
}
