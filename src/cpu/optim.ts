// PLACEHOLDER: replaced by the kernel family's CPU reference.
import type * as K from '../kernels.ts';
const todo = (name: string) => (): never => { throw new Error(`${name}: not yet implemented`); };
export const adam = todo('adam') as (p: K.AdamParams<Float32Array>) => void;
export const sgd = todo('sgd') as (p: K.SgdParams<Float32Array>) => void;
