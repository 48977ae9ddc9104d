// Shape validation for the likelihood and KL kernels, shared by the CPU
// references and the WebGPU wrappers so both reject bad input the same way.
import { checkDims, checkLen, need } from '../backend.ts';
import type * as K from '../kernels.ts';

type Len = { length: number };

export const LOGVAR_MODES: readonly K.LogvarMode[] = ['element', 'column', 'scalar'];

/** Elements logvar must hold for a mode. */
export function logvarLength(kernel: string, mode: K.LogvarMode, rows: number, cols: number): number {
  need((LOGVAR_MODES as readonly string[]).includes(mode), kernel,
    `logvarMode must be one of ${LOGVAR_MODES.join(', ')}, got '${mode}'`);
  return mode === 'element' ? rows * cols : mode === 'column' ? cols : 1;
}

export function checkGaussianLogDensity(p: K.GaussianLogDensityParams<Len>): void {
  const k = 'gaussianLogDensity';
  checkDims(k, { rows: p.rows, cols: p.cols });
  const n = p.rows * p.cols;
  checkLen(k, 'x', p.x, n);
  checkLen(k, 'mu', p.mu, n);
  checkLen(k, 'logvar', p.logvar, logvarLength(k, p.logvarMode, p.rows, p.cols));
  checkLen(k, 'out', p.out, p.rows);
}

export function checkGaussianLogDensityBackward(p: K.GaussianLogDensityBackwardParams<Len>): void {
  const k = 'gaussianLogDensityBackward';
  checkDims(k, { rows: p.rows, cols: p.cols });
  const n = p.rows * p.cols;
  const nlv = logvarLength(k, p.logvarMode, p.rows, p.cols);
  checkLen(k, 'x', p.x, n);
  checkLen(k, 'mu', p.mu, n);
  checkLen(k, 'logvar', p.logvar, nlv);
  checkLen(k, 'dOut', p.dOut, p.rows);
  checkLen(k, 'dMu', p.dMu, n);
  checkLen(k, 'dLogvar', p.dLogvar, nlv);
}

export function checkBernoulliLogLik(p: K.BernoulliLogLikParams<Len>): void {
  const k = 'bernoulliLogLik';
  checkDims(k, { rows: p.rows, cols: p.cols });
  checkLen(k, 'x', p.x, p.rows * p.cols);
  checkLen(k, 'logits', p.logits, p.rows * p.cols);
  checkLen(k, 'out', p.out, p.rows);
}

export function checkBernoulliLogLikBackward(p: K.BernoulliLogLikBackwardParams<Len>): void {
  const k = 'bernoulliLogLikBackward';
  checkDims(k, { rows: p.rows, cols: p.cols });
  checkLen(k, 'x', p.x, p.rows * p.cols);
  checkLen(k, 'logits', p.logits, p.rows * p.cols);
  checkLen(k, 'dOut', p.dOut, p.rows);
  checkLen(k, 'dLogits', p.dLogits, p.rows * p.cols);
}

export function checkKlStdNormal(p: K.KlStdNormalParams<Len>): void {
  const k = 'klStdNormal';
  checkDims(k, { rows: p.rows, cols: p.cols });
  checkLen(k, 'm', p.m, p.rows * p.cols);
  checkLen(k, 'logvar', p.logvar, p.rows * p.cols);
  checkLen(k, 'out', p.out, p.rows);
}

export function checkKlStdNormalBackward(p: K.KlStdNormalBackwardParams<Len>): void {
  const k = 'klStdNormalBackward';
  checkDims(k, { rows: p.rows, cols: p.cols });
  const n = p.rows * p.cols;
  checkLen(k, 'm', p.m, n);
  checkLen(k, 'logvar', p.logvar, n);
  checkLen(k, 'dOut', p.dOut, p.rows);
  checkLen(k, 'dM', p.dM, n);
  checkLen(k, 'dLogvar', p.dLogvar, n);
}
