// CPU references of the elementwise kernels (shaders/elementwise.wgsl): the
// oracle for the WebGPU kernels and the CPU backend's implementation.
// Arithmetic is in float64, rounded to float32 on store.
import type * as K from '../kernels/elementwise.ts';
import {
  checkActivation, checkActivationBackward, checkAxpy, checkCopy, checkFill, checkGatherRows,
  checkRowIndices, checkScale, checkScatterRows,
} from '../kernels/elementwise.ts';
import { u32View } from './arrays.ts';

/** tanh without overflow: exp only ever sees −2|x| ≤ 0. */
export function stableTanh(x: number): number {
  const e = Math.exp(-2 * Math.abs(x));
  const t = (1 - e) / (1 + e);
  return x < 0 ? -t : t;
}

/** 1/(1+e^−x) without overflow: exp only ever sees −|x| ≤ 0. */
export function stableSigmoid(x: number): number {
  if (x >= 0) return 1 / (1 + Math.exp(-x));
  const e = Math.exp(x);
  return e / (1 + e);
}

/** act(x) for one value; relu passes NaN through (so countNonFinite still sees it). */
export function applyActivation(act: K.Activation, x: number): number {
  switch (act) {
    case 'identity': return x;
    case 'relu': return x < 0 ? 0 : x;
    case 'tanh': return stableTanh(x);
    case 'sigmoid': return stableSigmoid(x);
  }
}

/** act'(x) written through y = act(x). */
export function activationDerivative(act: K.Activation, y: number): number {
  switch (act) {
    case 'identity': return 1;
    case 'relu': return y > 0 ? 1 : 0;
    case 'tanh': return 1 - y * y;
    case 'sigmoid': return y * (1 - y);
  }
}

export function activation(p: K.ActivationParams<Float32Array>): void {
  checkActivation(p);
  const { x, y, n, act } = p;
  for (let i = 0; i < n; i++) y[i] = applyActivation(act, x[i]!);
}

export function activationBackward(p: K.ActivationBackwardParams<Float32Array>): void {
  checkActivationBackward(p);
  const { y, dy, dx, n, act } = p;
  if (p.accumulate) for (let i = 0; i < n; i++) dx[i] = dx[i]! + dy[i]! * activationDerivative(act, y[i]!);
  else for (let i = 0; i < n; i++) dx[i] = dy[i]! * activationDerivative(act, y[i]!);
}

export function axpy(p: K.AxpyParams<Float32Array>): void {
  checkAxpy(p);
  const { x, y, n, alpha } = p;
  for (let i = 0; i < n; i++) y[i] = y[i]! + alpha * x[i]!;
}

export function scale(p: K.ScaleParams<Float32Array>): void {
  checkScale(p);
  const { x, n, alpha } = p;
  for (let i = 0; i < n; i++) x[i] = alpha * x[i]!;
}

export function fill(p: K.FillParams<Float32Array>): void {
  checkFill(p);
  p.x.fill(p.value, 0, p.n);
}

export function copy(p: K.CopyParams<Float32Array>): void {
  checkCopy(p);
  // set() copies as if through a temporary, so overlapping views are fine
  p.dst.set(p.src.subarray(0, p.n));
}

export function gatherRows(p: K.GatherRowsParams<Float32Array>): void {
  const srcRows = checkGatherRows(p);
  const { src, dst, rows, cols } = p;
  const idx = u32View(p.idx);
  checkRowIndices('gatherRows', idx, rows, srcRows);
  for (let r = 0; r < rows; r++) {
    const s = idx[r]! * cols;
    dst.set(src.subarray(s, s + cols), r * cols);
  }
}

export function scatterRows(p: K.ScatterRowsParams<Float32Array>): void {
  const dstRows = checkScatterRows(p);
  const { src, dst, rows, cols } = p;
  const idx = u32View(p.idx);
  checkRowIndices('scatterRows', idx, rows, dstRows, true);
  for (let r = 0; r < rows; r++) {
    const d = idx[r]! * cols;
    const s = r * cols;
    if (p.accumulate) for (let j = 0; j < cols; j++) dst[d + j] = dst[d + j]! + src[s + j]!;
    else dst.set(src.subarray(s, s + cols), d);
  }
}
