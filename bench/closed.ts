// The PPCA closed form on the MNIST train split, side by side in one process: the
// full float64 eigendecomposition (the reference), the host's filtered subspace
// iteration (closedFormPpca) and the backend's (closedFormPpcaOn: covariance and
// products on its matmul, float64 Rayleigh–Ritz on the host), each with its
// log-likelihood's difference from the full one. JSON on stdout (and --out FILE),
// with the adapter, the load average before each timing and each call's CPU
// seconds over all the process's threads: on a loaded machine the wall time
// grows with the load, while the CPU seconds bound what a quiet one would take
// (its wall time is at most their sum, less where the worker threads overlap).
//   npx tsx bench/closed.ts [--target cpu|llvmpipe|swiftshader] [--d 10,50] [--reps 3] [--skip-full] [--out FILE]
// Measure the CPU backend in a process that never created a WebGPU device (DESIGN.md §3).
import { writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { closedFormPpca, closedFormPpcaOn, createCpuBackend, createWebGpuBackend, loadMnist, type Backend } from '../src/index.ts';

const { values } = parseArgs({
  options: {
    target: { type: 'string', default: 'cpu' }, d: { type: 'string', default: '10,50' }, reps: { type: 'string', default: '3' },
    'skip-full': { type: 'boolean', default: false }, out: { type: 'string' },
  },
});
const reps = Number(values.reps);
const train = loadMnist().train;
const data = { name: 'mnist', host: train.x, n: train.n, D: train.D };
const target = values.target!;
const backend: Backend = target === 'cpu' ? await createCpuBackend() : await createWebGpuBackend(target as 'llvmpipe');

const median = (a: number[]): number => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)]!;

/** per call: wall seconds, the load average before it, and the process's CPU seconds (all threads: main and the WebAssembly workers) */
interface Timed { seconds: number[]; cpu: number[]; loads: number[]; loglik: number; timing?: unknown[] }

async function time(run: () => Promise<{ loglik: number; timing?: unknown }> | { loglik: number; timing?: unknown }, count: number): Promise<Timed> {
  const out: Timed = { seconds: [], cpu: [], loads: [], loglik: NaN, timing: [] };
  for (let r = 0; r < count; r++) {
    out.loads.push(loadavg()[0]!);
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    const f = await run();
    out.seconds.push((performance.now() - t0) / 1000);
    const c = process.cpuUsage(c0);
    out.cpu.push((c.user + c.system) / 1e6);
    out.loglik = f.loglik;
    if (f.timing) out.timing!.push(f.timing);
  }
  return out;
}

const rows: Record<string, unknown>[] = [];
try {
  // warm-up: WebAssembly instantiation or shader pipelines, at a small d
  await closedFormPpcaOn(backend, data, 5);
  for (const d of values.d!.split(',').map(Number)) {
    const full = values['skip-full'] ? undefined : await time(() => closedFormPpca(data, d, 'full'), 1);
    const host = await time(() => closedFormPpca(data, d), reps);
    const on = await time(() => closedFormPpcaOn(backend, data, d), reps);
    const ref = full?.loglik;
    const row = (how: string, t: Timed) => ({
      d, how, median_s: median(t.seconds), min_s: Math.min(...t.seconds), all_s: t.seconds, cpu_s: t.cpu, load1: t.loads,
      loglik: t.loglik, minus_full: ref === undefined ? null : t.loglik - ref, ...(t.timing?.length ? { timing_ms: t.timing } : {}),
    });
    if (full) rows.push(row('full eigendecomposition (host float64)', full));
    rows.push(row('fast, host (closedFormPpca)', host));
    rows.push(row(`fast, backend (closedFormPpcaOn, ${target})`, on));
    for (const r of rows.slice(full ? -3 : -2)) process.stderr.write(`d=${d} ${r.how}: ${(r.median_s as number).toFixed(3)} s (min ${(r.min_s as number).toFixed(3)}; CPU ${(r.cpu_s as number[]).map((v) => v.toFixed(2)).join(', ')} s), minus full ${String(r.minus_full)}\n`);
  }
} finally {
  backend.destroy();
}
const result = { bench: 'ppca-closed', data: `MNIST train ${train.n}×${train.D}`, adapter: backend.info.summary, reps, load_after: loadavg(), rows };
const text = `${JSON.stringify(result, null, 1)}\n`;
process.stdout.write(text);
if (values.out) writeFileSync(values.out, text);
