// The backend contract: tensors, transfers, and the kernel set. Models are
// written once against this and run unchanged on WebGPU and on the CPU.
import type { KernelSet } from './kernels.ts';
import { need } from './kernels/check.ts';

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

/**
 * Rows per device buffer for n×D float32 data: as many whole rows as one storage binding
 * holds (the adapter's maxStorageBufferBindingSize; the CPU backend has no such limit), rounded
 * down to a multiple of `align` rows (what the consuming kernels' views need). LATENTGPU_CHUNK_ROWS
 * or `override` forces a smaller size (tests of the chunked paths), rounded up to `align`.
 */
export function dataChunkRows(backend: Backend, D: number, opts: { align?: number; override?: number } = {}): number {
  const align = opts.align ?? 1;
  const env = typeof process !== 'undefined' ? process.env?.LATENTGPU_CHUNK_ROWS : undefined;
  const forced = opts.override ?? (env ? Number(env) : undefined);
  if (forced !== undefined) {
    need(Number.isInteger(forced) && forced >= 1, 'data chunks', `LATENTGPU_CHUNK_ROWS must be a positive integer, got '${String(env ?? forced)}'`);
    return Math.ceil(forced / align) * align;
  }
  const lim = backend.info.adapter?.limits ?? {};
  const sizes = [lim.maxStorageBufferBindingSize, lim.maxBufferSize].filter((v): v is number => typeof v === 'number');
  if (sizes.length === 0) return Number.MAX_SAFE_INTEGER;
  const limit = Math.min(...sizes);
  const rows = Math.floor(Math.floor(limit / (D * 4)) / align) * align;
  need(rows >= 1, 'data chunks', `a row of ${D} floats (times ${align}) does not fit one storage binding of ${limit} bytes`);
  return rows;
}
