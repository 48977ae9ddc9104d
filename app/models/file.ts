// Model files of the app: safetensors with float32 tensors and metadata naming
// the model kind, its configuration (JSON) and the training step it reached.
import { ModelFileError, decodeSafetensors, encodeSafetensors, type TensorMap } from '../../src/io/safetensors.ts';
import type { ModelKind } from './runner.ts';

export const FILE_FORMAT = 'latentgpu-app/1';

export interface ModelFile {
  kind: ModelKind;
  config: Record<string, unknown>;
  step: number;
  tensors: Record<string, Float32Array>;
}

export function encodeModelFile(f: ModelFile): Uint8Array {
  const tensors: TensorMap = {};
  for (const [name, data] of Object.entries(f.tensors)) tensors[name] = { dtype: 'F32', shape: [data.length], data };
  return encodeSafetensors(tensors, {
    format: FILE_FORMAT, kind: f.kind, config: JSON.stringify(f.config), step: String(f.step),
  });
}

/** Decodes and checks the metadata; tensor shapes are checked by the model that loads them. */
export function decodeModelFile(bytes: Uint8Array): ModelFile {
  const { tensors, metadata } = decodeSafetensors(bytes);
  if (metadata.format !== FILE_FORMAT) {
    throw new ModelFileError(`not a latentgpu app model file (metadata format is ${JSON.stringify(metadata.format ?? null)}, expected "${FILE_FORMAT}")`);
  }
  let config: Record<string, unknown>;
  try {
    config = JSON.parse(metadata.config ?? '');
  } catch {
    throw new ModelFileError('the model configuration in the file metadata is not valid JSON');
  }
  const out: Record<string, Float32Array> = {};
  for (const [name, t] of Object.entries(tensors)) {
    if (t.dtype !== 'F32') throw new ModelFileError(`tensor '${name}' is ${t.dtype}; the app stores float32 tensors`);
    out[name] = t.data as Float32Array;
  }
  return { kind: metadata.kind as ModelKind, config, step: Number(metadata.step ?? 0) || 0, tensors: out };
}

export function requireKind(f: ModelFile, kinds: readonly string[]): void {
  if (!kinds.includes(f.kind)) throw new ModelFileError(`the file holds a '${f.kind}' model; choose that model in the setup panel (this one loads ${kinds.join(' / ')})`);
}

export function requireTensor(f: ModelFile, name: string, length?: number): Float32Array {
  const t = f.tensors[name];
  if (!t) throw new ModelFileError(`the file has no tensor '${name}'`);
  if (length !== undefined && t.length !== length) throw new ModelFileError(`tensor '${name}' has ${t.length} values, expected ${length}`);
  return t;
}
