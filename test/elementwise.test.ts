// Elementwise kernels: CPU reference properties, finite-difference checks of the
// activation backward, and WebGPU vs CPU on ragged sizes on both adapters.
import { describe, expect, it } from 'vitest';
import { KernelError, type Backend, type Tensor } from '../src/backend.ts';
import * as ref from '../src/cpu/elementwise.ts';
import { ACTIVATIONS, checkRowIndices, type Activation } from '../src/kernels/elementwise.ts';
import { TEST_ADAPTERS, cpu, expectClose, gpuBackend, randomArray, rng } from './gpu.ts';

// multiples of 4 take the vec4 kernels where there are some, the others the scalar ones
const SIZES = [1, 3, 1000, 1001, 65536, 65537];

/** A permutation prefix of 0..tableRows-1 (distinct indices), from a seed. */
function distinctIndices(rows: number, tableRows: number, seed: number): Uint32Array {
  const r = rng(seed);
  const all = Array.from({ length: tableRows }, (_, i) => i);
  for (let i = tableRows - 1; i > 0; i--) {
    const j = Math.floor(r() * (i + 1));
    [all[i], all[j]] = [all[j]!, all[i]!];
  }
  return Uint32Array.from(all.slice(0, rows));
}

function randomIndices(rows: number, tableRows: number, seed: number): Uint32Array {
  const r = rng(seed);
  return Uint32Array.from({ length: rows }, () => Math.floor(r() * tableRows));
}

