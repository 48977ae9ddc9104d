// PLACEHOLDER: replaced by the kernel family's CPU reference.
import type * as K from '../kernels.ts';
const todo = (name: string) => (): never => { throw new Error(`${name}: not yet implemented`); };
export const activation = todo('activation') as (p: K.ActivationParams<Float32Array>) => void;
export const activationBackward = todo('activationBackward') as (p: K.ActivationBackwardParams<Float32Array>) => void;
export const axpy = todo('axpy') as (p: K.AxpyParams<Float32Array>) => void;
export const scale = todo('scale') as (p: K.ScaleParams<Float32Array>) => void;
export const copy = todo('copy') as (p: K.CopyParams<Float32Array>) => void;
export const gatherRows = todo('gatherRows') as (p: K.GatherRowsParams<Float32Array>) => void;
export const scatterRows = todo('scatterRows') as (p: K.ScatterRowsParams<Float32Array>) => void;
export function fill(p: K.FillParams<Float32Array>): void { p.x.fill(p.value, 0, p.n); }
