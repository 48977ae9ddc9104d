// PPCA parameters as a safetensors tensor map (platform-neutral; the node CLI
// and the browser app write and read the bytes). σ² is stored as a float64
// scalar so a saved model reproduces its log-likelihood exactly.
import { quoteValue, readMetaInt, requireF32 } from '../../io/modelFile.ts';
import { ModelFileError, type Safetensors, type TensorMap } from '../../io/safetensors.ts';
import type { PpcaHost } from './model.ts';

export function ppcaToTensors(h: PpcaHost, extra: Record<string, string> = {}): { tensors: TensorMap; metadata: Record<string, string> } {
  return {
    tensors: {
      W: { dtype: 'F32', shape: [h.D, h.d], data: Float32Array.from(h.W) },
      mu: { dtype: 'F32', shape: [h.D], data: Float32Array.from(h.mu) },
      sigma2: { dtype: 'F64', shape: [], data: Float64Array.of(h.sigma2) },
    },
    metadata: { ...extra, model: 'ppca', D: String(h.D), latent: String(h.d) },
  };
}

/** Caps and magnitude rules of a PPCA model file, checked before anything is sized from it. */
export const PPCA_FILE_LIMITS = {
  /** data dimension D (W is D×d) */
  D: 2 ** 24,
  /** W is at most this many float32 values (1 GiB) */
  values: 2 ** 28,
  /**
   * |W_ij| at most this: C = WWᵀ + σ²I is formed in float32, whose range (3.4e38) squares
   * of 1e12 summed over D ≤ 2^24 stay well inside. μ need only be finite: data are centred
   * on the host in float64 before they reach the device.
   */
  maxAbs: 1e12,
  /** σ² within [1e-30, 1e30]: 1/σ² and σ²·D stay finite in float32 */
  sigma2: [1e-30, 1e30] as const,
};

/** Reads PPCA parameters back; every problem names the file and the part that is wrong. */
export function ppcaFromTensors(file: Safetensors, source = 'model file'): PpcaHost {
  const fail = (msg: string): never => { throw new ModelFileError(`${source}: ${msg}`); };
  const L = PPCA_FILE_LIMITS;
  const kind = Object.hasOwn(file.metadata, 'model') ? file.metadata.model : undefined;
  if (kind !== 'ppca') fail(`holds model ${kind === undefined ? "'(none)'" : `'${quoteValue(kind).slice(1, -1)}'`}, not ppca`);
  const missing = ['W', 'mu', 'sigma2'].filter((k) => !Object.hasOwn(file.tensors, k));
  if (missing.length > 0) fail(`missing tensor(s): ${missing.join(', ')}`);
  const W = file.tensors.W!;
  if (W.dtype !== 'F32' || W.shape.length !== 2) fail(`W must be a 2-D F32 tensor, got ${W.dtype} [${W.shape.join(', ')}]`);
  const [D, d] = W.shape as [number, number];
  if (D < 2 || D > L.D || d < 1 || d >= D || D * d > L.values) {
    fail(`W is [${D}, ${d}]; it must be D×d with 2 ≤ D ≤ ${L.D}, 1 ≤ d < D and D·d ≤ ${L.values}`);
  }
  // metadata D and latent, when present, must agree with W
  const metaD = readMetaInt(file.metadata, 'D', source, { optional: true });
  const metaD2 = readMetaInt(file.metadata, 'latent', source, { optional: true });
  if ((metaD !== undefined && metaD !== D) || (metaD2 !== undefined && metaD2 !== d)) {
    fail(`metadata says D ${metaD ?? '?'}, latent ${metaD2 ?? '?'} but W is [${D}, ${d}]; the file is corrupt`);
  }
  const w = requireF32(file.tensors, 'W', source, { shape: [D, d], maxAbs: L.maxAbs });
  const mu = requireF32(file.tensors, 'mu', source, { shape: [D] });
  const sigma2 = file.tensors.sigma2!;
  if ((sigma2.dtype !== 'F64' && sigma2.dtype !== 'F32') || sigma2.data.length !== 1) {
    fail(`sigma2 must be one F64 (or F32) value, got ${sigma2.dtype} [${sigma2.shape.join(', ')}]`);
  }
  const s2 = Number(sigma2.data[0]);
  if (!(s2 >= L.sigma2[0] && s2 <= L.sigma2[1])) {
    fail(`sigma2 is ${s2}; it must be a finite number in [${L.sigma2[0]}, ${L.sigma2[1]}] (the noise variance)`);
  }
  return { D, d, W: w, mu, sigma2: s2 };
}
