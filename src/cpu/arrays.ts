// Typed-array helpers shared by the CPU backends (./backend.ts and src/wasm/backend.ts)
// and the reference kernels.
import type { Tensor } from '../backend.ts';

/** The same bytes as a Uint32Array (index tensors). */
export function u32View(a: Float32Array): Uint32Array {
  return new Uint32Array(a.buffer, a.byteOffset, a.length);
}

/** A kernel's parameters with every tensor replaced by its Float32Array. */
export type Arrays<P> = { [K in keyof P]: P[K] extends Tensor ? Float32Array : P[K] extends Tensor | undefined ? Float32Array | undefined : P[K] };
