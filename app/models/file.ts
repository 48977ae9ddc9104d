// VAE / per-point model files: the CLI's format, so a file downloaded here
// evaluates with `latentgpu eval --model FILE` and a file from `latentgpu train
// --out` loads here. One decoder for both (src/io/modelFile.ts) checks the
// metadata, the config against the stored parameters, dtypes, shapes and
// finite values before a model is built. The app saves the optimizer state
// (adam.m, adam.v, and for lvm the per-row φ table) so that training resumes
// exactly, and loads a params-only file with a fresh optimizer.
import { LATENT_FILE_FORMAT, decodeLatentModel, encodeLatentModel, type LatentKind, type LatentModelFile } from '../../src/io/modelFile.ts';
import { ModelFileError, decodeSafetensors } from '../../src/io/safetensors.ts';

export const FILE_FORMAT = LATENT_FILE_FORMAT;
export type { LatentKind, LatentModelFile };

export function encodeLatentModelFile(f: {
  kind: LatentKind; config: object; step: number; epoch: number; trainRows: number;
  tensors: Record<string, Float32Array>; extra?: Record<string, string>;
}): Uint8Array {
  return encodeLatentModel({
    kind: f.kind, config: f.config, tensors: f.tensors,
    metadata: { ...f.extra, step: f.step, epochs: f.epoch, train_rows: f.trainRows },
  });
}

/** Decodes and checks a model file of kind `want` (src/io/modelFile.ts decodeLatentModel). */
export function decodeLatentModelFile(bytes: Uint8Array, want: LatentKind): LatentModelFile {
  const file = decodeSafetensors(bytes);
  const kind = file.metadata.model;
  if (kind !== undefined && kind !== want && (kind === 'vae' || kind === 'lvm' || kind === 'ppca')) {
    throw new ModelFileError(`the file holds a '${kind}' model; choose that model in the setup panel (this one loads ${want})`);
  }
  return decodeLatentModel(file, 'the model file', { want });
}
