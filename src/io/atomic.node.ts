// Node file I/O for model files: atomic writes (temp file in the same
// directory, fsync, rename) so a failed or interrupted save never clobbers the
// previous file, and safetensors save/load whose errors name the file.
import { randomBytes } from 'node:crypto';
import { open, readFile, rename, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { ModelFileError, decodeSafetensors, encodeSafetensors, type Safetensors, type TensorMap } from './safetensors.ts';

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

export async function loadSafetensors(path: string): Promise<Safetensors> {
  let bytes: Uint8Array;
  try {
    bytes = await readFile(path);
  } catch (e) {
    throw new ModelFileError(`cannot read model file ${path}: ${(e as Error).message}`);
  }
  try {
    return decodeSafetensors(bytes);
  } catch (e) {
    throw e instanceof ModelFileError ? new ModelFileError(`${path}: ${e.message}`) : e;
  }
}
