// PLACEHOLDER: replaced by the kernel family's CPU reference.
import type * as K from '../kernels.ts';
const todo = (name: string) => (): never => { throw new Error(`${name}: not yet implemented`); };
export const matmul = todo('matmul') as (p: K.MatmulParams<Float32Array>) => void;
