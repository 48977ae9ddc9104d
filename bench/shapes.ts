// The shapes and elementwise workloads the kernel benchmark measures, shared by
// the WebGPU run (bench/kernels.ts) and the CPU child process (bench/cpu-kernels.ts).
import type { Backend, Tensor } from '../src/lib/core.ts';

export interface MatmulShapeCase {
  name: string;
  m: number; n: number; k: number;
  transA?: boolean; transB?: boolean;
}

/** square sizes, then the VAE layer 784→400→20 on a minibatch of 128, forward and backward */
export function matmulCases(quick: boolean): MatmulShapeCase[] {
  const square = (quick ? [256, 512] : [256, 512, 1024]).map((s) => ({ name: `${s}³`, m: s, n: s, k: s }));
  return [
    ...square,
    { name: 'X·W1 128×784→400', m: 128, n: 400, k: 784 },
    { name: 'dH·W1ᵀ 128×400→784', m: 128, n: 784, k: 400, transB: true },
    { name: 'Xᵀ·dH 784×128→400', m: 784, n: 400, k: 128, transA: true },
    { name: 'H·W2 128×400→20', m: 128, n: 20, k: 400 },
    { name: 'dZ·W2ᵀ 128×20→400', m: 128, n: 400, k: 20, transB: true },
    { name: 'Hᵀ·dZ 400×128→20', m: 400, n: 20, k: 128, transA: true },
  ];
}

export interface ElementwiseCase {
  name: string;
  /** bytes read + written per call */
  bytes: number;
  run(): void;
}

/** Memory-bound kernels on n elements (rows×cols = n); each records one kernel call. */
export function elementwiseCases(be: Backend, n: number): { cases: ElementwiseCase[]; tensors: Tensor[] } {
  const cols = 784;
  const rows = Math.floor(n / cols);
  const rc = rows * cols;
  const fill = (v: number, len = n) => be.tensor(len, { data: new Float32Array(len).map((_, i) => v + ((i * 7919) % 1000) / 1000 - 0.5) });
  const x = fill(0.5), y = fill(0.2), z = fill(0.1), w = fill(-0.3);
  const out = be.tensor(Math.max(rows, 1)), one = be.tensor(1), colsOut = be.tensor(cols);
  const idx = be.tensor(rows, { dtype: 'u32', data: Uint32Array.from({ length: rows }, (_, i) => (i * 37) % rows) });
  const tensors = [x, y, z, w, out, one, colsOut, idx];
  const B = 4;
  const cases: ElementwiseCase[] = [
    { name: 'fill', bytes: B * n, run: () => be.fill({ x: y, n, value: 1 }) },
    { name: 'copy', bytes: 2 * B * n, run: () => be.copy({ src: x, dst: y, n }) },
    { name: 'scale', bytes: 2 * B * n, run: () => be.scale({ x: y, n, alpha: 0.999 }) },
    { name: 'axpy', bytes: 3 * B * n, run: () => be.axpy({ x, y, n, alpha: 0.5 }) },
    { name: 'activation tanh', bytes: 2 * B * n, run: () => be.activation({ x, y, n, act: 'tanh' }) },
    { name: 'activationBackward tanh', bytes: 3 * B * n, run: () => be.activationBackward({ y: x, dy: z, dx: w, n, act: 'tanh' }) },
    { name: 'adam', bytes: 7 * B * n, run: () => be.adam({ param: y, grad: x, m: z, v: w, n, lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, step: 3 }) },
    { name: 'sgd', bytes: 3 * B * n, run: () => be.sgd({ param: y, grad: x, n, lr: 1e-3 }) },
    { name: 'sumAll', bytes: B * n, run: () => be.sumAll({ x, out: one, n }) },
    { name: 'sumRows 784 cols', bytes: B * rc, run: () => be.sumRows({ x, out, rows, cols }) },
    { name: 'sumCols 784 cols', bytes: B * rc, run: () => be.sumCols({ x, out: colsOut, rows, cols }) },
    { name: 'gaussianLogDensity (column logvar)', bytes: 2 * B * rc, run: () => be.gaussianLogDensity({ x, mu: y, logvar: colsOut, out, rows, cols, logvarMode: 'column' }) },
    { name: 'bernoulliLogLik', bytes: 2 * B * rc, run: () => be.bernoulliLogLik({ x, logits: y, out, rows, cols }) },
    { name: 'klStdNormal', bytes: 2 * B * rc, run: () => be.klStdNormal({ m: x, logvar: y, out, rows, cols }) },
    { name: 'uniform', bytes: B * n, run: () => be.uniform({ out: y, n, key: { seed: 1, stream: 2, counter: 3 } }) },
    { name: 'normal', bytes: B * n, run: () => be.normal({ out: y, n, key: { seed: 1, stream: 2, counter: 3 } }) },
    { name: 'gatherRows 784 cols', bytes: 2 * B * rc, run: () => be.gatherRows({ src: x, idx, dst: y, rows, cols }) },
  ];
  return { cases, tensors };
}

export function isNotImplemented(e: unknown): boolean {
  return e instanceof Error && /not yet implemented/.test(e.message);
}

/** Runs each case once: those the backend implements, and the names of those it does not. */
export function implementedCases(cases: ElementwiseCase[]): { runnable: ElementwiseCase[]; skipped: string[] } {
  const runnable: ElementwiseCase[] = [];
  const skipped: string[] = [];
  for (const c of cases) {
    try {
      c.run();
      runnable.push(c);
    } catch (e) {
      if (!isNotImplemented(e)) throw e;
      skipped.push(c.name);
    }
  }
  return { runnable, skipped };
}

export interface Stats { median: number; min: number; max: number; reps: number }

export function stats(samples: number[]): Stats {
  const s = [...samples].sort((a, b) => a - b);
  const mid = s.length >> 1;
  const median = s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
  return { median, min: s[0]!, max: s[s.length - 1]!, reps: s.length };
}
