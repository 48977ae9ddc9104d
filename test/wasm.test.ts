// The WebAssembly SIMD backend against the TypeScript references (src/cpu), on
// one thread, two threads (thresholds 0: every matmul, Adam and Bernoulli call is
// split, so the thread partition meets the ragged edges too), the unshared single-thread build and
// the plain-SIMD build (the others use relaxed-SIMD FMA where Node has it).
// Tolerances: the WASM kernels sum in f32 lanes (the references in float64),
// so matmul gets atol 5e-7·k, the row sums of the likelihood kernels rtol 1e-5,
// and elementwise kernels a few f32 ulp (exp/log are within ~2 ulp).
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KernelError, type Backend, type Tensor } from '../src/backend.ts';
import { CpuBackend } from '../src/cpu/backend.ts';
import type * as K from '../src/kernels.ts';
import type { WasmBackend } from '../src/wasm/backend.ts';
import { createWasmBackend } from '../src/wasm/node.ts';
import { startThreadPool } from '../src/wasm/pool.ts';
import { Vae, type VaeConfig } from '../src/models/vae.ts';
import { train } from '../src/train/trainer.ts';
import { expectClose, randomArray, rng } from './gpu.ts';

const cpu = new CpuBackend();

type Inputs = Record<string, Float32Array | Uint32Array>;

/** Runs kernel `name` on both backends with the same inputs; returns [wasm, reference] outputs. */
async function both(
  wasm: Backend, name: keyof K.KernelSet<Tensor>, inputs: Inputs, outputs: string[], params: object,
): Promise<[Record<string, Float32Array>, Record<string, Float32Array>]> {
  const results: Record<string, Float32Array>[] = [];
  for (const be of [wasm, cpu]) {
    const ts: Record<string, Tensor> = {};
    for (const [k, v] of Object.entries(inputs)) {
      ts[k] = be.tensor(v.length, { data: v, label: k, dtype: v instanceof Uint32Array ? 'u32' : 'f32' });
    }
    (be[name] as (p: object) => void)({ ...ts, ...params });
    const out: Record<string, Float32Array> = {};
    for (const o of outputs) out[o] = await be.read(ts[o]!);
    for (const t of Object.values(ts)) be.release(t);
    results.push(out);
  }
  return [results[0]!, results[1]!];
}

async function expectSame(
  wasm: Backend, name: keyof K.KernelSet<Tensor>, inputs: Inputs, outputs: string[], params: object,
  atol: number, rtol: number,
): Promise<void> {
  const [got, want] = await both(wasm, name, inputs, outputs, params);
  for (const o of outputs) expectClose(got[o]!, want[o]!, atol, rtol, `${name}.${o} ${JSON.stringify(params)}`);
}

interface MatmulCase {
  m: number; n: number; k: number;
  transA?: boolean; transB?: boolean; batch?: number; strideA?: number; strideB?: number; strideC?: number;
  bias?: boolean; act?: K.Activation; alpha?: number; accumulate?: boolean;
}

const MATMUL_CASES: MatmulCase[] = [
  { m: 1, n: 1, k: 1 },
  { m: 3, n: 5, k: 7 },
  { m: 3, n: 5, k: 7, transA: true, transB: true, bias: true, act: 'sigmoid' },
  { m: 127, n: 129, k: 65 },
  { m: 127, n: 129, k: 65, transA: true },
  { m: 127, n: 129, k: 65, transB: true, bias: true, act: 'relu', alpha: -0.5 },
  { m: 128, n: 784, k: 400, bias: true, act: 'tanh' },
  { m: 128, n: 784, k: 400, transA: true, transB: true, accumulate: true, alpha: 0.25 },
  { m: 400, n: 784, k: 128, transA: true },
  { m: 9, n: 1100, k: 300, transB: true, bias: true, act: 'sigmoid' },
  { m: 1030, n: 3, k: 530, accumulate: true },
  { m: 5, n: 7, k: 0, bias: true, act: 'tanh' },
  { m: 13, n: 17, k: 19, batch: 5 },
  { m: 13, n: 17, k: 19, batch: 3, strideB: 0, transA: true, bias: true, act: 'relu' },
  { m: 6, n: 10, k: 4, batch: 4, strideA: 30, strideC: 70, accumulate: true, transB: true },
];

