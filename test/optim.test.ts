// Optimizer kernels: Adam/AdamW and SGD. The CPU reference is checked against
// hand-derived updates and on quadratics; the WebGPU kernels against the CPU
// reference step by step on both adapters.
import { describe, expect, it } from 'vitest';
import type { Backend, Tensor } from '../src/backend.ts';
import * as ref from '../src/cpu/optim.ts';
import { TEST_ADAPTERS, cpu, expectClose, gpuBackend, randomArray } from './gpu.ts';

const HP = { lr: 1e-2, beta1: 0.9, beta2: 0.999, eps: 1e-8 };

describe('optimizer CPU reference', () => {
  it('first Adam step moves each parameter by lr against the sign of its gradient', () => {
    const g = Float32Array.from([3, -0.02, 1e-3, -50]);
    const param = Float32Array.from([1, 2, 3, 4]);
    const m = new Float32Array(4);
    const v = new Float32Array(4);
    ref.adam({ param, grad: g, m, v, n: 4, ...HP, step: 1 });
    // bias correction makes m̂ = g and v̂ = g², so the step is lr·g/(|g| + eps)
    const want = [1, 2, 3, 4].map((w, i) => w - HP.lr * g[i]! / (Math.abs(g[i]!) + HP.eps));
    expectClose(param, want, 1e-7, 1e-7, 'param');
    expectClose(m, g.map((x) => 0.1 * x), 1e-9, 1e-6, 'm');
    expectClose(v, g.map((x) => 0.001 * x * x), 1e-12, 1e-6, 'v');
  });

  it('matches a float64 hand computation over several steps, with decoupled weight decay', () => {
    const n = 3;
    const wd = 0.1;
    const param = Float32Array.from([0.5, -1, 2]);
    const m = new Float32Array(n);
    const v = new Float32Array(n);
    const p64 = Array.from(param);
    const m64 = [0, 0, 0];
    const v64 = [0, 0, 0];
    for (let t = 1; t <= 5; t++) {
      const grad = Float32Array.from([Math.sin(t), Math.cos(3 * t), 0.3 * t]);
      ref.adam({ param, grad, m, v, n, ...HP, step: t, weightDecay: wd });
      for (let i = 0; i < n; i++) {
        m64[i] = HP.beta1 * m64[i]! + (1 - HP.beta1) * grad[i]!;
        v64[i] = HP.beta2 * v64[i]! + (1 - HP.beta2) * grad[i]! ** 2;
        const mh = m64[i]! / (1 - HP.beta1 ** t);
        const vh = v64[i]! / (1 - HP.beta2 ** t);
        p64[i] = p64[i]! - HP.lr * (mh / (Math.sqrt(vh) + HP.eps) + wd * p64[i]!);
      }
      expectClose(param, p64, 1e-6, 1e-6, `param at step ${t}`);
    }
  });

  it('weight decay alone shrinks parameters by (1 − lr·wd) per step', () => {
    const param = Float32Array.from([1, -2, 3]);
    const zeros = () => new Float32Array(3);
    ref.adam({ param, grad: zeros(), m: zeros(), v: zeros(), n: 3, ...HP, step: 7, weightDecay: 0.5 });
    expectClose(param, [1, -2, 3].map((w) => w * (1 - HP.lr * 0.5)), 1e-7, 1e-7, 'decayed');
  });

  it('Adam converges on an ill-conditioned quadratic', () => {
    // f(w) = ½ Σ h_i (w_i − c_i)², curvatures spread over four decades
    const n = 20;
    const h = Array.from({ length: n }, (_, i) => 10 ** (-2 + (4 * i) / (n - 1)));
    const c = randomArray(n, 1, -2, 2);
    const param = new Float32Array(n);
    const grad = new Float32Array(n);
    const m = new Float32Array(n);
    const v = new Float32Array(n);
    for (let t = 1; t <= 600; t++) {
      for (let i = 0; i < n; i++) grad[i] = h[i]! * (param[i]! - c[i]!);
      ref.adam({ param, grad, m, v, n, lr: 0.05, beta1: 0.9, beta2: 0.999, eps: 1e-8, step: t });
    }
    expectClose(param, c, 2e-3, 0, 'minimizer');
  });

  it('SGD steps against the gradient', () => {
    const param = Float32Array.from([1, 2, 3]);
    ref.sgd({ param, grad: Float32Array.from([1, -1, 0.5]), n: 2, lr: 0.5 });
    expect(Array.from(param)).toEqual([0.5, 2.5, 3]);
  });

  it('rejects bad hyperparameters and tensors with errors naming the kernel', () => {
    const a = () => new Float32Array(4);
    const base = { param: a(), grad: a(), m: a(), v: a(), n: 4, ...HP, step: 1 };
    expect(() => ref.adam({ ...base, step: 0 })).toThrow(/^adam: step must be an integer ≥ 1/);
    expect(() => ref.adam({ ...base, beta1: 1 })).toThrow(/^adam: beta1 must be in \[0, 1\)/);
    expect(() => ref.adam({ ...base, eps: 0 })).toThrow(/^adam: eps must be positive/);
    expect(() => ref.adam({ ...base, lr: NaN })).toThrow(/^adam: lr must be a finite number/);
    expect(() => ref.adam({ ...base, weightDecay: -1 })).toThrow(/^adam: weightDecay must be ≥ 0/);
    expect(() => ref.adam({ ...base, v: new Float32Array(3) })).toThrow(/^adam: tensor 'v' has 3 elements, needs at least 4/);
    expect(() => ref.adam({ ...base, m: base.v })).toThrow(/^adam: param, grad, m and v must be four different tensors/);
    expect(() => ref.sgd({ param: a(), grad: a(), n: 5, lr: 1 })).toThrow(/^sgd: tensor 'param' has 4 elements/);
  });
});