describe('elementwise CPU reference', () => {
  it('computes the activations, stably for large |x|', () => {
    const xs = [-1e4, -100, -30, -1, -1e-3, 0, 1e-3, 0.5, 1, 30, 100, 1e4];
    for (const x of xs) {
      expect(ref.applyActivation('identity', x)).toBe(x);
      expect(ref.applyActivation('relu', x)).toBe(Math.max(x, 0));
      expect(ref.applyActivation('tanh', x)).toBeCloseTo(Math.tanh(x), 14);
      const s = ref.applyActivation('sigmoid', x);
      expect(Number.isFinite(s)).toBe(true);
      expect(Math.abs(s - 1 / (1 + Math.exp(-x)))).toBeLessThanOrEqual(1e-15 * Math.max(1, 1 / s));
    }
    expect(ref.applyActivation('sigmoid', -1e4)).toBe(0);
    expect(ref.applyActivation('tanh', -1e4)).toBe(-1);
    expect(Number.isNaN(ref.applyActivation('relu', NaN))).toBe(true);
  });

  it('activationBackward matches central finite differences of the forward (float64)', () => {
    const r = rng(11);
    for (const act of ACTIVATIONS) {
      for (let t = 0; t < 200; t++) {
        let x = (r() - 0.5) * 12;
        if (act === 'relu' && Math.abs(x) < 1e-3) x += 0.01; // the kink
        const dy = r() - 0.5;
        const h = 1e-6;
        const fd = dy * (ref.applyActivation(act, x + h) - ref.applyActivation(act, x - h)) / (2 * h);
        const an = dy * ref.activationDerivative(act, ref.applyActivation(act, x));
        expect(Math.abs(an - fd), `${act} at x = ${x}`).toBeLessThanOrEqual(1e-8 + 1e-6 * Math.abs(fd));
      }
    }
  });

  it('activationBackward kernel (float32) matches finite differences through the activation kernel', () => {
    const n = 257;
    const x = randomArray(n, 3, -4, 4);
    const dy = randomArray(n, 4);
    const h = 1e-2;
    for (const act of ACTIVATIONS) {
      const y = new Float32Array(n);
      const yp = new Float32Array(n);
      const ym = new Float32Array(n);
      ref.activation({ x, y, n, act });
      ref.activation({ x: x.map((v) => v + h), y: yp, n, act });
      ref.activation({ x: x.map((v) => v - h), y: ym, n, act });
      const dx = new Float32Array(n);
      ref.activationBackward({ y, dy, dx, n, act });
      const fd = Float32Array.from(dy, (g, i) => (g * (yp[i]! - ym[i]!)) / (2 * h));
      // skip the relu kink, where a difference straddling 0 is not a derivative
      const keep = Array.from(x, (v) => act !== 'relu' || Math.abs(v) > 2 * h);
      expectClose(dx.filter((_, i) => keep[i]), fd.filter((_, i) => keep[i]), 2e-4, 2e-3, `${act} backward vs FD`);
    }
  });

  it('activationBackward accumulates and works in place', () => {
    const n = 50;
    const y = randomArray(n, 5, 0.05, 0.95);
    const dy = randomArray(n, 6);
    const base = randomArray(n, 7);
    const plain = new Float32Array(n);
    ref.activationBackward({ y, dy, dx: plain, n, act: 'sigmoid' });
    const acc = base.slice();
    ref.activationBackward({ y, dy, dx: acc, n, act: 'sigmoid', accumulate: true });
    expectClose(acc, base.map((b, i) => b + plain[i]!), 1e-6, 1e-6, 'accumulate');
    const inPlace = dy.slice();
    ref.activationBackward({ y, dy: inPlace, dx: inPlace, n, act: 'sigmoid' });
    expect(inPlace).toEqual(plain);
  });

  it('axpy, scale, copy and fill touch exactly n elements', () => {
    const x = Float32Array.from([1, 2, 3, 4]);
    const y = Float32Array.from([10, 20, 30, 40]);
    ref.axpy({ x, y, n: 3, alpha: -2 });
    expect(Array.from(y)).toEqual([8, 16, 24, 40]);
    ref.scale({ x, n: 2, alpha: 0.5 });
    expect(Array.from(x)).toEqual([0.5, 1, 3, 4]);
    ref.copy({ src: x, dst: y, n: 3 });
    expect(Array.from(y)).toEqual([0.5, 1, 3, 40]);
    ref.fill({ x: y, n: 1, value: 7 });
    expect(Array.from(y)).toEqual([7, 1, 3, 40]);
  });

  it('gathers and scatters rows; scatter with accumulate adds', () => {
    const cols = 3;
    const src = Float32Array.from({ length: 4 * cols }, (_, i) => i);
    const idx = new Float32Array(new Uint32Array([2, 0, 2]).buffer);
    const dst = new Float32Array(3 * cols);
    ref.gatherRows({ src, idx, dst, rows: 3, cols });
    expect(Array.from(dst)).toEqual([6, 7, 8, 0, 1, 2, 6, 7, 8]);
    const table = new Float32Array(4 * cols).fill(1);
    const sidx = new Float32Array(new Uint32Array([3, 1]).buffer);
    ref.scatterRows({ src: dst, idx: sidx, dst: table, rows: 2, cols });
    expect(Array.from(table)).toEqual([1, 1, 1, 0, 1, 2, 1, 1, 1, 6, 7, 8]);
    ref.scatterRows({ src: dst, idx: sidx, dst: table, rows: 2, cols, accumulate: true });
    expect(Array.from(table)).toEqual([1, 1, 1, 0, 2, 4, 1, 1, 1, 12, 14, 16]);
  });

  it('rejects bad input with errors that name the kernel', () => {
    const a = new Float32Array(4);
    const b = new Float32Array(2);
    expect(() => ref.activation({ x: a, y: b, n: 4, act: 'relu' })).toThrow(/^activation: tensor 'y' has 2 elements, needs at least 4/);
    expect(() => ref.activation({ x: a, y: a, n: 4, act: 'gelu' as Activation })).toThrow(/^activation: unknown activation 'gelu'/);
    expect(() => ref.activationBackward({ y: a, dy: a, dx: b, n: 4, act: 'tanh' })).toThrow(/^activationBackward: tensor 'dx'/);
    expect(() => ref.activationBackward({ y: a, dy: a, dx: a, n: 4, act: 'tanh', accumulate: true })).toThrow(/^activationBackward: accumulate with dx = dy/);
    expect(() => ref.axpy({ x: a, y: a, n: 4, alpha: NaN })).toThrow(/^axpy: alpha must be a finite number/);
    expect(() => ref.scale({ x: a, n: 1.5, alpha: 1 })).toThrow(/^scale: n must be a non-negative integer/);
    expect(() => ref.copy({ src: b, dst: a, n: 3 })).toThrow(/^copy: tensor 'src' has 2 elements/);
    const idx = new Float32Array(new Uint32Array([0, 5]).buffer);
    expect(() => ref.gatherRows({ src: a, idx, dst: a.slice(), rows: 2, cols: 2 })).toThrow(/^gatherRows: idx\[1\] = 5 is out of range for a table of 2 rows/);
    expect(() => ref.gatherRows({ src: a, idx, dst: b, rows: 2, cols: 2 })).toThrow(/^gatherRows: tensor 'dst \(2×2\)' has 2 elements/);
    const dup = new Float32Array(new Uint32Array([1, 1]).buffer);
    expect(() => ref.scatterRows({ src: a, idx: dup, dst: a.slice(), rows: 2, cols: 2 })).toThrow(/^scatterRows: idx\[0\] and idx\[1\] are both 1/);
    expect(() => checkRowIndices('gatherRows', [0, 1.5], 2, 10)).toThrow(KernelError);
  });
});

