// matmul: GPU variants (vec4 register-blocked, vec4 aligned-load, shared-memory
// tiled, texture-staged 16×16 blocks) vs the CPU reference, the CPU reference vs a float64 triple loop, the
// tiled kernel through wgsl_reflect's race detector, and input validation.
// Tolerances: atol 1e-4·sqrt(k) (inputs in [−1, 1], float32 sums of k products),
// rtol 1e-4.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { detectRaces } from 'wgsl_reflect/wgsl_reflect.module.js';
import { KernelError, type Tensor } from '../src/backend.ts';
import { matmul as cpuMatmul } from '../src/cpu/matmul.ts';
import type { WebGpuBackend } from '../src/gpu/backend.ts';
import { MATMUL_VARIANTS, matmulVariant, matmulVariantFor, shapeClassOf, tuneMatmul, type MatmulVariant, type MatmulVariantOptions } from '../src/gpu/ops/matmul.ts';
import { ACTIVATIONS, type Activation, type MatmulParams } from '../src/kernels.ts';
import { TEST_ADAPTERS, cpu, expectClose, gpuBackend, randomArray } from './gpu.ts';

const atol = (k: number) => 1e-4 * Math.sqrt(Math.max(k, 1));
const RTOL = 1e-4;

interface Case {
  m: number; n: number; k: number;
  transA?: boolean; transB?: boolean;
  batch?: number; strideA?: number; strideB?: number; strideC?: number;
  bias?: boolean; act?: Activation; alpha?: number; accumulate?: boolean;
}

function lengths(c: Case): { a: number; b: number; c: number } {
  const batch = c.batch ?? 1;
  const sa = c.strideA ?? c.m * c.k;
  const sb = c.strideB ?? c.k * c.n;
  const sc = c.strideC ?? c.m * c.n;
  return {
    a: Math.max(1, (batch - 1) * sa + c.m * c.k),
    b: Math.max(1, (batch - 1) * sb + c.k * c.n),
    c: Math.max(1, (batch - 1) * sc + c.m * c.n),
  };
}

function name(c: Case): string {
  const parts = [`${c.m}×${c.n}×${c.k}`];
  if (c.transA) parts.push('Aᵀ');
  if (c.transB) parts.push('Bᵀ');
  if (c.batch) parts.push(`batch ${c.batch} strides ${c.strideA ?? '-'}/${c.strideB ?? '-'}/${c.strideC ?? '-'}`);
  if (c.bias) parts.push('bias');
  if (c.act && c.act !== 'identity') parts.push(c.act);
  if (c.alpha !== undefined) parts.push(`alpha ${c.alpha}`);
  if (c.accumulate) parts.push('accumulate');
  return parts.join(' ');
}

function params<T>(c: Case, a: T, b: T, out: T, bias: T | undefined): MatmulParams<T> {
  return {
    a, b, c: out, bias,
    m: c.m, n: c.n, k: c.k, transA: c.transA, transB: c.transB,
    batch: c.batch, strideA: c.strideA, strideB: c.strideB, strideC: c.strideC,
    act: c.act, alpha: c.alpha, accumulate: c.accumulate,
  };
}

/** Runs case c on the CPU reference and on the GPU with `variant`, compares C. */
async function compare(gpu: WebGpuBackend, c: Case, variant: MatmulVariant, opts: MatmulVariantOptions = {}, seed = 1): Promise<void> {
  const len = lengths(c);
  const A = randomArray(len.a, seed);
  const B = randomArray(len.b, seed + 1);
  const C0 = randomArray(len.c, seed + 2);
  const bias = c.bias ? randomArray(c.n, seed + 3) : undefined;
  const want = C0.slice();
  cpuMatmul(params(c, A, B, want, bias));

  const ta = gpu.tensor(len.a, { data: A, label: 'a' });
  const tb = gpu.tensor(len.b, { data: B, label: 'b' });
  const tc = gpu.tensor(len.c, { data: C0, label: 'c' });
  const tbias = bias ? gpu.tensor(c.n, { data: bias, label: 'bias' }) : undefined;
  try {
    matmulVariant(gpu, params<Tensor>(c, ta, tb, tc, tbias), variant, opts);
    const got = await gpu.read(tc);
    expectClose(got, want, atol(c.k), RTOL, `${variant}${opts.aligned === false ? ' (scalar loads)' : ''} ${name(c)}`);
  } finally {
    for (const t of [ta, tb, tc, tbias]) if (t) gpu.release(t);
  }
}

