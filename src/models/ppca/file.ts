// PPCA parameters as a safetensors tensor map (platform-neutral; the node CLI
// and the browser app write and read the bytes). σ² is stored as a float64
// scalar so a saved model reproduces its log-likelihood exactly.
import type { Safetensors, TensorMap } from '../../io/safetensors.ts';
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

/** Reads PPCA parameters back; every problem names the file's part that is wrong. */
export function ppcaFromTensors(file: Safetensors, source = 'model file'): PpcaHost {
  const fail = (msg: string): never => { throw new Error(`${source}: ${msg}`); };
  if (file.metadata.model !== 'ppca') fail(`holds model '${file.metadata.model ?? '(none)'}', not ppca`);
  const { W, mu, sigma2 } = file.tensors;
  if (!W || !mu || !sigma2) fail(`missing tensor(s): ${['W', 'mu', 'sigma2'].filter((k) => !file.tensors[k]).join(', ')}`);
  if (W!.dtype !== 'F32' || W!.shape.length !== 2) fail(`W must be a 2-D F32 tensor, got ${W!.dtype} [${W!.shape.join(', ')}]`);
  const [D, d] = W!.shape as [number, number];
  if (mu!.dtype !== 'F32' || mu!.shape.length !== 1 || mu!.shape[0] !== D) fail(`mu must be F32 [${D}], got ${mu!.dtype} [${mu!.shape.join(', ')}]`);
  if ((sigma2!.dtype !== 'F64' && sigma2!.dtype !== 'F32') || sigma2!.data.length !== 1) fail('sigma2 must be one F64 (or F32) value');
  const s2 = Number(sigma2!.data[0]);
  if (!(s2 > 0) || !Number.isFinite(s2)) fail(`sigma2 is ${s2}, must be a finite positive number`);
  return { D, d, W: W!.data as Float32Array, mu: mu!.data as Float32Array, sigma2: s2 };
}
