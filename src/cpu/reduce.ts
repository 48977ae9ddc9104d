// PLACEHOLDER: replaced by the kernel family's CPU reference.
import type * as K from '../kernels.ts';
const todo = (name: string) => (): never => { throw new Error(`${name}: not yet implemented`); };
export const sumRows = todo('sumRows') as (p: K.SumRowsParams<Float32Array>) => void;
export const sumCols = todo('sumCols') as (p: K.SumColsParams<Float32Array>) => void;
export const sumAll = todo('sumAll') as (p: K.SumAllParams<Float32Array>) => void;
export const countNonFinite = todo('countNonFinite') as (p: K.CountNonFiniteParams<Float32Array>) => void;