const SHAPES: [number, number, number][] = [[1, 1, 1], [3, 5, 7], [127, 129, 65], [128, 784, 400]];
/** multiples of 4 (what the texture kernel takes) but not of its 16×16 blocks or 8×8 workgroups */
const ALIGNED_RAGGED: [number, number, number][] = [[4, 4, 4], [36, 20, 12], [132, 68, 44], [20, 132, 4]];
const TRANSPOSES: [boolean, boolean][] = [[false, false], [true, false], [false, true], [true, true]];

const EPILOGUES: Case[] = [
  ...ACTIVATIONS.map((act): Case => ({ m: 37, n: 45, k: 29, bias: true, act })),
  { m: 37, n: 45, k: 29, alpha: -0.75 },
  { m: 37, n: 45, k: 29, accumulate: true, alpha: 2, bias: true },
  { m: 64, n: 32, k: 16, accumulate: true, transA: true },
  { m: 8, n: 6, k: 0, bias: true, act: 'sigmoid' },
];

const BATCHED: Case[] = [
  { m: 13, n: 11, k: 9, batch: 3 },
  // B broadcast across the batch (stride 0), A and C with padding between blocks
  { m: 13, n: 11, k: 9, batch: 4, strideA: 13 * 9 + 5, strideB: 0, strideC: 13 * 11 + 3, transB: true },
  // A broadcast, aligned shapes
  { m: 16, n: 12, k: 8, batch: 3, strideA: 0, transA: true, bias: true, act: 'relu' },
];

describe('cpu matmul reference', () => {
  /** float64 triple loop straight from the definition */
  function naive(c: Case, A: Float32Array, B: Float32Array, C: Float32Array, bias?: Float32Array): Float64Array {
    const out = Float64Array.from(C);
    const batch = c.batch ?? 1;
    const sa = c.strideA ?? c.m * c.k, sb = c.strideB ?? c.k * c.n, sc = c.strideC ?? c.m * c.n;
    const f: Record<Activation, (x: number) => number> = {
      identity: (x) => x, relu: (x) => Math.max(x, 0), tanh: Math.tanh, sigmoid: (x) => 1 / (1 + Math.exp(-x)),
    };
    for (let b = 0; b < batch; b++) {
      for (let i = 0; i < c.m; i++) {
        for (let j = 0; j < c.n; j++) {
          let s = 0;
          for (let q = 0; q < c.k; q++) {
            const a = c.transA ? A[b * sa + q * c.m + i]! : A[b * sa + i * c.k + q]!;
            const bv = c.transB ? B[b * sb + j * c.k + q]! : B[b * sb + q * c.n + j]!;
            s += a * bv;
          }
          let v = (c.alpha ?? 1) * s + (bias ? bias[j]! : 0);
          v = f[c.act ?? 'identity'](v);
          const at = b * sc + i * c.n + j;
          out[at] = c.accumulate ? out[at]! + v : v;
        }
      }
    }
    return out;
  }

  const cases: Case[] = [
    ...SHAPES.slice(0, 3).flatMap(([m, n, k]) => TRANSPOSES.map(([transA, transB]) => ({ m, n, k, transA, transB }))),
    { m: 130, n: 261, k: 300 }, // crosses the 64-row and 256-column blocking
    ...EPILOGUES,
    ...BATCHED,
  ];
  for (const c of cases) {
    it(`matches a float64 triple loop: ${name(c)}`, () => {
      const len = lengths(c);
      const A = randomArray(len.a, 11), B = randomArray(len.b, 12), C = randomArray(len.c, 13);
      const bias = c.bias ? randomArray(c.n, 14) : undefined;
      const want = naive(c, A, B, C, bias);
      cpuMatmul(params(c, A, B, C, bias));
      expectClose(C, want, atol(c.k), RTOL, name(c));
    });
  }

  it('leaves C outside the m×n blocks untouched', () => {
    const c: Case = { m: 5, n: 3, k: 4, batch: 2, strideC: 20 };
    const len = lengths(c);
    const C = new Float32Array(len.c).fill(7);
    cpuMatmul(params(c, randomArray(len.a, 1), randomArray(len.b, 2), C, undefined));
    expect(Array.from(C.subarray(15, 20))).toEqual([7, 7, 7, 7, 7]);
  });
});

