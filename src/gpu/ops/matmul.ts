// PLACEHOLDER: replaced by the kernel family's implementation.
import type { Tensor } from '../../backend.ts';
import type * as K from '../../kernels.ts';
import type { WebGpuBackend } from '../backend.ts';
const todo = (name: string) => (): never => { throw new Error(`${name}: not yet implemented`); };
export const matmul = todo('matmul') as (g: WebGpuBackend, p: K.MatmulParams<Tensor>) => void;
