// Likelihood and KL kernels: GPU vs the CPU reference on ragged shapes for every
// log-variance mode (with accumulate), every backward against central finite
// differences of the forward (the CPU reference run in float64), Bernoulli at
// extreme logits, race freedom of the row trees, and shape errors.
import { describe, expect, it } from 'vitest';
import type { Tensor } from '../src/backend.ts';
import * as ref from '../src/cpu/likelihood.ts';
import type { LogvarMode } from '../src/kernels.ts';
import { TEST_ADAPTERS, cpu, expectClose, gpuBackend, randomArray } from './gpu.ts';
import { raceCheck } from './races.ts';

const SHAPES: [number, number][] = [[1, 1], [3, 5], [127, 129], [128, 784], [1000, 3], [5, 10000]];
const MODES: LogvarMode[] = ['element', 'column', 'scalar'];

function lvLength(mode: LogvarMode, rows: number, cols: number): number {
  return mode === 'element' ? rows * cols : mode === 'column' ? cols : 1;
}

// ---- float64 finite differences on the CPU reference ------------------------

/** The reference kernels index generically, so they run unchanged on Float64Arrays. */
const f64 = (a: Float64Array): Float32Array => a as unknown as Float32Array;

/**
 * Checks analytic gradients of L(θ) = Σ_i dOut[i]·out[i](θ) against central
 * differences, for every coordinate of each named input.
 */
function checkFiniteDifferences(
  inputs: Record<string, Float64Array>,
  dOut: Float64Array,
  forward: (inp: Record<string, Float64Array>) => Float64Array,
  grads: Record<string, Float64Array>,
  what: string,
): void {
  const loss = (): number => forward(inputs).reduce((s, v, i) => s + v * dOut[i]!, 0);
  const h = 1e-5;
  for (const [name, g] of Object.entries(grads)) {
    const v = inputs[name]!;
    for (let k = 0; k < v.length; k++) {
      const keep = v[k]!;
      v[k] = keep + h;
      const up = loss();
      v[k] = keep - h;
      const down = loss();
      v[k] = keep;
      const fd = (up - down) / (2 * h);
      if (!(Math.abs(fd - g[k]!) <= 1e-6 + 1e-6 * Math.abs(fd))) {
        throw new Error(`${what}: d/d${name}[${k}] analytic ${g[k]} vs central difference ${fd}`);
      }
    }
  }
}

function randomF64(n: number, seed: number, lo = -1, hi = 1): Float64Array {
  return Float64Array.from(randomArray(n, seed, lo, hi));
}

