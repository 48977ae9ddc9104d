// The kernel set every backend implements, with identical semantics. Each family is
// declared once in src/kernels/<family>.ts (its parameter types, code tables and
// checks) and implemented under the same names by src/cpu/<family>.ts (the TypeScript
// reference), src/wasm/backend.ts and src/gpu/ops/<family>.ts (WebGPU, with
// shaders/<family>.wgsl). Parameter types are generic over the array type T: the
// WebGPU backend passes GPU tensors, the CPU references pass Float32Array /
// Uint32Array, so a test can run every backend and compare. All matrices are
// row-major. "accumulate" means out += result (llm.c style backward passes),
// otherwise out = result.
import type * as E from './kernels/elementwise.ts';
import type * as L from './kernels/likelihood.ts';
import type * as M from './kernels/matmul.ts';
import type * as O from './kernels/optim.ts';
import type * as R from './kernels/random.ts';
import type * as S from './kernels/reduce.ts';

export type * from './kernels/elementwise.ts';
export type * from './kernels/likelihood.ts';
export type * from './kernels/matmul.ts';
export type * from './kernels/optim.ts';
export type * from './kernels/random.ts';
export type * from './kernels/reduce.ts';
export { ACTIVATIONS } from './kernels/elementwise.ts';

export interface KernelSet<T> {
  matmul(p: M.MatmulParams<T>): void;
  gaussianLogDensity(p: L.GaussianLogDensityParams<T>): void;
  gaussianLogDensityBackward(p: L.GaussianLogDensityBackwardParams<T>): void;
  bernoulliLogLik(p: L.BernoulliLogLikParams<T>): void;
  bernoulliLogLikBackward(p: L.BernoulliLogLikBackwardParams<T>): void;
  uniform(p: R.RandomParams<T>): void;
  normal(p: R.RandomParams<T>): void;
  reparamDiag(p: R.ReparamDiagParams<T>): void;
  reparamDiagBackward(p: R.ReparamDiagBackwardParams<T>): void;
  reparamChol(p: R.ReparamCholParams<T>): void;
  sumRows(p: S.SumRowsParams<T>): void;
  sumCols(p: S.SumColsParams<T>): void;
  sumAll(p: S.SumAllParams<T>): void;
  countNonFinite(p: S.CountNonFiniteParams<T>): void;
  activation(p: E.ActivationParams<T>): void;
  activationBackward(p: E.ActivationBackwardParams<T>): void;
  axpy(p: E.AxpyParams<T>): void;
  scale(p: E.ScaleParams<T>): void;
  fill(p: E.FillParams<T>): void;
  copy(p: E.CopyParams<T>): void;
  klStdNormal(p: L.KlStdNormalParams<T>): void;
  klStdNormalBackward(p: L.KlStdNormalBackwardParams<T>): void;
  adam(p: O.AdamParams<T>): void;
  sgd(p: O.SgdParams<T>): void;
  gatherRows(p: E.GatherRowsParams<T>): void;
  scatterRows(p: E.ScatterRowsParams<T>): void;
}
