// PPCA benchmark: seconds per exact-EM iteration and stochastic-EM steps per
// second on the MNIST train split, d ∈ {10, 50}, and how an EM iteration grows
// with n, d and D (the cost curve). measurePpca() is what bench/run.ts calls in
// each target's process; run alone it measures the named targets and writes
// bench/results/ppca.json and ppca.md.
//   npx tsx bench/ppca.ts [--targets swiftshader,llvmpipe,cpu] [--quick]
//   npx tsx bench/ppca.ts --em-breakdown [--targets llvmpipe] [--d 10]
//   npx tsx bench/ppca.ts --em-passes [--targets cpu,llvmpipe] [--d 10] [--block 4096]
// --em-breakdown prints, per target, one plain-EM iteration on the MNIST train split
// beside its two n-long products (Y = Xc W and Gᵀ = Yᵀ Xc, the shapes em.ts records)
// replayed alone, and what those products need at a given rate (--gflops, default 15).
// --em-passes compares plain-EM iterations on the rows uploaded once with the same rows read in
// passes (a source that is not in memory, blocks of --block rows), alternating, in one process.
// The CPU backend should be measured in a process that never created a WebGPU
// instance (Dawn may keep a core spinning, DESIGN.md §3): `--targets cpu` alone.
import { mkdirSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import {
  CpuBackend, createWebGpuBackend, fitEm, fitSem, loadMnist, releaseData, releasePpca, subsetRows, syntheticPpca, uploadData,
  type Backend, type Dataset,
} from '../src/index.ts';
import { stats } from './shapes.ts';
import { timeKernel } from './timing.ts';
import type { BenchRow } from './suite/common.ts';

export interface PpcaBenchOptions {
  impl?: string;
  target: string;
  /** timed EM iterations per configuration */
  emIters?: number;
  /** stochastic-EM steps per repetition (3 repetitions) */
  semSteps?: number;
  semBatch?: number;
  /** skip the cost curve (only d ∈ {10, 50} on the full split) */
  noCurve?: boolean;
  log?: (s: string) => void;
}

interface EmCase { data: Dataset; d: number; curve: string | null }

/** EM on one dataset: per-iteration seconds from the fit's own trace (each iterate's log-likelihood is read back). */
async function emRow(be: Backend, c: EmCase, o: Required<Pick<PpcaBenchOptions, 'emIters' | 'target' | 'impl'>>): Promise<BenchRow> {
  const data = uploadData(be, c.data);
  try {
    const r = await fitEm(be, data, { d: c.d, maxIters: o.emIters + 1, tol: 0, seed: 1 });
    releasePpca(r.model);
    // trace: one entry per iterate, then the final evaluation; intervals between iterates are
    // iterations alone (the setup precedes the first entry; pipelines were compiled by the warm-up)
    const t = r.trace.slice(0, -1);
    const dt = t.slice(1).map((p, i) => p.seconds - t[i]!.seconds);
    const s = stats(dt.length ? dt : [t[t.length - 1]!.seconds]);
    return {
      group: c.curve ? 'curve' : 'ppca-em', impl: o.impl, target: o.target,
      name: c.curve ?? `PPCA exact EM, MNIST ${c.data.n}×${c.data.D}, d=${c.d}`,
      unit: 's/iter', median: s.median, min: s.min, max: s.max, reps: s.reps, ms: s.median * 1e3,
      params: { model: 'ppca-em', n: c.data.n, D: c.data.D, d: c.d, data: c.data.name },
    };
  } finally {
    releaseData(be, data);
  }
}

export async function measurePpca(be: Backend, opts: PpcaBenchOptions): Promise<BenchRow[]> {
  const o = { impl: opts.impl ?? 'latentgpu', target: opts.target, emIters: opts.emIters ?? 3 };
  const semSteps = opts.semSteps ?? 30, batch = opts.semBatch ?? 100;
  const log = opts.log ?? (() => {});
  const { train } = loadMnist();
  const rows: BenchRow[] = [];
  // compile the pipelines on a small problem first, so no timed interval pays for them
  for (const d of [2, 10, 50]) {
    const small = uploadData(be, subsetRows(train, 256));
    releasePpca((await fitEm(be, small, { d, maxIters: 2, tol: 0, seed: 1 })).model);
    releasePpca((await fitSem(be, small, { d, batch, epochs: 1, lr: 1e-4, seed: 1, evalEvery: 0 })).model);
    releaseData(be, small);
  }
  for (const d of [10, 50]) {
    rows.push(await emRow(be, { data: train, d, curve: null }, o));
    log(`  ${rows.at(-1)!.name}: ${rows.at(-1)!.median.toFixed(3)} s/iter`);
    const data = uploadData(be, train);
    const rates: number[] = [];
    for (let r = 0; r < 3; r++) {
      // lr small for MNIST's σ² ≈ 0.05 (the gradient scales with 1/σ²); only the speed is measured here
      const sem = await fitSem(be, data, { d, batch, epochs: semSteps / Math.ceil(data.n / batch), lr: 1e-4, seed: 1 + r, evalEvery: 0 });
      releasePpca(sem.model);
      rates.push(sem.stepsPerSecond);
    }
    releaseData(be, data);
    const s = stats(rates);
    rows.push({
      group: 'ppca-sem', impl: o.impl, target: o.target, name: `PPCA stochastic EM, MNIST, B=${batch}, d=${d}`,
      unit: 'steps/s', median: s.median, min: s.min, max: s.max, reps: s.reps, ms: 1e3 / s.median,
      params: { model: 'ppca-sem', n: train.n, D: train.D, d, batch },
    });
    log(`  ${rows.at(-1)!.name}: ${s.median.toFixed(1)} steps/s`);
  }
  if (opts.noCurve) return rows;
  // cost curve of one EM iteration: n (MNIST rows, d = 10), d (full split), D (synthetic, n = 4000, d = 10)
  const cases: EmCase[] = [
    { data: subsetRows(train, 2000), d: 10, curve: 'PPCA EM s/iter vs n' },
    { data: subsetRows(train, 4000), d: 10, curve: 'PPCA EM s/iter vs n' },
    { data: train, d: 10, curve: 'PPCA EM s/iter vs n' },
    { data: train, d: 2, curve: 'PPCA EM s/iter vs d' },
    { data: train, d: 10, curve: 'PPCA EM s/iter vs d' },
    { data: train, d: 50, curve: 'PPCA EM s/iter vs d' },
    ...[100, 400, 784].map((D) => ({ data: { ...syntheticPpca({ n: 4000, D, d: 10, sigma: 0.5, seed: 1 }).data, name: `synthetic-${D}` }, d: 10, curve: 'PPCA EM s/iter vs D' })),
  ];
  // the full-split d = 10 and d = 50 points were just measured: reuse them rather than run them again
  for (const c of cases) {
    const again = rows.find((r) => r.group === 'ppca-em' && r.params!.n === c.data.n && r.params!.D === c.data.D && r.params!.d === c.d && r.params!.data === c.data.name);
    const row = again ? { ...again, group: 'curve', name: c.curve! } : await emRow(be, c, o);
    rows.push(row);
    log(`  ${row.name} n=${c.data.n} D=${c.data.D} d=${c.d}: ${row.median.toFixed(3)} s/iter`);
  }
  return rows;
}

/**
 * One plain-EM iteration (median s over `iters`) against its two n-long products
 * replayed alone (median ms each; rows padded to 256 and d to a multiple of 4, as em.ts
 * does) and the products' FLOPs (4·n·D·d, at the model's d).
 */
export async function emBreakdown(be: Backend, d: number, iters = 6): Promise<{ iterMs: number; yMs: number; gMs: number; mflop: number }> {
  const { train } = loadMnist();
  const warm = uploadData(be, subsetRows(train, 256));
  releasePpca((await fitEm(be, warm, { d, maxIters: 2, tol: 0, seed: 1, method: 'em' })).model);
  releaseData(be, warm);
  const data = uploadData(be, train);
  const r = await fitEm(be, data, { d, maxIters: iters + 1, tol: 0, seed: 1, method: 'em' });
  releasePpca(r.model);
  releaseData(be, data);
  const t = r.trace.slice(0, -1);
  const iterMs = stats(t.slice(1).map((p, i) => p.seconds - t[i]!.seconds)).median * 1e3;
  const D = train.D, dp = Math.ceil(d / 4) * 4, R = 256, nPad = Math.ceil(train.n / R) * R;
  const xc = be.tensor(nPad * D, { data: Float32Array.from(train.x.subarray(0, Math.min(train.x.length, nPad * D))) });
  const w = be.tensor(D * dp, { data: Float32Array.from({ length: D * dp }, (_, i) => Math.sin(i)) });
  const y = be.tensor(nPad * dp), parts = be.tensor((nPad / R) * dp * D), probe = be.tensor(64);
  const opt = { reps: 5, minSampleMs: 50 };
  // as em.ts records them: on WebGPU Y transposed chunk by chunk (Yᵀ_c = Wᵀ Xc_cᵀ, Gᵀ_c = Yᵀ_c Xc_c), on the CPU Y = Xc W
  const yt = be.info.backend === 'webgpu';
  const yMs = (await timeKernel(be, () => be.matmul(yt
    ? { a: w, b: xc, c: y, m: dp, n: R, k: D, transA: true, transB: true, batch: nPad / R, strideA: 0, strideB: R * D, strideC: dp * R }
    : { a: xc, b: w, c: y, m: nPad, n: dp, k: D }), probe, opt)).median;
  const gMs = (await timeKernel(be, () => be.matmul({
    a: y, b: xc, c: parts, m: dp, n: D, k: R, transA: !yt, batch: nPad / R, strideA: R * dp, strideB: R * D, strideC: dp * D,
  }), probe, opt)).median;
  for (const x of [xc, w, y, parts, probe]) be.release(x);
  return { iterMs, yMs, gMs, mflop: (4 * train.n * D * d) / 1e6 };
}

/** Median seconds per plain-EM iteration: resident rows against passes over a source of the same rows (blocks of `block`), alternating `reps` times. */
export async function emPasses(be: Backend, d: number, block: number, reps = 3, iters = 5): Promise<{ resident: number[]; passes: number[]; loglik: [number, number] }> {
  const { train } = loadMnist();
  const source = {
    name: 'mnist (passes)', n: train.n, D: train.D, array: null,
    async read(r0: number, count: number, dst: Float32Array) { dst.set(train.x.subarray(r0 * train.D, (r0 + count) * train.D)); },
    async close() {},
  };
  const perIter = (r: { trace: { seconds: number }[] }): number => {
    const t = r.trace.slice(0, -1);
    return stats(t.slice(1).map((p, i) => p.seconds - t[i]!.seconds)).median;
  };
  const out = { resident: [] as number[], passes: [] as number[], loglik: [0, 0] as [number, number] };
  const opts = { d, maxIters: iters + 1, tol: 0, seed: 1, method: 'em' as const };
  // warm-up: pipelines of both paths
  releasePpca((await fitEm(be, { ...source, n: 512 }, { ...opts, maxIters: 2, chunkRows: 256 })).model);
  for (let r = 0; r < reps; r++) {
    const data = uploadData(be, train);
    const a = await fitEm(be, data, opts);
    releaseData(be, data);
    const b = await fitEm(be, source, { ...opts, chunkRows: block });
    out.resident.push(perIter(a));
    out.passes.push(perIter(b));
    out.loglik = [a.loglik, b.loglik];
    releasePpca(a.model);
    releasePpca(b.model);
  }
  return out;
}

async function main(): Promise<void> {
  const arg = (name: string, fallback: string) => {
    const i = process.argv.indexOf(`--${name}`);
    return i >= 0 && process.argv[i + 1] ? process.argv[i + 1]! : fallback;
  };
  const quick = process.argv.includes('--quick');
  const rows: BenchRow[] = [];
  const backendFor = async (target: string): Promise<Backend> => (target === 'cpu' ? new CpuBackend()
    : createWebGpuBackend(target as 'swiftshader' | 'llvmpipe' | 'gpu'));
  if (process.argv.includes('--em-passes')) {
    const d = Number(arg('d', '10')), block = Number(arg('block', '4096'));
    for (const target of arg('targets', 'cpu,llvmpipe').split(',')) {
      const be = await backendFor(target);
      const load0 = loadavg()[0]!.toFixed(2);
      const r = await emPasses(be, d, block);
      const f = (v: number[]) => `${(stats(v).median * 1e3).toFixed(1)} ms (${v.map((x) => (x * 1e3).toFixed(0)).join(', ')})`;
      process.stdout.write(`${target} d=${d}: resident ${f(r.resident)}; passes of ${block} rows ${f(r.passes)}; `
        + `ratio ${(stats(r.passes).median / stats(r.resident).median).toFixed(2)}; log-lik ${r.loglik[0].toFixed(6)} / ${r.loglik[1].toFixed(6)}; load ${load0} → ${loadavg()[0]!.toFixed(2)}\n`);
      be.destroy();
    }
    return;
  }
  if (process.argv.includes('--em-breakdown')) {
    const d = Number(arg('d', '10')), gflops = Number(arg('gflops', '15'));
    for (const target of arg('targets', 'llvmpipe').split(',')) {
      const be = await backendFor(target);
      const load0 = loadavg()[0]!.toFixed(2);
      const b = await emBreakdown(be, d);
      const need = b.mflop / gflops;
      process.stdout.write(`${target} d=${d}: EM iteration ${b.iterMs.toFixed(1)} ms; alone Y = Xc W (Yᵀ on WebGPU) ${b.yMs.toFixed(1)} ms, `
        + `Gᵀ = Yᵀ Xc ${b.gMs.toFixed(1)} ms; ${b.mflop.toFixed(0)} MFLOP need ${need.toFixed(1)} ms at ${gflops} GFLOP/s `
        + `(iteration ${(b.iterMs / need).toFixed(1)}× that); load ${load0} → ${loadavg()[0]!.toFixed(2)}\n`);
      be.destroy();
    }
    return;
  }
  for (const target of arg('targets', 'swiftshader,llvmpipe').split(',')) {
    const be = await backendFor(target);
    rows.push(...await measurePpca(be, { target, noCurve: quick, emIters: quick ? 2 : 3, log: (s) => process.stderr.write(`${target}${s}\n`) }));
    be.destroy();
  }
  mkdirSync('bench/results', { recursive: true });
  writeFileSync('bench/results/ppca.json', `${JSON.stringify({ date: new Date().toISOString(), rows }, null, 2)}\n`);
  const md = [
    '# PPCA benchmark', '',
    '| target | figure | n×D | d | median | min–max | unit |', '|---|---|---|---:|---:|---:|---|',
    ...rows.map((r) => `| ${r.target} | ${r.name} | ${r.params!.n}×${r.params!.D} | ${r.params!.d} | ${r.median.toFixed(3)} | ${r.min.toFixed(3)}–${r.max.toFixed(3)} | ${r.unit} |`),
    '', 'Measured on a shared machine; see bench/run.ts for the full suite with its conditions.', '',
  ].join('\n');
  writeFileSync('bench/results/ppca.md', md);
  process.stdout.write(md);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  await main();
  process.exit(0);
}
