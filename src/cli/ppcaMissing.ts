// `latentgpu train --model ppca --missing nan`: PPCA by exact EM over the
// observed entries (src/models/ppca/missing.ts), in float64 on the host — the
// backend (GPU) path is not built for missing data yet. Writes --out (the
// ordinary PPCA model file) and, with --impute FILE, the training data with
// each missing entry replaced by its posterior mean, as .npy.
import { saveSafetensors, writeFileAtomic } from '../io/atomic.node.ts';
import { encodeNpy } from '../data/npy.ts';
import { ppcaToTensors } from '../models/ppca/file.ts';
import { fitPpcaMissing, imputeMissing, missingMeanLogLik } from '../models/ppca/missing.ts';
import type { CliContext, PpcaExactConfig, PpcaTrainConfig } from './context.ts';

function missingCount(x: Float32Array): number {
  let c = 0;
  for (const v of x) if (Number.isNaN(v)) c++;
  return c;
}

export async function trainMissing(ctx: CliContext<PpcaTrainConfig>, cfg: PpcaExactConfig): Promise<Record<string, unknown>> {
  const { train, test } = ctx;
  const d = cfg.latent;
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