/** Uploads the same inputs to both backends, runs `run`, returns both results of `out`. */
async function both(
  gpu: Backend,
  inputs: Record<string, Float32Array | Uint32Array>,
  run: (b: Backend, t: Record<string, Tensor>) => void,
  outs: string[],
): Promise<{ got: Float32Array; want: Float32Array; name: string }[]> {
  const make = (b: Backend) => Object.fromEntries(Object.entries(inputs).map(([k, v]) =>
    [k, b.tensor(v.length, { data: v, label: k, dtype: v instanceof Uint32Array ? 'u32' : 'f32' })]));
  const tg = make(gpu);
  const tc = make(cpu);
  run(gpu, tg);
  run(cpu, tc);
  const res = [];
  for (const name of outs) res.push({ got: await gpu.read(tg[name]!), want: await cpu.read(tc[name]!), name });
  for (const t of Object.values(tg)) gpu.release(t);
  return res;
}

for (const adapter of TEST_ADAPTERS) {
  describe(`elementwise kernels on ${adapter} vs CPU`, () => {
    it('activation forward and backward (plain, accumulate, in place) on ragged sizes', async () => {
      const gpu = await gpuBackend(adapter);
      for (const n of SIZES) {
        for (const act of ACTIVATIONS) {
          const x = randomArray(n, n + 1, -6, 6);
          if (n > 2) { x[0] = 90; x[1] = -90; } // exp must not overflow
          const res = await both(gpu, { x, y: new Float32Array(n), dy: randomArray(n, n + 2), dx: randomArray(n, n + 3), dx2: new Float32Array(n), g: randomArray(n, n + 4) },
            (b, t) => {
              b.activation({ x: t.x!, y: t.y!, n, act });
              b.activationBackward({ y: t.y!, dy: t.dy!, dx: t.dx!, n, act, accumulate: true });
              b.activationBackward({ y: t.y!, dy: t.dy!, dx: t.dx2!, n, act });
              b.activationBackward({ y: t.y!, dy: t.g!, dx: t.g!, n, act });
              b.activation({ x: t.x!, y: t.x!, n, act });
            }, ['y', 'dx', 'dx2', 'g', 'x']);
          for (const r of res) {
            expect(r.got.every(Number.isFinite), `${act} ${r.name} finite`).toBe(true);
            expectClose(r.got, r.want, 2e-6, 2e-5, `${adapter} ${act} n=${n} ${r.name}`);
          }
        }
      }
    });

    it('axpy, scale, fill and copy touch exactly n elements', async () => {
      const gpu = await gpuBackend(adapter);
      for (const n of SIZES) {
        const len = n + 5;
        const res = await both(gpu, {
          x: randomArray(len, 1), y: randomArray(len, 2), s: randomArray(len, 3), f: randomArray(len, 4), c: randomArray(len, 5),
          z: randomArray(len, 6), nz: randomArray(len, 7),
        },
          (b, t) => {
            b.axpy({ x: t.x!, y: t.y!, n, alpha: -0.75 });
            b.scale({ x: t.s!, n, alpha: 3.5 });
            b.fill({ x: t.f!, n, value: -2 });
            b.fill({ x: t.z!, n, value: 0 }); // a buffer clear on WebGPU
            b.fill({ x: t.nz!, n, value: -0 }); // the fill kernel: −0 is not all-zero bits
            b.copy({ src: t.y!, dst: t.c!, n });
          }, ['y', 's', 'f', 'z', 'nz', 'c']);
        for (const r of res) expectClose(r.got, r.want, 1e-6, 1e-6, `${adapter} n=${n} ${r.name}`);
        const nz = res.find((r) => r.name === 'nz')!;
        if (n > 0) expect(Object.is(nz.got[0], -0)).toBe(true);
      }
    });

    it('copies between views of one buffer and works in place through views', async () => {
      const gpu = await gpuBackend(adapter);
      const data = randomArray(1000, 9, -3, 3);
      const t = gpu.tensor(1000, { data });
      const a = gpu.view(t, 0, 300);
      const b = gpu.view(t, 320, 300);
      const c = gpu.view(t, 640, 300);
      gpu.copy({ src: a, dst: b, n: 299 });
      gpu.activation({ x: a, y: c, n: 300, act: 'tanh' }); // disjoint views of one buffer
      gpu.activation({ x: a, y: gpu.view(t, 0, 300), n: 300, act: 'relu' }); // in place through a second view
      const out = await gpu.read(t);
      const want = data.slice();
      want.copyWithin(320, 0, 299);
      for (let i = 0; i < 300; i++) want[640 + i] = ref.applyActivation('tanh', data[i]!);
      for (let i = 0; i < 300; i++) want[i] = Math.max(0, data[i]!);
      expectClose(out, want, 2e-6, 2e-5, `${adapter} views`);
      expect(() => gpu.copy({ src: a, dst: gpu.view(t, 64, 300), n: 100 })).toThrow(/^copy: the first 100 elements of src .* overlap/);
      expect(() => gpu.axpy({ x: a, y: gpu.view(t, 64, 100), n: 100, alpha: 1 })).toThrow(/^axpy: x .* and y .* overlap in memory/);
      gpu.release(t);
    });

    it('gathers and scatters rows of ragged shapes; scatter undoes gather', async () => {
      const gpu = await gpuBackend(adapter);
      // cols a multiple of 4: gatherRows4
      for (const [rows, cols, tableRows] of [[1, 1, 1], [3, 5, 7], [3, 8, 5], [127, 129, 300], [128, 784, 300], [600, 113, 2000]] as const) {
        const table = randomArray(tableRows * cols, rows + cols);
        const idx = randomIndices(rows, tableRows, rows);
        const didx = distinctIndices(rows, tableRows, cols);
        const res = await both(gpu, {
          table, idx, didx, g: new Float32Array(rows * cols), back: randomArray(tableRows * cols, 5), acc: randomArray(tableRows * cols, 6),
        }, (b, t) => {
          b.gatherRows({ src: t.table!, idx: t.idx!, dst: t.g!, rows, cols });
          b.scatterRows({ src: t.g!, idx: t.didx!, dst: t.back!, rows, cols });
          b.scatterRows({ src: t.g!, idx: t.didx!, dst: t.acc!, rows, cols, accumulate: true });
        }, ['g', 'back', 'acc']);
        for (const r of res) expectClose(r.got, r.want, 1e-6, 1e-6, `${adapter} ${rows}×${cols} ${r.name}`);

        // round trip: gather distinct rows, scatter them into zeros → exactly those rows of the table
        const tg = gpu.tensor(table.length, { data: table });
        const ti = gpu.tensor(rows, { dtype: 'u32', data: didx });
        const mid = gpu.tensor(rows * cols);
        const back = gpu.tensor(table.length);
        gpu.gatherRows({ src: tg, idx: ti, dst: mid, rows, cols });
        gpu.scatterRows({ src: mid, idx: ti, dst: back, rows, cols });
        const got = await gpu.read(back);
        const want = new Float32Array(table.length);
        for (const i of didx) want.set(table.subarray(i * cols, (i + 1) * cols), i * cols);
        expect(got.findIndex((v, i) => v !== want[i]), 'first round-trip mismatch').toBe(-1);
        for (const t of [tg, ti, mid, back]) gpu.release(t);
      }
    });

    it('guards out-of-range indices: gather writes a zero row, scatter skips it', async () => {
      const gpu = await gpuBackend(adapter);
      const cols = 4;
      const src = gpu.tensor(3 * cols, { data: Float32Array.from({ length: 12 }, (_, i) => i + 1) });
      const idx = gpu.tensor(3, { dtype: 'u32', data: Uint32Array.from([2, 3, 0xffffffff]) });
      const dst = gpu.tensor(3 * cols, { data: new Float32Array(12).fill(-1) });
      gpu.gatherRows({ src, idx, dst, rows: 3, cols });
      expect(Array.from(await gpu.read(dst))).toEqual([9, 10, 11, 12, 0, 0, 0, 0, 0, 0, 0, 0]);
      const table = gpu.tensor(3 * cols);
      gpu.scatterRows({ src, idx, dst: table, rows: 3, cols });
      expect(Array.from(await gpu.read(table))).toEqual([0, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4]);
      for (const t of [src, idx, dst, table]) gpu.release(t);
    });

    it('rejects bad input before dispatch with errors that name the kernel', async () => {
      const gpu = await gpuBackend(adapter);
      const a = gpu.tensor(8);
      const s = gpu.tensor(2);
      const fidx = gpu.tensor(2);
      const d4 = gpu.tensor(4);
      expect(() => gpu.activation({ x: a, y: s, n: 8, act: 'relu' })).toThrow(/^activation: tensor 'y' has 2 elements, needs at least 8/);
      expect(() => gpu.activation({ x: a, y: a, n: 8, act: 'swish' as Activation })).toThrow(/^activation: unknown activation/);
      expect(() => gpu.activationBackward({ y: a, dy: s, dx: a, n: 8, act: 'tanh' })).toThrow(/^activationBackward: tensor 'dy'/);
      expect(() => gpu.activationBackward({ y: a, dy: s, dx: s, n: 2, act: 'tanh' })).not.toThrow();
      expect(() => gpu.activationBackward({ y: a, dy: a, dx: s, n: 2, act: 'tanh' })).toThrow(/^activationBackward: y .* and dy .* overlap/);
      expect(() => gpu.axpy({ x: a, y: a, n: 8, alpha: 2 })).toThrow(/^axpy: x .* and y .* overlap/);
      expect(() => gpu.scale({ x: a, n: 9, alpha: 2 })).toThrow(/^scale: tensor 'x' has 8 elements, needs at least 9/);
      expect(() => gpu.gatherRows({ src: a, idx: fidx, dst: a, rows: 2, cols: 2 })).toThrow(/^gatherRows: dst must not be the same tensor as src/);
      expect(() => gpu.gatherRows({ src: a, idx: fidx, dst: d4, rows: 2, cols: 2 })).toThrow(/^gatherRows: idx must be a u32 tensor/);
      expect(() => gpu.scatterRows({ src: a, idx: fidx, dst: s, rows: 2, cols: 4 })).toThrow(/^scatterRows: tensor 'dst' has 2 elements, needs at least 4/);
      await gpu.finish();
      for (const t of [a, s, fidx, d4]) gpu.release(t);
    });
  });
}
