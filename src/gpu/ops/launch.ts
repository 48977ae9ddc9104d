// Launch shapes of the vec4 elementwise kernels, per adapter, as measured
// (Adam over the VAE's 653k parameters): Mesa llvmpipe runs each workgroup on one
// thread as a loop over 8-lane SIMD batches, and 64-invocation workgroups were ~2×
// faster there than 256; SwiftShader was ~2× faster at 256. Both pay a fixed cost
// per invocation (SwiftShader ~90 ns, measured with a store-only kernel), so each
// invocation walks VEC4_ITEMS vec4s in a grid-stride loop: 16 took ~½ (llvmpipe)
// and ~⅔ (SwiftShader) of the CPU time of one per invocation.
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
