// matmul on WebGPU (shaders/matmul.wgsl): the family's check (src/kernels/matmul.ts),
// then one of four variants chosen per adapter by a short measurement (tuneMatmul),
// kept on the backend (GpuContext.matmulVariants) and optionally persisted through a
// store (Node: a JSON file, see src/node/matmulStore.ts; this module imports nothing
// from Node):
//   vec4    — 4×4 outputs per invocation, any shape;
//   tiled   — shared-memory 64×64 tiles (real GPUs), any shape;
//   texture — 16×16 outputs per invocation read from rgba32float textures the operands
//             are copied into first (llvmpipe, where a texel fetch of 4 floats costs
//             less than a scalar storage load), C stored as vec4; needs m, n, k
//             and the batch strides (C's too) multiples of 4 (other shapes use vec4).
//   unrolled — 16×16 outputs per invocation as named vec4s in a generated, fully
//             unrolled kernel (./matmulUnrolled.ts; SwiftShader); shapes as texture.
import { need, type AdapterDescription, type AdapterKind, type Tensor } from '../../backend.ts';
import { ACTIVATION_CODE } from '../../kernels/elementwise.ts';
import { checkMatmul, type MatmulParams, type MatmulShape } from '../../kernels/matmul.ts';
import type { GpuContext, MatmulShapeClass, MatmulVariant } from '../context.ts';
import type { Kernel } from '../registry.ts';
import { shaderSource } from '../shaders.ts';
import { UNROLLED_MAX, unrolledEntryPoint, unrolledKernelFamily } from './matmulUnrolled.ts';

export type { MatmulShapeClass, MatmulVariant } from '../context.ts';
export const MATMUL_VARIANTS: readonly MatmulVariant[] = ['vec4', 'tiled', 'texture', 'unrolled'];

/** outputs per side of one tiled workgroup (shaders/matmul.wgsl TILE) */
const TILE = 64;
/** the vec4 kernel's workgroup, tuned on llvmpipe and SwiftShader (bench/kernels.ts) */
export const VEC4_WORKGROUP: [number, number] = [8, 8];
/** the aligned vec4 kernel's 4×4 blocks per invocation: 2×2 fastest on SwiftShader (docs/kernels-results.md §2) */
export const VEC4_BLOCKS: [number, number] = [2, 2];
/** below this many outputs a 64×64 tile is mostly idle: use the vec4 kernel */
const TINY_OUTPUTS = 32 * 32;

/** texture: outputs per invocation [rows, columns/4] (shaders/matmul.wgsl caps 16×16) */
export const DEFAULT_BLOCK: [number, number] = [16, 4];
const MAX_BLOCK: [number, number] = [16, 4];
/** texture workgroup: 8 invocations along columns fill llvmpipe's 8 SIMD lanes with one row block */
export const BLOCK_WORKGROUP: [number, number] = [8, 8];
/** texels per row of the operand textures (shaders/matmul.wgsl TEX_WIDTH_LOG2) */
const TEX_WIDTH = 1024;

export interface MatmulVariantOptions {
  /** vec4/texture workgroup size (x along columns, y along rows) */
  workgroup?: [number, number];
  /**
   * texture and unrolled: outputs per invocation as [rows, columns/4]; rows ≤ 16 (texture: a multiple
   * of 4 with transA; unrolled: always), columns/4 ≤ 4
   */
  block?: [number, number];
  /** vec4 only: force the vec4-load kernel on (needs aligned shapes) or off; default: when aligned */
  aligned?: boolean;
  /** vec4 aligned kernel: 4×4 blocks of C per invocation as [rows, columns], each 1 or 2 (default VEC4_BLOCKS) */
  vec4Blocks?: [number, number];
}

/** A placeholder bias binding per backend for calls without a bias (never read). */
const noBias = new WeakMap<GpuContext, Tensor>();

