// Launch shapes of the vec4 elementwise kernels, per adapter, as measured
// (bench/vae-breakdown.ts, Adam over 653k parameters): Mesa llvmpipe runs each
// workgroup on one thread as a loop over 8-lane SIMD batches, and 64-invocation
// workgroups were ~2× faster there than 256; SwiftShader was ~2× faster at 256.
import type { Tensor } from '../../backend.ts';
import type { WebGpuBackend } from '../backend.ts';

const workgroups = new WeakMap<WebGpuBackend, number>();

export function vec4Workgroup(gpu: WebGpuBackend): number {
  let wg = workgroups.get(gpu);
  if (wg === undefined) {
    const a = gpu.info.adapter;
    const name = a ? `${a.vendor} ${a.architecture} ${a.device} ${a.description}` : '';
    wg = /llvmpipe/i.test(name) ? 64 : 256;
    workgroups.set(gpu, wg);
  }
  return wg;
}

/** Whether n elements of every tensor can be bound as vec4s (views start at multiples of 64 elements, so only n matters). */
export function vec4Ok(n: number): boolean {
  return n > 0 && n % 4 === 0;
}

/** The first n elements of t (n a multiple of 4), for a vec4 binding. */
export function prefix(gpu: WebGpuBackend, t: Tensor, n: number): Tensor {
  return t.length === n ? t : gpu.view(t, 0, n);
}
