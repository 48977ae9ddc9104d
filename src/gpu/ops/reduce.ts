// PLACEHOLDER: replaced by the kernel family's implementation.
import type { Tensor } from '../../backend.ts';
import type * as K from '../../kernels.ts';
import type { WebGpuBackend } from '../backend.ts';
const todo = (name: string) => (): never => { throw new Error(`${name}: not yet implemented`); };
export const sumRows = todo('sumRows') as (g: WebGpuBackend, p: K.SumRowsParams<Tensor>) => void;
export const sumCols = todo('sumCols') as (g: WebGpuBackend, p: K.SumColsParams<Tensor>) => void;
export const sumAll = todo('sumAll') as (g: WebGpuBackend, p: K.SumAllParams<Tensor>) => void;
export const countNonFinite = todo('countNonFinite') as (g: WebGpuBackend, p: K.CountNonFiniteParams<Tensor>) => void;
