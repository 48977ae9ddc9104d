// CPU references for the likelihood and KL kernels (DESIGN §1.3–1.5). Row sums
// are accumulated in float64; gradients are per element and need no accumulator
// except the column/scalar log-variance ones, which are summed in float64 too.
import type * as K from '../kernels/likelihood.ts';
import {
  checkBernoulliLogLik, checkBernoulliLogLikBackward, checkGaussianLogDensity, checkGaussianLogDensityBackward,
  checkKlStdNormal, checkKlStdNormalBackward,
} from '../kernels/likelihood.ts';
import { stableSigmoid as sigmoid } from './elementwise.ts';

const LOG_2PI = Math.log(2 * Math.PI);

/** log(1 + e^l) without overflow for large l or loss for very negative l. */
export function softplus(l: number): number {
  return Math.max(l, 0) + Math.log1p(Math.exp(-Math.abs(l)));
}


/** Index of the log-variance entry used by element (i, j), flat index e = i·cols + j. */
function logvarIndexer(mode: K.LogvarMode, cols: number): (e: number) => number {
  if (mode === 'element') return (e) => e;
  if (mode === 'column') return (e) => e % cols;
  return () => 0;
}

export function gaussianLogDensity(p: K.GaussianLogDensityParams<Float32Array>): void {
  checkGaussianLogDensity(p);
  const { x, mu, logvar, out, rows, cols } = p;
  const lvAt = logvarIndexer(p.logvarMode, cols);
  for (let i = 0; i < rows; i++) {
    let s = 0;
    for (let j = 0, e = i * cols; j < cols; j++, e++) {
      const lv = logvar[lvAt(e)]!;
      const r = x[e]! - mu[e]!;
      s += LOG_2PI + lv + r * r * Math.exp(-lv);
    }
    out[i] = -0.5 * s;
  }
}

export function gaussianLogDensityBackward(p: K.GaussianLogDensityBackwardParams<Float32Array>): void {
  checkGaussianLogDensityBackward(p);
  const { x, mu, logvar, dOut, dMu, dLogvar, rows, cols, logvarMode } = p;
  const acc = p.accumulate ?? false;
  // d out_i / d mu_ij = r e^{−lv};  d out_i / d lv_ij = ½ (r² e^{−lv} − 1)
  const lvSum = logvarMode === 'element' ? null : new Float64Array(logvarMode === 'column' ? cols : 1);
  for (let i = 0; i < rows; i++) {
    const g = dOut[i]!;
    for (let j = 0, e = i * cols; j < cols; j++, e++) {
      const lv = logvar[logvarMode === 'element' ? e : logvarMode === 'column' ? j : 0]!;
      const r = x[e]! - mu[e]!;
      const rw = r * Math.exp(-lv);
      const gm = g * rw;
      const gl = g * 0.5 * (r * rw - 1);
      dMu[e] = acc ? dMu[e]! + gm : gm;
      if (lvSum === null) dLogvar[e] = acc ? dLogvar[e]! + gl : gl;
      else lvSum[logvarMode === 'column' ? j : 0]! += gl;
    }
  }
  if (lvSum !== null) {
    for (let k = 0; k < lvSum.length; k++) dLogvar[k] = acc ? dLogvar[k]! + lvSum[k]! : lvSum[k]!;
  }
}

export function bernoulliLogLik(p: K.BernoulliLogLikParams<Float32Array>): void {
  checkBernoulliLogLik(p);
  const { x, logits, out, rows, cols } = p;
  for (let i = 0; i < rows; i++) {
    let s = 0;
    for (let e = i * cols, end = e + cols; e < end; e++) {
      const l = logits[e]!;
      s += x[e]! * l - softplus(l);
    }
    out[i] = s;
  }
}

export function bernoulliLogLikBackward(p: K.BernoulliLogLikBackwardParams<Float32Array>): void {
  checkBernoulliLogLikBackward(p);
  const { x, logits, dOut, dLogits, rows, cols } = p;
  const acc = p.accumulate ?? false;
  for (let i = 0; i < rows; i++) {
    const g = dOut[i]!;
    for (let e = i * cols, end = e + cols; e < end; e++) {
      const d = g * (x[e]! - sigmoid(logits[e]!));
      dLogits[e] = acc ? dLogits[e]! + d : d;
    }
  }
}

export function klStdNormal(p: K.KlStdNormalParams<Float32Array>): void {
  checkKlStdNormal(p);
  const { m, logvar, out, rows, cols } = p;
  for (let i = 0; i < rows; i++) {
    let s = 0;
    for (let e = i * cols, end = e + cols; e < end; e++) {
      const lv = logvar[e]!;
      s += m[e]! * m[e]! + Math.exp(lv) - 1 - lv;
    }
    out[i] = 0.5 * s;
  }
}

export function klStdNormalBackward(p: K.KlStdNormalBackwardParams<Float32Array>): void {
  checkKlStdNormalBackward(p);
  const { m, logvar, dOut, dM, dLogvar, rows, cols } = p;
  const acc = p.accumulate ?? false;
  for (let i = 0; i < rows; i++) {
    const g = dOut[i]!;
    for (let e = i * cols, end = e + cols; e < end; e++) {
      const gm = g * m[e]!;
      const gl = g * 0.5 * (Math.exp(logvar[e]!) - 1);
      dM[e] = acc ? dM[e]! + gm : gm;
      dLogvar[e] = acc ? dLogvar[e]! + gl : gl;
    }
  }
}