/** Records one matmul with a specific variant (tests and the benchmark use this directly). */
export function matmulVariant(gpu: GpuContext, p: MatmulParams<Tensor>, variant: MatmulVariant, opts: MatmulVariantOptions = {}): void {
  const s = checkMatmul(p);
  dispatchVariant(gpu, p, s, variant, opts);
}

function dispatchVariant(gpu: GpuContext, p: MatmulParams<Tensor>, s: MatmulShape, variant: MatmulVariant, opts: MatmulVariantOptions): void {
  need(MATMUL_VARIANTS.includes(variant), 'matmul', () => `unknown variant '${variant}' (one of ${MATMUL_VARIANTS.join(', ')})`);
  if (s.m === 0 || s.n === 0 || s.batch === 0) return;
  const maxGroups = gpu.limits.maxComputeWorkgroupsPerDimension;
  need(s.batch <= maxGroups, 'matmul', () => `batch ${s.batch} is over this adapter's ${maxGroups} workgroups per dimension`);
  let bias = p.bias;
  if (!bias) {
    bias = noBias.get(gpu);
    if (!bias) {
      bias = gpu.tensor(4, { label: 'matmul no-bias placeholder' });
      noBias.set(gpu, bias);
    }
  }
  const constants: Record<string, number> = {
    TRANS_A: s.transA ? 1 : 0,
    TRANS_B: s.transB ? 1 : 0,
    ACT: ACTIVATION_CODE[s.act],
    ACCUMULATE: s.accumulate ? 1 : 0,
    HAS_BIAS: s.hasBias ? 1 : 0,
  };
  const params = { m: s.m, n: s.n, k: s.k, strideA: s.strideA, strideB: s.strideB, strideC: s.strideC, alpha: s.alpha };
  const buffers = { a: p.a, b: p.b, bias, c: p.c };
  let groups: [number, number, number];
  let kernel: Kernel;
  if (variant === 'texture' || variant === 'unrolled') {
    need(isVec4Aligned(s), 'matmul',
      () => `the ${variant} kernel needs m, n, k and strides that are multiples of 4 (got ${s.m}×${s.n}×${s.k}, strides ${s.strideA}/${s.strideB}/${s.strideC})`);
  }
  if (variant === 'tiled') {
    kernel = gpu.registry.get('matmul', 'matmulTiled', constants);
    groups = [Math.ceil(s.n / TILE), Math.ceil(s.m / TILE), s.batch];
  } else if (variant === 'texture') {
    const launch = blockLaunch(s);
    const [rows, cols4] = opts.block ?? launch.block;
    need(Number.isInteger(rows) && rows >= 1 && rows <= MAX_BLOCK[0] && Number.isInteger(cols4) && cols4 >= 1 && cols4 <= MAX_BLOCK[1], 'matmul',
      () => `block ${rows}×${cols4} vec4 is outside 1..${MAX_BLOCK[0]} rows × 1..${MAX_BLOCK[1]} vec4 columns`);
    need(!s.transA || rows % 4 === 0, 'matmul', () => `with transA the block rows must be a multiple of 4, got ${rows}`);
    const [wx, wy] = opts.workgroup ?? launch.workgroup;
    kernel = gpu.registry.get('matmul', 'matmulTexture', { ...constants, WG_X: wx, WG_Y: wy, BLOCK_ROWS: rows, BLOCK_COLS4: cols4 });
    groups = [Math.ceil(s.n / (4 * cols4 * wx)), Math.ceil(s.m / (rows * wy)), s.batch];
    const ext = operandExtents(s);
    const texA = operandTexture(gpu, p.a, ext.a, 0);
    const texB = operandTexture(gpu, p.b, ext.b, 1);
    dispatchGrid(gpu, kernel, { bias4: vec4View(gpu, bias), c4: vec4View(gpu, p.c) }, params, groups, s, variant, { texA, texB });
    return;
  } else if (variant === 'unrolled') {
    const launch = blockLaunch(s);
    const [rows, cols4] = opts.block ?? launch.block;
    need(Number.isInteger(rows) && rows >= 4 && rows <= UNROLLED_MAX[0] && rows % 4 === 0 && Number.isInteger(cols4) && cols4 >= 1 && cols4 <= UNROLLED_MAX[1],
      'matmul', `unrolled block ${rows}×${cols4} vec4 needs rows in 4, 8, 12, 16 and 1..${UNROLLED_MAX[1]} vec4 columns`);
    const [wx, wy] = opts.workgroup ?? launch.workgroup;
    const family = unrolledKernelFamily({ rows, cols4, transA: s.transA, transB: s.transB });
    kernel = gpu.registry.get(family, 'matmulUnrolled', { ACT: constants.ACT!, ACCUMULATE: constants.ACCUMULATE!, HAS_BIAS: constants.HAS_BIAS!, WG_X: wx, WG_Y: wy });
    groups = [Math.ceil(s.n / (4 * cols4 * wx)), Math.ceil(s.m / (rows * wy)), s.batch];
    dispatchGrid(gpu, kernel, { a4: vec4View(gpu, p.a), b4: vec4View(gpu, p.b), bias4: vec4View(gpu, bias), c4: vec4View(gpu, p.c) }, params, groups, s, variant);
    return;
  } else {
    const [wx, wy] = opts.workgroup ?? VEC4_WORKGROUP;
    const aligned = opts.aligned ?? isVec4Aligned(s);
    need(!aligned || isVec4Aligned(s), 'matmul', 'the aligned vec4 kernel needs m, n, k and strides that are multiples of 4');
    if (aligned) {
      const [br, bc] = opts.vec4Blocks ?? VEC4_BLOCKS;
      need([br, bc].every((v) => v === 1 || v === 2), 'matmul', `vec4Blocks must be 1 or 2 per side, got ${br}×${bc}`);
      kernel = gpu.registry.get('matmul', 'matmulVec4Aligned', { ...constants, WG_X: wx, WG_Y: wy, ALIGNED_ROW_BLOCKS: br, ALIGNED_COL_BLOCKS: bc });
      groups = [Math.ceil(s.n / (4 * bc) / wx), Math.ceil(s.m / (4 * br) / wy), s.batch];
      // vec4 bindings must be a multiple of 16 bytes: bind the operands' whole vec4s
      // (every element the kernel reads lies inside, as all extents are multiples of 4)
      dispatchGrid(gpu, kernel, { a4: vec4View(gpu, p.a), b4: vec4View(gpu, p.b), bias4: vec4View(gpu, bias), c4: vec4View(gpu, p.c) }, params, groups, s, variant);
      return;
    }
    kernel = gpu.registry.get('matmul', 'matmulVec4', { ...constants, WG_X: wx, WG_Y: wy });
    groups = [Math.ceil(s.n / 4 / wx), Math.ceil(s.m / 4 / wy), s.batch];
  }
  dispatchGrid(gpu, kernel, buffers, params, groups, s, variant);
}

