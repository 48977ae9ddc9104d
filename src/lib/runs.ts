// Builds a ModelRun (src/lib/run.ts) of any kind: new, or from a model file in
// the CLI's format (a PPCA file continues with any PPCA method; a vae/lvm file
// resumes its optimizer where it can). What a file holds is read by the one
// codec (src/lib/modelFiles.ts), checked before any model is built.
import type { Backend } from '../backend.ts';
import type { Dataset } from '../data/dataset.ts';
import { readMetaInt } from '../io/modelFile.ts';
import { ModelFileError, decodeSafetensors } from '../io/safetensors.ts';
import { faFromTensors } from '../models/fa/file.ts';
import type { FaHost } from '../models/fa/fa.ts';
import { mppcaFromTensors } from '../models/mppca/file.ts';
import type { MppcaHost } from '../models/mppca/mppca.ts';
import type { Likelihood } from '../models/decoder.ts';
import { createFaRun } from './faRun.ts';
import { createLatentRun, loadLatentRun } from './latentRun.ts';
import { createFaMissingRun, createMissingRun } from './missingRun.ts';
import { createMppcaRun } from './mppcaRun.ts';
import { decodeModelFile, type ModelFile } from './modelFiles.ts';
import { PPCA_METHOD, createPpcaRun, type PpcaRunKind } from './ppcaRun.ts';
import { RUN_KINDS, isPpcaKind, resolveRunConfig, type ModelRun, type RunConfig, type RunKind, type ModelRunOptions } from './run.ts';

/** A PPCA file's method (the CLI's --method) as the run kind that continues it. */
const PPCA_KIND_OF_METHOD: Record<string, PpcaFileKind> = {
  em: 'ppca-em', squarem: 'ppca-em', anderson: 'ppca-em', sem: 'ppca-sem', oem: 'ppca-oem', closed: 'ppca-closed', missing: 'ppca-missing',
};

/** The run kinds that train on rows read a slice at a time (ModelRunOptions.trainSource). */
export const STREAMING_KINDS: readonly RunKind[] = ['ppca-sem', 'ppca-oem', 'vae'];

/** The run kinds that continue a PPCA model file. */
type PpcaFileKind = PpcaRunKind | 'ppca-missing';

/** A factor-analysis or mixture-of-PPCA file (the CLI's `train --model fa|mppca --out`), decoded and checked. */
export type LinearModelFile =
  | {
    /** metadata "model" = "fa" */
    kind: 'fa';
    /** W, μ and ψ */
    fa: FaHost;
    /** the metadata as stored */
    metadata: Record<string, string>;
  }
  | {
    /** metadata "model" = "mppca" */
    kind: 'mppca';
    /** π, the components' μ, W and σ² */
    mppca: MppcaHost;
    /** the metadata as stored */
    metadata: Record<string, string>;
  };

/** A decoded model file with the run kind that continues it and the settings it fixes. */
export interface RunFile {
  /** the file as decoded and checked */
  file: ModelFile | LinearModelFile;
  /** vae / lvm as stored; PPCA by the metadata's "kind" (a page's run) or "method" (the CLI's) */
  kind: RunKind;
  /** the model's latent dimension d */
  latent: number;
  /** the latent models' hidden widths (the VAE's encoder's) */
  hidden?: number[];
  /** the latent models' decoder likelihood */
  likelihood?: Likelihood;
  /** a mixture's components K */
  components?: number;
}

/** An fa or mppca file as a LinearModelFile; null for the other models (decodeModelFile reads those). */
function decodeLinearFile(bytes: Uint8Array, source: string): LinearModelFile | null {
  let st;
  try {
    st = decodeSafetensors(bytes);
  } catch {
    // decodeModelFile reports the container's problem
    return null;
  }
  if (st.metadata.model === 'fa') return { kind: 'fa', fa: faFromTensors(st, source), metadata: st.metadata };
  if (st.metadata.model === 'mppca') return { kind: 'mppca', mppca: mppcaFromTensors(st, source), metadata: st.metadata };
  return null;
}