describe('likelihood CPU references: gradients against float64 central differences', () => {
  const shapes: [number, number][] = [[1, 1], [3, 5], [4, 7]];
  for (const mode of MODES) {
    it(`gaussianLogDensityBackward, logvar per ${mode}`, () => {
      for (const [rows, cols] of shapes) {
        const inputs = { x: randomF64(rows * cols, 1), mu: randomF64(rows * cols, 2), logvar: randomF64(lvLength(mode, rows, cols), 3) };
        const dOut = randomF64(rows, 4, 0.5, 2);
        const forward = (p: Record<string, Float64Array>): Float64Array => {
          const out = new Float64Array(rows);
          ref.gaussianLogDensity({ x: f64(p.x!), mu: f64(p.mu!), logvar: f64(p.logvar!), out: f64(out), rows, cols, logvarMode: mode });
          return out;
        };
        const dMu = new Float64Array(rows * cols);
        const dLogvar = new Float64Array(inputs.logvar.length);
        ref.gaussianLogDensityBackward({
          x: f64(inputs.x), mu: f64(inputs.mu), logvar: f64(inputs.logvar), dOut: f64(dOut),
          dMu: f64(dMu), dLogvar: f64(dLogvar), rows, cols, logvarMode: mode,
        });
        checkFiniteDifferences(inputs, dOut, forward, { mu: dMu, logvar: dLogvar }, `gaussian ${mode} ${rows}×${cols}`);
        // and the gradient in x is −dMu (the density depends on x − μ only)
      }
    });
  }

  it('bernoulliLogLikBackward', () => {
    for (const [rows, cols] of shapes) {
      const inputs = { x: randomF64(rows * cols, 5, 0, 1), logits: randomF64(rows * cols, 6, -6, 6) };
      const dOut = randomF64(rows, 7, 0.5, 2);
      const forward = (p: Record<string, Float64Array>): Float64Array => {
        const out = new Float64Array(rows);
        ref.bernoulliLogLik({ x: f64(p.x!), logits: f64(p.logits!), out: f64(out), rows, cols });
        return out;
      };
      const dLogits = new Float64Array(rows * cols);
      ref.bernoulliLogLikBackward({ x: f64(inputs.x), logits: f64(inputs.logits), dOut: f64(dOut), dLogits: f64(dLogits), rows, cols });
      checkFiniteDifferences(inputs, dOut, forward, { logits: dLogits }, `bernoulli ${rows}×${cols}`);
    }
  });

  it('klStdNormalBackward', () => {
    for (const [rows, cols] of shapes) {
      const inputs = { m: randomF64(rows * cols, 8), logvar: randomF64(rows * cols, 9, -2, 2) };
      const dOut = randomF64(rows, 10, 0.5, 2);
      const forward = (p: Record<string, Float64Array>): Float64Array => {
        const out = new Float64Array(rows);
        ref.klStdNormal({ m: f64(p.m!), logvar: f64(p.logvar!), out: f64(out), rows, cols });
        return out;
      };
      const dM = new Float64Array(rows * cols);
      const dLogvar = new Float64Array(rows * cols);
      ref.klStdNormalBackward({ m: f64(inputs.m), logvar: f64(inputs.logvar), dOut: f64(dOut), dM: f64(dM), dLogvar: f64(dLogvar), rows, cols });
      checkFiniteDifferences(inputs, dOut, forward, { m: dM, logvar: dLogvar }, `kl ${rows}×${cols}`);
    }
  });

  it('closed forms: N(0,1) log-density at 0 and KL of the prior with itself', () => {
    const out = new Float32Array(1);
    ref.gaussianLogDensity({ x: new Float32Array(1), mu: new Float32Array(1), logvar: new Float32Array(1), out, rows: 1, cols: 1, logvarMode: 'scalar' });
    expect(out[0]).toBeCloseTo(-0.5 * Math.log(2 * Math.PI), 6);
    ref.klStdNormal({ m: new Float32Array(3), logvar: new Float32Array(3), out, rows: 1, cols: 3 });
    expect(out[0]).toBe(0);
  });
});

describe('likelihood race freedom (wgsl_reflect detectRaces)', () => {
  it('the row trees of gaussian, bernoulli and kl have no workgroup-memory races', () => {
    const rows = 4;
    const cols = 10;
    const a = randomArray(rows * cols, 1);
    const b = randomArray(rows * cols, 2);
    const c = randomArray(rows * cols, 3);
    const dims = new Uint32Array([rows, cols, 0]);
    const runs = [
      ['gaussian', 'gaussianLogDensity', { 0: dims, 1: a, 2: b, 3: c, 4: new Float32Array(rows) }, (o: Float32Array) => {
        const want = new Float32Array(rows);
        ref.gaussianLogDensity({ x: a, mu: b, logvar: c, out: want, rows, cols, logvarMode: 'element' });
        return [o, want];
      }],
      // values not compared: wgsl_reflect 1.6's interpreter gives every invocation the
      // last invocation's result of the softplus helper (its `let`s look shared), a bug
      // of the interpreter, not of the shader (the GPU tests below check the values)
      ['bernoulli', 'bernoulliLogLik', { 0: dims.subarray(0, 2), 1: a, 2: b, 3: new Float32Array(rows) }, null],
      ['bernoulli', 'bernoulliLogLik4', { 0: new Uint32Array([rows, 12]), 12: randomArray(rows * 12, 4), 13: randomArray(rows * 12, 5), 3: new Float32Array(rows) }, null],
      ['kl', 'klStdNormal', { 0: dims.subarray(0, 2), 1: a, 2: b, 3: new Float32Array(rows) }, (o: Float32Array) => {
        const want = new Float32Array(rows);
        ref.klStdNormal({ m: a, logvar: b, out: want, rows, cols });
        return [o, want];
      }],
    ] as const;
    for (const [family, entry, bindings, check] of runs) {
      // WG 16, TPR 4: four rows per workgroup, each row a 2-level tree
      const r = raceCheck(family, entry, { WG: 16, TPR: 4 }, bindings as Record<number, ArrayBufferView>);
      expect(r, `${family}.${entry}`).toEqual({ races: 0, errors: [] });
      if (check) {
        const [got, want] = check(Object.values(bindings).at(-1) as Float32Array);
        expectClose(got, want, 1e-4, 1e-5, `${family}.${entry} interpreted`);
      }
    }
  });
});

