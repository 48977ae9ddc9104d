// Random-number and reparameterized-sampling kernels: Threefry known answers,
// GPU vs CPU (bit-identical uniforms), statistics of the GPU normals, and the
// reparameterization forward/backward.
import { describe, expect, it } from 'vitest';
import type { Backend } from '../src/backend.ts';
import * as cpuRandom from '../src/cpu/random.ts';
import { threefry2x32 } from '../src/cpu/threefry.ts';
import type { RngKey } from '../src/kernels.ts';
import { TEST_ADAPTERS, cpu, expectClose, gpuBackend, randomArray } from './gpu.ts';
import { HostRng, epochPermutation } from '../src/train/rng.ts';

const u32 = (a: Float32Array): Uint32Array => new Uint32Array(a.buffer, a.byteOffset, a.length);

async function draw(b: Backend, kind: 'uniform' | 'normal', n: number, key: RngKey): Promise<Float32Array> {
  const out = b.tensor(n, { label: kind });
  b[kind]({ out, n, key });
  const v = await b.read(out);
  b.release(out);
  return v;
}

/** Standard normal CDF through erfc (Numerical Recipes' erfc Chebyshev fit, |error| < 1.2e-7). */
function normalCdf(x: number): number {
  const z = Math.abs(x) / Math.SQRT2;
  const t = 1 / (1 + 0.5 * z);
  const erfc = t * Math.exp(-z * z - 1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 +
    t * (-0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))));
  return x >= 0 ? 1 - 0.5 * erfc : 0.5 * erfc;
}

/** Sample moments about zero-mean assumptions: mean, variance, skewness, excess kurtosis. */
function moments(x: Float32Array): { mean: number; variance: number; skewness: number; exKurtosis: number } {
  const n = x.length;
  let s = 0;
  for (const v of x) s += v;
  const mean = s / n;
  let m2 = 0, m3 = 0, m4 = 0;
  for (const v of x) {
    const d = v - mean;
    const d2 = d * d;
    m2 += d2; m3 += d2 * d; m4 += d2 * d2;
  }
  m2 /= n; m3 /= n; m4 /= n;
  return { mean, variance: m2, skewness: m3 / m2 ** 1.5, exKurtosis: m4 / (m2 * m2) - 3 };
}

describe('Threefry-2x32-20 (TypeScript)', () => {
  // Known answers from Random123's tests/kat_vectors ("threefry2x32 20 ctr0 ctr1 key0 key1 out0 out1"),
  // also asserted by JAX's tests/random_test.py testThreefry2x32 (key, count) → output.
  const KAT: { key: [number, number]; ctr: [number, number]; out: [number, number] }[] = [
    { key: [0x00000000, 0x00000000], ctr: [0x00000000, 0x00000000], out: [0x6b200159, 0x99ba4efe] },
    { key: [0xffffffff, 0xffffffff], ctr: [0xffffffff, 0xffffffff], out: [0x1cb996fc, 0xbb002be7] },
    { key: [0x13198a2e, 0x03707344], ctr: [0x243f6a88, 0x85a308d3], out: [0xc4923a9c, 0x483df7a0] },
  ];
  for (const { key, ctr, out } of KAT) {
    it(`key ${key.map((w) => w.toString(16))} ctr ${ctr.map((w) => w.toString(16))}`, () => {
      expect(threefry2x32(key, ctr)).toEqual(out);
    });
  }
});

