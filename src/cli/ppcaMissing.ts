// `latentgpu train --model ppca --missing nan`: PPCA by exact EM over the
// observed entries (src/models/ppca/missing.ts), in float64 on the host — the
// backend (GPU) path is not built for missing data yet. Writes --out (the
// ordinary PPCA model file) and, with --impute FILE, the training data with
// each missing entry replaced by its posterior mean, as .npy.
import { statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { saveSafetensors, writeFileAtomic } from '../io/atomic.node.ts';
import { printable } from '../data/dataset.ts';
import { encodeNpy } from '../data/npy.ts';
import { ppcaToTensors } from '../models/ppca/file.ts';
import { fitPpcaMissing, imputeMissing, missingMeanLogLik } from '../models/ppca/missing.ts';
import type { CliContext, PpcaExactConfig, PpcaTrainConfig } from './context.ts';

function missingCount(x: Float32Array): number {
  let c = 0;
  for (const v of x) if (Number.isNaN(v)) c++;
  return c;
}

/** Checks --impute before any work: a .npy path in an existing folder, not a folder, not a file the run reads or writes. */
function checkImputePath(path: string, keep: [string, string][]): void {
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
  if (cfg.runDir !== undefined) throw new Error('--run-dir is not written by --missing nan yet; use --out FILE (the model) and --impute FILE (the imputed data)');
  if (cfg.impute !== undefined) checkImputePath(cfg.impute, cfg.imputeKeep ?? []);
  const t0 = performance.now();
  ctx.progress.start(cfg.iters, 'ppca em (missing values, host float64)');
  const fit = fitPpcaMissing({ name: train.name, x: train.x, n: train.n, D: train.D }, d, {
    iters: cfg.iters, tol: cfg.tol, seed: cfg.seed,
    onIteration: (iter, ll) => ctx.progress.tick(iter, { loglik: ll.toFixed(4) }),
  });
  ctx.progress.stop();
  const seconds = (performance.now() - t0) / 1000;
  const testLoglik = missingMeanLogLik(fit, { name: test.name, x: test.x, n: test.n, D: test.D });
  const missingTrain = missingCount(train.x);
  const result: Record<string, unknown> = {
    model: 'ppca', method: 'em', missing: 'nan', latent: d, n_train: train.n, n_test: test.n,
    missing_train: missingTrain, missing_fraction_train: missingTrain / (train.n * train.D), missing_test: missingCount(test.x),
    train_loglik: fit.loglik, test_loglik: testLoglik, loglik_kind: 'observed-data, per row',
    sigma2: fit.sigma2, iterations: fit.iterations, converged: fit.converged, seconds, where: 'host float64',
  };
  if (cfg.out !== undefined) {
    const { tensors, metadata } = ppcaToTensors(fit, { method: 'em', missing: 'nan', train_loglik: String(fit.loglik) });
    await saveSafetensors(cfg.out, tensors, metadata);
    result.out = cfg.out;
  }
  if (cfg.impute !== undefined) {
    const imputed = imputeMissing(fit, { name: train.name, x: train.x, n: train.n, D: train.D });
    await writeFileAtomic(cfg.impute, encodeNpy(imputed, train.n, train.D));
    result.imputed = cfg.impute;
  }
  return result;
}
