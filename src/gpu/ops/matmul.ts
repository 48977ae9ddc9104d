// matmul on WebGPU (shaders/matmul.wgsl): validation shared with the CPU reference,
// then one of two variants — the register-blocked `vec4` kernel or the shared-memory
// `tiled` kernel — chosen per adapter by a short measurement (tuneMatmul), cached in
// memory by adapter and optionally persisted through a store (Node: a JSON file,
// see src/node/matmulCache.ts; this module imports nothing from Node).
import { need, type AdapterDescription, type Tensor } from '../../backend.ts';
import type { Activation, MatmulParams } from '../../kernels.ts';
import { validateMatmul, type MatmulShape } from '../../validate/matmul.ts';
import type { WebGpuBackend } from '../backend.ts';
import type { Kernel } from '../registry.ts';

export type MatmulVariant = 'vec4' | 'tiled';
export const MATMUL_VARIANTS: readonly MatmulVariant[] = ['vec4', 'tiled'];

const ACT_CODE: Record<Activation, number> = { identity: 0, relu: 1, tanh: 2, sigmoid: 3 };
/** outputs per side of one tiled workgroup (shaders/matmul.wgsl TILE) */
const TILE = 64;
/** the vec4 kernel's workgroup, tuned on llvmpipe and SwiftShader (bench/kernels.ts) */
export const VEC4_WORKGROUP: [number, number] = [8, 8];
/** below this many outputs a 64×64 tile is mostly idle: use the vec4 kernel */
const TINY_OUTPUTS = 32 * 32;

export interface MatmulVariantOptions {
  /** vec4 kernel workgroup size (x along columns, y along rows) */
  workgroup?: [number, number];
  /** vec4 only: force the vec4-load kernel on (needs aligned shapes) or off; default: when aligned */
  aligned?: boolean;
}

/** A placeholder bias binding per backend for calls without a bias (never read). */
const noBias = new WeakMap<WebGpuBackend, Tensor>();

/** Records one matmul with a specific variant (tests and the benchmark use this directly). */
export function matmulVariant(gpu: WebGpuBackend, p: MatmulParams<Tensor>, variant: MatmulVariant, opts: MatmulVariantOptions = {}): void {
  const s = validateMatmul(p);
  dispatchVariant(gpu, p, s, variant, opts);
}

function dispatchVariant(gpu: WebGpuBackend, p: MatmulParams<Tensor>, s: MatmulShape, variant: MatmulVariant, opts: MatmulVariantOptions): void {
  need(MATMUL_VARIANTS.includes(variant), 'matmul', `unknown variant '${variant}' (one of ${MATMUL_VARIANTS.join(', ')})`);
  if (s.m === 0 || s.n === 0 || s.batch === 0) return;
  const maxGroups = gpu.limits.maxComputeWorkgroupsPerDimension;
  need(s.batch <= maxGroups, 'matmul', `batch ${s.batch} is over this adapter's ${maxGroups} workgroups per dimension`);
  let bias = p.bias;
  if (!bias) {
    bias = noBias.get(gpu);
    if (!bias) {
      bias = gpu.tensor(1, { label: 'matmul no-bias placeholder' });
      noBias.set(gpu, bias);
    }
  }
  const constants: Record<string, number> = {
    TRANS_A: s.transA ? 1 : 0,
    TRANS_B: s.transB ? 1 : 0,
    ACT: ACT_CODE[s.act],
    ACCUMULATE: s.accumulate ? 1 : 0,
    HAS_BIAS: s.hasBias ? 1 : 0,
  };
  const params = { m: s.m, n: s.n, k: s.k, strideA: s.strideA, strideB: s.strideB, strideC: s.strideC, alpha: s.alpha };
  const buffers = { a: p.a, b: p.b, bias, c: p.c };
  let groups: [number, number, number];
  let kernel: Kernel;
  if (variant === 'tiled') {
    kernel = gpu.registry.get('matmul', 'matmulTiled', constants);
    groups = [Math.ceil(s.n / TILE), Math.ceil(s.m / TILE), s.batch];
  } else {
    const [wx, wy] = opts.workgroup ?? VEC4_WORKGROUP;
    const aligned = opts.aligned ?? isVec4Aligned(s);
    need(!aligned || isVec4Aligned(s), 'matmul', 'the aligned vec4 kernel needs m, n, k and strides that are multiples of 4');
    kernel = gpu.registry.get('matmul', aligned ? 'matmulVec4Aligned' : 'matmulVec4', { ...constants, WG_X: wx, WG_Y: wy });
    groups = [Math.ceil(s.n / 4 / wx), Math.ceil(s.m / 4 / wy), s.batch];
    if (aligned) {
      // vec4 bindings must be a multiple of 16 bytes: bind the operands' whole vec4s
      // (every element the kernel reads lies inside, as all extents are multiples of 4)
      dispatchGrid(gpu, kernel, { a4: vec4View(gpu, p.a), b4: vec4View(gpu, p.b), bias, c: p.c }, params, groups, s, variant);
      return;
    }
  }
  dispatchGrid(gpu, kernel, buffers, params, groups, s, variant);
}

function dispatchGrid(
  gpu: WebGpuBackend, kernel: Kernel, buffers: Record<string, Tensor>, params: Record<string, number>,
  groups: [number, number, number], s: MatmulShape, variant: MatmulVariant,
): void {
  const maxGroups = gpu.limits.maxComputeWorkgroupsPerDimension;
  need(groups[0] <= maxGroups && groups[1] <= maxGroups, 'matmul',
    `${s.m}×${s.n} needs a ${groups[0]}×${groups[1]} workgroup grid with the ${variant} kernel, over ${maxGroups} per dimension`);
  gpu.dispatch(kernel, buffers, params, groups);
}