function dispatchGrid(
  gpu: GpuContext, kernel: Kernel, buffers: Record<string, Tensor>, params: Record<string, number>,
  groups: [number, number, number], s: MatmulShape, variant: MatmulVariant, textures: Record<string, GPUTexture> = {},
): void {
  const maxGroups = gpu.limits.maxComputeWorkgroupsPerDimension;
  need(groups[0] <= maxGroups && groups[1] <= maxGroups, 'matmul',
    () => `${s.m}×${s.n} needs a ${groups[0]}×${groups[1]} workgroup grid with the ${variant} kernel, over ${maxGroups} per dimension`);
  gpu.dispatch(kernel, buffers, params, groups, textures);
}

/**
 * Block and workgroup for the texture kernel: 16 rows (fewer rows than the kernel's
 * accumulator arrays hold cost llvmpipe its register allocation),
 * as many vec4 columns (1, 2, 4) as n needs, and fewer workgroup rows while the grid
 * has under 4 workgroups, so that small products still occupy the adapter's threads.
 */
export function blockLaunch(s: MatmulShape): { block: [number, number]; workgroup: [number, number] } {
  const rows = DEFAULT_BLOCK[0];
  let cols4 = DEFAULT_BLOCK[1];
  while (cols4 > 1 && 4 * (cols4 / 2) >= s.n) cols4 /= 2;
  let [wx, wy] = BLOCK_WORKGROUP;
  const groups = () => Math.ceil(s.n / (4 * cols4 * wx)) * Math.ceil(s.m / (rows * wy)) * s.batch;
  while (wy > 1 && groups() < 4) wy /= 2;
  return { block: [rows, cols4], workgroup: [wx, wy] };
}

