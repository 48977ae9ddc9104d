// The reduction family (shaders/reduce.wgsl; CPU reference src/cpu/reduce.ts; WebGPU
// src/gpu/ops/reduce.ts; WebAssembly assembly/kernels.ts): parameter types and the
// checks every backend runs.
import { checkDims, checkLen, type Len } from './check.ts';

/** out[i] = Σ_j x_ij (row sums) */
export interface SumRowsParams<T> { x: T; out: T; rows: number; cols: number; accumulate?: boolean }
/** out[j] = Σ_i x_ij (column sums) */
export interface SumColsParams<T> { x: T; out: T; rows: number; cols: number; accumulate?: boolean }
/** out[0] = Σ x */
export interface SumAllParams<T> { x: T; out: T; n: number; accumulate?: boolean }
/** out[0] = number of NaN/±Inf entries of x (as f32) */
export interface CountNonFiniteParams<T> { x: T; out: T; n: number }

export function checkSumRows(p: SumRowsParams<Len>): void {
  checkDims('sumRows', { rows: p.rows, cols: p.cols });
  checkLen('sumRows', 'x', p.x, p.rows * p.cols);
  checkLen('sumRows', 'out', p.out, p.rows);
}

export function checkSumCols(p: SumColsParams<Len>): void {
  checkDims('sumCols', { rows: p.rows, cols: p.cols });
  checkLen('sumCols', 'x', p.x, p.rows * p.cols);
  checkLen('sumCols', 'out', p.out, p.cols);
}

export function checkSumAll(p: SumAllParams<Len>): void {
  checkDims('sumAll', { n: p.n });
  checkLen('sumAll', 'x', p.x, p.n);
  checkLen('sumAll', 'out', p.out, 1);
}

export function checkCountNonFinite(p: CountNonFiniteParams<Len>): void {
  checkDims('countNonFinite', { n: p.n });
  checkLen('countNonFinite', 'x', p.x, p.n);
  checkLen('countNonFinite', 'out', p.out, 1);
}
