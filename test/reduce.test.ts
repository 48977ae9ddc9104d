// Reductions: GPU vs float64 sums on ragged and large shapes, accumulate,
// bit-identical repeats, non-finite counting, scratch reuse, race freedom and
// shape errors. Tolerance: |gpu − exact| ≤ 1e-5·Σ|x| + 1e-6 per output (f32
// chunked trees accumulate O(chunk + log n) roundings of relative size 6e-8).
import { describe, expect, it } from 'vitest';
import { shaderSource } from '../src/gpu/shaders.ts';
import type { Tensor } from '../src/backend.ts';
import { TEST_ADAPTERS, cpu, gpuBackend, randomArray } from './gpu.ts';
import { raceCheck } from './races.ts';

const SHAPES: [number, number][] = [[1, 1], [3, 5], [127, 129], [128, 784], [1000, 3], [5, 10000]];

/** Exact (float64) row sums, column sums and the matching Σ|x| bounds. */
function exactRows(x: Float32Array, rows: number, cols: number): { sum: Float64Array; abs: Float64Array } {
  const sum = new Float64Array(rows);
  const abs = new Float64Array(rows);
  for (let i = 0; i < rows; i++) {
    for (let j = 0; j < cols; j++) {
      sum[i]! += x[i * cols + j]!;
      abs[i]! += Math.abs(x[i * cols + j]!);
    }
  }
  return { sum, abs };
}
function exactCols(x: Float32Array, rows: number, cols: number): { sum: Float64Array; abs: Float64Array } {
  const sum = new Float64Array(cols);
  const abs = new Float64Array(cols);
  for (let i = 0; i < rows; i++) {
    for (let j = 0; j < cols; j++) {
      sum[j]! += x[i * cols + j]!;
      abs[j]! += Math.abs(x[i * cols + j]!);
    }
  }
  return { sum, abs };
}

function expectNearExact(got: Float32Array, want: ArrayLike<number>, abs: ArrayLike<number>, what: string, base: ArrayLike<number> = []): void {
  for (let i = 0; i < want.length; i++) {
    const w = want[i]! + (base[i] ?? 0);
    const tol = 1e-5 * (abs[i]! + Math.abs(base[i] ?? 0)) + 1e-6;
    if (!(Math.abs(got[i]! - w) <= tol)) {
      throw new Error(`${what}: output ${i} is ${got[i]}, exact ${w} (tolerance ${tol})`);
    }
  }
}

function sameBits(a: Float32Array, b: Float32Array): boolean {
  const ua = new Uint32Array(a.buffer, a.byteOffset, a.length);
  const ub = new Uint32Array(b.buffer, b.byteOffset, b.length);
  return ua.length === ub.length && ua.every((v, i) => v === ub[i]);
}

describe('reduce CPU reference', () => {
  it('matches float64 sums and accumulates', async () => {
    const x = randomArray(3 * 5, 1);
    const out = cpu.tensor(5, { data: new Float32Array([1, 2, 3, 4, 5]) });
    cpu.sumCols({ x: cpu.tensor(15, { data: x }), out, rows: 3, cols: 5, accumulate: true });
    const want = exactCols(x, 3, 5).sum.map((v, j) => Math.fround(v + j + 1));
    expect(Array.from(await cpu.read(out))).toEqual(Array.from(want));
  });

  it('names the kernel in shape errors', () => {
    const t = cpu.tensor(4);
    expect(() => cpu.sumRows({ x: t, out: t, rows: 2, cols: 3 })).toThrow(/sumRows: tensor 'x' has 4 elements, needs at least 6/);
    expect(() => cpu.sumCols({ x: t, out: cpu.tensor(2), rows: 1, cols: 4 })).toThrow(/sumCols: tensor 'out'/);
    expect(() => cpu.sumAll({ x: t, out: t, n: 1.5 })).toThrow(/sumAll: n must be a non-negative integer/);
    expect(() => cpu.countNonFinite({ x: t, out: t, n: 5 })).toThrow(/countNonFinite: tensor 'x'/);
  });
});

