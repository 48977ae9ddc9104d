// What the kernel wrappers in ./ops need from the WebGPU backend: its tensors, its
// recording calls and its per-backend state. The backend (./backend.ts) implements
// GpuContext and calls the wrappers; the wrappers import only this module, so the
// imports run one way.
import { KernelError, type BackendInfo, type DType, type Tensor } from '../backend.ts';
import type { Kernel, KernelRegistry } from './registry.ts';

export class GpuTensor implements Tensor {
  released = false;
  constructor(
    readonly buffer: GPUBuffer,
    /** elements from the start of buffer */
    readonly offset: number,
    readonly length: number,
    readonly dtype: DType,
    readonly label: string,
    /** the owning tensor for views, null for a root tensor */
    readonly parent: GpuTensor | null,
  ) {}
}

/** The matmul kernels (shaders/matmul.wgsl, ./ops/matmulUnrolled.ts); chosen per adapter by ./ops/matmul.ts tuneMatmul. */
export type MatmulVariant = 'vec4' | 'tiled' | 'texture' | 'unrolled';
/** Products tuned apart: 'narrow' has n or k ≤ 32 (./ops/matmul.ts shapeClassOf). */
export type MatmulShapeClass = 'wide' | 'narrow';

export interface GpuContext {
  readonly info: BackendInfo;
  readonly device: GPUDevice;
  readonly registry: KernelRegistry;
  readonly limits: GPUSupportedLimits;
  /** the matmul variant tuneMatmul chose for each shape class on this backend */
  readonly matmulVariants: Map<MatmulShapeClass, MatmulVariant>;

  /** t as this backend's live tensor, or a KernelError naming `kernel` */
  own(t: Tensor, kernel: string): GpuTensor;
  tensor(length: number, opts?: { dtype?: DType; label?: string; data?: Float32Array | Uint32Array }): GpuTensor;
  view(t: Tensor, offset: number, length: number, label?: string): GpuTensor;
  release(t: Tensor): void;
  /** Records one dispatch of k with named tensors, parameters and textures (checked against its reflection). */
  dispatch(k: Kernel, buffers: Record<string, Tensor>, params: Record<string, number>, groups: [number, number, number],
    textures?: Record<string, GPUTexture>): void;
  /** Records enough workgroups of k for `threads` invocations along one logical dimension. */
  dispatch1D(k: Kernel, buffers: Record<string, Tensor>, params: Record<string, number>, threads: number): void;
  copyToTexture(src: Tensor, texture: GPUTexture, texels: number): void;
  copyBuffer(src: Tensor, dst: Tensor, n: number): void;
  /** Records zeroing of the first n elements of t. */
  clear(t: Tensor, n: number): void;
  finish(): Promise<void>;
}

/** x·y workgroups covering `groups`, each ≤ max. */
export function fold(groups: number, max: number): [number, number, number] {
  if (groups <= max) return [groups, 1, 1];
  const y = Math.ceil(groups / max);
  const x = Math.ceil(groups / y);
  if (y > max) throw new KernelError('dispatch', `${groups} workgroups is more than ${max}×${max}`);
  return [x, y, 1];
}
