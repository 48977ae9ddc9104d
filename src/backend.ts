// The backend contract: tensors, transfers, and the kernel set. Models are
// written once against this and run unchanged on WebGPU and on the CPU.
import type { KernelSet } from './kernels.ts';

export type DType = 'f32' | 'u32';

/** A 1-D region of backend memory. Views share their parent's storage. */
export interface Tensor {
  readonly length: number;
  readonly dtype: DType;
  readonly label: string;
}

/** A hardware GPU, one of the two CPU rasterisers the kernels are tuned for, or another software adapter. */
export type AdapterKind = 'gpu' | 'llvmpipe' | 'swiftshader' | 'other-software';

/** The adapter's profile, recognised once when its device opens (src/gpu/device.ts describeAdapter). */
export interface AdapterDescription {
  /** which adapter choice produced it: gpu | swiftshader | llvmpipe | browser */
  choice: string;
  vendor: string;
  architecture: string;
  device: string;
  description: string;
  isFallbackAdapter: boolean;
  featureLevel: 'core' | 'compatibility';
  /** what per-adapter choices (matmul variant, launch shapes, `auto`) go by */
  kind: AdapterKind;
  /** renders on the CPU (kind is not 'gpu') */
  software: boolean;
  /** the device's granted limits that the kernels use (src/gpu/device.ts WANTED_LIMITS); absent before a device opens */
  limits?: Record<string, number>;
}

export interface BackendInfo {
  backend: 'webgpu' | 'cpu';
  /** present for webgpu */
  adapter?: AdapterDescription;
  /** one line for people: "webgpu on SwiftShader (fallback adapter)" */
  summary: string;
}

/** Views must start at a multiple of this many elements (WebGPU's 256-byte binding offset alignment). */
export const VIEW_ALIGN = 64;

export interface Backend extends KernelSet<Tensor> {
  readonly info: BackendInfo;
  /** zero-filled unless data is given */
  tensor(length: number, opts?: { dtype?: DType; label?: string; data?: Float32Array | Uint32Array }): Tensor;
  /** elements [offset, offset+length) of t; offset must be a multiple of VIEW_ALIGN */
  view(t: Tensor, offset: number, length: number, label?: string): Tensor;
  upload(t: Tensor, data: Float32Array | Uint32Array, offset?: number): void;
  read(t: Tensor): Promise<Float32Array>;
  readU32(t: Tensor): Promise<Uint32Array>;
  /** returns the storage to the pool; the tensor must not be used afterwards */
  release(t: Tensor): void;
  /** submit queued work (WebGPU: one command buffer); no-op on the CPU */
  flush(): void;
  /** resolves when all submitted work is done */
  finish(): Promise<void>;
  destroy(): void;
}

// The error type and the checks the kernel families share (src/kernels/check.ts).
export { KernelError, checkDims, checkLen, need } from './kernels/check.ts';