async function checkMatmul(wasm: Backend, c: MatmulCase, seed: number): Promise<void> {
  const batch = c.batch ?? 1;
  const sA = c.strideA ?? c.m * c.k, sB = c.strideB ?? c.k * c.n, sC = c.strideC ?? c.m * c.n;
  const lenA = Math.max(1, (batch - 1) * sA + c.m * c.k);
  const lenB = Math.max(1, (batch - 1) * sB + c.k * c.n);
  const lenC = (batch - 1) * sC + c.m * c.n;
  const inputs: Inputs = { a: randomArray(lenA, seed), b: randomArray(lenB, seed + 1), c: randomArray(lenC, seed + 2) };
  if (c.bias) inputs.bias = randomArray(c.n, seed + 3);
  const { bias: _, ...shape } = c;
  await expectSame(wasm, 'matmul', inputs, ['c'], shape, 1e-6 + 5e-7 * c.k, 1e-5);
}

function suite(label: string, make: () => Promise<WasmBackend>, expectThreads: number): void {
  describe(label, () => {
    let wasm: WasmBackend;
    beforeAll(async () => {
      wasm = await make();
    });
    afterAll(() => wasm.destroy());

    it('runs with the expected number of threads', () => {
      expect(wasm.threads).toBe(expectThreads);
      expect(wasm.info.backend).toBe('cpu');
    });

    it('matmul matches the reference: ragged shapes, transposes, batch/strides, bias, activations, alpha, accumulate', async () => {
      let seed = 100;
      for (const c of MATMUL_CASES) await checkMatmul(wasm, c, (seed += 10));
    });

    it('matmul crosses the KC/NC cache blocks (k = 600, 785, n = 1100)', async () => {
      await checkMatmul(wasm, { m: 37, n: 1100, k: 600, bias: true, act: 'tanh' }, 7);
      await checkMatmul(wasm, { m: 37, n: 1100, k: 600, transA: true, transB: true, accumulate: true }, 8);
      // k = 785: four K slices of 197, 197, 197, 194 (none a multiple of the 4×4 transposed-B blocks)
      await checkMatmul(wasm, { m: 22, n: 31, k: 785, transB: true, bias: true, act: 'sigmoid' }, 9);
      await checkMatmul(wasm, { m: 22, n: 31, k: 785, transA: true, accumulate: true, alpha: 0.5 }, 10);
    });

    it('matmul 128×784×400 with every activation', async () => {
      for (const act of ['identity', 'relu', 'tanh', 'sigmoid'] as const) {
        await checkMatmul(wasm, { m: 128, n: 400, k: 784, bias: true, act }, 3);
      }
    });

    it('gaussianLogDensity (+backward) in every logvar mode, ragged cols', async () => {
      for (const [rows, cols] of [[1, 1], [3, 7], [33, 130]] as const) {
        for (const mode of ['element', 'column', 'scalar'] as const) {
          const nlv = mode === 'element' ? rows * cols : mode === 'column' ? cols : 1;
          const inputs = {
            x: randomArray(rows * cols, 1), mu: randomArray(rows * cols, 2), logvar: randomArray(nlv, 3, -2, 2),
          };
          await expectSame(wasm, 'gaussianLogDensity', { ...inputs, out: new Float32Array(rows) }, ['out'],
            { rows, cols, logvarMode: mode }, 1e-4, 1e-5);
          for (const accumulate of [false, true]) {
            await expectSame(wasm, 'gaussianLogDensityBackward', {
              ...inputs, dOut: randomArray(rows, 4), dMu: randomArray(rows * cols, 5), dLogvar: randomArray(nlv, 6),
            }, ['dMu', 'dLogvar'], { rows, cols, logvarMode: mode, accumulate }, 1e-5, 1e-5);
          }
        }
      }
    });

    it('bernoulliLogLik (+backward) on extreme logits', async () => {
      for (const [rows, cols] of [[1, 1], [5, 13], [64, 784]] as const) {
        const r = rng(rows);
        const x = Float32Array.from({ length: rows * cols }, () => (r() < 0.5 ? 0 : r()));
        const logits = randomArray(rows * cols, 9, -30, 30);
        logits[0] = 80; if (logits.length > 1) logits[1] = -80;
        await expectSame(wasm, 'bernoulliLogLik', { x, logits, out: new Float32Array(rows) }, ['out'], { rows, cols }, 1e-4, 1e-5);
        for (const accumulate of [false, true]) {
          await expectSame(wasm, 'bernoulliLogLikBackward', { x, logits, dOut: randomArray(rows, 3), dLogits: randomArray(rows * cols, 4) },
            ['dLogits'], { rows, cols, accumulate }, 1e-6, 1e-5);
        }
      }
    });

    it('klStdNormal (+backward)', async () => {
      for (const [rows, cols] of [[1, 1], [7, 3], [128, 20]] as const) {
        const inputs = { m: randomArray(rows * cols, 1, -2, 2), logvar: randomArray(rows * cols, 2, -4, 3) };
        await expectSame(wasm, 'klStdNormal', { ...inputs, out: new Float32Array(rows) }, ['out'], { rows, cols }, 1e-5, 1e-5);
        for (const accumulate of [false, true]) {
          await expectSame(wasm, 'klStdNormalBackward', {
            ...inputs, dOut: randomArray(rows, 3), dM: randomArray(rows * cols, 4), dLogvar: randomArray(rows * cols, 5),
          }, ['dM', 'dLogvar'], { rows, cols, accumulate }, 1e-6, 1e-5);
        }
      }
    });

    it('activation (+backward), axpy, scale, sgd, adam on ragged lengths', async () => {
      for (const n of [1, 3, 4, 5, 1031]) {
        const x = randomArray(n, n, -12, 12);
        if (n > 3) { x[0] = NaN; x[1] = -0; x[2] = 100; }
        for (const act of ['identity', 'relu', 'tanh', 'sigmoid'] as const) {
          await expectSame(wasm, 'activation', { x, y: new Float32Array(n) }, ['y'], { n, act }, 1e-7, 4e-7);
          const y = new Float32Array(n);
          const yy = await both(wasm, 'activation', { x: randomArray(n, 1, -3, 3), y }, ['y'], { n, act });
          for (const accumulate of [false, true]) {
            await expectSame(wasm, 'activationBackward', { y: yy[1].y!, dy: randomArray(n, 2), dx: randomArray(n, 3) }, ['dx'],
              { n, act, accumulate }, 1e-7, 1e-6);
          }
        }
        await expectSame(wasm, 'axpy', { x: randomArray(n, 4), y: randomArray(n, 5) }, ['y'], { n, alpha: -0.3 }, 1e-7, 1e-6);
        await expectSame(wasm, 'scale', { x: randomArray(n, 6) }, ['x'], { n, alpha: 1.7 }, 1e-7, 1e-6);
        await expectSame(wasm, 'sgd', { param: randomArray(n, 7), grad: randomArray(n, 8) }, ['param'], { n, lr: 0.01 }, 1e-7, 1e-6);
        await expectSame(wasm, 'adam', {
          param: randomArray(n, 9), grad: randomArray(n, 10), m: randomArray(n, 11, -0.1, 0.1), v: randomArray(n, 12, 0, 0.1),
        }, ['param', 'm', 'v'], { n, lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, step: 7, weightDecay: 0.01 }, 1e-6, 1e-5);
      }
    });

    it('reductions: sumRows, sumCols, sumAll (accumulate), countNonFinite', async () => {
      for (const [rows, cols] of [[1, 1], [3, 5], [2500, 3], [7, 3001]] as const) {
        const x = randomArray(rows * cols, rows + cols, -1, 3);
        for (const accumulate of [false, true]) {
          await expectSame(wasm, 'sumRows', { x, out: randomArray(rows, 1) }, ['out'], { rows, cols, accumulate }, 1e-5, 1e-6);
          await expectSame(wasm, 'sumCols', { x, out: randomArray(cols, 2) }, ['out'], { rows, cols, accumulate }, 1e-5, 1e-6);
          await expectSame(wasm, 'sumAll', { x, out: randomArray(1, 3) }, ['out'], { n: rows * cols, accumulate }, 1e-4, 1e-6);
        }
      }
      const x = randomArray(1003, 5);
      x[0] = NaN; x[500] = Infinity; x[1002] = -Infinity; x[7] = 3e38;
      const [got] = await both(wasm, 'countNonFinite', { x, out: new Float32Array(1) }, ['out'], { n: 1003 });
      expect(got.out![0]).toBe(3);
    });

    it('random kernels, fill, copy, gather/scatter give exactly the reference numbers', async () => {
      const key = { seed: 5, stream: 2, counter: 9 };
      const eq = async (name: keyof K.KernelSet<Tensor>, inputs: Inputs, outs: string[], params: object) => {
        const [got, want] = await both(wasm, name, inputs, outs, params);
        for (const o of outs) expect(Array.from(got[o]!)).toEqual(Array.from(want[o]!));
      };
      await eq('uniform', { out: new Float32Array(77) }, ['out'], { n: 77, key });
      await eq('normal', { out: new Float32Array(77) }, ['out'], { n: 77, key });
      await eq('reparamDiag', { m: randomArray(21, 1), logvar: randomArray(21, 2), eps: new Float32Array(21), z: new Float32Array(21) },
        ['eps', 'z'], { rows: 3, cols: 7, key });
      await eq('fill', { x: new Float32Array(9) }, ['x'], { n: 7, value: 2.5 });
      await eq('copy', { src: randomArray(9, 3), dst: new Float32Array(9) }, ['dst'], { n: 9 });
      await eq('gatherRows', { src: randomArray(12, 4), idx: Uint32Array.of(3, 0, 2), dst: new Float32Array(9) }, ['dst'], { rows: 3, cols: 3 });
      await eq('scatterRows', { src: randomArray(6, 5), idx: Uint32Array.of(3, 1), dst: randomArray(12, 6) }, ['dst'],
        { rows: 2, cols: 3, accumulate: true });
    });

    it('rejects bad input with errors naming the kernel', () => {
      const a = wasm.tensor(6), b = wasm.tensor(6), c = wasm.tensor(4);
      expect(() => wasm.matmul({ a, b, c, m: 2, n: 2, k: 4 })).toThrow(/matmul: tensor 'a/);
      expect(() => wasm.matmul({ a, b, c, m: 2, n: 2, k: 3, act: 'relu', accumulate: true })).toThrow(KernelError);
      expect(() => wasm.matmul({ a: cpu.tensor(6), b, c, m: 2, n: 2, k: 3 })).toThrow(/matmul: 'a' .* is not a WebAssembly-backend tensor/);
      expect(() => wasm.klStdNormal({ m: a, logvar: b, out: c, rows: 3, cols: 3 })).toThrow(/klStdNormal/);
      wasm.release(a);
      expect(() => wasm.axpy({ x: a, y: b, n: 6, alpha: 1 })).toThrow(/axpy: .*was released/);
      expect(() => wasm.release(a)).toThrow(/already released/);
      wasm.release(b); wasm.release(c);
    });

    it('a training-loop-sized sequence of calls does not grow the memory', async () => {
      const step = () => {
        const x = wasm.tensor(128 * 784, { data: randomArray(128 * 784, 1, 0, 1) });
        const w = wasm.tensor(784 * 400, { data: randomArray(784 * 400, 2) });
        const h = wasm.tensor(128 * 400);
        const out = wasm.tensor(128);
        const dh = wasm.tensor(128 * 400);
        wasm.matmul({ a: x, b: w, c: h, m: 128, n: 400, k: 784, act: 'tanh' });
        wasm.sumRows({ x: h, out, rows: 128, cols: 400 });
        wasm.activationBackward({ y: h, dy: h, dx: dh, n: 128 * 400, act: 'tanh' });
        wasm.matmul({ a: x, b: dh, c: w, m: 784, n: 400, k: 128, transA: true });
        wasm.sumCols({ x: dh, out: h, rows: 128, cols: 400 });
        for (const t of [x, w, h, out, dh]) wasm.release(t);
      };
      step();
      const bytes = wasm.memoryBytes;
      const inUse = wasm.bytesInUse;
      for (let i = 0; i < 30; i++) step();
      expect(wasm.memoryBytes).toBe(bytes);
      expect(wasm.bytesInUse).toBe(inUse);
    });

    it('a VAE trains to the same objectives and parameters as on the reference backend', async () => {
      const n = 101, D = 50;
      const X = randomArray(n * D, 5, 0, 1);
      for (const likelihood of ['bernoulli', 'gaussian'] as const) {
        const cfg: VaeConfig = {
          dataDim: D, latent: 5, encoderHidden: [33], decoderHidden: [29], act: 'relu',
          likelihood, variance: 'vector', varFloor: 1e-3, varCeil: 4, objective: 'elbo', seed: 9,
        };
        const run = async (be: Backend) => {
          const vae = new Vae(be, cfg, X, n);
          const r = await train(vae, { epochs: 10, batch: 37, lr: 3e-3, seed: 3, checkEvery: 1, maxSteps: 8 });
          const params = await be.read(vae.params);
          vae.release();
          return { objectives: r.history.map((h) => h.objective), params };
        };
        const want = await run(cpu);
        const got = await run(wasm);
        expect(got.objectives.length).toBe(8);
        expectClose(got.objectives, want.objectives, 1e-3, 1e-4, `VAE (${likelihood}) objective per step`);
        expectClose(got.params, want.params, 1e-4, 1e-3, `VAE (${likelihood}) parameters after 8 steps`);
        expect(Math.abs(want.objectives[7]! - want.objectives[0]!)).toBeGreaterThan(1e-3);
      }
    });

    it('tensors keep their values when the memory grows', async () => {
      const data = randomArray(1000, 42);
      const t = wasm.tensor(1000, { data });
      const before = wasm.memoryBytes;
      const big = wasm.tensor(before / 4 + 1000); // more than the whole memory: forces grow
      expect(wasm.memoryBytes).toBeGreaterThan(before);
      expect(Array.from(await wasm.read(t))).toEqual(Array.from(data));
      const y = wasm.tensor(1000);
      wasm.copy({ src: t, dst: y, n: 1000 });
      wasm.scale({ x: y, n: 1000, alpha: 2 });
      expect((await wasm.read(y))[10]).toBe(Math.fround(2 * data[10]!));
      for (const u of [t, big, y]) wasm.release(u);
    });
  });
}

suite('WebAssembly backend, 1 thread', () => createWasmBackend({ threads: 1 }), 1);
suite('WebAssembly backend, 2 threads', () => createWasmBackend({ threads: 2, threadThreshold: 0, elementThreshold: 0 }), 2);
suite('WebAssembly backend, unshared memory (no SharedArrayBuffer)', () => createWasmBackend({ shared: false }), 1);
// the plain-SIMD build (4×8 tile, no FMA): what engines without relaxed SIMD run
suite('WebAssembly backend, plain SIMD build, 2 threads', () => createWasmBackend({ threads: 2, threadThreshold: 0, elementThreshold: 0, fma: false }), 2);

describe('WebAssembly build', () => {
  it('is reproducible: rebuilding assembly/ gives the committed bytes', () => {
    const out = mkdtempSync(join(tmpdir(), 'latentgpu-wasm-'));
    try {
      execFileSync(process.execPath, ['assembly/build.mjs', out], { stdio: 'pipe' });
      const built = readdirSync(out).filter((f) => f.endsWith('.wasm')).sort();
      expect(built).toEqual(['kernels-mt-fma.wasm', 'kernels-mt.wasm', 'kernels-st-fma.wasm', 'kernels-st.wasm']);
      for (const f of built) {
        expect(Buffer.compare(readFileSync(join(out, f)), readFileSync(join('src/wasm', f))), `${f} differs from a fresh build`).toBe(0);
      }
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  }, 300_000);
});

describe('WebAssembly thread pool', () => {
  it('a worker that never answers is an error naming the kernel, not a hang', async () => {
    const memory = new WebAssembly.Memory({ initial: 1, maximum: 1, shared: true });
    const module = new WebAssembly.Module(new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0]));
    // a "started" thread that serves nothing: what a dead worker looks like to the caller
    const pool = await startThreadPool(module, memory, 2, async () => ({ terminate() {} }), { jobTimeoutMs: 300 });
    let ownRan = false;
    const t0 = Date.now();
    expect(() => pool.run(0, 2, () => { ownRan = true; }, 'adam')).toThrow(/adam: 1 worker thread\(s\) did not finish a job within 0\.3 s/);
    expect(ownRan).toBe(true);
    expect(Date.now() - t0).toBeLessThan(5000);
    pool.destroy();
  });
});
