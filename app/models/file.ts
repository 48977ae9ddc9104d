// VAE / per-point model files: the CLI's format (src/cli/vae.ts), so a file
// downloaded here evaluates with `latentgpu eval --model FILE` and a file from
// `latentgpu train --out` loads here. Metadata: model (vae | lvm), format
// latentgpu-1, config (the model's JSON configuration), step, epochs,
// train_rows. Tensors: `params` (all the CLI reads); the app adds the optimizer
// state (adam.m, adam.v, and for lvm the per-row φ table) so that training
// resumes exactly, and loads a params-only file with a fresh optimizer.
import { ModelFileError, decodeSafetensors, encodeSafetensors, type TensorMap } from '../../src/io/safetensors.ts';

export const FILE_FORMAT = 'latentgpu-1';
export type LatentKind = 'vae' | 'lvm';

export interface LatentModelFile {
  kind: LatentKind;
  config: Record<string, unknown>;
  step: number;
  epoch: number;
  trainRows: number | null;
  params: Float32Array;
  /** every F32 tensor of the file by name (params included) */
  tensors: Record<string, Float32Array>;
}

export function encodeLatentModelFile(f: {
  kind: LatentKind; config: object; step: number; epoch: number; trainRows: number;
  tensors: Record<string, Float32Array>; extra?: Record<string, string>;
}): Uint8Array {
  if (!f.tensors.params) throw new ModelFileError("a model file needs the 'params' tensor");
  const tensors: TensorMap = {};
  for (const [name, data] of Object.entries(f.tensors)) tensors[name] = { dtype: 'F32', shape: [data.length], data };
  return encodeSafetensors(tensors, {
    ...f.extra,
    model: f.kind, format: FILE_FORMAT, config: JSON.stringify(f.config),
    step: String(f.step), epochs: String(f.epoch), train_rows: String(f.trainRows),
  });
}

/** Decodes and checks the metadata and `params`; the model checks the sizes when it loads them. */
export function decodeLatentModelFile(bytes: Uint8Array, want: LatentKind): LatentModelFile {
  const { tensors, metadata } = decodeSafetensors(bytes);
  const kind = metadata.model;
  if (kind === undefined) throw new ModelFileError('the safetensors metadata has no "model" key, so it is not a latentgpu model file');
  if (kind !== want) throw new ModelFileError(`the file holds a '${kind}' model; choose that model in the setup panel (this one loads ${want})`);
  if (metadata.config === undefined) throw new ModelFileError('the metadata has no "config" (the architecture)');
  let config: Record<string, unknown>;
  try {
    config = JSON.parse(metadata.config) as Record<string, unknown>;
  } catch {
    throw new ModelFileError('the "config" metadata is not valid JSON');
  }
  for (const key of ['dataDim', 'latent']) {
    const v = config[key];
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) throw new ModelFileError(`the "config" metadata has no positive integer '${key}'`);
  }
  const out: Record<string, Float32Array> = {};
  for (const [name, t] of Object.entries(tensors)) {
    if (t.dtype !== 'F32') throw new ModelFileError(`tensor '${name}' is ${t.dtype}; latentgpu model files store float32 tensors`);
    out[name] = t.data as Float32Array;
  }
  const params = out.params;
  if (!params) throw new ModelFileError("the file has no F32 tensor 'params'");
  const int = (v: string | undefined): number => (v !== undefined && /^\d+$/.test(v) ? Number(v) : 0);
  const rows = metadata.train_rows;
  return {
    kind, config, params, tensors: out,
    step: int(metadata.step), epoch: int(metadata.epochs ?? metadata.epoch),
    trainRows: rows !== undefined && /^\d+$/.test(rows) ? Number(rows) : null,
  };
}
