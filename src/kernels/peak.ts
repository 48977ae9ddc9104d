// The peak-throughput family (shaders/peak.wgsl; CPU reference src/cpu/peak.ts; WebGPU
// src/gpu/ops/peak.ts): a benchmark kernel, not part of KernelSet. Its parameter
// type, constants and check.
import { checkDims, checkLen, need } from './check.ts';

/** out[i] = Σ of 16 chains c ← c·a + b run 4·`iters` times from seed[i] + j/100. */
export interface PeakParams<T> {
  seed: T; out: T;
  n: number; iters: number;
  /** |a| < 1 keeps the chains bounded */
  a: number; b: number;
}

/** Steps of each chain per loop trip (the kernel's unrolling). */
export const PEAK_UNROLL = 4;

/** FLOPs one call performs: 16 chains × PEAK_UNROLL FMAs (2 FLOPs each) per trip per element. */
export function peakFlops(n: number, iters: number): number {
  return 32 * PEAK_UNROLL * n * iters;
}

export function checkPeak(p: PeakParams<{ length: number }>): void {
  checkDims('fmaChains', { n: p.n, iters: p.iters });
  need(p.n > 0, 'fmaChains', 'n must be positive');
  need(Math.abs(p.a) < 1, 'fmaChains', `|a| must be below 1 so the chains stay bounded, got a = ${p.a}`);
  need(Number.isFinite(p.b), 'fmaChains', `b must be finite, got ${p.b}`);
  checkLen('fmaChains', 'seed', p.seed, p.n);
  checkLen('fmaChains', 'out', p.out, p.n);
}