/** Elements of a and b the product reads (from the start of each tensor). */
function operandExtents(s: MatmulShape): { a: number; b: number } {
  return { a: (s.batch - 1) * s.strideA + s.m * s.k, b: (s.batch - 1) * s.strideB + s.k * s.n };
}

/** Rows of TEX_WIDTH texels for `elements` floats, rounded up to a power of two (the texture pool's size classes). */
function textureRows(elements: number): number {
  const rows = Math.ceil(Math.ceil(elements / 4) / TEX_WIDTH);
  return 2 ** Math.ceil(Math.log2(Math.max(rows, 1)));
}

/** Whether both operands fit in this adapter's largest 2-D texture. */
function texturesFit(gpu: GpuContext, s: MatmulShape): boolean {
  const max = gpu.limits.maxTextureDimension2D;
  const ext = operandExtents(s);
  return textureRows(ext.a) <= max && textureRows(ext.b) <= max;
}

/**
 * Two rgba32float textures per size class and backend, reused by every matmul:
 * copies and dispatches run in recording order, so a texture can be refilled for
 * the next product as soon as the previous one is recorded.
 */
const texturePool = new WeakMap<GpuContext, Map<string, GPUTexture>>();

/** Copies the first `elements` of operand t (a multiple of 4) into pool texture `slot` of its size class. */
function operandTexture(gpu: GpuContext, t: Tensor, elements: number, slot: 0 | 1): GPUTexture {
  const rows = textureRows(elements);
  const max = gpu.limits.maxTextureDimension2D;
  need(rows <= max, 'matmul', `'${t.label}' (${elements} elements used) needs ${rows} texture rows of ${TEX_WIDTH} texels, over this adapter's ${max}`);
  let pool = texturePool.get(gpu);
  if (!pool) {
    pool = new Map();
    texturePool.set(gpu, pool);
  }
  const key = `${rows}:${slot}`;
  let tex = pool.get(key);
  if (!tex) {
    tex = gpu.device.createTexture({
      label: `matmul operand ${slot === 0 ? 'A' : 'B'} (${TEX_WIDTH}×${rows})`,
      size: [TEX_WIDTH, rows, 1],
      format: 'rgba32float',
      usage: 0x04 | 0x02, // TEXTURE_BINDING | COPY_DST
    });
    pool.set(key, tex);
  }
  gpu.copyToTexture(t, tex, elements / 4);
  return tex;
}

/** m, n, k and the batch strides (C's too) all multiples of 4: the vec4 load/store kernels apply. */
export function isVec4Aligned(s: MatmulShape): boolean {
  return s.k > 0 && [s.m, s.n, s.k, s.strideA, s.strideB, s.strideC].every((v) => v % 4 === 0);
}

/** t cut to a whole number of vec4s (views start at multiples of 64 elements, so stay 16-byte aligned). */
function vec4View(gpu: GpuContext, t: Tensor): Tensor {
  const len = t.length - (t.length % 4);
  return len === t.length ? t : gpu.view(t, 0, len, `${t.label} (as vec4)`);
}

// ---- variant choice per adapter ----------------------------------------------

/** Persists the measured choice across processes (Node: a JSON file); optional. */
export interface MatmulVariantStore {
  load(adapterKey: string): MatmulVariant | undefined;
  save(adapterKey: string, variant: MatmulVariant, detail: Record<string, number>): void;
}

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

