// `latentgpu train --model ppca` and `latentgpu eval` for PPCA model files.
import { loadSafetensors, saveSafetensors } from '../io/atomic.node.ts';
import { validateForModel } from '../data/dataset.ts';
import {
  EM_METHODS, ESTIMATORS, closedFormPpca, createPpca, estimateLogLik, fitEm, fitOem, fitSem, meanLogLik, ppcaFromTensors,
  ppcaToTensors, principalAngles, readPpca, releaseData, releasePpca, uploadData,
  type EmMethod, type EstimatorName, type PpcaModel,
} from '../models/ppca.ts';
import type { CliContext, Runner } from './context.ts';
import { SYNTHETIC_METADATA_KEY, syntheticSettings } from './synthetic.ts';

type Method = EmMethod | 'sem' | 'oem';
const METHODS: readonly Method[] = [...EM_METHODS, 'sem', 'oem'];

function num(v: unknown, fallback: number): number {
  return typeof v === 'number' ? v : v === undefined ? fallback : Number(v);
}

/** Closed form costs O(n·D²) + O(D³) on the host: run it only when that is a few seconds at most. */
function closedFormIsCheap(n: number, D: number): boolean {
  return n * D * D <= 8e9 && D <= 2000;
}

export const train: Runner = async (ctx: CliContext) => {
  const o = ctx.opts;
  const method = (o.method ?? 'em') as Method;
  if (!METHODS.includes(method)) throw new Error(`ppca: unknown method '${method}' (${METHODS.join(' | ')})`);
  const d = num(o.latent, 10);
  const seed = num(o.seed, 0);
  const emMethod = EM_METHODS.find((m) => m === method);
  const stochastic = emMethod === undefined;
  const batch = num(o.batch, 100);
  validateForModel(ctx.train, { latent: d, batch: stochastic ? batch : undefined });
  validateForModel(ctx.test, { latent: d });
  const b = ctx.backend;
  const train = uploadData(b, ctx.train);
  const test = uploadData(b, ctx.test);
  let model: PpcaModel | null = null;
  const t0 = performance.now();
  try {
    const extra: Record<string, unknown> = {};
    let iterations: number;
    if (emMethod) {
      const maxIters = num(o.iters, 1000);
      ctx.progress.start(maxIters, `ppca ${method}`);
      const r = await fitEm(b, train, {
        d, method: emMethod, maxIters, tol: num(o.tol, 1e-6), seed,
        onIter: (p) => ctx.progress.tick(p.iteration, { loglik: p.loglik.toFixed(4) }),
      });
      ctx.progress.stop();
      model = r.model;
      iterations = r.iterations;
      Object.assign(extra, { converged: r.converged, cycles: r.cycles, curve: r.trace.map((p) => [p.iteration, p.loglik]) });
    } else {
      const epochs = num(o.epochs, 10);
      ctx.progress.start(epochs, `ppca ${method}`);
      const onEval = (p: { epoch: number; loglik: number }): void => ctx.progress.tick(Math.round(p.epoch), { loglik: p.loglik.toFixed(4) });
      const r = method === 'sem'
        ? await fitSem(b, train, {
          d, batch, epochs, lr: num(o.lr, 1e-3), tau: num(o.tau, 1000), kappa: num(o.kappa, 0.75),
          optimizer: (o.optimizer ?? 'sgd') as 'sgd' | 'adam', seed, onEval,
        })
        : await fitOem(b, train, { d, batch, epochs, kappa: num(o.kappa, 0.6), seed, onEval });
      ctx.progress.stop();
      model = r.model;
      iterations = r.steps;
      Object.assign(extra, {
        epochs, batch, steps_per_second: r.stepsPerSecond,
        curve: r.trace.map((p) => [p.epoch, p.loglik]),
      });
    }
    // the fit alone; main adds wall_seconds for the whole command (data, device start, closed form)
    const seconds = (performance.now() - t0) / 1000;
    const trainLoglik = await meanLogLik(model, train);
    const testLoglik = await meanLogLik(model, test);
    const result: Record<string, unknown> = {
      model: 'ppca', method, latent: d, n_train: train.n, n_test: test.n,
      train_loglik: trainLoglik, test_loglik: testLoglik, sigma2: model.sigma2, iterations, seconds,
    };
    if (closedFormIsCheap(train.n, train.D)) {
      const cf = closedFormPpca(train, d);
      result.closed_form_loglik = cf.loglik;
      result.gap_to_closed_form = cf.loglik - trainLoglik;
      const cm = createPpca(b, cf);
      result.closed_form_test_loglik = await meanLogLik(cm, test);
      releasePpca(cm);
      if (ctx.truth && ctx.truth.W.length === train.D * d) {
        const host = await readPpca(model);
        result.true_sigma2 = ctx.truth.sigma2;
        result.principal_angles_deg = principalAngles(host.W, ctx.truth.W, train.D, d).map((a) => (a * 180) / Math.PI);
      }
    }
    Object.assign(result, extra);
    if (o.out) {
      const h = await readPpca(model);
      const meta: Record<string, string> = { method, train_loglik: String(trainLoglik) };
      // eval --data synthetic regenerates exactly these data (program.ts reads the key back)
      if (o.data === 'synthetic') meta[SYNTHETIC_METADATA_KEY] = JSON.stringify(syntheticSettings(o, d));
      const { tensors, metadata } = ppcaToTensors(h, meta);
      await saveSafetensors(String(o.out), tensors, metadata);
      result.out = o.out;
    }
    return result;
  } finally {
    if (model) releasePpca(model);
    releaseData(b, train);
    releaseData(b, test);
  }
};

export const evaluate: Runner = async (ctx: CliContext) => {
  const o = ctx.opts;
  const file = String(o.model);
  const host = ppcaFromTensors(await loadSafetensors(file), file);
  const estimator = (o.estimator ?? 'exact') as EstimatorName;
  if (!ESTIMATORS.includes(estimator)) throw new Error(`ppca: unknown estimator '${estimator}' (${ESTIMATORS.join(' | ')})`);
  const split = o.split === 'train' ? ctx.train : ctx.test;
  validateForModel(split, {});
  if (split.D !== host.D) throw new Error(`${file} models D=${host.D} columns but ${split.name} has ${split.D}`);
  const b = ctx.backend;
  const model = createPpca(b, host);
  const data = uploadData(b, split);
  const t0 = performance.now();
  try {
    const samples = num(o.samples, 100);
    const q = o.q === undefined ? 'posterior' : String(o.q);
    if (q !== 'posterior' && q !== 'mean-field') throw new Error(`ppca: unknown proposal --q '${q}' (posterior | mean-field)`);
    const est = await estimateLogLik(model, data, { estimator, samples, seed: num(o.seed, 0), q });
    const exact = estimator === 'exact' ? est.mean : await meanLogLik(model, data);
    return {
      model: 'ppca', latent: host.d, q: estimator === 'elbo' || estimator === 'iwae' ? q : undefined, split: split.name, n: data.n, estimator,
      samples: estimator === 'exact' ? undefined : samples, loglik: est.mean, stderr: est.stderr,
      exact_loglik: exact, gap_to_exact: exact - est.mean, sigma2: host.sigma2, seconds: (performance.now() - t0) / 1000,
    };
  } finally {
    releasePpca(model);
    releaseData(b, data);
  }
};