/** Reads a model file (bytes or decoded) and says which run continues it; `source` names it in errors. */
export function decodeRunFile(file: Uint8Array | ModelFile | LinearModelFile, source = 'the model file'): RunFile {
  const f = file instanceof Uint8Array ? decodeLinearFile(file, source) ?? decodeModelFile(file, source) : file;
  if (f.kind === 'fa') return { file: f, kind: 'fa', latent: f.fa.d };
  if (f.kind === 'mppca') return { file: f, kind: 'mppca', latent: f.mppca.d, components: f.mppca.K };
  if (f.kind === 'ppca') {
    const meta = f.metadata;
    const kind = Object.hasOwn(PPCA_METHOD, meta.kind ?? '') || meta.kind === 'ppca-missing'
      ? (meta.kind as PpcaFileKind) : (PPCA_KIND_OF_METHOD[meta.method ?? 'em'] ?? 'ppca-em');
    return { file: f, kind, latent: f.ppca.d };
  }
  const c = f.config;
  const hidden = 'encoderHidden' in c ? [...c.encoderHidden] : [...c.decoderHidden].reverse();
  return { file: f, kind: f.kind, latent: c.latent, hidden, likelihood: c.likelihood };
}

/**
 * A new run: `cfg.kind` on the `train` rows, scored on `test` (both D-wide).
 * The latent models choose their decoder likelihood from the data unless
 * `cfg.likelihood` asks for one (an impossible request throws LikelihoodError).
 */
export async function createRun(backend: Backend, cfg: RunConfig, train: Dataset, test: Dataset, opts: ModelRunOptions = {}): Promise<ModelRun> {
  const full = resolveRunConfig(cfg, train.n);
  if (opts.trainSource && !STREAMING_KINDS.includes(full.kind)) {
    throw new Error(`${opts.trainSource.name} is read a slice at a time (${opts.trainSource.n.toLocaleString('en-US')} training rows); only PPCA by stochastic or online EM and the VAE stream it: choose one of those`);
  }
  if (isPpcaKind(full.kind)) return createPpcaRun(backend, full.kind, full, train, test, null, 0, opts);
  if (full.kind === 'ppca-missing') return createMissingRun(backend, full, train, test, null, 0, opts);
  if (full.kind === 'fa-missing') return createFaMissingRun(backend, full, train, test, opts);
  if (full.kind === 'fa') return createFaRun(backend, full, train, test, null, opts);
  if (full.kind === 'mppca') return createMppcaRun(backend, full, train, test, opts);
  if (full.kind === 'vae' || full.kind === 'lvm') return createLatentRun(backend, full.kind, full, train, test, opts);
  throw new Error(`'${String(full.kind)}' is not a run kind (${RUN_KINDS.join(', ')})`);
}

/**
 * A run continuing a model file (bytes, or decoded by {@link decodeRunFile}):
 * the file fixes the architecture (latent size, hidden widths, likelihood);
 * `cfg` gives the training settings, and its `kind` (default: the file's) may
 * be any PPCA method for a PPCA file but must be the file's model otherwise.
 */
export async function loadRun(
  backend: Backend, file: Uint8Array | RunFile, cfg: Omit<RunConfig, 'kind'> & { kind?: RunKind }, train: Dataset, test: Dataset,
  opts: ModelRunOptions = {},
): Promise<ModelRun> {
  const rf = file instanceof Uint8Array ? decodeRunFile(file) : file;
  const kind = cfg.kind ?? rf.kind;
  const f = rf.file;
  if (f.kind === 'ppca') {
    if (!isPpcaKind(kind) && kind !== 'ppca-missing') throw new ModelFileError(`the model file holds a PPCA model, not ${kind}`);
    const full = resolveRunConfig({ ...cfg, kind, latent: f.ppca.d }, train.n);
    const step = readMetaInt(f.metadata, 'step', 'the model file', { optional: true, min: 0 }) ?? 0;
    if (kind === 'ppca-missing') return createMissingRun(backend, full, train, test, f.ppca, step, opts);
    return createPpcaRun(backend, kind, full, train, test, f.ppca, step, opts);
  }
  if (kind !== f.kind) throw new ModelFileError(`the model file holds a '${f.kind}' model, not ${kind}`);
  if (f.kind === 'fa') return createFaRun(backend, resolveRunConfig({ ...cfg, kind, latent: f.fa.d }, train.n), train, test, f.fa, opts);
  if (f.kind === 'mppca') {
    const full = resolveRunConfig({ ...cfg, kind, latent: f.mppca.d, components: f.mppca.K }, train.n);
    return createMppcaRun(backend, full, train, test, opts, f.mppca);
  }
  return loadLatentRun(backend, f, resolveRunConfig({ ...cfg, kind }, train.n), train, test, opts);
}
