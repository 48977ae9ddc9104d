// Optimizer kernels (shaders/optim.wgsl): fused Adam/AdamW and plain SGD over a
// flat parameter buffer. Update rules: src/cpu/optim.ts.
import type { Tensor } from '../../backend.ts';
import { checkAdam, checkSgd, type AdamParams, type SgdParams } from '../../kernels/optim.ts';
import type { GpuContext } from '../context.ts';
import { needDisjoint } from './elementwise.ts';
import { prefix, vec4Ok, vec4Threads, vec4Workgroup } from './launch.ts';

export function adam(gpu: GpuContext, p: AdamParams<Tensor>): void {
  const s = checkAdam(p);
  needDisjoint(gpu, 'adam', { param: p.param, grad: p.grad, m: p.m, v: p.v });
  const params = {
    n: p.n, lr: p.lr, beta1: p.beta1, beta2: p.beta2, oneMinusBeta1: 1 - p.beta1, oneMinusBeta2: 1 - p.beta2, eps: p.eps,
    biasCorrection1: s.biasCorrection1, biasCorrection2: s.biasCorrection2, weightDecay: s.weightDecay,
  };
  if (vec4Ok(p.n)) {
    const k = gpu.registry.get('optim', 'adam4', { WG: vec4Workgroup(gpu) });
    const v = (t: Tensor) => prefix(gpu, t, p.n);
    gpu.dispatch1D(k, { param4: v(p.param), grad4: v(p.grad), m4: v(p.m), v4: v(p.v) }, params, vec4Threads(p.n / 4));
    return;
  }
  const k = gpu.registry.get('optim', 'adam');
  gpu.dispatch1D(k, { param: p.param, grad: p.grad, m: p.m, v: p.v }, params, p.n);
}

export function sgd(gpu: GpuContext, p: SgdParams<Tensor>): void {
  checkSgd(p);
  needDisjoint(gpu, 'sgd', { param: p.param, grad: p.grad });
  const k = gpu.registry.get('optim', 'sgd');
  gpu.dispatch1D(k, { param: p.param, grad: p.grad }, { n: p.n, lr: p.lr }, p.n);
}
