// Mixture-of-PPCA parameters as a safetensors tensor map: W (K×D×d) and mu (K×D)
// as F32, as every latentgpu model file stores them; sigma2 (K) and pi (K) as F64,
// so a saved model reproduces its log-likelihood exactly; metadata model=mppca.
// Checked on load before anything is sized: sizes within caps and in agreement,
// finite values, σ² in range, π on the simplex.
import { quoteValue, readMetaInt, requireF32 } from '../../io/modelFile.ts';
import { ModelFileError, type Safetensors, type TensorMap } from '../../io/safetensors.ts';
import type { MppcaHost } from './mppca.ts';

/** Caps of an mppca model file (as PPCA_FILE_LIMITS, per component). */
export const MPPCA_FILE_LIMITS = { D: 2 ** 24, K: 4096, values: 2 ** 28, maxAbs: 1e12, sigma2: [1e-30, 1e30] as const, simplex: 1e-6 };

/** The parameters as safetensors tensors and metadata (model=mppca, D, latent, components, plus `extra`). */
export function mppcaToTensors(h: MppcaHost, extra: Record<string, string> = {}): { tensors: TensorMap; metadata: Record<string, string> } {
  return {
    tensors: {
      W: { dtype: 'F32', shape: [h.K, h.D, h.d], data: Float32Array.from(h.W) },
      mu: { dtype: 'F32', shape: [h.K, h.D], data: Float32Array.from(h.mu) },
      sigma2: { dtype: 'F64', shape: [h.K], data: Float64Array.from(h.sigma2) },
      pi: { dtype: 'F64', shape: [h.K], data: Float64Array.from(h.pi) },
    },
    metadata: { ...extra, model: 'mppca', D: String(h.D), latent: String(h.d), components: String(h.K) },
  };
}

/** Reads mixture parameters back; every problem names the file and the part that is wrong. */
export function mppcaFromTensors(file: Safetensors, source = 'model file'): MppcaHost {
  const fail = (msg: string): never => { throw new ModelFileError(`${source}: ${msg}`); };
  const L = MPPCA_FILE_LIMITS;
  const kind = Object.hasOwn(file.metadata, 'model') ? file.metadata.model : undefined;
  if (kind !== 'mppca') fail(`holds model ${kind === undefined ? "'(none)'" : `'${quoteValue(kind).slice(1, -1)}'`}, not mppca`);
  const D = readMetaInt(file.metadata, 'D', source, { min: 2, max: L.D });
  const d = readMetaInt(file.metadata, 'latent', source, { min: 1, max: D - 1 });
  const K = readMetaInt(file.metadata, 'components', source, { min: 1, max: L.K });
  if (K * D * d > L.values) fail(`components·D·latent is ${K * D * d}, above ${L.values} values`);
  const W = requireF32(file.tensors, 'W', source, { shape: [K, D, d], maxAbs: L.maxAbs });
  const mu = requireF32(file.tensors, 'mu', source, { shape: [K, D] });
  const f64 = (name: string): Float64Array => {
    const t = Object.hasOwn(file.tensors, name) ? file.tensors[name] : undefined;
    if (t === undefined) fail(`the file has no tensor "${name}"`);
    if ((t!.dtype !== 'F64' && t!.dtype !== 'F32') || t!.shape.length !== 1 || t!.shape[0] !== K) fail(`tensor "${name}" must be F64 (or F32) of shape [${K}], got ${t!.dtype} [${t!.shape.join(', ')}]`);
    return Float64Array.from(t!.data as ArrayLike<number>);
  };
  const sigma2 = f64('sigma2');
  const pi = f64('pi');
  for (let k = 0; k < K; k++) {
    if (!(sigma2[k]! >= L.sigma2[0] && sigma2[k]! <= L.sigma2[1])) fail(`sigma2[${k}] is ${sigma2[k]}; every noise variance must be in [${L.sigma2[0]}, ${L.sigma2[1]}]`);
    if (!(pi[k]! > 0 && pi[k]! <= 1)) fail(`pi[${k}] is ${pi[k]}; every mixing weight must be in (0, 1]`);
  }
  const total = pi.reduce((s, v) => s + v, 0);
  if (!(Math.abs(total - 1) <= L.simplex)) fail(`the mixing weights pi sum to ${total}, not 1`);
  return { K, D, d, W: Float64Array.from(W), mu: Float64Array.from(mu), sigma2, pi };
}