describe('random mapping (CPU reference)', () => {
  it('maps the extreme words to uniforms strictly inside (0, 1), exact in f32', () => {
    for (const bits of [0, 1, 511, 512, 0x7fffffff, 0x80000000, 0xfffffe00, 0xffffffff]) {
      const u = cpuRandom.uniformFromBits(bits);
      expect(u).toBeGreaterThan(0);
      expect(u).toBeLessThan(1);
      expect(Math.fround(u)).toBe(u);
    }
    expect(cpuRandom.uniformFromBits(0)).toBe(2 ** -24);
    expect(cpuRandom.uniformFromBits(0xffffffff)).toBe(1 - 2 ** -24);
  });

  it('takes element i from block (counter, i >> 1), word i & 1', () => {
    const key = { seed: 0x13198a2e, stream: 0x03707344, counter: 0x243f6a88 };
    const u = new Float32Array(9);
    cpuRandom.uniform({ out: u, n: 9, key });
    for (let i = 0; i < 9; i++) {
      const w = threefry2x32([key.seed, key.stream], [key.counter, i >> 1]);
      expect(u[i]).toBe(cpuRandom.uniformFromBits(w[i & 1]!));
    }
    // a draw is a pure function of (key, i): a longer draw extends a shorter one
    const long = new Float32Array(20);
    cpuRandom.uniformInto(key, long, 20);
    expect(Array.from(long.subarray(0, 9))).toEqual(Array.from(u));
  });

  it('rejects bad keys, short tensors and aliased outputs, naming the kernel', () => {
    const t = cpu.tensor(10);
    const k = { seed: 1, stream: 2, counter: 3 };
    expect(() => cpu.uniform({ out: t, n: 11, key: k })).toThrow(/^uniform: tensor 'out' has 10 elements, needs at least 11/);
    expect(() => cpu.normal({ out: t, n: 1.5, key: k })).toThrow(/^normal: n must be a non-negative integer/);
    expect(() => cpu.normal({ out: t, n: 4, key: { ...k, seed: -1 } })).toThrow(/^normal: key.seed must be an integer in \[0, 2\^32\)/);
    expect(() => cpu.uniform({ out: t, n: 4, key: { ...k, counter: 2 ** 32 } })).toThrow(/key.counter/);
    expect(() => cpu.uniform({ out: t, n: 4, key: { seed: 1, stream: 2 } as RngKey })).toThrow(/key.counter/);
    expect(() => cpu.reparamDiag({ m: t, logvar: t, eps: t, z: t, rows: 2, cols: 5, key: k }))
      .toThrow(/^reparamDiag: 'eps' and 'z' are the same tensor/);
    const u = cpu.tensor(10), v = cpu.tensor(10);
    expect(() => cpu.reparamChol({ m: t, l: cpu.tensor(8), eps: u, z: v, rows: 3, d: 3, key: k }))
      .toThrow(/^reparamChol: tensor 'l' has 8 elements, needs at least 9/);
    expect(() => cpu.reparamDiagBackward({ dz: t, eps: t, logvar: t, dM: u, dLogvar: v, rows: 3, cols: 4 }))
      .toThrow(/^reparamDiagBackward: tensor 'dz' has 10 elements, needs at least 12/);
  });

  it('reparamDiagBackward matches central differences of the reparamDiag forward (fixed eps: same key)', () => {
    const rows = 3, cols = 5, n = rows * cols;
    const key = { seed: 7, stream: 1, counter: 0 };
    const m = randomArray(n, 1), logvar = randomArray(n, 2, -2, 1), dz = randomArray(n, 3);
    const eps = new Float32Array(n), z = new Float32Array(n);
    // L = Σ dz ∘ z(m, logvar), evaluated by the forward kernel in f32, summed in f64
    const loss = (mm: Float32Array, lv: Float32Array): number => {
      cpuRandom.reparamDiag({ m: mm, logvar: lv, eps, z, rows, cols, key });
      let s = 0;
      for (let i = 0; i < n; i++) s += dz[i]! * z[i]!;
      return s;
    };
    loss(m, logvar);
    const dM = new Float32Array(n), dLogvar = new Float32Array(n);
    cpuRandom.reparamDiagBackward({ dz, eps, logvar, dM, dLogvar, rows, cols });
    const h = 1e-2;
    for (const [param, grad] of [[m, dM], [logvar, dLogvar]] as const) {
      const fd = new Float64Array(n);
      for (let i = 0; i < n; i++) {
        const x0 = param[i]!;
        param[i] = x0 + h; const up = loss(m, logvar);
        param[i] = x0 - h; const down = loss(m, logvar);
        param[i] = x0;
        fd[i] = (up - down) / (2 * h);
      }
      expectClose(grad, fd, 1e-4, 1e-3, param === m ? 'dM vs finite differences' : 'dLogvar vs finite differences');
    }
  });
});