/**
 * Before tuning: what measured fastest per adapter kind (DESIGN §2.8) — textures on
 * llvmpipe, the unrolled kernel on SwiftShader, barrier-free vec4 on other software
 * adapters, shared-memory tiling on real GPUs.
 */
const DEFAULT_VARIANT: Record<AdapterKind, MatmulVariant> = { llvmpipe: 'texture', swiftshader: 'unrolled', 'other-software': 'vec4', gpu: 'tiled' };

/**
 * Shapes with n or k this short (the VAE's latent heads: 128×20×400, 400×20×128,
 * 128×400×20) are their own tuning class: on llvmpipe the texture kernel that wins
 * the wide layers is the slowest there (docs/kernels-results.md §2). A short m alone
 * stays wide: the texture kernel spreads its lanes along n, and PPCA EM's Gᵀ = Yᵀ Xc
 * (12×784×256, 32 batches) ran 3× faster with it than with vec4 on llvmpipe.
 */
const NARROW_SIDE = 32;

export function shapeClassOf(s: { m: number; n: number; k: number }): MatmulShapeClass {
  return Math.min(s.n, s.k) <= NARROW_SIDE ? 'narrow' : 'wide';
}

function classKey(gpu: GpuContext, cls: MatmulShapeClass): string {
  const key = adapterKey(gpu.info.adapter);
  return cls === 'wide' ? key : `${key}|narrow`;
}

/** The variant matmul() uses on this backend for shapes of this class (default: wide). */
export function matmulVariantFor(gpu: GpuContext, cls: MatmulShapeClass = 'wide'): MatmulVariant {
  return envVariant() ?? gpu.matmulVariants.get(cls) ?? gpu.matmulVariants.get('wide') ?? (gpu.info.adapter ? DEFAULT_VARIANT[gpu.info.adapter.kind] : 'vec4');
}

export interface TuneResult {
  variant: MatmulVariant;
  /** where the choice came from */
  source: 'env' | 'memory' | 'store' | 'measured';
  /** measured GFLOP/s per variant (only when measured) */
  gflops?: Partial<Record<MatmulVariant, number>>;
  /** the choice for narrow shapes (shapeClassOf), when tuned */
  narrow?: TuneResult;
}

/** Names the shape sets of tuneMatmul in the cache key, so a changed set is measured afresh. */
const TUNE_SET = 'tune:square+128x784x400';

/**
 * A hash of the matmul kernels' WGSL code (FNV-1a; comments and blank lines left
 * out), also in the cache key: a choice measured on other kernels (an older
 * version) is measured afresh, while an edited comment keeps it.
 */
