// PLACEHOLDER: replaced by the kernel family's CPU reference.
import type * as K from '../kernels.ts';
const todo = (name: string) => (): never => { throw new Error(`${name}: not yet implemented`); };
export const uniform = todo('uniform') as (p: K.RandomParams<Float32Array>) => void;
export const normal = todo('normal') as (p: K.RandomParams<Float32Array>) => void;
export const reparamDiag = todo('reparamDiag') as (p: K.ReparamDiagParams<Float32Array>) => void;
export const reparamDiagBackward = todo('reparamDiagBackward') as (p: K.ReparamDiagBackwardParams<Float32Array>) => void;
export const reparamChol = todo('reparamChol') as (p: K.ReparamCholParams<Float32Array>) => void;
