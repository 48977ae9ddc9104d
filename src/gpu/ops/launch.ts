// Launch shapes of the vec4 elementwise kernels, per adapter kind: llvmpipe wants
// 64-invocation workgroups, SwiftShader 256, and both a fixed cost per invocation
// repaid by walking VEC4_ITEMS vec4s each (docs/kernels-results.md §3).
import type { Tensor } from '../../backend.ts';
import type { GpuContext } from '../context.ts';

/** vec4s per invocation (on average) of the grid-stride vec4 kernels */
export const VEC4_ITEMS = 16;

/** Invocations for a grid-stride vec4 kernel over n4 vec4s. */
export function vec4Threads(n4: number): number {
  return Math.ceil(n4 / VEC4_ITEMS);
}

/** Workgroup size of the grid-stride vec4 kernels: 64 on llvmpipe, 256 elsewhere. */
export function vec4Workgroup(gpu: GpuContext): number {
  return gpu.info.adapter?.kind === 'llvmpipe' ? 64 : 256;
}

/** Whether n elements of every tensor can be bound as vec4s (views start at multiples of 64 elements, so only n matters). */
export function vec4Ok(n: number): boolean {
  return n > 0 && n % 4 === 0;
}

/** The first n elements of t (n a multiple of 4), for a vec4 binding. */
export function prefix(gpu: GpuContext, t: Tensor, n: number): Tensor {
  return t.length === n ? t : gpu.view(t, 0, n);
}
