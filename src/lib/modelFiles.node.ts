// Model files on disk (Node): the platform-neutral codec of modelFiles.ts with
// the CLI's atomic writes and size-checked reads.
import { readModelBytes, writeFileAtomic } from '../io/atomic.node.ts';
import { decodeModelFile, encodeModelFile, type EncodeOptions, type ModelFile, type SavableModel } from './modelFiles.ts';

/** Writes a model file atomically (temporary file, fsync, rename). */
export async function saveModelFile(path: string, model: SavableModel, opts: EncodeOptions = {}): Promise<void> {
  await writeFileAtomic(path, await encodeModelFile(model, opts));
}

/** Reads and checks a model file (size-capped, regular files only). */
export async function loadModelFile(path: string): Promise<ModelFile> {
  return decodeModelFile(await readModelBytes(path), path);
}
