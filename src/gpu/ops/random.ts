// PLACEHOLDER: replaced by the kernel family's implementation.
import type { Tensor } from '../../backend.ts';
import type * as K from '../../kernels.ts';
import type { WebGpuBackend } from '../backend.ts';
const todo = (name: string) => (): never => { throw new Error(`${name}: not yet implemented`); };
export const uniform = todo('uniform') as (g: WebGpuBackend, p: K.RandomParams<Tensor>) => void;
export const normal = todo('normal') as (g: WebGpuBackend, p: K.RandomParams<Tensor>) => void;
export const reparamDiag = todo('reparamDiag') as (g: WebGpuBackend, p: K.ReparamDiagParams<Tensor>) => void;
export const reparamDiagBackward = todo('reparamDiagBackward') as (g: WebGpuBackend, p: K.ReparamDiagBackwardParams<Tensor>) => void;
export const reparamChol = todo('reparamChol') as (g: WebGpuBackend, p: K.ReparamCholParams<Tensor>) => void;