// ---- GPU vs CPU ---------------------------------------------------------------

/** Runs a kernel on both backends with the same inputs; returns both values of each output. */
async function both(
  gpu: Awaited<ReturnType<typeof gpuBackend>>,
  inputs: Record<string, Float32Array>,
  outputs: Record<string, Float32Array>,
  run: (b: typeof gpu | typeof cpu, t: Record<string, Tensor>) => void,
): Promise<Record<string, [Float32Array, Float32Array]>> {
  const res: Record<string, [Float32Array, Float32Array]> = {};
  const tg: Record<string, Tensor> = {};
  const tc: Record<string, Tensor> = {};
  for (const [k, v] of Object.entries({ ...inputs, ...outputs })) {
    tg[k] = gpu.tensor(v.length, { data: v, label: k });
    tc[k] = cpu.tensor(v.length, { data: v, label: k });
  }
  run(gpu, tg);
  run(cpu, tc);
  for (const k of Object.keys(outputs)) res[k] = [await gpu.read(tg[k]!), await cpu.read(tc[k]!)];
  for (const t of Object.values(tg)) gpu.release(t);
  return res;
}

for (const adapter of TEST_ADAPTERS) {
  describe(`likelihood kernels on ${adapter}`, () => {
    it('gaussianLogDensity matches the CPU for every logvar mode on ragged shapes', async () => {
      const gpu = await gpuBackend(adapter);
      let seed = 100;
      for (const [rows, cols] of SHAPES) {
        for (const mode of MODES) {
          const r = await both(gpu, {
            x: randomArray(rows * cols, seed++, -2, 2),
            mu: randomArray(rows * cols, seed++),
            logvar: randomArray(lvLength(mode, rows, cols), seed++),
          }, { out: new Float32Array(rows) }, (b, t) => b.gaussianLogDensity({
            x: t.x!, mu: t.mu!, logvar: t.logvar!, out: t.out!, rows, cols, logvarMode: mode,
          }));
          // each row sums `cols` terms of size ~1–10
          expectClose(r.out![0], r.out![1], 1e-5 * cols, 1e-5, `gaussianLogDensity ${mode} ${rows}×${cols}`);
        }
      }
    });

    it('gaussianLogDensityBackward matches the CPU for every logvar mode, with accumulate', async () => {
      const gpu = await gpuBackend(adapter);
      let seed = 200;
      const shapes: [number, number][] = [...SHAPES, [8000, 3], [70_000, 2]];
      for (const [rows, cols] of shapes) {
        for (const mode of MODES) {
          for (const accumulate of [false, true]) {
            const nlv = lvLength(mode, rows, cols);
            const r = await both(gpu, {
              x: randomArray(rows * cols, seed++, -2, 2),
              mu: randomArray(rows * cols, seed++),
              logvar: randomArray(nlv, seed++),
              dOut: randomArray(rows, seed++, 0, 1),
            }, {
              dMu: accumulate ? randomArray(rows * cols, seed++) : new Float32Array(rows * cols),
              dLogvar: accumulate ? randomArray(nlv, seed++) : new Float32Array(nlv),
            }, (b, t) => b.gaussianLogDensityBackward({
              x: t.x!, mu: t.mu!, logvar: t.logvar!, dOut: t.dOut!, dMu: t.dMu!, dLogvar: t.dLogvar!,
              rows, cols, logvarMode: mode, accumulate,
            }));
            const what = `gaussianLogDensityBackward ${mode} ${rows}×${cols}${accumulate ? ' accumulate' : ''}`;
            expectClose(r.dMu![0], r.dMu![1], 1e-6, 1e-5, `${what} dMu`);
            // shared log-variance gradients sum up to rows·cols terms of size ≤ ~10
            const summed = mode === 'element' ? 1 : mode === 'column' ? rows : rows * cols;
            expectClose(r.dLogvar![0], r.dLogvar![1], 1e-6 * summed + 1e-6, 1e-5, `${what} dLogvar`);
          }
        }
      }
    });

    it('bernoulliLogLik and its backward match the CPU on ragged shapes, with accumulate', async () => {
      const gpu = await gpuBackend(adapter);
      let seed = 300;
      for (const [rows, cols] of SHAPES) {
        const x = randomArray(rows * cols, seed++, 0, 1).map((v) => (v < 0.5 ? 0 : v < 0.8 ? 1 : v));
        const logits = randomArray(rows * cols, seed++, -8, 8);
        const f = await both(gpu, { x, logits }, { out: new Float32Array(rows) },
          (b, t) => b.bernoulliLogLik({ x: t.x!, logits: t.logits!, out: t.out!, rows, cols }));
        expectClose(f.out![0], f.out![1], 2e-6 * cols, 1e-5, `bernoulliLogLik ${rows}×${cols}`);
        for (const accumulate of [false, true]) {
          const g = await both(gpu, { x, logits, dOut: randomArray(rows, seed++) },
            { dLogits: accumulate ? randomArray(rows * cols, seed++) : new Float32Array(rows * cols) },
            (b, t) => b.bernoulliLogLikBackward({ x: t.x!, logits: t.logits!, dOut: t.dOut!, dLogits: t.dLogits!, rows, cols, accumulate }));
          expectClose(g.dLogits![0], g.dLogits![1], 1e-6, 1e-5, `bernoulliLogLikBackward ${rows}×${cols}`);
        }
      }
    });

    it('Bernoulli stays finite and exact at extreme logits', async () => {
      const gpu = await gpuBackend(adapter);
      const logits = new Float32Array([100, 100, -100, -100, 1e4, -1e4, 88.8, -88.8]);
      const x = new Float32Array([1, 0, 1, 0, 0, 1, 1, 0]);
      // log p per element and d/dl = x − sigmoid(l)
      const wantLogp = [0, -100, -100, 0, -1e4, -1e4, 0, 0];
      const wantGrad = [0, -1, 1, 0, -1, 1, 0, 0];
      const n = logits.length;
      const f = await both(gpu, { x, logits }, { out: new Float32Array(n) },
        (b, t) => b.bernoulliLogLik({ x: t.x!, logits: t.logits!, out: t.out!, rows: n, cols: 1 }));
      const g = await both(gpu, { x, logits, dOut: new Float32Array(n).fill(1) }, { dLogits: new Float32Array(n) },
        (b, t) => b.bernoulliLogLikBackward({ x: t.x!, logits: t.logits!, dOut: t.dOut!, dLogits: t.dLogits!, rows: n, cols: 1 }));
      for (const [got, want, what] of [[f.out!, wantLogp, 'log p'], [g.dLogits!, wantGrad, 'gradient']] as const) {
        for (const side of got) {
          expect(side.every(Number.isFinite), `${what} finite`).toBe(true);
          expectClose(side, want, 1e-6, 1e-7, `Bernoulli ${what} at extreme logits`);
        }
      }
    });

    it('klStdNormal and its backward match the CPU on ragged shapes, with accumulate', async () => {
      const gpu = await gpuBackend(adapter);
      let seed = 400;
      for (const [rows, cols] of SHAPES) {
        const m = randomArray(rows * cols, seed++, -2, 2);
        const logvar = randomArray(rows * cols, seed++, -3, 2);
        const f = await both(gpu, { m, logvar }, { out: new Float32Array(rows) },
          (b, t) => b.klStdNormal({ m: t.m!, logvar: t.logvar!, out: t.out!, rows, cols }));
        expectClose(f.out![0], f.out![1], 2e-6 * cols, 1e-5, `klStdNormal ${rows}×${cols}`);
        for (const accumulate of [false, true]) {
          const g = await both(gpu, { m, logvar, dOut: randomArray(rows, seed++) }, {
            dM: accumulate ? randomArray(rows * cols, seed++) : new Float32Array(rows * cols),
            dLogvar: accumulate ? randomArray(rows * cols, seed++) : new Float32Array(rows * cols),
          }, (b, t) => b.klStdNormalBackward({ m: t.m!, logvar: t.logvar!, dOut: t.dOut!, dM: t.dM!, dLogvar: t.dLogvar!, rows, cols, accumulate }));
          expectClose(g.dM![0], g.dM![1], 1e-6, 1e-5, `klStdNormalBackward dM ${rows}×${cols}`);
          expectClose(g.dLogvar![0], g.dLogvar![1], 1e-6, 1e-5, `klStdNormalBackward dLogvar ${rows}×${cols}`);
        }
      }
    });

    it('the shared log-variance gradient is bit-identical on repeat and does not grow memory', async () => {
      const gpu = await gpuBackend(adapter);
      const rows = 40_000;
      const cols = 3;
      const t = {
        x: gpu.tensor(rows * cols, { data: randomArray(rows * cols, 1) }),
        mu: gpu.tensor(rows * cols),
        logvar: gpu.tensor(cols),
        dOut: gpu.tensor(rows, { data: randomArray(rows, 2) }),
        dMu: gpu.tensor(rows * cols),
      };
      const runs: Uint32Array[] = [];
      let before = 0;
      for (let k = 0; k < 8; k++) {
        const dLogvar = gpu.tensor(cols);
        for (const mode of ['column', 'scalar'] as const) {
          gpu.gaussianLogDensityBackward({ ...t, dLogvar, rows, cols, logvarMode: mode, accumulate: mode === 'scalar' });
        }
        runs.push(await gpu.readU32(dLogvar));
        gpu.release(dLogvar);
        if (k === 1) before = gpu.memoryStats().buffers;
      }
      expect(runs.every((r) => r.every((v, i) => v === runs[0]![i]))).toBe(true);
      expect(gpu.memoryStats().buffers).toBe(before);
      for (const v of Object.values(t)) gpu.release(v);
    });

    it('names the kernel and the problem for bad shapes and modes', async () => {
      const gpu = await gpuBackend(adapter);
      for (const b of [gpu, cpu] as const) {
        const t6 = b.tensor(6);
        const t2 = b.tensor(2);
        expect(() => b.gaussianLogDensity({ x: t6, mu: t6, logvar: t2, out: t2, rows: 2, cols: 3, logvarMode: 'column' }))
          .toThrow(/gaussianLogDensity: tensor 'logvar' has 2 elements, needs at least 3/);
        expect(() => b.gaussianLogDensity({ x: t6, mu: t6, logvar: t6, out: t2, rows: 2, cols: 3, logvarMode: 'row' as LogvarMode }))
          .toThrow(/gaussianLogDensity: logvarMode must be one of element, column, scalar, got 'row'/);
        expect(() => b.gaussianLogDensityBackward({ x: t6, mu: t6, logvar: t6, dOut: t2, dMu: t2, dLogvar: t6, rows: 2, cols: 3, logvarMode: 'element' }))
          .toThrow(/gaussianLogDensityBackward: tensor 'dMu'/);
        expect(() => b.bernoulliLogLik({ x: t6, logits: t2, out: t2, rows: 2, cols: 3 })).toThrow(/bernoulliLogLik: tensor 'logits'/);
        expect(() => b.bernoulliLogLikBackward({ x: t6, logits: t6, dOut: t6, dLogits: t6, rows: 2, cols: -3 }))
          .toThrow(/bernoulliLogLikBackward: cols must be a non-negative integer/);
        expect(() => b.klStdNormal({ m: t6, logvar: t6, out: t6, rows: 7, cols: 1 })).toThrow(/klStdNormal: tensor 'm'/);
        expect(() => b.klStdNormalBackward({ m: t6, logvar: t6, dOut: t2, dM: t6, dLogvar: t2, rows: 2, cols: 3 }))
          .toThrow(/klStdNormalBackward: tensor 'dLogvar'/);
        b.release(t6);
        b.release(t2);
      }
    });
  });
}
