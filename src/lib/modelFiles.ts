// One entry to every latentgpu model file: PPCA (src/models/ppca/file.ts) and
// vae/lvm models or checkpoints (src/io/modelFile.ts), told apart by the
// safetensors metadata key "model". Platform-neutral: bytes in, bytes out; the
// Node entry adds the file-system half (src/lib/modelFiles.node.ts).
import type { Backend } from '../backend.ts';
import type { Dataset } from '../data/dataset.ts';
import { decodeLatentModel, encodeLatentModel, type LatentModelFile } from '../io/modelFile.ts';
import { ModelFileError, decodeSafetensors, encodeSafetensors } from '../io/safetensors.ts';
import { Lvm } from '../models/lvm.ts';
import { createPpca, readPpca, type PpcaHost, type PpcaModel } from '../models/ppca/model.ts';
import { ppcaFromTensors, ppcaToTensors } from '../models/ppca/file.ts';
import { Vae } from '../models/vae.ts';

/** A decoded, checked model file: PPCA parameters, or a vae/lvm configuration with its tensors. */
export type ModelFile = {
  /** a PPCA file (metadata "model" = "ppca") */
  kind: 'ppca';
  /** W, μ and σ² on the host */
  ppca: PpcaHost;
  /** the metadata as stored */
  metadata: Record<string, string>;
} | LatentModelFile;

/** What {@link encodeModelFile} saves: a PPCA model (on a backend or host copy), a VAE or a per-point model. */
export type SavableModel = PpcaModel | PpcaHost | Vae | Lvm;

/** What {@link encodeModelFile} writes besides the parameters. */
export interface EncodeOptions {
  /** extra safetensors metadata (strings) */
  metadata?: Record<string, string>;
  /** vae/lvm: also the optimizer state (and the lvm's φ table), so that training resumes exactly */
  state?: boolean;
}

/** Reads a model file's bytes, checking everything before any model is built; `source` names it in errors. */
export function decodeModelFile(bytes: Uint8Array, source = 'model file'): ModelFile {
  let file;
  try {
    file = decodeSafetensors(bytes);
  } catch (e) {
    throw e instanceof ModelFileError ? new ModelFileError(`${source}: ${e.message}`) : e;
  }
  if (file.metadata.model === 'ppca') return { kind: 'ppca', ppca: ppcaFromTensors(file, source), metadata: file.metadata };
  return decodeLatentModel(file, source);
}

/** The bytes of a model file (the CLI's format: `latentgpu eval --model FILE` reads it). */
export async function encodeModelFile(model: SavableModel, opts: EncodeOptions = {}): Promise<Uint8Array> {
  const extra = opts.metadata ?? {};
  if (model instanceof Vae || model instanceof Lvm) {
    const tensors = opts.state ? await model.state() : { params: await model.backend.read(model.params) };
    return encodeLatentModel({
      kind: model instanceof Vae ? 'vae' : 'lvm', config: model.cfg, tensors, metadata: { ...extra, train_rows: model.rows },
    });
  }
  const host = 'backend' in model ? await readPpca(model) : model;
  const { tensors, metadata } = ppcaToTensors(host, extra);
  return encodeSafetensors(tensors, metadata);
}

/**
 * A model built from a file on `backend`: PPCA, or a VAE / per-point model with
 * the file's parameters; `resumed`: the optimizer state (and the per-point φ
 * table) was loaded too, so training continues at the file's step and epoch.
 */
export type LoadedModel =
  | {
    /** PPCA */
    kind: 'ppca';
    /** the parameters on the backend */
    model: PpcaModel;
  }
  | {
    /** a VAE */
    kind: 'vae';
    /** the VAE with the file's parameters */
    model: Vae;
    /** whether the optimizer state was loaded too, so that training resumes exactly */
    resumed: boolean;
  }
  | {
    /** a per-point model */
    kind: 'lvm';
    /** the model with the file's parameters, one φ per data row */
    model: Lvm;
    /** whether the optimizer state and φ table were loaded too, so that training resumes exactly */
    resumed: boolean;
  };

/**
 * Builds the model a file holds. A VAE needs no data; a per-point model keeps
 * one φ per row, so it needs `data` (the rows to evaluate or continue training
 * on). The optimizer state is loaded when the file has it and the rows match.
 */
export function buildModel(backend: Backend, file: ModelFile, data?: Dataset): LoadedModel {
  if (file.kind === 'ppca') return { kind: 'ppca', model: createPpca(backend, file.ppca) };
  if (data !== undefined && data.D !== file.config.dataDim) {
    throw new ModelFileError(`the model has D = ${file.config.dataDim}, the data ${data.name} ${data.D}`);
  }
  const resumed = file.hasState && data !== undefined && data.n === file.trainRows;
  const load = <M extends Vae | Lvm>(model: M): M => {
    try {
      if (resumed) model.loadState(file.tensors);
      else model.loadParams(file.params);
      return model;
    } catch (e) {
      model.release();
      throw e;
    }
  };
  if (file.kind === 'vae') {
    const vae = new Vae(backend, file.config as Vae['cfg'], data?.x ?? new Float32Array(0), data?.n ?? 0);
    return { kind: 'vae', model: load(vae), resumed };
  }
  if (data === undefined) throw new ModelFileError('a per-point (lvm) model needs the data rows it is evaluated or trained on');
  return { kind: 'lvm', model: load(new Lvm(backend, file.config as Lvm['cfg'], data.x, data.n)), resumed };
}
