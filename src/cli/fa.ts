// `latentgpu train --model fa` (exact EM, src/models/fa/fa.ts) and `latentgpu
// eval` of an fa model file (the exact log-likelihood). A run folder
// (--run-dir) holds metrics.json and the model.
import { existsSync, mkdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { loadSafetensors, saveSafetensors, writeFileAtomic } from '../io/atomic.node.ts';
import { faMeanLogLik, fitFa, type FaHost } from '../models/fa/fa.ts';
import { faFromTensors, faToTensors, roundFa } from '../models/fa/file.ts';
import { releaseData, uploadData } from '../models/ppca/model.ts';
import { columnList } from '../models/ppca/scale.ts';
import type { EvalConfig, RunConfig, Runner, SyntheticSettings } from './context.ts';
import { SYNTHETIC_METADATA_KEY } from './synthetic.ts';

export interface FaTrainConfig extends RunConfig {
  iters: number;
  tol: number;
  /** --data synthetic: the generator's settings, stored in the model file for eval */
  synthetic?: SyntheticSettings;
}

export type FaEvalConfig = EvalConfig;

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
  const data = uploadData(b, ctx.train);
  let r;
  try {
    ctx.progress.start(cfg.iters, 'fa em');
    r = await fitFa(b, data, {
      d, maxIters: cfg.iters, tol: cfg.tol, seed: cfg.seed,
      onIter: (p) => ctx.progress.tick(p.iteration, { loglik: p.loglik.toFixed(4) }),
    });
    ctx.progress.stop();
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
    train_loglik: trainLoglik, test_loglik: testLoglik, iterations: r.iterations, converged: r.converged,
    psi_floor_hits: r.heywood.length, heywood_columns: varying.length, constant_columns: r.constant.length,
    seconds: r.seconds, curve: r.trace.map((p): [number, number] => [p.iteration, p.loglik]),
  };
  const modelFile = cfg.out ?? (runDir !== undefined ? join(runDir, 'model.safetensors') : undefined);
  if (modelFile !== undefined) {
    const meta: Record<string, string> = { method: 'em', train_loglik: String(trainLoglik) };
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
  const loglik = faMeanLogLik(model, hostOf(split));
  return { model: 'fa', latent: model.d, split: split.name, n: split.n, estimator: 'exact', loglik, seconds: (performance.now() - t0) / 1000 };
};
