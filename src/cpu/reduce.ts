// CPU references for the reductions: float64 accumulators, one float32 result.
import type * as K from '../kernels/reduce.ts';
import { checkCountNonFinite, checkSumAll, checkSumCols, checkSumRows } from '../kernels/reduce.ts';

export function sumRows(p: K.SumRowsParams<Float32Array>): void {
  checkSumRows(p);
  const { x, out, rows, cols } = p;
  for (let i = 0; i < rows; i++) {
    let s = 0;
    for (let e = i * cols, end = e + cols; e < end; e++) s += x[e]!;
    out[i] = p.accumulate ? out[i]! + s : s;
  }
}

export function sumCols(p: K.SumColsParams<Float32Array>): void {
  checkSumCols(p);
  const { x, out, rows, cols } = p;
  const s = new Float64Array(cols);
  for (let i = 0; i < rows; i++) {
    for (let j = 0, e = i * cols; j < cols; j++, e++) s[j]! += x[e]!;
  }
  for (let j = 0; j < cols; j++) out[j] = p.accumulate ? out[j]! + s[j]! : s[j]!;
}

export function sumAll(p: K.SumAllParams<Float32Array>): void {
  checkSumAll(p);
  let s = 0;
  for (let e = 0; e < p.n; e++) s += p.x[e]!;
  p.out[0] = p.accumulate ? p.out[0]! + s : s;
}

export function countNonFinite(p: K.CountNonFiniteParams<Float32Array>): void {
  checkCountNonFinite(p);
  let c = 0;
  for (let e = 0; e < p.n; e++) if (!Number.isFinite(p.x[e]!)) c++;
  p.out[0] = c;
}