function kernelsVersion(): string {
  const wgsl = shaderSource('matmul') + unrolledEntryPoint({ rows: 16, cols4: 4, transA: true, transB: true });
  const src = wgsl.replace(/\/\*[^]*?\*\//g, '').replace(/\/\/.*$/gm, '').replace(/\s*\n/g, '\n');
  let h = 0x811c9dc5;
  for (let i = 0; i < src.length; i++) h = Math.imul(h ^ src.charCodeAt(i), 0x01000193);
  return `wgsl:${(h >>> 0).toString(16).padStart(8, '0')}`;
}

/** The shapes each class is timed on (m, n, k); the wide set's square side comes from opts.size. */
function tuneShapes(cls: MatmulShapeClass, size: number): [number, number, number][] {
  // a square product and the VAE's widest layer (X·W1, 128×784→400): the square alone
  // picks a variant that is slower on the layer shapes (docs/kernels-results.md §2)
  if (cls === 'wide') return [[size, size, size], [128, 400, 784]];
  return [[128, 20, 400], [400, 20, 128], [128, 400, 20]];
}

/**
 * Chooses the variants for this backend's adapter, one per shape class:
 * LATENTGPU_MATMUL, else this backend's earlier choice, else the stored one, else a
 * short measurement (the class's shapes, best of 3 each after a warm-up that also
 * compiles). The choice is kept on the backend (matmulVariants). Idempotent; call it
 * once after creating a backend.
 */
export async function tuneMatmul(gpu: GpuContext, opts: { store?: MatmulVariantStore; force?: boolean; size?: number } = {}): Promise<TuneResult> {
  const env = envVariant();
  if (env) return { variant: env, source: 'env' };
  const wide = await tuneClass(gpu, 'wide', opts);
  const narrow = await tuneClass(gpu, 'narrow', opts);
  return { ...wide, narrow };
}

async function tuneClass(gpu: GpuContext, cls: MatmulShapeClass, opts: { store?: MatmulVariantStore; force?: boolean; size?: number }): Promise<TuneResult> {
  const storeKey = `${classKey(gpu, cls)}|${TUNE_SET}|${kernelsVersion()}`;
  if (!opts.force) {
    const mem = gpu.matmulVariants.get(cls);
    if (mem) return { variant: mem, source: 'memory' };
    const stored = opts.store?.load(storeKey);
    if (stored && MATMUL_VARIANTS.includes(stored)) {
      gpu.matmulVariants.set(cls, stored);
      return { variant: stored, source: 'store' };
    }
  }
  const shapes = tuneShapes(cls, opts.size ?? 256);
  const gflops: Partial<Record<MatmulVariant, number>> = {};
  let fastest = Infinity;
  for (const v of MATMUL_VARIANTS) {
    let total = 0;
    let flops = 0;
    for (const [m, n, k] of shapes) {
      const a = gpu.tensor(m * k, { label: 'matmul tune a', data: patterned(m * k, 1) });
      const b = gpu.tensor(k * n, { label: 'matmul tune b', data: patterned(k * n, 2) });
      const c = gpu.tensor(m * n, { label: 'matmul tune c' });
      try {
        const p = { a, b, c, m, n, k };
        matmulVariant(gpu, p, v);
        await gpu.finish();
        let best = Infinity;
        for (let r = 0; r < 3; r++) {
          const t0 = performance.now();
          matmulVariant(gpu, p, v);
          await gpu.finish();
          best = Math.min(best, performance.now() - t0);
          // far behind the fastest so far (variants differ up to 20× on CPU adapters): no more samples
          if (total + best > 4 * fastest) break;
        }
        total += best;
        flops += 2 * m * n * k;
      } finally {
        gpu.release(a);
        gpu.release(b);
        gpu.release(c);
      }
    }
    fastest = Math.min(fastest, total);
    gflops[v] = flops / (total * 1e6);
  }
  const variant = MATMUL_VARIANTS.reduce((x, y) => ((gflops[y] ?? 0) > (gflops[x] ?? 0) ? y : x));
  gpu.matmulVariants.set(cls, variant);
  opts.store?.save(storeKey, variant, gflops as Record<string, number>);
  return { variant, source: 'measured', gflops };
}

/** Deterministic data in [−1, 1) for the tuning run. */
function patterned(n: number, seed: number): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = (((i * 2654435761 + seed * 40503) >>> 0) % 2048) / 1024 - 1;
  return out;
}

/** C[b] = act(alpha · op(A[b]) · op(B[b]) + bias) (+ C[b]) with this adapter's variant. */
export function matmul(gpu: GpuContext, p: MatmulParams<Tensor>): void {
  const s = checkMatmul(p);
  const env = envVariant();
  const preferred = env ?? (s.m * s.n <= TINY_OUTPUTS ? 'vec4' : matmulVariantFor(gpu, shapeClassOf(s)));
  dispatchVariant(gpu, p, s, variantForShape(gpu, s, preferred), {});
}

/** The preferred variant where it applies to this shape, else the nearest one that does. */
function variantForShape(gpu: GpuContext, s: MatmulShape, preferred: MatmulVariant): MatmulVariant {
  if (preferred === 'texture' && !(isVec4Aligned(s) && texturesFit(gpu, s))) return 'vec4';
  if (preferred === 'unrolled' && !isVec4Aligned(s)) return 'vec4';
  return preferred;
}
