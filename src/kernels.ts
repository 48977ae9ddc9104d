// Parameter shapes shared by every kernel, generic over the array type T:
// the WebGPU backend passes GPU tensors, the CPU references pass Float32Array /
// Uint32Array. One signature per kernel, so a test can run both and compare.
// All matrices are row-major. "accumulate" means out += result (llm.c style
// backward passes), otherwise out = result.

export type Activation = 'identity' | 'relu' | 'tanh' | 'sigmoid';
export const ACTIVATIONS: readonly Activation[] = ['identity', 'relu', 'tanh', 'sigmoid'];
export type LogvarMode = 'element' | 'column' | 'scalar';

/** C[b] (m×n) = act(alpha · op(A[b]) · op(B[b]) + bias) (+ C[b] when accumulate). */
export interface MatmulParams<T> {
  a: T; b: T; c: T;
  /** length n, added to every row of C before the activation */
  bias?: T;
  m: number; n: number; k: number;
  /** op(A) = Aᵀ: A is stored k×m */
  transA?: boolean;
  /** op(B) = Bᵀ: B is stored n×k */
  transB?: boolean;
  /** batch count (default 1); strides in elements, 0 broadcasts that operand */
  batch?: number; strideA?: number; strideB?: number; strideC?: number;
  act?: Activation;
  alpha?: number;
  /** C += result; only with act = identity */
  accumulate?: boolean;
}

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

/** Counter-based RNG key: element i of a draw is a pure function of (seed, stream, counter, i). */
export interface RngKey { seed: number; stream: number; counter: number }
export interface RandomParams<T> { out: T; n: number; key: RngKey }
/** eps ~ N(0,1) from key; z = m + eps ∘ exp(½ logvar); all rows×cols. */
export interface ReparamDiagParams<T> {
  m: T; logvar: T; eps: T; z: T; rows: number; cols: number; key: RngKey;
}
/** dM += dz; dLogvar += dz ∘ eps ∘ ½exp(½ logvar) (or = without accumulate). */
export interface ReparamDiagBackwardParams<T> {
  dz: T; eps: T; logvar: T; dM: T; dLogvar: T; rows: number; cols: number;
  accumulate?: boolean;
}
/** eps ~ N(0,1) from key; z_i = m_i + L eps_i with L (d×d) lower-triangular, shared by all rows. */
export interface ReparamCholParams<T> {
  m: T; l: T; eps: T; z: T; rows: number; d: number; key: RngKey;
}

/** out[i] = Σ_j x_ij (row sums) */
export interface SumRowsParams<T> { x: T; out: T; rows: number; cols: number; accumulate?: boolean }
/** out[j] = Σ_i x_ij (column sums) */
export interface SumColsParams<T> { x: T; out: T; rows: number; cols: number; accumulate?: boolean }
/** out[0] = Σ x */
export interface SumAllParams<T> { x: T; out: T; n: number; accumulate?: boolean }
/** out[0] = number of NaN/±Inf entries of x (as f32) */
export interface CountNonFiniteParams<T> { x: T; out: T; n: number }

export interface ActivationParams<T> { x: T; y: T; n: number; act: Activation }
/** dx (+)= dy ∘ act'(·) expressed through the forward output y */
export interface ActivationBackwardParams<T> {
  y: T; dy: T; dx: T; n: number; act: Activation; accumulate?: boolean;
}
/** y += alpha · x */
export interface AxpyParams<T> { x: T; y: T; n: number; alpha: number }
/** x *= alpha */
export interface ScaleParams<T> { x: T; n: number; alpha: number }
export interface FillParams<T> { x: T; n: number; value: number }
export interface CopyParams<T> { src: T; dst: T; n: number }
/** out[i] = KL(N(m_i, diag exp(logvar_i)) ‖ N(0, I)) = ½ Σ_j (m² + e^lv − 1 − lv) */
export interface KlStdNormalParams<T> { m: T; logvar: T; out: T; rows: number; cols: number }
/** gradients of Σ_i dOut[i] · KL_i */
export interface KlStdNormalBackwardParams<T> {
  m: T; logvar: T; dOut: T; dM: T; dLogvar: T; rows: number; cols: number;
  accumulate?: boolean;
}

/** Adam with bias correction; step t starts at 1. Gradient ascent is the caller's sign flip. */
export interface AdamParams<T> {
  param: T; grad: T; m: T; v: T; n: number;
  lr: number; beta1: number; beta2: number; eps: number; step: number;
  /** decoupled (AdamW) decay: param -= lr·weightDecay·param, using param before the step; default 0 */
  weightDecay?: number;
}
/** param -= lr · grad */
export interface SgdParams<T> { param: T; grad: T; n: number; lr: number }
/**
 * dst[r] = src[idx[r]] for r < rows (rows of length cols); idx is a u32 tensor. An index past
 * src's rows is an error on the CPU and a zero row on WebGPU (check on upload: checkRowIndices).
 */
export interface GatherRowsParams<T> { src: T; idx: T; dst: T; rows: number; cols: number }
/** dst[idx[r]] (+)= src[r]: the backward of gatherRows for distinct indices (u32; out of range: CPU error, WebGPU skips) */
export interface ScatterRowsParams<T> { src: T; idx: T; dst: T; rows: number; cols: number; accumulate?: boolean }

/** The kernel set every backend implements, with identical semantics. */
export interface KernelSet<T> {
  matmul(p: MatmulParams<T>): void;
  gaussianLogDensity(p: GaussianLogDensityParams<T>): void;
  gaussianLogDensityBackward(p: GaussianLogDensityBackwardParams<T>): void;
  bernoulliLogLik(p: BernoulliLogLikParams<T>): void;
  bernoulliLogLikBackward(p: BernoulliLogLikBackwardParams<T>): void;
  uniform(p: RandomParams<T>): void;
  normal(p: RandomParams<T>): void;
  reparamDiag(p: ReparamDiagParams<T>): void;
  reparamDiagBackward(p: ReparamDiagBackwardParams<T>): void;
  reparamChol(p: ReparamCholParams<T>): void;
  sumRows(p: SumRowsParams<T>): void;
  sumCols(p: SumColsParams<T>): void;
  sumAll(p: SumAllParams<T>): void;
  countNonFinite(p: CountNonFiniteParams<T>): void;
  activation(p: ActivationParams<T>): void;
  activationBackward(p: ActivationBackwardParams<T>): void;
  axpy(p: AxpyParams<T>): void;
  scale(p: ScaleParams<T>): void;
  fill(p: FillParams<T>): void;
  copy(p: CopyParams<T>): void;
  klStdNormal(p: KlStdNormalParams<T>): void;
  klStdNormalBackward(p: KlStdNormalBackwardParams<T>): void;
  adam(p: AdamParams<T>): void;
  sgd(p: SgdParams<T>): void;
  gatherRows(p: GatherRowsParams<T>): void;
  scatterRows(p: ScatterRowsParams<T>): void;
}