describe('reduce race freedom (wgsl_reflect detectRaces)', () => {
  it('sumRows has no workgroup-memory races for 1, 8 and 64 threads per row', () => {
    const x = new Float32Array(160).map((_, i) => i);
    for (const [TPR, rows, cols] of [[1, 64, 2], [8, 8, 20], [64, 1, 160]] as const) {
      const out = new Float32Array(rows);
      const r = raceCheck('reduce', 'sumRows', { WG: 64, TPR }, { 0: new Uint32Array([rows, cols, rows * cols, 0, 0]), 1: x, 2: out });
      expect(r).toEqual({ races: 0, errors: [] });
      // the interpreter really ran the tree: row sums are right
      const want = Array.from({ length: rows }, (_, i) => cols * cols * i + (cols * (cols - 1)) / 2);
      expect(Array.from(out)).toEqual(want);
    }
  });

  it('the detector does catch a tree without its barrier', () => {
    const broken = shaderSource('reduce').replace(/workgroupBarrier\(\);\n  }/, '}');
    expect(broken).not.toBe(shaderSource('reduce'));
    const r = raceCheck('reduce', 'sumRows', { WG: 64, TPR: 8 },
      { 0: new Uint32Array([8, 20, 160, 0, 0]), 1: new Float32Array(160), 2: new Float32Array(8) }, broken);
    expect(r.races).toBeGreaterThan(0);
  });
});

