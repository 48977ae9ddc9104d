// PLACEHOLDER: replaced by the kernel family's CPU reference.
import type * as K from '../kernels.ts';
const todo = (name: string) => (): never => { throw new Error(`${name}: not yet implemented`); };
export const gaussianLogDensity = todo('gaussianLogDensity') as (p: K.GaussianLogDensityParams<Float32Array>) => void;
export const gaussianLogDensityBackward = todo('gaussianLogDensityBackward') as (p: K.GaussianLogDensityBackwardParams<Float32Array>) => void;
export const bernoulliLogLik = todo('bernoulliLogLik') as (p: K.BernoulliLogLikParams<Float32Array>) => void;
export const bernoulliLogLikBackward = todo('bernoulliLogLikBackward') as (p: K.BernoulliLogLikBackwardParams<Float32Array>) => void;
export const klStdNormal = todo('klStdNormal') as (p: K.KlStdNormalParams<Float32Array>) => void;
export const klStdNormalBackward = todo('klStdNormalBackward') as (p: K.KlStdNormalBackwardParams<Float32Array>) => void;
