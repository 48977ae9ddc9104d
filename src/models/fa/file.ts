// Factor-analysis parameters as a safetensors tensor map: W (D×d), mu (D) and
// psi (D), all F32 as every latentgpu model file stores them; metadata model=fa.
// A fit is rounded to float32 (roundFa) before its figures are reported, so that
// `eval` of the saved file reproduces them exactly.
import { quoteValue, readMetaInt, requireF32 } from '../../io/modelFile.ts';
import { ModelFileError, type Safetensors, type TensorMap } from '../../io/safetensors.ts';
import type { FaHost } from './fa.ts';

/** Caps of an fa model file, checked before anything is sized from it (as PPCA_FILE_LIMITS). */
export const FA_FILE_LIMITS = { D: 2 ** 24, values: 2 ** 28, maxAbs: 1e12, psi: [1e-30, 1e30] as const };

/** The parameters as float32 stores them, back in float64. */
export function roundFa(h: FaHost): FaHost {
  const r = (a: Float64Array): Float64Array => Float64Array.from(Float32Array.from(a));
  return { D: h.D, d: h.d, W: r(h.W), mu: r(h.mu), psi: r(h.psi) };
}

export function faToTensors(h: FaHost, extra: Record<string, string> = {}): { tensors: TensorMap; metadata: Record<string, string> } {
  return {
    tensors: {
      W: { dtype: 'F32', shape: [h.D, h.d], data: Float32Array.from(h.W) },
      mu: { dtype: 'F32', shape: [h.D], data: Float32Array.from(h.mu) },
      psi: { dtype: 'F32', shape: [h.D], data: Float32Array.from(h.psi) },
    },
    metadata: { ...extra, model: 'fa', D: String(h.D), latent: String(h.d) },
  };
}

/** Reads fa parameters back; every problem names the file and the part that is wrong. */
export function faFromTensors(file: Safetensors, source = 'model file'): FaHost {
  const fail = (msg: string): never => { throw new ModelFileError(`${source}: ${msg}`); };
  const L = FA_FILE_LIMITS;
  const kind = Object.hasOwn(file.metadata, 'model') ? file.metadata.model : undefined;
  if (kind !== 'fa') fail(`holds model ${kind === undefined ? "'(none)'" : `'${quoteValue(kind).slice(1, -1)}'`}, not fa`);
  // the sizes come from the metadata (faToTensors writes them), checked before anything is sized from them
  const D = readMetaInt(file.metadata, 'D', source, { min: 2, max: L.D });
  const d = readMetaInt(file.metadata, 'latent', source, { min: 1, max: D - 1 });
  if (D * d > L.values) fail(`D·latent is ${D * d}, above ${L.values} values`);
  const w = requireF32(file.tensors, 'W', source, { shape: [D, d], maxAbs: L.maxAbs });
  const mu = requireF32(file.tensors, 'mu', source, { shape: [D] });
  const psi = requireF32(file.tensors, 'psi', source, { shape: [D] });
  for (let j = 0; j < D; j++) {
    if (!(psi[j]! >= L.psi[0] && psi[j]! <= L.psi[1])) fail(`psi[${j}] is ${psi[j]}; every noise variance must be in [${L.psi[0]}, ${L.psi[1]}]`);
  }
  return { D, d, W: Float64Array.from(w), mu: Float64Array.from(mu), psi: Float64Array.from(psi) };
}