for (const adapter of TEST_ADAPTERS) {
  describe(`reduce kernels on ${adapter}`, () => {
    it('sumRows and sumCols match float64 sums on ragged shapes, with accumulate', async () => {
      const gpu = await gpuBackend(adapter);
      let seed = 10;
      for (const [rows, cols] of SHAPES) {
        const x = randomArray(rows * cols, seed++);
        const xt = gpu.tensor(rows * cols, { data: x });
        const r = exactRows(x, rows, cols);
        const c = exactCols(x, rows, cols);
        for (const accumulate of [false, true]) {
          const baseR = randomArray(rows, seed++);
          const baseC = randomArray(cols, seed++);
          const outR = gpu.tensor(rows, { data: baseR });
          const outC = gpu.tensor(cols, { data: baseC });
          gpu.sumRows({ x: xt, out: outR, rows, cols, accumulate });
          gpu.sumCols({ x: xt, out: outC, rows, cols, accumulate });
          const what = `${rows}×${cols}${accumulate ? ' accumulate' : ''}`;
          expectNearExact(await gpu.read(outR), r.sum, r.abs, `sumRows ${what}`, accumulate ? baseR : []);
          expectNearExact(await gpu.read(outC), c.sum, c.abs, `sumCols ${what}`, accumulate ? baseC : []);
          gpu.release(outR);
          gpu.release(outC);
        }
        gpu.release(xt);
      }
    });

    it('sumCols reduces tall matrices in several passes (8000×784, 1e6×3), bit-identical on repeat', async () => {
      const gpu = await gpuBackend(adapter);
      for (const [rows, cols] of [[8000, 784], [1_000_000, 3]] as const) {
        const x = randomArray(rows * cols, rows, -1, 3);
        const xt = gpu.tensor(rows * cols, { data: x });
        const c = exactCols(x, rows, cols);
        const runs: Float32Array[] = [];
        for (let k = 0; k < 2; k++) {
          const out = gpu.tensor(cols);
          gpu.sumCols({ x: xt, out, rows, cols });
          runs.push(await gpu.read(out));
          gpu.release(out);
        }
        expectNearExact(runs[0]!, c.sum, c.abs, `sumCols ${rows}×${cols}`);
        expect(sameBits(runs[0]!, runs[1]!)).toBe(true);
        gpu.release(xt);
      }
    });

    it('sumAll matches a float64 sum for any n (1 … 5e6, three passes) and is deterministic', async () => {
      const gpu = await gpuBackend(adapter);
      for (const n of [1, 7, 2048, 2049, 100_003, 5_000_000]) {
        const x = randomArray(n, n, -1, 2);
        let exact = 0;
        let abs = 0;
        for (const v of x) {
          exact += v;
          abs += Math.abs(v);
        }
        const xt = gpu.tensor(n, { data: x });
        const a = gpu.tensor(1);
        const b = gpu.tensor(1, { data: new Float32Array([10]) });
        gpu.sumAll({ x: xt, out: a, n });
        gpu.sumAll({ x: xt, out: b, n, accumulate: true });
        const [ra, rb] = [await gpu.read(a), await gpu.read(b)];
        expectNearExact(ra, [exact], [abs], `sumAll n=${n}`);
        expectNearExact(rb, [exact], [abs], `sumAll n=${n} accumulate`, [10]);
        const again = gpu.tensor(1);
        gpu.sumAll({ x: xt, out: again, n });
        expect(sameBits(ra, await gpu.read(again))).toBe(true);
        for (const t of [xt, a, b, again]) gpu.release(t);
      }
    });

    it('sums of nothing are zero (or leave the output when accumulating)', async () => {
      const gpu = await gpuBackend(adapter);
      const x = gpu.tensor(4, { data: new Float32Array([1, 2, 3, 4]) });
      const out = gpu.tensor(4, { data: new Float32Array([9, 9, 9, 9]) });
      gpu.sumAll({ x, out, n: 0 });
      gpu.sumCols({ x, out: gpu.view(out, 0, 4), rows: 0, cols: 3, accumulate: true });
      expect(Array.from(await gpu.read(out))).toEqual([0, 9, 9, 9]);
      gpu.release(x);
      gpu.release(out);
    });

    it('countNonFinite finds planted NaN, +Inf and −Inf, and only those', async () => {
      const gpu = await gpuBackend(adapter);
      for (const n of [5, 3000, 1_000_001]) {
        const x = randomArray(n, n, -1e30, 1e30);
        const planted = [n - 1, 0, Math.floor(n / 2), Math.floor(n / 3)];
        const values = [NaN, Infinity, -Infinity, NaN];
        const distinct = new Set<number>();
        planted.forEach((at, k) => {
          x[at] = values[k]!;
          distinct.add(at);
        });
        x[1 % n] = 3.4028234663852886e38; // the largest finite f32 is not counted
        const xt = gpu.tensor(n, { data: x });
        const out = gpu.tensor(1, { data: new Float32Array([123]) });
        gpu.countNonFinite({ x: xt, out, n });
        const c = cpu.tensor(1);
        cpu.countNonFinite({ x: cpu.tensor(n, { data: x }), out: c, n });
        const want = [...distinct].filter((i) => !Number.isFinite(x[i]!)).length;
        expect((await gpu.read(out))[0]).toBe(want);
        expect((await cpu.read(c))[0]).toBe(want);
        gpu.release(xt);
        gpu.release(out);
      }
    });

    it('reuses scratch buffers: many multi-pass reductions do not grow memory', async () => {
      const gpu = await gpuBackend(adapter);
      const n = 120_000;
      const xt = gpu.tensor(n, { data: randomArray(n, 5) });
      const cols = gpu.tensor(3);
      const one = gpu.tensor(1);
      const warm = (): void => {
        gpu.sumAll({ x: xt, out: one, n });
        gpu.sumCols({ x: xt, out: cols, rows: n / 3, cols: 3 });
        gpu.flush();
      };
      warm();
      await gpu.finish();
      const before = gpu.memoryStats().buffers;
      for (let i = 0; i < 20; i++) warm();
      await gpu.finish();
      expect(gpu.memoryStats().buffers).toBe(before);
      for (const t of [xt, cols, one]) gpu.release(t);
    });

    it('names the kernel in shape errors', async () => {
      const gpu = await gpuBackend(adapter);
      const t: Tensor = gpu.tensor(4);
      expect(() => gpu.sumRows({ x: t, out: t, rows: 2, cols: 3 })).toThrow(/sumRows: tensor 'x' has 4 elements, needs at least 6/);
      expect(() => gpu.sumCols({ x: t, out: gpu.tensor(2), rows: 1, cols: 4 })).toThrow(/sumCols: tensor 'out'/);
      expect(() => gpu.sumAll({ x: t, out: t, n: -1 })).toThrow(/sumAll: n must be a non-negative integer/);
      expect(() => gpu.countNonFinite({ x: t, out: t, n: 5 })).toThrow(/countNonFinite: tensor 'x'/);
      gpu.release(t);
    });
  });
}
