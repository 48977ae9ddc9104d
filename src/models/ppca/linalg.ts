// Small dense linear algebra in float64 on the host: the d×d matrices of PPCA
// (M = WᵀW + σ²I, its Cholesky factor, inverse and log-determinant, the EM
// statistics). d is at most a few hundred, so this is microseconds to
// milliseconds, while the O(n·D·d) work stays in the backend's kernels. Float64
// here keeps the log-determinant and the inverses exact to far below the 1e-3
// nats the EM must resolve (float32 Cholesky of an ill-conditioned M would not).
import { KernelError } from '../../backend.ts';

/** Row-major square matrix of size k. */
export type Mat = Float64Array;

export function identity(k: number, scale = 1): Mat {
  const m = new Float64Array(k * k);
  for (let i = 0; i < k; i++) m[i * k + i] = scale;
  return m;
}

/** C = A·B for A (m×k), B (k×n). */
export function mul(a: Float64Array, b: Float64Array, m: number, k: number, n: number): Float64Array {
  const c = new Float64Array(m * n);
  for (let i = 0; i < m; i++) {
    for (let q = 0; q < k; q++) {
      const aiq = a[i * k + q]!;
      if (aiq === 0) continue;
      for (let j = 0; j < n; j++) c[i * n + j]! += aiq * b[q * n + j]!;
    }
  }
  return c;
}

export function transpose(a: Float64Array, m: number, n: number): Float64Array {
  const t = new Float64Array(m * n);
  for (let i = 0; i < m; i++) for (let j = 0; j < n; j++) t[j * m + i] = a[i * n + j]!;
  return t;
}

export function trace(a: Mat, k: number): number {
  let s = 0;
  for (let i = 0; i < k; i++) s += a[i * k + i]!;
  return s;
}

/** tr(A·B) for square A, B without forming the product. */
export function traceOfProduct(a: Mat, b: Mat, k: number): number {
  let s = 0;
  for (let i = 0; i < k; i++) for (let j = 0; j < k; j++) s += a[i * k + j]! * b[j * k + i]!;
  return s;
}

/** (A + Aᵀ)/2: removes the rounding asymmetry of products like BᵀAB. */
export function symmetrize(a: Mat, k: number): Mat {
  const s = new Float64Array(k * k);
  for (let i = 0; i < k; i++) for (let j = 0; j < k; j++) s[i * k + j] = 0.5 * (a[i * k + j]! + a[j * k + i]!);
  return s;
}

/** Lower-triangular L with L·Lᵀ = A; throws when A is not positive definite. */
export function cholesky(a: Mat, k: number, what = 'cholesky'): Mat {
  const l = new Float64Array(k * k);
  for (let j = 0; j < k; j++) {
    let s = a[j * k + j]!;
    for (let q = 0; q < j; q++) s -= l[j * k + q]! * l[j * k + q]!;
    if (!(s > 0)) throw new KernelError(what, `matrix is not positive definite (pivot ${j} is ${s})`);
    const ljj = Math.sqrt(s);
    l[j * k + j] = ljj;
    for (let i = j + 1; i < k; i++) {
      let t = a[i * k + j]!;
      for (let q = 0; q < j; q++) t -= l[i * k + q]! * l[j * k + q]!;
      l[i * k + j] = t / ljj;
    }
  }
  return l;
}

/** L⁻¹ for lower-triangular L (forward substitution, column by column). */
export function invertLower(l: Mat, k: number): Mat {
  const inv = new Float64Array(k * k);
  for (let c = 0; c < k; c++) {
    for (let i = c; i < k; i++) {
      let s = i === c ? 1 : 0;
      for (let q = c; q < i; q++) s -= l[i * k + q]! * inv[q * k + c]!;
      inv[i * k + c] = s / l[i * k + i]!;
    }
  }
  return inv;
}

/** log|A| from its Cholesky factor. */
export function logDetFromCholesky(l: Mat, k: number): number {
  let s = 0;
  for (let i = 0; i < k; i++) s += Math.log(l[i * k + i]!);
  return 2 * s;
}

/** Everything PPCA needs of a symmetric positive-definite matrix. */
export interface SpdFactors {
  /** lower Cholesky factor */
  chol: Mat;
  /** (chol)⁻¹ */
  cholInv: Mat;
  inverse: Mat;
  logDet: number;
}

export function factorSpd(a: Mat, k: number, what = 'factorSpd'): SpdFactors {
  const chol = cholesky(a, k, what);
  const cholInv = invertLower(chol, k);
  // A⁻¹ = L⁻ᵀ L⁻¹
  const inverse = symmetrize(mul(transpose(cholInv, k, k), cholInv, k, k, k), k);
  return { chol, cholInv, inverse, logDet: logDetFromCholesky(chol, k) };
}

export function toF32(a: Float64Array): Float32Array {
  return Float32Array.from(a);
}
