// PPCA with missing values: seconds per EM iteration on the host (float64,
// fitPpcaMissing) and on a backend (fitPpcaMissingOn: the sums by its matmul),
// side by side in one process, on the MNIST train split with a fraction of the
// pixels hidden at random; the backend's time split into products, per-row
// solves and M-step. JSON on stdout (and --out FILE) with the adapter and load.
//   npx tsx bench/missing.ts [--targets cpu,llvmpipe] [--n 8000] [--d 10] [--hide 0.3] [--iters 3] [--skip-host] [--out FILE]
import { writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { createCpuBackend, createWebGpuBackend, fitPpcaMissing, fitPpcaMissingOn, loadMnist, subsetRows, type Backend, type MissingData } from '../src/index.ts';
import { HostRng } from '../src/train/rng.ts';

const { values } = parseArgs({
  options: {
    targets: { type: 'string', default: 'cpu' }, n: { type: 'string', default: '8000' }, d: { type: 'string', default: '10' },
    hide: { type: 'string', default: '0.3' }, iters: { type: 'string', default: '3' }, out: { type: 'string' }, 'skip-host': { type: 'boolean', default: false },
  },
});
const n = Number(values.n);
const d = Number(values.d);
const frac = Number(values.hide);
const iters = Number(values.iters);

const all = loadMnist().train;
const sub = n >= all.n ? all : subsetRows(all, n);
const rng = new HostRng(1);
const data: MissingData = { name: 'mnist', x: sub.x.map((v) => (rng.uniform() < frac ? NaN : v)), n: sub.n, D: sub.D };
// one start for every path: the host closed form of the mean-imputed data (iters 0 returns it)
const start = fitPpcaMissing(data, d, { iters: 0 });
const init = { D: data.D, d, W: start.W, mu: start.mu, sigma2: start.sigma2 };

/** Seconds per iteration: the spacing of onIteration calls after the first (each call follows one E-step). */
function perIteration(stamps: number[]): number[] {
  return stamps.slice(1).map((t, i) => (t - stamps[i]!) / 1000);
}
const median = (a: number[]): number => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)]!;

const rows: Record<string, unknown>[] = [];
if (!values['skip-host']) {
  const stamps: number[] = [];
  const load = loadavg()[0];
  const r = fitPpcaMissing(data, d, { init, iters, tol: 0, onIteration: () => stamps.push(performance.now()) });
  const s = perIteration(stamps);
  rows.push({ target: 'host float64', adapter: 'host', s_per_iter: median(s), all_s: s, loglik: r.loglik, load1: load });
}
for (const target of values.targets!.split(',').map((t) => t.trim()).filter(Boolean)) {
  const b: Backend = target === 'cpu' ? await createCpuBackend() : await createWebGpuBackend(target as 'llvmpipe');
  try {
    // one warm-up iteration (WebAssembly instantiation, shader pipelines), then the timed fit
    await fitPpcaMissingOn(b, data, d, { init, iters: 1, tol: 0 });
    const stamps: number[] = [];
    const load = loadavg()[0];
    const r = await fitPpcaMissingOn(b, data, d, { init, iters, tol: 0, onIteration: () => stamps.push(performance.now()) });
    const s = perIteration(stamps);
    const per = (ms: number) => ms / 1000 / (iters + 2);
    rows.push({
      target, adapter: b.info.summary, s_per_iter: median(s), all_s: s, loglik: r.loglik, load1: load,
      // the engine's totals over its iters + 2 E-steps (the last one evaluates the float32 result) per E-step
      products_s: per(r.timing.productMs), row_solves_s: per(r.timing.rowSolveMs), m_step_s: r.timing.mStepMs / 1000 / iters,
    });
  } finally {
    b.destroy();
  }
}
const result = { bench: 'ppca-missing', n: data.n, D: data.D, d, hidden: frac, iters, load_after: loadavg(), rows };
const text = `${JSON.stringify(result, null, 1)}\n`;
process.stdout.write(text);
if (values.out) writeFileSync(values.out, text);
