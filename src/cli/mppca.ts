// `latentgpu train --model mppca --components K` (EM for a mixture of PPCA,
// src/models/mppca/mppca.ts) and `latentgpu eval` of an mppca model file: the exact
// per-point log-likelihood and the cluster assignments (--points FILE writes them
// as CSV). A run folder (--run-dir) holds metrics.json, the objective curve, the
// component means as images (D a perfect square) and the model.
import { existsSync, mkdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { loadSafetensors, saveSafetensors, writeFileAtomic } from '../io/atomic.node.ts';
import { mppcaFromTensors, mppcaToTensors } from '../models/mppca/file.ts';
import {
  clusterPurity, componentSizes, evaluateMppca, fitMppca, mppcaParameterCount, roundMppca, type MppcaEvaluation, type MppcaHost,
} from '../models/mppca/mppca.ts';
import { releaseData, uploadData } from '../models/ppca/model.ts';
import { lineChartSvg } from '../report/curve.ts';
import { imageGrid } from '../report/grid.ts';
import { encodePng } from '../report/png.node.ts';
import type { Backend } from '../backend.ts';
import type { Dataset, EvalConfig, RunConfig, Runner, SyntheticSettings } from './context.ts';
import { sameFile } from './outputs.ts';
import { SYNTHETIC_METADATA_KEY } from './synthetic.ts';

export interface MppcaTrainConfig extends RunConfig {
  components: number;
  iters: number;
  tol: number;
  synthetic?: SyntheticSettings;
}

export interface MppcaEvalConfig extends EvalConfig {
  /** write per-point log-likelihoods and assignments here (CSV) */
  points?: string;
  /** files the points file must not replace */
  keep: [string, string][];
}

/** Evaluates a model on one split on the backend (data uploaded and released). */
async function evaluateOn(b: Backend, ds: Dataset, model: MppcaHost): Promise<MppcaEvaluation> {
  const data = uploadData(b, ds);
  try {
    return await evaluateMppca(b, data, model);
  } finally {
    releaseData(b, data);
  }
}

/** The figures of an evaluation that go into a result: mean log-likelihood, cluster sizes, purity when the data have labels. */
function figures(ev: MppcaEvaluation, ds: Dataset, K: number, prefix: string): Record<string, unknown> {
  const out: Record<string, unknown> = { [`${prefix}loglik`]: ev.loglik, [`${prefix}cluster_sizes`]: componentSizes(ev.assign, K) };
  if (ds.labels) out[`${prefix}purity`] = clusterPurity(ev.assign, ds.labels);
  return out;
}

/** --run-dir DIR made before any work (an existing file there is an error); undefined stays undefined. */
function runFolder(dir: string | undefined): string | undefined {
  if (dir !== undefined && existsSync(dir) && !statSync(dir).isDirectory()) throw new Error(`--run-dir ${dir} is a file, not a directory; give a folder for the run's files`);
  if (dir !== undefined) mkdirSync(dir, { recursive: true });
  return dir;
}

export const train: Runner<MppcaTrainConfig> = async (ctx) => {
  const cfg = ctx.config;
  const d = cfg.latent;
  const runDir = runFolder(cfg.runDir);
  const b = ctx.backend;
  const data = uploadData(b, ctx.train);
  let r;
  try {
    ctx.progress.start(cfg.iters, 'mppca em');
    r = await fitMppca(b, data, {
      K: cfg.components, d, maxIters: cfg.iters, tol: cfg.tol, seed: cfg.seed,
      onIter: (p) => ctx.progress.tick(p.iteration, { loglik: p.loglik.toFixed(4), K: p.K }),
    });
    ctx.progress.stop();
  } finally {
    releaseData(b, data);
  }
  // the figures of the model as its file stores it (W, μ float32), so eval reproduces them
  const model = roundMppca(r.model);
  const trainEv = await evaluateOn(b, ctx.train, model);
  const testEv = await evaluateOn(b, ctx.test, model);
  if (!Number.isFinite(trainEv.loglik) || !Number.isFinite(testEv.loglik)) throw new Error(`mppca: the fitted model's log-likelihood is ${trainEv.loglik} (train), ${testEv.loglik} (test); standardise the data`);
  for (const drop of r.dropped) ctx.log(`mppca: component ${drop.component} dropped at iteration ${drop.iteration} (${drop.rows.toPrecision(3)} rows of responsibility, fewer than d + 1 = ${d + 1})`);
  if (r.atFloor.length) ctx.log(`mppca: σ² of component(s) ${r.atFloor.join(', ')} at the floor ${r.sigma2Floor.toPrecision(3)} (0.001 × the mean column variance)`);
  const result: Record<string, unknown> = {
    model: 'mppca', latent: d, components: model.K, components_requested: cfg.components, parameters: mppcaParameterCount(model.K, model.D, d),
    n_train: ctx.train.n, n_test: ctx.test.n,
    train_loglik: trainEv.loglik, test_loglik: testEv.loglik,
    ...figures(trainEv, ctx.train, model.K, 'train_'), ...figures(testEv, ctx.test, model.K, 'test_'),
    weights: Array.from(model.pi), sigma2: Array.from(model.sigma2),
    iterations: r.iterations, converged: r.converged, dropped: r.dropped, sigma2_floor_hits: r.atFloor.length,
    seconds: r.seconds, seconds_per_iteration: r.seconds / Math.max(1, r.trace.length),
    curve: r.trace.map((p): [number, number] => [p.iteration, p.loglik]),
  };
  const modelFile = cfg.out ?? (runDir !== undefined ? join(runDir, 'model.safetensors') : undefined);
  if (modelFile !== undefined) {
    // eval --data synthetic regenerates the data from the settings stored with the model
    const synthetic: Record<string, string> = cfg.synthetic ? { [SYNTHETIC_METADATA_KEY]: JSON.stringify(cfg.synthetic) } : {};
    const { tensors, metadata } = mppcaToTensors(model, { method: 'em', train_loglik: String(trainEv.loglik), ...synthetic });
    await saveSafetensors(modelFile, tensors, metadata);
  }
  if (cfg.out !== undefined) result.out = cfg.out;
  if (runDir !== undefined) {
    result.run_dir = runDir;
    result.model_file = modelFile;
    const put = (name: string, bytes: Uint8Array | string): Promise<void> => writeFileAtomic(join(runDir, name), typeof bytes === 'string' ? new TextEncoder().encode(bytes) : bytes);
    const files = ['objective.svg'];
    await put('objective.svg', lineChartSvg(
      [{ name: 'train log-likelihood per sample', color: '#c33', points: r.trace.map((p) => ({ x: p.iteration, y: p.loglik })) }],
      { title: `mppca K=${model.K}, d=${d}: log-likelihood per sample (nats)`, xLabel: 'EM iteration', yLabel: 'nats per sample' },
    ));
    const side = Math.round(Math.sqrt(model.D));
    if (side * side === model.D) {
      await put('means.png', encodePng(imageGrid(Float32Array.from(model.mu, (v) => Math.min(1, Math.max(0, v))), model.K, { side, cols: Math.min(model.K, 10) })));
      files.push('means.png');
    }
    result.files = files;
    await put('metrics.json', `${JSON.stringify(result, null, 2)}\n`);
  }
  return result;
};

export const evaluate: Runner<MppcaEvalConfig> = async (ctx) => {
  const { file, points } = ctx.config;
  if (points !== undefined) {
    for (const [flag, path] of [['--model', file] as [string, string], ...ctx.config.keep]) {
      if (existsSync(path) && existsSync(points) && sameFile(points, path)) throw new Error(`--points ${points} is the ${flag} file; give another path`);
    }
    if (existsSync(points) && statSync(points).isDirectory()) throw new Error(`--points ${points} is a folder; give a file name for the CSV`);
  }
  const model = mppcaFromTensors(await loadSafetensors(file), file);
  const split = ctx.config.split === 'train' ? ctx.train : ctx.test;
  if (split.D !== model.D) throw new Error(`${file} models D=${model.D} columns but ${split.name} has ${split.D}`);
  const t0 = performance.now();
  const ev = await evaluateOn(ctx.backend, split, model);
  const result: Record<string, unknown> = {
    model: 'mppca', latent: model.d, components: model.K, split: split.name, n: split.n, estimator: 'exact',
    ...figures(ev, split, model.K, ''), seconds: (performance.now() - t0) / 1000,
  };
  if (points !== undefined) {
    const lines = ['row,loglik,component,responsibility'];
    for (let i = 0; i < split.n; i++) lines.push(`${i},${ev.rows[i]},${ev.assign[i]},${ev.resp[i * model.K + ev.assign[i]!]}`);
    await writeFileAtomic(points, new TextEncoder().encode(`${lines.join('\n')}\n`));
    result.points = points;
  }
  return result;
};
