// The optimizer family (shaders/optim.wgsl; CPU reference src/cpu/optim.ts, which
// states the update rules; WebGPU src/gpu/ops/optim.ts; WebAssembly assembly/kernels.ts):
// parameter types and the checks every backend runs.
import { checkDims, checkFinite, checkLen, need, type Len } from './check.ts';

/** Adam with bias correction; step t starts at 1. Gradient ascent is the caller's sign flip. */
export interface AdamParams<T> {
  param: T; grad: T; m: T; v: T; n: number;
  lr: number; beta1: number; beta2: number; eps: number; step: number;
  /** decoupled (AdamW) decay: param -= lr·weightDecay·param, using param before the step; default 0 */
  weightDecay?: number;
}
/** param -= lr · grad */
export interface SgdParams<T> { param: T; grad: T; n: number; lr: number }

/** The per-step scalars of Adam, computed once on the host in float64. */
export interface AdamScalars {
  /** 1 − beta1^t */
  biasCorrection1: number;
  /** 1 − beta2^t */
  biasCorrection2: number;
  weightDecay: number;
}

export function checkAdam(p: AdamParams<Len>): AdamScalars {
  const k = 'adam';
  checkDims(k, { n: p.n });
  for (const name of ['param', 'grad', 'm', 'v'] as const) checkLen(k, name, p[name], p.n);
  const ts = [p.param, p.grad, p.m, p.v];
  need(new Set(ts).size === 4, k, 'param, grad, m and v must be four different tensors');
  checkFinite(k, 'lr', p.lr);
  checkFinite(k, 'eps', p.eps);
  need(p.beta1 >= 0 && p.beta1 < 1, k, `beta1 must be in [0, 1), got ${p.beta1}`);
  need(p.beta2 >= 0 && p.beta2 < 1, k, `beta2 must be in [0, 1), got ${p.beta2}`);
  need(p.eps > 0, k, `eps must be positive, got ${p.eps}`);
  need(Number.isInteger(p.step) && p.step >= 1, k, `step must be an integer ≥ 1 (the first update is step 1), got ${p.step}`);
  const weightDecay = p.weightDecay ?? 0;
  checkFinite(k, 'weightDecay', weightDecay);
  need(weightDecay >= 0, k, `weightDecay must be ≥ 0, got ${weightDecay}`);
  return {
    biasCorrection1: 1 - p.beta1 ** p.step,
    biasCorrection2: 1 - p.beta2 ** p.step,
    weightDecay,
  };
}

export function checkSgd(p: SgdParams<Len>): void {
  checkDims('sgd', { n: p.n });
  checkLen('sgd', 'param', p.param, p.n);
  checkLen('sgd', 'grad', p.grad, p.n);
  need(p.param !== p.grad, 'sgd', 'param and grad must be different tensors');
  checkFinite('sgd', 'lr', p.lr);
}
