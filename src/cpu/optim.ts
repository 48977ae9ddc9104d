// CPU references of the optimizer kernels (shaders/optim.wgsl).
import { checkAdam, checkSgd, type AdamParams, type SgdParams } from '../kernels/optim.ts';

/**
 * Adam with bias correction (Kingma & Ba 2015, algorithm 1) and decoupled
 * weight decay (Loshchilov & Hutter's AdamW: the decay is not fed through the
 * moments): for each i, with g = grad[i],
 *   m ← β1·m + (1−β1)·g,  v ← β2·v + (1−β2)·g²,
 *   param ← param − lr·( (m/(1−β1^t)) / (sqrt(v/(1−β2^t)) + eps) + weightDecay·param ).
 * The decay uses the parameter before this step's update.
 */
export function adam(p: AdamParams<Float32Array>): void {
  const { biasCorrection1, biasCorrection2, weightDecay } = checkAdam(p);
  const { param, grad, m, v, n, lr, beta1, beta2, eps } = p;
  for (let i = 0; i < n; i++) {
    const g = grad[i]!;
    const mi = Math.fround(beta1 * m[i]! + (1 - beta1) * g);
    const vi = Math.fround(beta2 * v[i]! + (1 - beta2) * g * g);
    m[i] = mi;
    v[i] = vi;
    const w = param[i]!;
    param[i] = w - lr * ((mi / biasCorrection1) / (Math.sqrt(vi / biasCorrection2) + eps) + weightDecay * w);
  }
}

/** param ← param − lr·grad */
export function sgd(p: SgdParams<Float32Array>): void {
  checkSgd(p);
  const { param, grad, n, lr } = p;
  for (let i = 0; i < n; i++) param[i] = param[i]! - lr * grad[i]!;
}
