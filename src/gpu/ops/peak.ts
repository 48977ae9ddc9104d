// Peak FMA throughput (shaders/peak.wgsl): what an adapter can do at best, the
// yardstick for the matmul and VAE figures in the benchmark. CPU reference:
// src/cpu/peak.ts; parameters: src/shapes/peak.ts.
import { need, type Tensor } from '../../backend.ts';
import { checkPeak, type PeakParams } from '../../shapes/peak.ts';
import type { WebGpuBackend } from '../backend.ts';

/** Workgroup sizes the peak search tries (within the adapter's limit). */
export const PEAK_WORKGROUPS = [64, 128, 256] as const;

export function fmaChains(gpu: WebGpuBackend, p: PeakParams<Tensor>, wg = 64): void {
  checkPeak(p);
  need(wg <= gpu.limits.maxComputeInvocationsPerWorkgroup, 'fmaChains',
    `workgroup size ${wg} is over this adapter's ${gpu.limits.maxComputeInvocationsPerWorkgroup} invocations`);
  const k = gpu.registry.get('peak', 'fma_chains', { WG: wg });
  gpu.dispatch1D(k, { seed: p.seed, out: p.out }, { n: p.n, iters: p.iters, a: p.a, b: p.b }, p.n);
}