describe('matmul validation', () => {
  const a = new Float32Array(6), b = new Float32Array(12), c = new Float32Array(8);
  const ok = { a, b, c, m: 2, n: 4, k: 3 };
  it('accepts a well-formed call', () => {
    expect(() => cpuMatmul(ok)).not.toThrow();
  });
  it('names the kernel and the problem', () => {
    expect(() => cpuMatmul({ ...ok, k: 4 })).toThrow(/matmul: tensor 'a \(2×4\)' has 6 elements, needs at least 8/);
    expect(() => cpuMatmul({ ...ok, n: 5 })).toThrow(/matmul: tensor 'b \(3×5\)' has 12 elements, needs at least 15/);
    expect(() => cpuMatmul({ ...ok, c: new Float32Array(7) })).toThrow(/matmul: tensor 'c \(2×4\)' has 7 elements/);
    expect(() => cpuMatmul({ ...ok, bias: new Float32Array(3) })).toThrow(/matmul: tensor 'bias \(length n = 4\)'/);
    expect(() => cpuMatmul({ ...ok, act: 'relu', accumulate: true })).toThrow(/matmul: accumulate .* only defined with act = identity/);
    expect(() => cpuMatmul({ ...ok, m: 1.5 })).toThrow(/matmul: m must be a non-negative integer/);
    expect(() => cpuMatmul({ ...ok, alpha: NaN })).toThrow(/matmul: alpha must be a finite number/);
    expect(() => cpuMatmul({ ...ok, act: 'gelu' as Activation })).toThrow(/matmul: unknown activation 'gelu'/);
    expect(() => cpuMatmul({ ...ok, batch: 2, strideA: 0, strideB: 0, strideC: 4 })).toThrow(/matmul: strideC 4 makes the 2 output blocks/);
    expect(() => cpuMatmul({ ...ok, batch: 2, strideA: 0, strideB: 0 })).toThrow(/matmul: tensor 'c \(2×4, batch 2, stride 8\)' has 8 elements, needs at least 16/);
    expect(() => cpuMatmul({ ...ok, c: a })).toThrow(KernelError);
  });
  it('rejects the same inputs through the CPU backend tensors', () => {
    const ta = cpu.tensor(6), tb = cpu.tensor(12), tc = cpu.tensor(7);
    expect(() => cpu.matmul({ a: ta, b: tb, c: tc, m: 2, n: 4, k: 3 })).toThrow(/matmul: tensor 'c/);
  });
});

describe('matmul tiled kernel race check (wgsl_reflect)', () => {
  const source = readFileSync(new URL('../shaders/matmul.wgsl', import.meta.url), 'utf8');
  // the interpreter is slow (~45 s per run at 256 invocations): one configuration
  for (const [transA, transB] of [[true, false]]) {
    it(`has no workgroup-memory races (transA ${transA}, transB ${transB})`, () => {
      const code = source
        .replace('override TRANS_A: bool = false;', `override TRANS_A: bool = ${transA};`)
        .replace('override TRANS_B: bool = false;', `override TRANS_B: bool = ${transB};`);
      // one 64×64 tile, two k-slices (the second ragged)
      const m = 64, n = 64, k = 20;
      const paramsBytes = new ArrayBuffer(32);
      new Uint32Array(paramsBytes, 0, 6).set([m, n, k, m * k, k * n, m * n]);
      new Float32Array(paramsBytes, 24, 1)[0] = 1;
      const result = detectRaces(code, 'matmulTiled', [1, 1, 1], {
        0: {
          0: new Uint8Array(paramsBytes),
          1: randomArray(m * k, 1),
          2: randomArray(k * n, 2),
          3: new Float32Array(1),
          4: new Float32Array(m * n),
        },
      });
      expect(result.errors ?? []).toEqual([]);
      expect(result.races).toHaveLength(0);
    }, 120_000);
  }
});

for (const adapter of TEST_ADAPTERS) {
  describe(`matmul on ${adapter}`, () => {
    for (const [m, n, k] of SHAPES) {
      for (const [transA, transB] of TRANSPOSES) {
        const c: Case = { m, n, k, transA, transB };
        it(`vec4 and tiled match the CPU: ${name(c)}`, async () => {
          const gpu = await gpuBackend(adapter);
          await compare(gpu, c, 'vec4');
          await compare(gpu, c, 'tiled');
          // the aligned shapes also run the scalar-load path explicitly, and the texture kernel
          if (m % 4 === 0 && n % 4 === 0 && k % 4 === 0) {
            await compare(gpu, c, 'vec4', { aligned: false });
            await compare(gpu, c, 'texture');
            await compare(gpu, c, 'unrolled');
          }
        });
      }
    }

    for (const [m, n, k] of ALIGNED_RAGGED) {
      for (const [transA, transB] of TRANSPOSES) {
        const c: Case = { m, n, k, transA, transB };
        it(`texture matches the CPU on partial blocks: ${name(c)}`, async () => {
          const gpu = await gpuBackend(adapter);
          await compare(gpu, c, 'texture');
          // smaller blocks and workgroups than the defaults
          await compare(gpu, c, 'texture', { block: [4, 1], workgroup: [4, 2] });
          await compare(gpu, c, 'texture', { block: [8, 2] }, 7);
        });
        it(`unrolled matches the CPU on partial blocks, for every block shape: ${name(c)}`, async () => {
          const gpu = await gpuBackend(adapter);
          await compare(gpu, c, 'unrolled');
          for (const block of [[4, 1], [8, 2], [12, 3], [16, 4]] as [number, number][]) await compare(gpu, c, 'unrolled', { block, workgroup: [4, 2] }, 5);
        });
        it(`vec4 aligned kernel with 1 or 2 4×4 blocks per side matches the CPU: ${name(c)}`, async () => {
          const gpu = await gpuBackend(adapter);
          for (const vec4Blocks of [[1, 1], [2, 1], [1, 2], [2, 2]] as [number, number][]) await compare(gpu, c, 'vec4', { vec4Blocks }, 3);
        });
      }
    }

    for (const c of [...EPILOGUES, ...BATCHED].filter((c) => [c.m, c.n, c.k].every((v) => v % 4 === 0)).concat(
      ACTIVATIONS.map((act): Case => ({ m: 36, n: 44, k: 28, bias: true, act, alpha: 0.5 })),
      [{ m: 36, n: 44, k: 28, accumulate: true, transB: true, alpha: -2 }, { m: 20, n: 12, k: 8, batch: 3, strideB: 0, strideC: 20 * 12 + 4 }],
    )) {
      it(`texture and unrolled epilogue / batch: ${name(c)}`, async () => {
        const gpu = await gpuBackend(adapter);
        await compare(gpu, c, 'texture');
        if ((c.strideC ?? 0) % 4 === 0) await compare(gpu, c, 'unrolled');
      });
    }

    it('texture: operand textures are refilled between products recorded in one batch', async () => {
      const gpu = await gpuBackend(adapter);
      const m = 40, n = 36, k = 24;
      // same size class for every product: each refills the same pool textures
      const As = [1, 2, 3].map((s) => randomArray(m * k, 10 + s)), Bs = [1, 2, 3].map((s) => randomArray(k * n, 20 + s));
      const ta = As.map((A) => gpu.tensor(m * k, { data: A })), tb = Bs.map((B) => gpu.tensor(k * n, { data: B }));
      const tc = As.map(() => gpu.tensor(m * n));
      for (let i = 0; i < 3; i++) matmulVariant(gpu, { a: ta[i]!, b: tb[i]!, c: tc[i]!, m, n, k }, 'texture');
      // a fourth reads the first result as its A: recorded after its producer in the same batch
      const E = randomArray(n * 8, 30);
      const te = gpu.tensor(n * 8, { data: E }), td = gpu.tensor(m * 8);
      matmulVariant(gpu, { a: tc[0]!, b: te, c: td, m, n: 8, k: n }, 'texture');
      const wants = As.map((A, i) => {
        const want = new Float32Array(m * n);
        cpuMatmul({ a: A, b: Bs[i]!, c: want, m, n, k });
        return want;
      });
      for (let i = 0; i < 3; i++) expectClose(await gpu.read(tc[i]!), wants[i]!, atol(k), RTOL, `product ${i}`);
      const wantD = new Float32Array(m * 8);
      cpuMatmul({ a: wants[0]!, b: E, c: wantD, m, n: 8, k: n });
      expectClose(await gpu.read(td), wantD, 4 * atol(k * n), RTOL, 'product of a product');
      for (const t of [...ta, ...tb, ...tc, te, td]) gpu.release(t);
    });

    it('texture: operands as views at offsets, and matmul() falls back to vec4 on unaligned shapes', async () => {
      const gpu = await gpuBackend(adapter);
      const m = 48, n = 40, k = 28;
      const A = randomArray(m * k, 31), B = randomArray(k * n, 32);
      const want = new Float32Array(m * n);
      cpuMatmul({ a: A, b: B, c: want, m, n, k });
      const buf = gpu.tensor(64 * 60, { label: 'packed' });
      const ta = gpu.view(buf, 64 * 3, m * k), tb = gpu.view(buf, 64 * 25, k * n);
      gpu.upload(ta, A);
      gpu.upload(tb, B);
      const tc = gpu.tensor(m * n);
      matmulVariant(gpu, { a: ta, b: tb, c: tc, m, n, k }, 'texture');
      expectClose(await gpu.read(tc), want, atol(k), RTOL, 'texture on views');
      const saved = process.env.LATENTGPU_MATMUL;
      process.env.LATENTGPU_MATMUL = 'texture';
      try {
        const m2 = 37, n2 = 41, k2 = 29;
        const A2 = randomArray(m2 * k2, 33), B2 = randomArray(k2 * n2, 34);
        const want2 = new Float32Array(m2 * n2);
        cpuMatmul({ a: A2, b: B2, c: want2, m: m2, n: n2, k: k2 });
        const a2 = gpu.tensor(m2 * k2, { data: A2 }), b2 = gpu.tensor(k2 * n2, { data: B2 }), c2 = gpu.tensor(m2 * n2);
        gpu.matmul({ a: a2, b: b2, c: c2, m: m2, n: n2, k: k2 });
        expectClose(await gpu.read(c2), want2, atol(k2), RTOL, 'unaligned through matmul() with texture preferred');
        for (const t of [a2, b2, c2]) gpu.release(t);
      } finally {
        if (saved === undefined) delete process.env.LATENTGPU_MATMUL;
        else process.env.LATENTGPU_MATMUL = saved;
      }
      gpu.release(buf);
      gpu.release(tc);
    });

    for (const c of [...EPILOGUES, ...BATCHED]) {
      it(`epilogue / batch: ${name(c)}`, async () => {
        const gpu = await gpuBackend(adapter);
        await compare(gpu, c, 'vec4');
        await compare(gpu, c, 'tiled');
      });
    }

    it('works on views at offsets and through backend.matmul', async () => {
      const gpu = await gpuBackend(adapter);
      const m = 20, n = 24, k = 12;
      const A = randomArray(m * k, 5), B = randomArray(k * n, 6);
      const want = new Float32Array(m * n);
      cpuMatmul({ a: A, b: B, c: want, m, n, k });
      const buf = gpu.tensor(64 * 24, { label: 'packed' });
      // inputs are views into one buffer; C is its own (WebGPU forbids reading and writing one buffer in a dispatch)
      const ta = gpu.view(buf, 64 * 2, m * k), tb = gpu.view(buf, 64 * 8, k * n);
      const cbuf = gpu.tensor(64 + m * n, { label: 'c holder' });
      const tc = gpu.view(cbuf, 64, m * n);
      gpu.upload(ta, A);
      gpu.upload(tb, B);
      gpu.matmul({ a: ta, b: tb, c: tc, m, n, k });
      expectClose(await gpu.read(tc), want, atol(k), RTOL, 'views');
      gpu.release(buf);
      gpu.release(cbuf);
    });

    it('rejects bad input before dispatch, naming matmul', async () => {
      const gpu = await gpuBackend(adapter);
      const a = gpu.tensor(6), b = gpu.tensor(12), c = gpu.tensor(7);
      expect(() => gpu.matmul({ a, b, c, m: 2, n: 4, k: 3 })).toThrow(/matmul: tensor 'c \(2×4\)' has 7 elements, needs at least 8/);
      expect(() => gpu.matmul({ a, b, c, m: 2, n: 3, k: 4 })).toThrow(/matmul: tensor 'a \(2×4\)' has 6 elements/);
      expect(() => gpu.matmul({ a, b, c, m: 2, n: 3, k: 3, act: 'tanh', accumulate: true })).toThrow(/matmul: accumulate/);
      expect(() => matmulVariant(gpu, { a, b, c, m: 2, n: 3, k: 3 }, 'vec4', { aligned: true })).toThrow(/matmul: the aligned vec4 kernel needs/);
      expect(() => matmulVariant(gpu, { a, b, c, m: 2, n: 3, k: 3 }, 'texture')).toThrow(/matmul: the texture kernel needs m, n, k and strides that are multiples of 4/);
      const a4 = gpu.tensor(16), b4 = gpu.tensor(16), c4 = gpu.tensor(16);
      expect(() => matmulVariant(gpu, { a: a4, b: b4, c: c4, m: 4, n: 4, k: 4, transA: true }, 'texture', { block: [6, 1] }))
        .toThrow(/matmul: with transA the block rows must be a multiple of 4, got 6/);
      expect(() => matmulVariant(gpu, { a: a4, b: b4, c: c4, m: 4, n: 4, k: 4 }, 'texture', { block: [32, 1] })).toThrow(/matmul: block 32×1 vec4 is outside/);
      expect(() => matmulVariant(gpu, { a, b, c, m: 2, n: 3, k: 3 }, 'unrolled')).toThrow(/matmul: the unrolled kernel needs m, n, k and strides that are multiples of 4/);
      expect(() => matmulVariant(gpu, { a: a4, b: b4, c: c4, m: 4, n: 4, k: 4 }, 'unrolled', { block: [6, 1] })).toThrow(/matmul: unrolled block 6×1 vec4 needs rows in 4, 8, 12, 16/);
      expect(() => matmulVariant(gpu, { a: a4, b: b4, c: c4, m: 4, n: 4, k: 4 }, 'vec4', { vec4Blocks: [3, 1] })).toThrow(/matmul: vec4Blocks must be 1 or 2 per side, got 3×1/);
      for (const t of [a4, b4, c4]) gpu.release(t);
      for (const t of [a, b, c]) gpu.release(t);
    });

    it('chooses a variant by measurement, cached per adapter', async () => {
      const gpu = await gpuBackend(adapter);
      const saved: Record<string, string> = {};
      const details: Array<Record<string, number>> = [];
      const store = {
        load: (key: string) => saved[key] as MatmulVariant | undefined,
        save: (key: string, v: MatmulVariant, detail: Record<string, number>) => {
          saved[key] = v;
          details.push(detail);
        },
      };
      const first = await tuneMatmul(gpu, { store, force: true, size: 64 });
      expect(first.source).toBe('measured');
      // one choice per shape class: wide layers and narrow (latent-sized) ones
      expect(first.narrow?.source).toBe('measured');
      for (const tuned of [first, first.narrow!]) {
        // every variant timed, and the choice is the one measured fastest (not merely one that ran)
        const rates = MATMUL_VARIANTS.map((v) => tuned.gflops?.[v] ?? NaN);
        for (const r of rates) expect(r).toBeGreaterThan(0);
        const fastest = MATMUL_VARIANTS[rates.indexOf(Math.max(...rates))];
        expect(tuned.variant, JSON.stringify(tuned.gflops)).toBe(fastest);
      }
      // the store keeps the choice and the measurements it was made from
      expect(Object.values(saved)).toEqual([first.variant, first.narrow!.variant]);
      expect(details).toEqual([first.gflops, first.narrow!.gflops]);
      // keyed by the kernels' source too: a choice measured on other kernels is not reused
      for (const key of Object.keys(saved)) expect(key).toMatch(/\|wgsl:[0-9a-f]{8}$/);
      expect(matmulVariantFor(gpu)).toBe(first.variant);
      expect(matmulVariantFor(gpu, 'narrow')).toBe(first.narrow!.variant);
      expect(shapeClassOf({ m: 128, n: 20, k: 400 })).toBe('narrow');
      expect(shapeClassOf({ m: 128, n: 400, k: 784 })).toBe('wide');
      const again = await tuneMatmul(gpu, { store });
      expect(again.source).toBe('memory');
      expect(again.narrow?.source).toBe('memory');
    });
  });
}
