// The likelihood and KL family (shaders/gaussian.wgsl, bernoulli.wgsl, kl.wgsl; CPU
// reference src/cpu/likelihood.ts; WebGPU src/gpu/ops/likelihood.ts; WebAssembly
// assembly/kernels.ts): parameter types, the log-variance mode codes, and the checks
// every backend runs, so all reject bad input the same way.
import { checkDims, checkLen, need, type Len } from './check.ts';

export type LogvarMode = 'element' | 'column' | 'scalar';
export const LOGVAR_MODES: readonly LogvarMode[] = ['element', 'column', 'scalar'];
/**
 * The code of each mode in the kernels: the `logvarMode` parameter of
 * shaders/gaussian.wgsl and the `mode` argument of the WebAssembly kernels
 * (assembly/kernels.ts LOGVAR_*).
 */
export const LOGVAR_CODE: Readonly<Record<LogvarMode, number>> = { element: 0, column: 1, scalar: 2 };

/** out[i] = log N(x_i | mu_i, diag exp(logvar)) for each row i. */
export interface GaussianLogDensityParams<T> {
  x: T; mu: T; logvar: T; out: T;
  rows: number; cols: number;
  /** element: logvar is rows×cols; column: length cols; scalar: length 1 */
  logvarMode: LogvarMode;
}
/** dMu (rows×cols) and dLogvar (shape of logvar) of Σ_i dOut[i] · out[i]. */
export interface GaussianLogDensityBackwardParams<T> {
  x: T; mu: T; logvar: T; dOut: T; dMu: T; dLogvar: T;
  rows: number; cols: number; logvarMode: LogvarMode;
  accumulate?: boolean;
}
/** out[i] = Σ_j x_ij·l_ij − softplus(l_ij) (log Bernoulli(x | sigmoid(l)), stable). */
export interface BernoulliLogLikParams<T> {
  x: T; logits: T; out: T; rows: number; cols: number;
}
export interface BernoulliLogLikBackwardParams<T> {
  x: T; logits: T; dOut: T; dLogits: T; rows: number; cols: number;
  accumulate?: boolean;
}
/** out[i] = KL(N(m_i, diag exp(logvar_i)) ‖ N(0, I)) = ½ Σ_j (m² + e^lv − 1 − lv) */
export interface KlStdNormalParams<T> { m: T; logvar: T; out: T; rows: number; cols: number }
/** gradients of Σ_i dOut[i] · KL_i */
export interface KlStdNormalBackwardParams<T> {
  m: T; logvar: T; dOut: T; dM: T; dLogvar: T; rows: number; cols: number;
  accumulate?: boolean;
}

/** Elements logvar must hold for a mode. */
export function logvarLength(kernel: string, mode: LogvarMode, rows: number, cols: number): number {
  need((LOGVAR_MODES as readonly string[]).includes(mode), kernel,
    `logvarMode must be one of ${LOGVAR_MODES.join(', ')}, got '${mode}'`);
  return mode === 'element' ? rows * cols : mode === 'column' ? cols : 1;
}

export function checkGaussianLogDensity(p: GaussianLogDensityParams<Len>): void {
  const k = 'gaussianLogDensity';
  checkDims(k, { rows: p.rows, cols: p.cols });
  const n = p.rows * p.cols;
  checkLen(k, 'x', p.x, n);
  checkLen(k, 'mu', p.mu, n);
  checkLen(k, 'logvar', p.logvar, logvarLength(k, p.logvarMode, p.rows, p.cols));
  checkLen(k, 'out', p.out, p.rows);
}

export function checkGaussianLogDensityBackward(p: GaussianLogDensityBackwardParams<Len>): void {
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

export function checkBernoulliLogLik(p: BernoulliLogLikParams<Len>): void {
  const k = 'bernoulliLogLik';
  checkDims(k, { rows: p.rows, cols: p.cols });
  checkLen(k, 'x', p.x, p.rows * p.cols);
  checkLen(k, 'logits', p.logits, p.rows * p.cols);
  checkLen(k, 'out', p.out, p.rows);
}

export function checkBernoulliLogLikBackward(p: BernoulliLogLikBackwardParams<Len>): void {
  const k = 'bernoulliLogLikBackward';
  checkDims(k, { rows: p.rows, cols: p.cols });
  checkLen(k, 'x', p.x, p.rows * p.cols);
  checkLen(k, 'logits', p.logits, p.rows * p.cols);
  checkLen(k, 'dOut', p.dOut, p.rows);
  checkLen(k, 'dLogits', p.dLogits, p.rows * p.cols);
}

export function checkKlStdNormal(p: KlStdNormalParams<Len>): void {
  const k = 'klStdNormal';
  checkDims(k, { rows: p.rows, cols: p.cols });
  checkLen(k, 'm', p.m, p.rows * p.cols);
  checkLen(k, 'logvar', p.logvar, p.rows * p.cols);
  checkLen(k, 'out', p.out, p.rows);
}

export function checkKlStdNormalBackward(p: KlStdNormalBackwardParams<Len>): void {
  const k = 'klStdNormalBackward';
  checkDims(k, { rows: p.rows, cols: p.cols });
  const n = p.rows * p.cols;
  checkLen(k, 'm', p.m, n);
  checkLen(k, 'logvar', p.logvar, n);
  checkLen(k, 'dOut', p.dOut, p.rows);
  checkLen(k, 'dM', p.dM, n);
  checkLen(k, 'dLogvar', p.dLogvar, n);
}
