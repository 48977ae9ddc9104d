// PLACEHOLDER: replaced by the kernel family's implementation.
import type { Tensor } from '../../backend.ts';
import type * as K from '../../kernels.ts';
import type { WebGpuBackend } from '../backend.ts';
const todo = (name: string) => (): never => { throw new Error(`${name}: not yet implemented`); };
export const gaussianLogDensity = todo('gaussianLogDensity') as (g: WebGpuBackend, p: K.GaussianLogDensityParams<Tensor>) => void;
export const gaussianLogDensityBackward = todo('gaussianLogDensityBackward') as (g: WebGpuBackend, p: K.GaussianLogDensityBackwardParams<Tensor>) => void;
export const bernoulliLogLik = todo('bernoulliLogLik') as (g: WebGpuBackend, p: K.BernoulliLogLikParams<Tensor>) => void;
export const bernoulliLogLikBackward = todo('bernoulliLogLikBackward') as (g: WebGpuBackend, p: K.BernoulliLogLikBackwardParams<Tensor>) => void;
export const klStdNormal = todo('klStdNormal') as (g: WebGpuBackend, p: K.KlStdNormalParams<Tensor>) => void;
export const klStdNormalBackward = todo('klStdNormalBackward') as (g: WebGpuBackend, p: K.KlStdNormalBackwardParams<Tensor>) => void;
