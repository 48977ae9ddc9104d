// The elementwise family (shaders/elementwise.wgsl; CPU reference src/cpu/elementwise.ts;
// WebGPU src/gpu/ops/elementwise.ts): activations and their backward, axpy, scale,
// fill, copy, row gather/scatter. Parameter types, the activation codes, and the
// checks every backend runs, so all reject bad input with the same message.
import { KernelError, checkDims, checkFinite, checkLen, need, type Len } from './check.ts';

export type Activation = 'identity' | 'relu' | 'tanh' | 'sigmoid';
export const ACTIVATIONS: readonly Activation[] = ['identity', 'relu', 'tanh', 'sigmoid'];
/**
 * The code of each activation in the kernels: the WGSL override ACT
 * (shaders/elementwise.wgsl, shaders/matmul.wgsl) and the `act` argument of the
 * WebAssembly kernels (assembly/math.ts ACT_*).
 */
export const ACTIVATION_CODE: Readonly<Record<Activation, number>> = { identity: 0, relu: 1, tanh: 2, sigmoid: 3 };

export interface ActivationParams<T> { x: T; y: T; n: number; act: Activation }
/** dx (+)= dy ∘ act'(·) expressed through the forward output y */
export interface ActivationBackwardParams<T> {
  y: T; dy: T; dx: T; n: number; act: Activation; accumulate?: boolean;
}
/** y += alpha · x */
export interface AxpyParams<T> { x: T; y: T; n: number; alpha: number }
/** x *= alpha */
export interface ScaleParams<T> { x: T; n: number; alpha: number }
export interface FillParams<T> { x: T; n: number; value: number }
export interface CopyParams<T> { src: T; dst: T; n: number }
/**
 * dst[r] = src[idx[r]] for r < rows (rows of length cols); idx is a u32 tensor. An index past
 * src's rows is an error on the CPU and a zero row on WebGPU (check on upload: checkRowIndices).
 */
export interface GatherRowsParams<T> { src: T; idx: T; dst: T; rows: number; cols: number }
/** dst[idx[r]] (+)= src[r]: the backward of gatherRows for distinct indices (u32; out of range: CPU error, WebGPU skips) */
export interface ScatterRowsParams<T> { src: T; idx: T; dst: T; rows: number; cols: number; accumulate?: boolean }

/** Checks an activation name (matmul's fused activation too). */
export function checkActivationName(kernel: string, act: Activation): void {
  need(ACTIVATIONS.includes(act), kernel, () => `unknown activation '${act}' (one of ${ACTIVATIONS.join(', ')})`);
}

export function checkActivation(p: ActivationParams<Len>): void {
  const k = 'activation';
  checkActivationName(k, p.act);
  checkDims(k, { n: p.n });
  checkLen(k, 'x', p.x, p.n);
  checkLen(k, 'y', p.y, p.n);
}

export function checkActivationBackward(p: ActivationBackwardParams<Len>): void {
  const k = 'activationBackward';
  checkActivationName(k, p.act);
  checkDims(k, { n: p.n });
  checkLen(k, 'y', p.y, p.n);
  checkLen(k, 'dy', p.dy, p.n);
  checkLen(k, 'dx', p.dx, p.n);
  // dx += … reads dx: with dx aliasing dy the result would depend on the order
  need(!(p.accumulate && p.dx === p.dy), k, 'accumulate with dx = dy is ambiguous; use separate tensors');
}

export function checkAxpy(p: AxpyParams<Len>): void {
  checkDims('axpy', { n: p.n });
  checkFinite('axpy', 'alpha', p.alpha);
  checkLen('axpy', 'x', p.x, p.n);
  checkLen('axpy', 'y', p.y, p.n);
}

export function checkScale(p: ScaleParams<Len>): void {
  checkDims('scale', { n: p.n });
  checkFinite('scale', 'alpha', p.alpha);
  checkLen('scale', 'x', p.x, p.n);
}

export function checkFill(p: FillParams<Len>): void {
  checkDims('fill', { n: p.n });
  need(typeof p.value === 'number', 'fill', `value must be a number, got ${p.value}`);
  checkLen('fill', 'x', p.x, p.n);
}

export function checkCopy(p: CopyParams<Len>): void {
  checkDims('copy', { n: p.n });
  checkLen('copy', 'src', p.src, p.n);
  checkLen('copy', 'dst', p.dst, p.n);
}

/**
 * Checks gatherRows shapes; returns how many whole rows `src` holds (the valid
 * index range). Index values are data: the CPU reference checks each one, the
 * GPU kernel cannot report them cheaply (see checkRowIndices).
 */
export function checkGatherRows(p: GatherRowsParams<Len>): number {
  const k = 'gatherRows';
  checkDims(k, { rows: p.rows, cols: p.cols });
  checkLen(k, 'idx', p.idx, p.rows);
  checkLen(k, `dst (${p.rows}×${p.cols})`, p.dst, p.rows * p.cols);
  checkLen(k, 'src', p.src, p.rows > 0 ? p.cols : 0);
  need(p.dst !== p.src, k, 'dst must not be the same tensor as src');
  return p.cols > 0 ? Math.floor(p.src.length / p.cols) : 0;
}

/** Checks scatterRows shapes; returns how many whole rows `dst` holds. */
export function checkScatterRows(p: ScatterRowsParams<Len>): number {
  const k = 'scatterRows';
  checkDims(k, { rows: p.rows, cols: p.cols });
  checkLen(k, 'idx', p.idx, p.rows);
  checkLen(k, `src (${p.rows}×${p.cols})`, p.src, p.rows * p.cols);
  checkLen(k, 'dst', p.dst, p.rows > 0 ? p.cols : 0);
  need(p.dst !== p.src, k, 'dst must not be the same tensor as src');
  return p.cols > 0 ? Math.floor(p.dst.length / p.cols) : 0;
}

/**
 * Checks row indices against a table of `tableRows` rows. Callers that upload
 * an index buffer for gatherRows/scatterRows should run this on the host copy
 * (it is O(rows), and the GPU kernels only guard against out-of-bounds access:
 * gatherRows writes a zero row and scatterRows skips the row for an index out of
 * range). With `distinct`, a repeated index is an error too (scatterRows: two
 * GPU invocations would race on the same destination row).
 */
export function checkRowIndices(kernel: string, idx: ArrayLike<number>, rows: number, tableRows: number, distinct = false): void {
  const seen = distinct ? new Map<number, number>() : null;
  for (let r = 0; r < rows; r++) {
    const i = idx[r]!;
    if (!(Number.isInteger(i) && i >= 0 && i < tableRows)) {
      throw new KernelError(kernel, `idx[${r}] = ${i} is out of range for a table of ${tableRows} rows`);
    }
    if (seen) {
      const prev = seen.get(i);
      if (prev !== undefined) throw new KernelError(kernel, `idx[${prev}] and idx[${r}] are both ${i}; scatter indices must be distinct`);
      seen.set(i, r);
    }
  }
}