for (const adapter of TEST_ADAPTERS) {
  describe(`random kernels on ${adapter}`, () => {
    const keys: RngKey[] = [
      { seed: 0, stream: 0, counter: 0 },
      { seed: 0xffffffff, stream: 0xffffffff, counter: 0xffffffff },
      { seed: 0x13198a2e, stream: 0x03707344, counter: 0x243f6a88 },
      { seed: 42, stream: 3, counter: 1000 },
    ];

    it('gives uniforms bit-identical to the CPU for several keys and ragged n', async () => {
      const gpu = await gpuBackend(adapter);
      for (const key of keys) {
        for (const n of [1, 3, 1001, 65537]) {
          const g = await draw(gpu, 'uniform', n, key);
          const c = await draw(cpu, 'uniform', n, key);
          const gb = u32(g), cb = u32(c);
          let diff = -1;
          for (let i = 0; i < n && diff < 0; i++) if (gb[i] !== cb[i]) diff = i;
          expect(diff, `first differing element for key ${JSON.stringify(key)}, n ${n}`).toBe(-1);
        }
      }
    });

    it('folds dispatches over 65535 workgroups and still matches the CPU bit for bit', async () => {
      const gpu = await gpuBackend(adapter);
      // a small workgroup so the fold happens at a modest size: 2·16·65536 + 3 elements
      const k = gpu.registry.get('random', 'randomUniform', { WG: 16 });
      const n = 2 * 16 * 65536 + 3;
      const key = { seed: 5, stream: 6, counter: 7 };
      const out = gpu.tensor(n + 1);
      gpu.dispatch1D(k, { values: out }, { n, ...key }, Math.ceil(n / 2));
      const g = u32(await gpu.read(out));
      gpu.release(out);
      const c = new Float32Array(n);
      cpuRandom.uniformInto(key, c, n);
      const cb = u32(c);
      let diff = -1;
      for (let i = 0; i < n && diff < 0; i++) if (g[i] !== cb[i]) diff = i;
      expect(diff).toBe(-1);
      expect(g[n]).toBe(0); // the bound check stops at n
    });

    it('draws different sequences for different seeds, streams and counters', async () => {
      const gpu = await gpuBackend(adapter);
      const n = 1000;
      const base = { seed: 9, stream: 0, counter: 0 };
      const variants = [base, { ...base, seed: 10 }, { ...base, stream: 1 }, { ...base, counter: 1 }, { seed: 0, stream: 9, counter: 0 }];
      const draws = await Promise.all(variants.map((k) => draw(gpu, 'uniform', n, k)));
      for (let a = 0; a < draws.length; a++) {
        for (let b = a + 1; b < draws.length; b++) {
          let same = 0;
          for (let i = 0; i < n; i++) if (draws[a]![i] === draws[b]![i]) same++;
          // equal cells by chance: expected n / 2^23 ≈ 1e−4
          expect(same, `${JSON.stringify(variants[a])} vs ${JSON.stringify(variants[b])}`).toBeLessThan(3);
        }
      }
    });

    it('keeps 10^6 uniforms inside (0, 1) with mean ½ and variance 1/12', async () => {
      const gpu = await gpuBackend(adapter);
      const n = 1_000_000;
      const u = await draw(gpu, 'uniform', n, { seed: 2024, stream: 1, counter: 0 });
      let lo = 1, hi = 0;
      for (const v of u) { if (v < lo) lo = v; if (v > hi) hi = v; }
      expect(lo).toBeGreaterThan(0);
      expect(hi).toBeLessThan(1);
      const { mean, variance } = moments(u);
      // z-scores within 5: sd(mean) = sqrt(1/12n), sd(var) = sqrt((1/80 − 1/144)/n)
      expect(Math.abs(mean - 0.5) / Math.sqrt(1 / 12 / n)).toBeLessThan(5);
      expect(Math.abs(variance - 1 / 12) / Math.sqrt((1 / 80 - 1 / 144) / n)).toBeLessThan(5);
    });

    it('gives normals that match the CPU to float tolerance', async () => {
      const gpu = await gpuBackend(adapter);
      for (const key of keys) {
        for (const n of [1, 3, 1001, 65537]) {
          const g = await draw(gpu, 'normal', n, key);
          const c = await draw(cpu, 'normal', n, key);
          expectClose(g, c, 2e-6, 1e-6, `normal key ${JSON.stringify(key)} n ${n}`);
        }
      }
    });

    it('draws 10^6 normals with the moments and distribution of N(0, 1)', async () => {
      const gpu = await gpuBackend(adapter);
      const n = 1_000_000;
      const x = await draw(gpu, 'normal', n, { seed: 123, stream: 4, counter: 5 });
      const { mean, variance, skewness, exKurtosis } = moments(x);
      // under N(0,1): sd(mean) = 1/√n, sd(var) = √(2/n), sd(skew) ≈ √(6/n), sd(excess kurtosis) ≈ √(24/n);
      // allow |z| < 5
      const zs = {
        mean: mean / Math.sqrt(1 / n),
        variance: (variance - 1) / Math.sqrt(2 / n),
        skewness: skewness / Math.sqrt(6 / n),
        exKurtosis: exKurtosis / Math.sqrt(24 / n),
      };
      for (const [k, z] of Object.entries(zs)) expect(Math.abs(z), `z-score of the ${k}`).toBeLessThan(5);
      // Kolmogorov–Smirnov: √n·D < 1.95 (p ≈ 0.001)
      const s = Float64Array.from(x).sort();
      let d = 0;
      for (let i = 0; i < n; i++) {
        const f = normalCdf(s[i]!);
        d = Math.max(d, Math.abs(f - i / n), Math.abs((i + 1) / n - f));
      }
      expect(Math.sqrt(n) * d).toBeLessThan(1.95);
    });

    it('reparamDiag matches the CPU on ragged shapes', async () => {
      const gpu = await gpuBackend(adapter);
      for (const [rows, cols, seed] of [[1, 1, 1], [3, 5, 2], [127, 65, 3], [4, 784, 4]] as const) {
        const n = rows * cols;
        const key = { seed, stream: 11, counter: 2 * seed };
        const m = randomArray(n, 10 + seed, -2, 2), logvar = randomArray(n, 20 + seed, -4, 2);
        const res: Float32Array[][] = [];
        for (const b of [gpu, cpu] as Backend[]) {
          const t = { m: b.tensor(n, { data: m }), logvar: b.tensor(n, { data: logvar }), eps: b.tensor(n), z: b.tensor(n) };
          b.reparamDiag({ ...t, rows, cols, key });
          res.push([await b.read(t.eps), await b.read(t.z)]);
          for (const v of Object.values(t)) b.release(v);
        }
        expectClose(res[0]![0]!, res[1]![0]!, 2e-6, 1e-6, `eps ${rows}×${cols}`);
        expectClose(res[0]![1]!, res[1]![1]!, 1e-5, 1e-5, `z ${rows}×${cols}`);
        // eps is exactly the normal draw of the same key
        expect(Array.from(res[1]![0]!)).toEqual(Array.from(await draw(cpu, 'normal', n, key)));
      }
    });

    it('reparamDiagBackward matches the CPU, with and without accumulate', async () => {
      const gpu = await gpuBackend(adapter);
      for (const [rows, cols] of [[1, 1], [3, 5], [129, 33]] as const) {
        const n = rows * cols;
        const data = { dz: randomArray(n, 1), eps: randomArray(n, 2, -3, 3), logvar: randomArray(n, 3, -3, 2) };
        const init = { dM: randomArray(n, 4), dLogvar: randomArray(n, 5) };
        for (const accumulate of [false, true]) {
          const res: Float32Array[][] = [];
          for (const b of [gpu, cpu] as Backend[]) {
            const t = {
              dz: b.tensor(n, { data: data.dz }), eps: b.tensor(n, { data: data.eps }), logvar: b.tensor(n, { data: data.logvar }),
              dM: b.tensor(n, { data: init.dM }), dLogvar: b.tensor(n, { data: init.dLogvar }),
            };
            b.reparamDiagBackward({ ...t, rows, cols, accumulate });
            res.push([await b.read(t.dM), await b.read(t.dLogvar)]);
            for (const v of Object.values(t)) b.release(v);
          }
          expectClose(res[0]![0]!, res[1]![0]!, 1e-6, 1e-6, `dM ${rows}×${cols} accumulate ${accumulate}`);
          expectClose(res[0]![1]!, res[1]![1]!, 1e-6, 1e-5, `dLogvar ${rows}×${cols} accumulate ${accumulate}`);
        }
      }
    });

    it('reparamDiagBackward matches directional central differences of the GPU forward', async () => {
      const gpu = await gpuBackend(adapter);
      const rows = 7, cols = 9, n = rows * cols;
      const key = { seed: 77, stream: 2, counter: 3 };
      const m = randomArray(n, 31), logvar = randomArray(n, 32, -2, 1), dz = randomArray(n, 33);
      const eps = gpu.tensor(n), z = gpu.tensor(n), mT = gpu.tensor(n), lvT = gpu.tensor(n);
      // L = Σ dz ∘ z: eps is fixed because every forward uses the same key
      const loss = async (mm: Float32Array, lv: Float32Array): Promise<number> => {
        gpu.upload(mT, mm); gpu.upload(lvT, lv);
        gpu.reparamDiag({ m: mT, logvar: lvT, eps, z, rows, cols, key });
        const zv = await gpu.read(z);
        let s = 0;
        for (let i = 0; i < n; i++) s += dz[i]! * zv[i]!;
        return s;
      };
      await loss(m, logvar);
      const dzT = gpu.tensor(n, { data: dz }), dM = gpu.tensor(n), dLv = gpu.tensor(n);
      gpu.reparamDiagBackward({ dz: dzT, eps, logvar: lvT, dM, dLogvar: dLv, rows, cols });
      const gM = await gpu.read(dM), gLv = await gpu.read(dLv);
      const h = 1e-2;
      for (let dir = 0; dir < 3; dir++) {
        const vM = randomArray(n, 40 + dir), vLv = randomArray(n, 50 + dir);
        const shift = (x: Float32Array, v: Float32Array, s: number) => x.map((xi, i) => xi + s * h * v[i]!);
        const fd = (await loss(shift(m, vM, 1), shift(logvar, vLv, 1)) - await loss(shift(m, vM, -1), shift(logvar, vLv, -1))) / (2 * h);
        let analytic = 0;
        for (let i = 0; i < n; i++) analytic += gM[i]! * vM[i]! + gLv[i]! * vLv[i]!;
        expect(Math.abs(fd - analytic), `direction ${dir}: fd ${fd}, analytic ${analytic}`).toBeLessThan(2e-3 * (1 + Math.abs(analytic)));
      }
      for (const t of [eps, z, mT, lvT, dzT, dM, dLv]) gpu.release(t);
    });

    it('reparamChol matches the CPU on ragged shapes and ignores the upper triangle of L', async () => {
      const gpu = await gpuBackend(adapter);
      for (const [rows, d, seed] of [[1, 1, 1], [3, 5, 2], [257, 7, 3], [65, 20, 4]] as const) {
        const n = rows * d;
        const key = { seed, stream: 5, counter: seed * 3 };
        const m = randomArray(n, 60 + seed), l = randomArray(d * d, 70 + seed);
        const lUpperNaN = l.map((v, k) => (k % d > Math.floor(k / d) ? Number.NaN : v));
        const res: Float32Array[][] = [];
        for (const [b, lData] of [[gpu, lUpperNaN], [cpu, l]] as [Backend, Float32Array][]) {
          const t = { m: b.tensor(n, { data: m }), l: b.tensor(d * d, { data: lData }), eps: b.tensor(n), z: b.tensor(n) };
          b.reparamChol({ ...t, rows, d, key });
          res.push([await b.read(t.eps), await b.read(t.z)]);
          for (const v of Object.values(t)) b.release(v);
        }
        expectClose(res[0]![0]!, res[1]![0]!, 2e-6, 1e-6, `eps ${rows}×${d}`);
        expectClose(res[0]![1]!, res[1]![1]!, 2e-5, 1e-5, `z ${rows}×${d}`);
      }
    });

    it('reparamChol draws have mean m and sample covariance ≈ L Lᵀ', async () => {
      const gpu = await gpuBackend(adapter);
      const d = 3, rows = 200_000, n = rows * d;
      const L = [1, 0, 0, 0.5, 2, 0, -0.3, 0.4, 0.7];
      const mu = [1, -2, 0.5];
      const cov = Array.from({ length: d * d }, (_, k) => {
        const i = Math.floor(k / d), j = k % d;
        let s = 0;
        for (let t = 0; t < d; t++) s += L[i * d + t]! * L[j * d + t]!;
        return s;
      });
      const mT = gpu.tensor(n, { data: Float32Array.from({ length: n }, (_, k) => mu[k % d]!) });
      const lT = gpu.tensor(d * d, { data: Float32Array.from(L) });
      const eps = gpu.tensor(n), z = gpu.tensor(n);
      gpu.reparamChol({ m: mT, l: lT, eps, z, rows, d, key: { seed: 3, stream: 14, counter: 15 } });
      const zv = await gpu.read(z);
      for (const t of [mT, lT, eps, z]) gpu.release(t);
      const mean = [0, 0, 0];
      for (let r = 0; r < rows; r++) for (let i = 0; i < d; i++) mean[i]! += zv[r * d + i]! / rows;
      const sc = new Float64Array(d * d);
      for (let r = 0; r < rows; r++) {
        for (let i = 0; i < d; i++) {
          for (let j = 0; j < d; j++) sc[i * d + j]! += (zv[r * d + i]! - mean[i]!) * (zv[r * d + j]! - mean[j]!) / (rows - 1);
        }
      }
      // z-scores within 5: sd(mean_i) = √(Σ_ii/n); sd(S_ij) ≈ √((Σ_ii Σ_jj + Σ_ij²)/n) for Gaussians
      for (let i = 0; i < d; i++) {
        expect(Math.abs(mean[i]! - mu[i]!) / Math.sqrt(cov[i * d + i]! / rows), `mean ${i}`).toBeLessThan(5);
        for (let j = 0; j < d; j++) {
          const sd = Math.sqrt((cov[i * d + i]! * cov[j * d + j]! + cov[i * d + j]! ** 2) / rows);
          expect(Math.abs(sc[i * d + j]! - cov[i * d + j]!) / sd, `cov ${i},${j}: ${sc[i * d + j]} vs ${cov[i * d + j]}`).toBeLessThan(5);
        }
      }
    });

    it('names the kernel for bad input on the GPU too', async () => {
      const gpu = await gpuBackend(adapter);
      const t = gpu.tensor(10), u = gpu.tensor(10);
      const k = { seed: 1, stream: 2, counter: 3 };
      expect(() => gpu.uniform({ out: t, n: 11, key: k })).toThrow(/^uniform: tensor 'out' has 10 elements/);
      expect(() => gpu.normal({ out: t, n: 4, key: { ...k, stream: 0.5 } })).toThrow(/^normal: key.stream/);
      expect(() => gpu.reparamDiag({ m: t, logvar: t, eps: u, z: u, rows: 2, cols: 5, key: k })).toThrow(/^reparamDiag: 'eps' and 'z'/);
      const idx = gpu.tensor(10, { dtype: 'u32' });
      expect(() => gpu.uniform({ out: idx, n: 10, key: k })).toThrow(/random\.randomUniform: binding 'values' wants f32/);
      for (const x of [t, u, idx]) gpu.release(x);
    });
  });
}

// The host generators' streams are fixed: synthetic data, PPCA's initial W and
// minibatches (mulberry32), model initialisation and epoch permutations
// (splitmix32) all depend on them, so the figures in docs/ do too.
describe('host generators (src/train/rng.ts)', () => {
  it('keep their streams', () => {
    const split = new HostRng(1);
    const mulberry = new HostRng(1, 'mulberry32');
    expect(Array.from({ length: 4 }, () => split.nextU32())).toEqual([2527132011, 314344336, 2535364964, 2041432039]);
    expect(Array.from({ length: 4 }, () => mulberry.nextU32())).toEqual([2693262067, 11749833, 2265367787, 4213581821]);
    expect(Array.from(epochPermutation(8, 3, 2))).toEqual([4, 6, 3, 2, 5, 0, 7, 1]);
    const normals = new HostRng(7, 'mulberry32');
    expect([normals.normal(), normals.normal()]).toEqual([0.14197043782155663, 0.058240714748711335]);
  });
});