interface State { param: Tensor; grad: Tensor; m: Tensor; v: Tensor }

function makeState(b: Backend, param: Float32Array): State {
  const n = param.length;
  return { param: b.tensor(n, { data: param }), grad: b.tensor(n), m: b.tensor(n), v: b.tensor(n) };
}

for (const adapter of TEST_ADAPTERS) {
  describe(`optimizer kernels on ${adapter} vs CPU`, () => {
    it('Adam matches the CPU reference step by step on ragged sizes', async () => {
      const gpu = await gpuBackend(adapter);
      // sizes that are multiples of 4 run the vec4 kernel (adam4), the others the scalar one
      for (const [n, steps] of [[1, 40], [3, 40], [4, 40], [1000, 20], [1001, 20], [65536, 4], [65537, 4]] as const) {
        const init = randomArray(n, n, -1, 1);
        const sg = makeState(gpu, init);
        const sc = makeState(cpu, init);
        for (let t = 1; t <= steps; t++) {
          // gradients of every scale, sign and a few exact zeros
          const g = randomArray(n, 1000 * n + t, -1, 1).map((x, i) => (i % 17 === 5 ? 0 : x * 10 ** ((i % 5) - 2)));
          for (const [b, s] of [[gpu, sg], [cpu, sc]] as const) {
            b.upload(s.grad, g);
            b.adam({ ...s, n, ...HP, step: t, weightDecay: t % 2 ? 0 : 0.01 });
          }
          if (n < 2000 || t === steps) {
            for (const k of ['param', 'm', 'v'] as const) {
              // m and v are float32 running sums of terms up to the gradient's scale (or its
              // square), so their absolute error scales with it, not with their own value
              const got = await gpu.read(sg[k]);
              const want = await cpu.read(sc[k]);
              for (let i = 0; i < n; i++) {
                const gs = 10 ** ((i % 5) - 2);
                const atol = k === 'param' ? 1e-6 : 1e-6 * (k === 'm' ? gs : gs * gs);
                const err = Math.abs(got[i]! - want[i]!);
                if (!(err <= atol + 1e-5 * Math.abs(want[i]!))) {
                  throw new Error(`${adapter} n=${n} step ${t} ${k}[${i}]: got ${got[i]}, want ${want[i]} (atol ${atol})`);
                }
              }
            }
          }
        }
        for (const t of Object.values(sg)) gpu.release(t);
      }
    });

    it('Adam converges on a quadratic with the gradient computed on the device, as the CPU does', async () => {
      const gpu = await gpuBackend(adapter);
      // f(w) = ½‖w − c‖²: grad = w − c from copy + axpy, one submission per step, no readback
      const n = 300;
      const c = randomArray(n, 77, -3, 3);
      const run = async (b: Backend): Promise<Float32Array> => {
        const s = makeState(b, new Float32Array(n));
        const target = b.tensor(n, { data: c });
        for (let t = 1; t <= 300; t++) {
          b.copy({ src: s.param, dst: s.grad, n });
          b.axpy({ x: target, y: s.grad, n, alpha: -1 });
          b.adam({ ...s, n, lr: 0.05, beta1: 0.9, beta2: 0.999, eps: 1e-8, step: t });
          b.flush();
        }
        const out = await b.read(s.param);
        if (b !== cpu) for (const t of [...Object.values(s), target]) b.release(t);
        return out;
      };
      const got = await run(gpu);
      const want = await run(cpu);
      expectClose(want, c, 1e-2, 0, 'CPU reaches the minimizer');
      expectClose(got, c, 1e-2, 0, `${adapter} reaches the minimizer`);
      expectClose(got, want, 1e-4, 1e-4, `${adapter} trajectory end vs CPU`);
    });

    it('SGD matches the CPU reference on ragged sizes', async () => {
      const gpu = await gpuBackend(adapter);
      for (const n of [1, 3, 1001, 65537]) {
        const init = randomArray(n + 3, n + 1); // the 3 past n must stay unchanged
        const g = randomArray(n, n + 2);
        const pg = gpu.tensor(n + 3, { data: init });
        const gg = gpu.tensor(n, { data: g });
        const pc = cpu.tensor(n + 3, { data: init });
        gpu.sgd({ param: pg, grad: gg, n, lr: 0.3 });
        cpu.sgd({ param: pc, grad: cpu.tensor(n, { data: g }), n, lr: 0.3 });
        expectClose(await gpu.read(pg), await cpu.read(pc), 1e-7, 1e-6, `${adapter} sgd n=${n}`);
        gpu.release(pg);
        gpu.release(gg);
      }
    });

    it('rejects aliased or missing tensors before dispatch', async () => {
      const gpu = await gpuBackend(adapter);
      const buf = gpu.tensor(256);
      const [param, grad, m] = [0, 64, 128].map((o) => gpu.view(buf, o, 64));
      const v = gpu.view(buf, 128, 100);
      expect(() => gpu.adam({ param: param!, grad: grad!, m: m!, v, n: 64, ...HP, step: 1 })).toThrow(/^adam: m .* and v .* overlap in memory/);
      expect(() => gpu.adam({ param: param!, grad: grad!, m: m!, v: gpu.view(buf, 192, 64), n: 65, ...HP, step: 1 })).toThrow(/^adam: tensor 'param' has 64 elements, needs at least 65/);
      expect(() => gpu.sgd({ param: param!, grad: param!, n: 64, lr: 1 })).toThrow(/^sgd: param and grad must be different tensors/);
      // disjoint views of one buffer are fine
      gpu.upload(buf, new Float32Array(256).fill(1, 0, 128)); // param = grad = 1, m = v = 0
      gpu.adam({ param: param!, grad: grad!, m: m!, v: gpu.view(buf, 192, 64), n: 64, ...HP, step: 1 });
      const out = await gpu.read(buf);
      expectClose(out.subarray(0, 64), new Float32Array(64).fill(1 - HP.lr), 1e-6, 1e-6, 'param view updated');
      gpu.release(buf);
    });
  });
}