/** m, n, k and the batch strides all multiples of 4: the vec4-load kernel applies. */
export function isVec4Aligned(s: MatmulShape): boolean {
  return s.k > 0 && [s.m, s.n, s.k, s.strideA, s.strideB].every((v) => v % 4 === 0);
}

/** t cut to a whole number of vec4s (views start at multiples of 64 elements, so stay 16-byte aligned). */
function vec4View(gpu: WebGpuBackend, t: Tensor): Tensor {
  const len = t.length - (t.length % 4);
  return len === t.length ? t : gpu.view(t, 0, len, `${t.label} (as vec4)`);
}

// ---- variant choice per adapter ----------------------------------------------

/** Persists the measured choice across processes (Node: a JSON file); optional. */
export interface MatmulVariantStore {
  load(adapterKey: string): MatmulVariant | undefined;
  save(adapterKey: string, variant: MatmulVariant, detail: Record<string, number>): void;
}

const chosen = new Map<string, MatmulVariant>();

export function adapterKey(a: AdapterDescription | undefined): string {
  if (!a) return 'unknown adapter';
  return [a.vendor, a.architecture, a.device, a.description, a.featureLevel].join('|');
}

function envVariant(): MatmulVariant | undefined {
  // read without importing anything from Node, so the browser build is unaffected
  const v = (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env?.LATENTGPU_MATMUL;
  if (!v) return undefined;
  need(MATMUL_VARIANTS.includes(v as MatmulVariant), 'matmul',
    `LATENTGPU_MATMUL='${v}' is not one of ${MATMUL_VARIANTS.join(', ')}`);
  return v as MatmulVariant;
}

/** Before tuning: software adapters favour barrier-free kernels, real GPUs shared-memory tiling. */
function defaultVariant(a: AdapterDescription | undefined): MatmulVariant {
  return !a || a.isFallbackAdapter || /llvmpipe|swiftshader|lavapipe|softpipe/i.test(`${a.device} ${a.description} ${a.vendor}`)
    ? 'vec4'
    : 'tiled';
}

/** The variant matmul() uses on this backend for general shapes. */
export function matmulVariantFor(gpu: WebGpuBackend): MatmulVariant {
  return envVariant() ?? chosen.get(adapterKey(gpu.info.adapter)) ?? defaultVariant(gpu.info.adapter);
}

export interface TuneResult {
  variant: MatmulVariant;
  /** where the choice came from */
  source: 'env' | 'memory' | 'store' | 'measured';
  /** measured GFLOP/s per variant (only when measured) */
  gflops?: Partial<Record<MatmulVariant, number>>;
}

/**
 * Chooses the variant for this backend's adapter: LATENTGPU_MATMUL, else the
 * in-memory or stored choice, else a short measurement (a 256³ product, best of 3
 * after a warm-up that also compiles). Idempotent; call it once after creating a backend.
 */
export async function tuneMatmul(gpu: WebGpuBackend, opts: { store?: MatmulVariantStore; force?: boolean; size?: number } = {}): Promise<TuneResult> {
  const env = envVariant();
  if (env) return { variant: env, source: 'env' };
  const key = adapterKey(gpu.info.adapter);
  if (!opts.force) {
    const mem = chosen.get(key);
    if (mem) return { variant: mem, source: 'memory' };
    const stored = opts.store?.load(key);
    if (stored && MATMUL_VARIANTS.includes(stored)) {
      chosen.set(key, stored);
      return { variant: stored, source: 'store' };
    }
  }
  const size = opts.size ?? 256;
  const a = gpu.tensor(size * size, { label: 'matmul tune a', data: patterned(size * size, 1) });
  const b = gpu.tensor(size * size, { label: 'matmul tune b', data: patterned(size * size, 2) });
  const c = gpu.tensor(size * size, { label: 'matmul tune c' });
  const gflops: Partial<Record<MatmulVariant, number>> = {};
  try {
    for (const v of MATMUL_VARIANTS) {
      const p = { a, b, c, m: size, n: size, k: size };
      matmulVariant(gpu, p, v);
      await gpu.finish();
      let best = Infinity;
      for (let r = 0; r < 3; r++) {
        const t0 = performance.now();
        matmulVariant(gpu, p, v);
        await gpu.finish();
        best = Math.min(best, performance.now() - t0);
      }
      gflops[v] = (2 * size ** 3) / (best * 1e6);
    }
  } finally {
    gpu.release(a);
    gpu.release(b);
    gpu.release(c);
  }
  const variant = MATMUL_VARIANTS.reduce((x, y) => ((gflops[y] ?? 0) > (gflops[x] ?? 0) ? y : x));
  chosen.set(key, variant);
  opts.store?.save(key, variant, gflops as Record<string, number>);
  return { variant, source: 'measured', gflops };
}

/** Deterministic data in [−1, 1) for the tuning run. */
function patterned(n: number, seed: number): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = (((i * 2654435761 + seed * 40503) >>> 0) % 2048) / 1024 - 1;
  return out;
}

/** C[b] = act(alpha · op(A[b]) · op(B[b]) + bias) (+ C[b]) with this adapter's variant. */
export function matmul(gpu: WebGpuBackend, p: MatmulParams<Tensor>): void {
  const s = validateMatmul(p);
  const variant = envVariant() ?? (s.m * s.n <= TINY_OUTPUTS ? 'vec4' : matmulVariantFor(gpu));
  dispatchVariant(gpu, p, s, variant, {});
}
