// `latentgpu train --model fa` (exact EM, plain or SQUAREM/Anderson-accelerated,
// src/models/fa/fa.ts; stochastic EM, sem.ts; --missing nan: EM over the observed
// entries, missing.ts) and `latentgpu eval` of an fa model file (the exact
// log-likelihood; --missing nan: the observed-data one). A run folder (--run-dir)
// holds metrics.json and the model.
import { existsSync, mkdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { loadSafetensors, saveSafetensors, writeFileAtomic } from '../io/atomic.node.ts';
import { encodeNpy } from '../data/npy.ts';
import { faMeanLogLik, fitFa, type FaHost } from '../models/fa/fa.ts';
import { faImpute, faMissingMeanLogLik } from '../models/fa/missing.ts';
import { fitFaMissingOn } from '../models/fa/missingOn.ts';
import { fitFaSem } from '../models/fa/sem.ts';
import { faFromTensors, faToTensors, roundFa } from '../models/fa/file.ts';
import { releaseData, uploadData } from '../models/ppca/model.ts';
import { columnList } from '../models/ppca/scale.ts';
import type { EvalConfig, RunConfig, Runner, SyntheticSettings } from './context.ts';
import { SYNTHETIC_METADATA_KEY } from './synthetic.ts';
import { checkImputePath, missingCount } from './ppcaMissing.ts';

export type FaMethod = 'em' | 'squarem' | 'anderson' | 'sem';

export interface FaTrainConfig extends RunConfig {
  method: FaMethod;
  /** exact EM (em, squarem, anderson) */
  iters: number;
  tol: number;
  /** --missing nan (em): NaN marks a missing entry */
  missing?: 'nan';
  /** --impute FILE (.npy) and the paths it must not be */
  impute?: string;
  imputeKeep?: [string, string][];
  /** stochastic EM */
  epochs?: number;
  batch?: number;
  kappa?: number;
  tau?: number;
  /** --data synthetic: the generator's settings, stored in the model file for eval */
  synthetic?: SyntheticSettings;
}

export interface FaEvalConfig extends EvalConfig {
  missing?: 'nan';
}

function hostOf(ds: { name: string; x: Float32Array; n: number; D: number }): { name: string; host: Float32Array; n: number; D: number } {
  return { name: ds.name, host: ds.x, n: ds.n, D: ds.D };
}

export const train: Runner<FaTrainConfig> = async (ctx) => {
  const cfg = ctx.config;
  const d = cfg.latent;
  const runDir = cfg.runDir;
  if (runDir !== undefined) {
    if (existsSync(runDir) && !statSync(runDir).isDirectory()) throw new Error(`--run-dir ${runDir} is a file, not a directory; give a folder for the run's files`);
    mkdirSync(runDir, { recursive: true });
  }
  const b = ctx.backend;
  if (cfg.missing === 'nan') return trainMissing(ctx.train, ctx.test, cfg, ctx);
  const data = uploadData(b, ctx.train);
  let r: { model: FaHost; heywood: number[]; constant: number[]; seconds: number; curve: [number, number][]; extra: Record<string, unknown> };
  try {
    if (cfg.method === 'sem') {
      const epochs = cfg.epochs!;
      ctx.progress.start(epochs, 'fa sem');
      const s = await fitFaSem(b, data, {
        d, batch: cfg.batch!, kappa: cfg.kappa!, tau: cfg.tau!, seed: cfg.seed, epochs,
        onEval: (p) => ctx.progress.tick(Math.round(p.epoch), { loglik: p.loglik.toFixed(4) }),
      });
      ctx.progress.stop();
      r = {
        ...s, curve: s.trace.map((p): [number, number] => [p.epoch, p.loglik]),
        extra: { method: 'sem', epochs, batch: cfg.batch, kappa: cfg.kappa, tau: cfg.tau, steps: s.steps, steps_per_second: s.stepsPerSecond },
      };
    } else {
      ctx.progress.start(cfg.iters, `fa ${cfg.method}`);
      const e = await fitFa(b, data, {
        d, method: cfg.method, maxIters: cfg.iters, tol: cfg.tol, seed: cfg.seed,
        onIter: (p) => ctx.progress.tick(p.iteration, { loglik: p.loglik.toFixed(4) }),
      });
      ctx.progress.stop();
      r = { ...e, curve: e.trace.map((p): [number, number] => [p.iteration, p.loglik]), extra: { method: cfg.method, iterations: e.iterations, cycles: e.cycles, converged: e.converged } };
    }
  } finally {
    releaseData(b, data);
  }
  // the figures of the model as its file stores it (float32), so eval reproduces them
  const model: FaHost = roundFa(r.model);
  const trainLoglik = faMeanLogLik(model, hostOf(ctx.train));
  const testLoglik = faMeanLogLik(model, hostOf(ctx.test));
  if (!Number.isFinite(trainLoglik) || !Number.isFinite(testLoglik)) throw new Error(`fa: the fitted model's log-likelihood is ${trainLoglik} (train), ${testLoglik} (test); standardise the data`);
  const varying = r.heywood.filter((j) => !r.constant.includes(j));
  if (r.constant.length) ctx.log(`${ctx.train.name}: ${columnList(r.constant)} ${r.constant.length === 1 ? 'is' : 'are'} constant; ψ there is the floor (0.001 × the mean column variance)`);
  if (varying.length) ctx.log(`fa: ψ of ${columnList(varying)} hit the floor (0.005 × the column's variance, at least 0.001 × the mean): Heywood cases`);
  const result: Record<string, unknown> = {
    model: 'fa', latent: d, n_train: ctx.train.n, n_test: ctx.test.n,
    train_loglik: trainLoglik, test_loglik: testLoglik, ...r.extra,
    psi_floor_hits: r.heywood.length, heywood_columns: varying.length, constant_columns: r.constant.length,
    seconds: r.seconds, curve: r.curve,
  };
  const modelFile = cfg.out ?? (runDir !== undefined ? join(runDir, 'model.safetensors') : undefined);
  if (modelFile !== undefined) {
    const meta: Record<string, string> = { method: cfg.method, train_loglik: String(trainLoglik) };
    // eval --data synthetic regenerates exactly these data (program.ts reads the key back)
    if (cfg.synthetic) meta[SYNTHETIC_METADATA_KEY] = JSON.stringify(cfg.synthetic);
    const { tensors, metadata } = faToTensors(model, meta);
    await saveSafetensors(modelFile, tensors, metadata);
    if (cfg.out !== undefined) result.out = cfg.out;
  }
  if (runDir !== undefined) {
    result.run_dir = runDir;
    result.model_file = modelFile;
    await writeFileAtomic(join(runDir, 'metrics.json'), new TextEncoder().encode(`${JSON.stringify(result, null, 2)}\n`));
  }
  return result;
};

export const evaluate: Runner<FaEvalConfig> = async (ctx) => {
  const { file } = ctx.config;
  const model = faFromTensors(await loadSafetensors(file), file);
  const split = ctx.config.split === 'train' ? ctx.train : ctx.test;
  if (split.D !== model.D) throw new Error(`${file} models D=${model.D} columns but ${split.name} has ${split.D}`);
  const t0 = performance.now();
  if (ctx.config.missing === 'nan') {
    const loglik = faMissingMeanLogLik(model, { name: split.name, x: split.x, n: split.n, D: split.D });
    return { model: 'fa', latent: model.d, split: split.name, n: split.n, estimator: 'exact', missing: 'nan', missing_entries: missingCount(split.x), loglik_kind: 'observed-data, per row', loglik, seconds: (performance.now() - t0) / 1000 };
  }
  const loglik = faMeanLogLik(model, hostOf(split));
  return { model: 'fa', latent: model.d, split: split.name, n: split.n, estimator: 'exact', loglik, seconds: (performance.now() - t0) / 1000 };
};

type Split = { name: string; x: Float32Array; n: number; D: number };

/** --missing nan: EM over the observed entries (missingOn.ts: the sums on the backend, the solves in float64 on the host); --out and --impute. */
async function trainMissing(train: Split, test: Split, cfg: FaTrainConfig, ctx: Parameters<Runner<FaTrainConfig>>[0]): Promise<Record<string, unknown>> {
  if (cfg.impute !== undefined) checkImputePath(cfg.impute, cfg.imputeKeep ?? []);
  const d = cfg.latent;
  ctx.progress.start(cfg.iters, 'fa em (missing values)');
  const fit = await fitFaMissingOn(ctx.backend, train, d, { iters: cfg.iters, tol: cfg.tol, seed: cfg.seed, onIteration: (it, ll) => ctx.progress.tick(it, { loglik: ll.toFixed(4) }) });
  ctx.progress.stop();
  // the figures of the model as its file stores it (float32), so eval --missing nan reproduces them
  const model = roundFa(fit.model);
  const trainLoglik = faMissingMeanLogLik(model, train);
  const testLoglik = faMissingMeanLogLik(model, test);
  const missingTrain = missingCount(train.x);
  const result: Record<string, unknown> = {
    model: 'fa', method: 'em', missing: 'nan', latent: d, n_train: train.n, n_test: test.n,
    missing_train: missingTrain, missing_fraction_train: missingTrain / (train.n * train.D), missing_test: missingCount(test.x),
    train_loglik: trainLoglik, test_loglik: testLoglik, loglik_kind: 'observed-data, per row',
    iterations: fit.iterations, converged: fit.converged, psi_floor_hits: fit.heywood.length, seconds: fit.seconds, where: 'sums on the backend, solves on the host in float64',
    curve: fit.curve.map((v, i): [number, number] => [i, v]),
  };
  const modelFile = cfg.out ?? (cfg.runDir !== undefined ? join(cfg.runDir, 'model.safetensors') : undefined);
  if (modelFile !== undefined) {
    const { tensors, metadata } = faToTensors(model, { method: 'em', missing: 'nan', train_loglik: String(trainLoglik) });
    await saveSafetensors(modelFile, tensors, metadata);
    if (cfg.out !== undefined) result.out = cfg.out;
  }
  if (cfg.impute !== undefined) {
    await writeFileAtomic(cfg.impute, encodeNpy(faImpute(model, train), train.n, train.D));
    result.impute = cfg.impute;
  }
  if (cfg.runDir !== undefined) {
    result.run_dir = cfg.runDir;
    result.model_file = modelFile;
    await writeFileAtomic(join(cfg.runDir, 'metrics.json'), new TextEncoder().encode(`${JSON.stringify(result, null, 2)}\n`));
  }
  return result;
}
