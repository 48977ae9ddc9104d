// Adam over a flat buffer: the moments mirror the parameter layout, so one
// dispatch updates every block.
import type { Backend, Tensor } from '../backend.ts';

export interface AdamConfig {
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
}

export const DEFAULT_ADAM: AdamConfig = { beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0 };

export class AdamState {
  readonly m: Tensor;
  readonly v: Tensor;

  constructor(readonly backend: Backend, readonly n: number, readonly cfg: AdamConfig = DEFAULT_ADAM, label = 'adam') {
    this.m = backend.tensor(n, { label: `${label}.m` });
    this.v = backend.tensor(n, { label: `${label}.v` });
  }

  /** One minimisation step; t counts from 1 (bias correction). */
  apply(param: Tensor, grad: Tensor, lr: number, t: number, n = this.n, m = this.m, v = this.v): void {
    this.backend.adam({
      param, grad, m, v, n, lr, step: t,
      beta1: this.cfg.beta1, beta2: this.cfg.beta2, eps: this.cfg.eps, weightDecay: this.cfg.weightDecay,
    });
  }

  release(): void {
    this.backend.release(this.m);
    this.backend.release(this.v);
  }
}
