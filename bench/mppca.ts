// Mixtures of PPCA on MNIST (the bundled 8,000/2,000 split): for K = 1, 5, 10
// components of latent dimension d, EM on the CPU backend from the k-means++
// start, against one PPCA (the closed form) with as many parameters as the
// mixture allows: train and held-out log-likelihood, held-out per digit, cluster
// purity against the labels; then seconds per EM iteration of K = 10 on each
// target, side by side in one process, with the adapter and the load average.
// JSON on stdout (and --out FILE).
// Then the accuracy of the backend's evaluation: the model of the last fit (or, with
// --ks '', K = --accuracy components after --iters maps) scored on the test rows on each
// target against a float64 host evaluation (reference.ts).
//   npx tsx bench/mppca.ts [--ks 1,5,10] [--d 10] [--iters 80] [--tol 1e-3] [--targets cpu,llvmpipe] [--time-iters 4] [--accuracy 10] [--out FILE]
import { writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { closedFormPpca, createCpuBackend, createWebGpuBackend, loadMnist, type Backend, type Dataset } from '../src/index.ts';
import {
  MppcaFitter, clusterPurity, evaluateMppca, fitMppca, mppcaParameterCount, type MppcaHost,
} from '../src/models/mppca/mppca.ts';
import { referenceLogLikRowsLowRank } from '../src/models/mppca/reference.ts';
import { releaseData, uploadData } from '../src/models/ppca/model.ts';

const { values } = parseArgs({
  options: {
    ks: { type: 'string', default: '1,5,10' }, d: { type: 'string', default: '10' }, iters: { type: 'string', default: '80' },
    tol: { type: 'string', default: '1e-3' }, targets: { type: 'string', default: 'cpu,llvmpipe' }, 'time-iters': { type: 'string', default: '4' },
    accuracy: { type: 'string', default: '10' },
    out: { type: 'string' },
  },
});
const d = Number(values.d);
const ks = values.ks!.split(',').filter(Boolean).map(Number);
const { train, test } = loadMnist();
const D = train.D;

/** PPCA's free parameters at latent dimension q. */
const ppcaParams = (q: number): number => D * q - (q * (q - 1)) / 2 + D + 1;

async function evaluate(b: Backend, ds: Dataset, model: MppcaHost): Promise<{ loglik: number; perDigit: number[]; purity: number }> {
  const data = uploadData(b, ds);
  try {
    const ev = await evaluateMppca(b, data, model);
    const sum = new Array<number>(10).fill(0);
    const cnt = new Array<number>(10).fill(0);
    for (let i = 0; i < ds.n; i++) {
      sum[ds.labels![i]!]! += ev.rows[i]!;
      cnt[ds.labels![i]!]!++;
    }
    return { loglik: ev.loglik, perDigit: sum.map((s, j) => s / cnt[j]!), purity: clusterPurity(ev.assign, ds.labels!) };
  } finally {
    releaseData(b, data);
  }
}

const cpu = await createCpuBackend();
const fits: Record<string, unknown>[] = [];
let last: MppcaHost | undefined;
for (const K of ks) {
  const load1 = loadavg()[0];
  const data = uploadData(cpu, train);
  let r;
  try {
    r = await fitMppca(cpu, data, { K, d, maxIters: Number(values.iters), tol: Number(values.tol), seed: 0 });
  } finally {
    releaseData(cpu, data);
  }
  last = r.model;
  const params = mppcaParameterCount(r.model.K, D, d);
  const tr = await evaluate(cpu, train, r.model);
  const te = await evaluate(cpu, test, r.model);
  // the PPCA with the most parameters not above the mixture's
  let q = 1;
  while (q + 1 < D && ppcaParams(q + 1) <= params) q++;
  const closed = closedFormPpca({ host: train.x, n: train.n, D }, q);
  const single: MppcaHost = { K: 1, D, d: q, pi: Float64Array.of(1), mu: Float64Array.from(closed.mu), W: Float64Array.from(closed.W), sigma2: Float64Array.of(closed.sigma2) };
  const ptr = await evaluate(cpu, train, single);
  const pte = await evaluate(cpu, test, single);
  fits.push({
    K, d, parameters: params, iterations: r.iterations, converged: r.converged, dropped: r.dropped.length, seconds: r.seconds,
    init_seconds: r.initSeconds, s_per_iter: (r.seconds - r.initSeconds) / r.trace.length, load1,
    last_change: r.trace.length > 1 ? r.trace.at(-1)!.loglik - r.trace.at(-2)!.loglik : null,
    curve: r.trace.filter((_, t) => t % 10 === 0 || t === r.trace.length - 1).map((p) => [p.iteration, p.loglik]),
    train_loglik: tr.loglik, test_loglik: te.loglik, test_per_digit: te.perDigit, train_purity: tr.purity, test_purity: te.purity,
    weights: Array.from(r.model.pi),
    ppca: { d: q, parameters: ppcaParams(q), train_loglik: ptr.loglik, test_loglik: pte.loglik, test_per_digit: pte.perDigit },
  });
  console.error(`K=${K}: ${JSON.stringify(fits.at(-1))}`);
}

// seconds per EM iteration, one start for every target (K = 10 from the same seed)
const timing: Record<string, unknown>[] = [];
const timeIters = Number(values['time-iters']);
for (const target of timeIters > 0 ? values.targets!.split(',').map((t) => t.trim()).filter(Boolean) : []) {
  const b: Backend = target === 'cpu' ? cpu : await createWebGpuBackend(target as 'llvmpipe');
  const data = uploadData(b, train);
  const fitter = new MppcaFitter(b, data, { K: 10, d, maxIters: timeIters + 1, tol: 1e-12, seed: 0 });
  try {
    // the first step warms up (WebAssembly, shader pipelines); the rest are timed
    await fitter.step();
    const load1 = loadavg()[0];
    const s: number[] = [];
    while (!fitter.done) {
      const t0 = performance.now();
      const before = fitter.iterations;
      await fitter.step();
      // an E-step and an M-step (the last step is an E-step alone)
      if (fitter.iterations > before) s.push((performance.now() - t0) / 1000);
    }
    s.sort((a, c) => a - c);
    timing.push({ target, adapter: b.info.summary, K: 10, d, n: train.n, s_per_iter_median: s[Math.floor(s.length / 2)], all_s: s, load1 });
  } finally {
    fitter.release();
    releaseData(b, data);
    if (b !== cpu) b.destroy();
  }
  console.error(`timing ${target}: ${JSON.stringify(timing.at(-1))}`);
}
// the backend's per-row log-likelihoods against float64 on the host
if (!last) {
  const data = uploadData(cpu, train);
  last = (await fitMppca(cpu, data, { K: Number(values.accuracy), d, maxIters: Number(values.iters), tol: Number(values.tol), seed: 0 })).model;
  releaseData(cpu, data);
}
const want = referenceLogLikRowsLowRank(last, { host: test.x, n: test.n, D });
const accuracy: Record<string, unknown>[] = [];
for (const target of values.targets!.split(',').map((t) => t.trim()).filter(Boolean)) {
  const b: Backend = target === 'cpu' ? cpu : await createWebGpuBackend(target as 'llvmpipe');
  const data = uploadData(b, test);
  try {
    const got = (await evaluateMppca(b, data, last)).rows;
    let worst = 0;
    let meanGot = 0;
    let meanWant = 0;
    for (let i = 0; i < test.n; i++) {
      worst = Math.max(worst, Math.abs(got[i]! - want[i]!));
      meanGot += got[i]! / test.n;
      meanWant += want[i]! / test.n;
    }
    accuracy.push({ target, adapter: b.info.summary, K: last.K, mean_loglik: meanGot, mean_error: meanGot - meanWant, worst_row_error: worst });
  } finally {
    releaseData(b, data);
    if (b !== cpu) b.destroy();
  }
  console.error(`accuracy ${target}: ${JSON.stringify(accuracy.at(-1))}`);
}
const result = { bench: 'mppca', data: 'mnist 8000/2000', fits, timing, accuracy, date: new Date().toISOString() };
const json = `${JSON.stringify(result, null, 2)}\n`;
if (values.out) writeFileSync(values.out, json);
process.stdout.write(json);
