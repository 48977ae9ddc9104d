// Kernel figures for the suite on any backend: matmul GFLOP/s over the shapes of
// bench/shapes.ts (square sizes and the VAE layer shapes with transposes), and
// GB/s of the memory-bound kernels (Gaussian log-density, sampling, reductions).
import type { Backend } from '../../src/lib/core.ts';
import { elementwiseCases, implementedCases, matmulCases } from '../shapes.ts';
import { timeKernel } from '../timing.ts';
import type { BenchRow } from './common.ts';

/** The memory-bound kernels the suite reports (of bench/shapes.ts's list). */
export const MEMORY_KERNELS = [
  'gaussianLogDensity (column logvar)', 'bernoulliLogLik', 'klStdNormal', 'normal', 'uniform',
  'sumAll', 'sumRows 784 cols', 'sumCols 784 cols', 'gatherRows 784 cols', 'adam',
];

export function matmulRowName(shape: string): string {
  return `matmul ${shape}`;
}

export async function measureMatmul(be: Backend, o: { impl?: string; target: string; variant: string; log?: (s: string) => void }): Promise<BenchRow[]> {
  const rows: BenchRow[] = [];
  for (const c of matmulCases(false)) {
    const a = be.tensor(c.m * c.k, { data: new Float32Array(c.m * c.k).map((_, i) => ((i * 7) % 13) / 13 - 0.5) });
    const b = be.tensor(c.k * c.n, { data: new Float32Array(c.k * c.n).map((_, i) => ((i * 5) % 11) / 11 - 0.5) });
    const out = be.tensor(c.m * c.n);
    const flops = 2 * c.m * c.n * c.k;
    const t = await timeKernel(be, () => be.matmul({ a, b, c: out, m: c.m, n: c.n, k: c.k, transA: c.transA, transB: c.transB }), be.view(out, 0, 1),
      { reps: flops > 1e9 ? 3 : 5, minSampleMs: 100, maxInner: 32 });
    rows.push({
      group: 'matmul', impl: o.impl ?? 'latentgpu', target: o.target, name: matmulRowName(c.name), unit: 'GFLOP/s',
      median: flops / (t.median * 1e6), min: flops / (t.max * 1e6), max: flops / (t.min * 1e6), reps: t.reps, ms: t.median,
      params: { m: c.m, n: c.n, k: c.k, transA: c.transA ? 1 : 0, transB: c.transB ? 1 : 0, variant: o.variant, inner: t.inner, cpuMsPerCall: t.cpuMs },
      work: flops,
    });
    o.log?.(`  ${rows.at(-1)!.name}: ${rows.at(-1)!.median.toFixed(2)} GFLOP/s`);
    for (const x of [a, b, out]) be.release(x);
  }
  return rows;
}

export async function measureMemory(be: Backend, o: { impl?: string; target: string; log?: (s: string) => void }): Promise<{ rows: BenchRow[]; skipped: string[] }> {
  const n = 1 << 20;
  const { cases, tensors } = elementwiseCases(be, n);
  const probe = be.tensor(1);
  const rows: BenchRow[] = [];
  const { runnable, skipped } = implementedCases(cases.filter((k) => MEMORY_KERNELS.includes(k.name)));
  for (const c of runnable) {
    const t = await timeKernel(be, c.run, probe, { reps: 5, minSampleMs: 50, maxInner: 64 });
    rows.push({
      group: 'memory', impl: o.impl ?? 'latentgpu', target: o.target, name: c.name, unit: 'GB/s',
      median: c.bytes / (t.median * 1e6), min: c.bytes / (t.max * 1e6), max: c.bytes / (t.min * 1e6), reps: t.reps, ms: t.median,
      params: { elements: n, inner: t.inner }, work: c.bytes,
    });
    o.log?.(`  ${c.name}: ${rows.at(-1)!.median.toFixed(2)} GB/s`);
  }
  for (const t of [...tensors, probe]) be.release(t);
  return { rows, skipped };
}

/**
 * Iterations per FMA-chain call so that one call lasts ~100 ms, long enough that
 * dispatch overhead is noise; `run(iters)` records a call, `sync` waits for it.
 */
export async function sizePeakIters(run: (iters: number) => void, sync: () => Promise<void>): Promise<number> {
  let iters = 64;
  for (;;) {
    const s = performance.now();
    run(iters);
    await sync();
    const ms = performance.now() - s;
    if (ms > 50 || iters >= 1 << 16) return Math.max(64, Math.round(iters * Math.min(4, 100 / ms)));
    iters *= 4;
  }
}
