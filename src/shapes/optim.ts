// Argument validation for the optimizer kernels, shared by the CPU references
// and the WebGPU wrappers.
import { checkDims, checkLen, need } from '../backend.ts';
import type * as K from '../kernels.ts';

type Len = { length: number };

function finite(kernel: string, name: string, v: number): void {
  need(typeof v === 'number' && Number.isFinite(v), kernel, `${name} must be a finite number, got ${v}`);
}

/** The per-step scalars of Adam, computed once on the host in float64. */
export interface AdamScalars {
  /** 1 − beta1^t */
  biasCorrection1: number;
  /** 1 − beta2^t */
  biasCorrection2: number;
  weightDecay: number;
}

export function checkAdam(p: K.AdamParams<Len>): AdamScalars {
  const k = 'adam';
  checkDims(k, { n: p.n });
  for (const name of ['param', 'grad', 'm', 'v'] as const) checkLen(k, name, p[name], p.n);
  const ts = [p.param, p.grad, p.m, p.v];
  need(new Set(ts).size === 4, k, 'param, grad, m and v must be four different tensors');
  finite(k, 'lr', p.lr);
  finite(k, 'eps', p.eps);
  need(p.beta1 >= 0 && p.beta1 < 1, k, `beta1 must be in [0, 1), got ${p.beta1}`);
  need(p.beta2 >= 0 && p.beta2 < 1, k, `beta2 must be in [0, 1), got ${p.beta2}`);
  need(p.eps > 0, k, `eps must be positive, got ${p.eps}`);
  need(Number.isInteger(p.step) && p.step >= 1, k, `step must be an integer ≥ 1 (the first update is step 1), got ${p.step}`);
  const weightDecay = p.weightDecay ?? 0;
  finite(k, 'weightDecay', weightDecay);
  need(weightDecay >= 0, k, `weightDecay must be ≥ 0, got ${weightDecay}`);
  return {
    biasCorrection1: 1 - p.beta1 ** p.step,
    biasCorrection2: 1 - p.beta2 ** p.step,
    weightDecay,
  };
}

export function checkSgd(p: K.SgdParams<Len>): void {
  checkDims('sgd', { n: p.n });
  checkLen('sgd', 'param', p.param, p.n);
  checkLen('sgd', 'grad', p.grad, p.n);
  need(p.param !== p.grad, 'sgd', 'param and grad must be different tensors');
  finite('sgd', 'lr', p.lr);
}
