// `latentgpu convert DATA OUT.npy`: a CSV/TSV table (or any data file the CLI
// reads) saved once as a float32 .npy, which every command then reads in slices
// when it is larger than --host-memory. The table is read within the CSV cap;
// the .npy is written to a temporary file and renamed over OUT, never onto an input.
import { extname } from 'node:path';
import { printable, type MissingMode } from '../data/dataset.ts';
import type { HeaderMode } from '../data/csv.ts';
import { loadDataFile } from '../data/files.node.ts';
import { encodeNpy } from '../data/npy.ts';
import { writeFileAtomic } from '../io/atomic.node.ts';
import { checkOutputs } from './outputs.ts';

export interface ConvertOptions {
  header?: HeaderMode;
  missing?: MissingMode;
  /** the row width of a raw float32 input */
  dim?: number;
}

/** Converts `input` to a float32 .npy at `output`; returns its shape and size. */
export async function convertToNpy(input: string, output: string, opts: ConvertOptions = {}): Promise<{ rows: number; cols: number; bytes: number }> {
  if (extname(output).toLowerCase() !== '.npy') throw new Error(`convert writes a .npy file; ${printable(output, 200)} does not end in .npy`);
  checkOutputs({ inputs: [{ flag: 'the input', path: input }], out: output });
  const ds = loadDataFile(input, opts);
  const bytes = encodeNpy(ds.x, ds.n, ds.D);
  await writeFileAtomic(output, bytes);
  return { rows: ds.n, cols: ds.D, bytes: bytes.length };
}
