// `latentgpu train --model ppca --missing nan`: PPCA by exact EM over the
// observed entries, its sums on --backend (src/models/ppca/missingOn.ts; the
// solves in float64 on the host). Writes --out (the ordinary PPCA model file)
// and, with --impute FILE, the training data with each missing entry replaced
// by its posterior mean, as .npy. `latentgpu eval --model FILE --missing nan`:
// the observed-data log-likelihood of the evaluated split, and --impute.
import { statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { loadSafetensors, saveSafetensors, writeFileAtomic } from '../io/atomic.node.ts';
import { printable } from '../data/dataset.ts';
import { encodeNpy } from '../data/npy.ts';
import { ppcaFromTensors, ppcaToTensors } from '../models/ppca/file.ts';
import type { MissingData } from '../models/ppca/missing.ts';
import { fitPpcaMissingOn, imputeMissingOn, missingLogLikRowsOn } from '../models/ppca/missingOn.ts';
import type { Dataset } from '../data/dataset.ts';
import { prepareRunDir, writeRunDir } from './ppcaRunDir.ts';
import type { CliContext, PpcaEvalConfig, PpcaExactConfig, PpcaTrainConfig } from './context.ts';

/** NaN entries in the rows (missing values). */
export function missingCount(x: Float32Array): number {
  let c = 0;
  for (const v of x) if (Number.isNaN(v)) c++;
  return c;
}

/** Rows with no observed entry (their log-likelihood is 0: the probability of observing nothing). */
function emptyRows(ds: MissingData): number {
  let c = 0;
  for (let i = 0; i < ds.n; i++) {
    let any = false;
    for (let j = 0; j < ds.D && !any; j++) any = !Number.isNaN(ds.x[i * ds.D + j]!);
    if (!any) c++;
  }
  return c;
}

const missingOf = (ds: Dataset): MissingData => ({ name: ds.name, x: ds.x, n: ds.n, D: ds.D });

const mean = (a: Float64Array): number => a.reduce((s, v) => s + v, 0) / a.length;

/** Checks --impute before any work: a .npy path in an existing folder, not a folder, not a file the run reads or writes. */
export function checkImputePath(path: string, keep: [string, string][]): void {
  const shown = printable(path, 200);
  if (!/\.npy$/i.test(path)) throw new Error(`--impute ${shown}: the imputed data are written as NumPy .npy; give a path ending in .npy`);
  const st = statSync(path, { throwIfNoEntry: false });
  if (st && !st.isFile()) throw new Error(`--impute ${shown} exists and is not a regular file; give a file path`);
  const parent = statSync(dirname(resolve(path)), { throwIfNoEntry: false });
  if (!parent?.isDirectory()) throw new Error(`--impute ${shown}: the folder ${printable(dirname(resolve(path)), 200)} does not exist; create it first`);
  for (const [flag, other] of keep) {
    const o = statSync(other, { throwIfNoEntry: false });
    const same = st && o ? st.dev === o.dev && st.ino === o.ino : resolve(path) === resolve(other);
    if (same) throw new Error(`--impute ${shown} is the same file as ${flag} ${printable(other, 200)}; give another path`);
  }
}

export async function trainMissing(ctx: CliContext<PpcaTrainConfig>, cfg: PpcaExactConfig): Promise<Record<string, unknown>> {
  const { train, test } = ctx;
  const d = cfg.latent;
  if (cfg.runDir !== undefined) prepareRunDir(cfg.runDir);
  if (cfg.impute !== undefined) checkImputePath(cfg.impute, cfg.imputeKeep ?? []);
  const curve: [number, number][] = [];
  const t0 = performance.now();
  ctx.progress.start(cfg.iters, 'ppca em (missing values)', train.n);
  const fit = await fitPpcaMissingOn(ctx.backend, missingOf(train), d, {
    iters: cfg.iters, tol: cfg.tol, seed: cfg.seed,
    onIteration: (iter, ll) => {
      curve.push([iter, ll]);
      ctx.progress.tick(iter, { loglik: ll.toFixed(4) });
    },
  });
  ctx.progress.stop();
  const seconds = (performance.now() - t0) / 1000;
  const testLoglik = mean(await missingLogLikRowsOn(ctx.backend, fit, missingOf(test)));
  const missingTrain = missingCount(train.x);
  const result: Record<string, unknown> = {
    model: 'ppca', method: 'em', missing: 'nan', latent: d, n_train: train.n, n_test: test.n,
    missing_train: missingTrain, missing_fraction_train: missingTrain / (train.n * train.D), missing_test: missingCount(test.x),
    train_loglik: fit.loglik, test_loglik: testLoglik, loglik_kind: 'observed-data, per row',
    sigma2: fit.sigma2, iterations: fit.iterations, converged: fit.converged, seconds, timing_ms: fit.timing,
  };
  const modelFile = cfg.out ?? (cfg.runDir !== undefined ? join(cfg.runDir, 'model.safetensors') : undefined);
  if (modelFile !== undefined) {
    const { tensors, metadata } = ppcaToTensors(fit, { method: 'em', missing: 'nan', train_loglik: String(fit.loglik) });
    await saveSafetensors(modelFile, tensors, metadata);
    if (cfg.out !== undefined) result.out = cfg.out;
  }
  if (cfg.impute !== undefined) {
    const { imputed } = await imputeMissingOn(ctx.backend, fit, missingOf(train));
    await writeFileAtomic(cfg.impute, encodeNpy(imputed, train.n, train.D));
    result.imputed = cfg.impute;
  }
  if (cfg.runDir !== undefined) {
    // the pictures show the test rows with their missing entries imputed (a complete row per image)
    const { imputed } = await imputeMissingOn(ctx.backend, fit, missingOf(test));
    const shown = { name: test.name, x: imputed, n: test.n, D: test.D };
    result.run_dir = cfg.runDir;
    result.model_file = modelFile;
    const files = await writeRunDir(cfg.runDir, fit, shown, curve, 'EM iteration', undefined, result);
    result.files = [...files, 'metrics.json', ...(cfg.out === undefined ? ['model.safetensors'] : [])];
    await writeFileAtomic(join(cfg.runDir, 'metrics.json'), new TextEncoder().encode(`${JSON.stringify(result, null, 2)}\n`));
  }
  return result;
}

/** `eval --missing nan`: the exact observed-data log-likelihood per row of the split (and --impute FILE). */
export async function evaluateMissing(ctx: CliContext<PpcaEvalConfig>): Promise<Record<string, unknown>> {
  const { file, estimator, impute } = ctx.config;
  if (estimator !== 'exact') throw new Error(`--estimator ${estimator} with --missing nan: a PPCA model is evaluated on data with missing entries by the exact observed-data log-likelihood only (--estimator exact)`);
  if (impute !== undefined) checkImputePath(impute, [...(ctx.config.imputeKeep ?? []), ['--model', file]]);
  const host = ppcaFromTensors(await loadSafetensors(file), file);
  const split = ctx.config.split === 'train' ? ctx.train : ctx.test;
  if (split.D !== host.D) throw new Error(`${file} models D=${host.D} columns but ${split.name} has ${split.D}`);
  const data = missingOf(split);
  const t0 = performance.now();
  const { imputed, loglikRows } = await imputeMissingOn(ctx.backend, host, data);
  const result: Record<string, unknown> = {
    model: 'ppca', latent: host.d, split: split.name, n: split.n, estimator: 'exact', missing: 'nan',
    missing_entries: missingCount(split.x), missing_fraction: missingCount(split.x) / (split.n * split.D), rows_with_nothing_observed: emptyRows(data),
    loglik: mean(loglikRows), loglik_kind: 'observed-data, per row', sigma2: host.sigma2, seconds: (performance.now() - t0) / 1000,
  };
  if (impute !== undefined) {
    await writeFileAtomic(impute, encodeNpy(imputed, split.n, split.D));
    result.imputed = impute;
  }
  return result;
}
