// Peak FMA throughput (shaders/peak.wgsl): what an adapter can do at best, the
// yardstick for the matmul and VAE figures in the benchmark. CPU reference:
// src/cpu/peak.ts; parameters: src/kernels/peak.ts.
import { need, type Tensor } from '../../backend.ts';
import { checkPeak, type PeakParams } from '../../kernels/peak.ts';
import type { GpuContext } from '../context.ts';

/** Workgroup sizes the peak search tries (within the adapter's limit). */
export const PEAK_WORKGROUPS = [64, 128, 256] as const;

export function fmaChains(gpu: GpuContext, p: PeakParams<Tensor>, wg = 64): void {
  checkPeak(p);
  need(wg <= gpu.limits.maxComputeInvocationsPerWorkgroup, 'fmaChains',
    `workgroup size ${wg} is over this adapter's ${gpu.limits.maxComputeInvocationsPerWorkgroup} invocations`);
  const k = gpu.registry.get('peak', 'fmaChains', { WG: wg });
  gpu.dispatch1D(k, { seed: p.seed, out: p.out }, { n: p.n, iters: p.iters, a: p.a, b: p.b }, p.n);
}
