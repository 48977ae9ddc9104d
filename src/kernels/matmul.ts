// The matmul family (shaders/matmul.wgsl; CPU reference src/cpu/matmul.ts; WebGPU
// src/gpu/ops/matmul.ts; WebAssembly assembly/matmul.ts): the parameter type and
// the check every backend runs, which also fills in the defaults.
import { checkDims, checkLen, need } from './check.ts';
import { checkActivationName, type Activation } from './elementwise.ts';

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

/** MatmulParams with every default filled in, checked. */
export interface MatmulShape {
  m: number; n: number; k: number;
  transA: boolean; transB: boolean;
  batch: number; strideA: number; strideB: number; strideC: number;
  act: Activation;
  alpha: number;
  accumulate: boolean;
  hasBias: boolean;
}

/** Checks sizes, strides, tensor lengths and options; throws a KernelError naming `kernel`. */
export function checkMatmul<T extends { length: number }>(p: MatmulParams<T>, kernel = 'matmul'): MatmulShape {
  need(p !== null && typeof p === 'object', kernel, 'expects a parameter object');
  const { m, n, k } = p;
  const batch = p.batch ?? 1;
  checkDims(kernel, { m, n, k, batch });
  const strideA = p.strideA ?? m * k;
  const strideB = p.strideB ?? k * n;
  const strideC = p.strideC ?? m * n;
  checkDims(kernel, { strideA, strideB, strideC });
  const act = p.act ?? 'identity';
  checkActivationName(kernel, act);
  const alpha = p.alpha ?? 1;
  need(typeof alpha === 'number' && Number.isFinite(alpha), kernel, () => `alpha must be a finite number, got ${alpha}`);
  const accumulate = p.accumulate ?? false;
  need(!accumulate || act === 'identity', kernel,
    () => `accumulate (C += result) is only defined with act = identity, got act = ${act}`);
  // every batch writes its own C block: overlapping outputs would race on the GPU
  need(batch <= 1 || strideC >= m * n, kernel,
    () => `strideC ${strideC} makes the ${batch} output blocks of ${m}×${n} overlap (needs ≥ ${m * n})`);
  const lastA = batch > 0 ? (batch - 1) * strideA + m * k : 0;
  const lastB = batch > 0 ? (batch - 1) * strideB + k * n : 0;
  const lastC = batch > 0 ? (batch - 1) * strideC + m * n : 0;
  const aShape = () => (p.transA ? `${k}×${m} (transA)` : `${m}×${k}`);
  const bShape = () => (p.transB ? `${n}×${k} (transB)` : `${k}×${n}`);
  checkLen(kernel, () => `a (${aShape()}${batch > 1 ? `, batch ${batch}, stride ${strideA}` : ''})`, p.a, lastA);
  checkLen(kernel, () => `b (${bShape()}${batch > 1 ? `, batch ${batch}, stride ${strideB}` : ''})`, p.b, lastB);
  checkLen(kernel, () => `c (${m}×${n}${batch > 1 ? `, batch ${batch}, stride ${strideC}` : ''})`, p.c, lastC);
  if (p.bias !== undefined) checkLen(kernel, () => `bias (length n = ${n})`, p.bias, n);
  need(p.c !== p.a && p.c !== p.b, kernel, 'c must not be the same tensor as a or b');
  return {
    m, n, k,
    transA: Boolean(p.transA), transB: Boolean(p.transB),
    batch, strideA, strideB, strideC,
    act, alpha, accumulate,
    hasBias: p.bias !== undefined,
  };
}
