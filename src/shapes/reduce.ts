// Shape validation for the reduction kernels, shared by the CPU references and
// the WebGPU wrappers.
import { checkDims, checkLen } from '../backend.ts';
import type * as K from '../kernels.ts';

type Len = { length: number };

export function checkSumRows(p: K.SumRowsParams<Len>): void {
  checkDims('sumRows', { rows: p.rows, cols: p.cols });
  checkLen('sumRows', 'x', p.x, p.rows * p.cols);
  checkLen('sumRows', 'out', p.out, p.rows);
}

export function checkSumCols(p: K.SumColsParams<Len>): void {
  checkDims('sumCols', { rows: p.rows, cols: p.cols });
  checkLen('sumCols', 'x', p.x, p.rows * p.cols);
  checkLen('sumCols', 'out', p.out, p.cols);
}

export function checkSumAll(p: K.SumAllParams<Len>): void {
  checkDims('sumAll', { n: p.n });
  checkLen('sumAll', 'x', p.x, p.n);
  checkLen('sumAll', 'out', p.out, 1);
}

export function checkCountNonFinite(p: K.CountNonFiniteParams<Len>): void {
  checkDims('countNonFinite', { n: p.n });
  checkLen('countNonFinite', 'x', p.x, p.n);
  checkLen('countNonFinite', 'out', p.out, 1);
}
