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

export interface AdapterDescription {
  /** which adapter choice produced it: gpu | swiftshader | llvmpipe | browser */
  choice: string;
  vendor: string;
  architecture: string;
  device: string;
  description: string;
  isFallbackAdapter: boolean;
  featureLevel: 'core' | 'compatibility';
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

/** An error naming the kernel (or operation) and the problem. */
export class KernelError extends Error {
  constructor(readonly kernel: string, problem: string) {
    super(`${kernel}: ${problem}`);
    this.name = 'KernelError';
  }
}

/**
 * Throws a KernelError unless cond holds. `problem` may be a function, so that a
 * check on a per-dispatch path builds its message only when it fails.
 */
export function need(cond: unknown, kernel: string, problem: string | (() => string)): asserts cond {
  if (!cond) throw new KernelError(kernel, typeof problem === 'function' ? problem() : problem);
}

function isInt(v: number): boolean {
  return Number.isInteger(v) && v >= 0;
}

/** Checks that the named sizes are non-negative integers. */
export function checkDims(kernel: string, dims: Record<string, number>): void {
  for (const [k, v] of Object.entries(dims)) {
    need(isInt(v), kernel, () => `${k} must be a non-negative integer, got ${v}`);
  }
}

/** Checks that tensor `name` holds at least `min` elements. */
export function checkLen(kernel: string, name: string | (() => string), t: { length: number } | undefined, min: number): void {
  const label = () => (typeof name === 'function' ? name() : name);
  need(t !== undefined, kernel, () => `missing tensor '${label()}'`);
  need(t.length >= min, kernel, () => `tensor '${label()}' has ${t.length} elements, needs at least ${min}`);
}
