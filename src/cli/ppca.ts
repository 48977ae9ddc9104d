// `latentgpu train --model ppca` and `latentgpu eval` for PPCA model files.
// A run folder (--run-dir) holds metrics.json, the objective curve, the
// columns of W and reconstructions as images (D a perfect square), the model
// and, for stochastic and online EM, checkpoints (--checkpoint-every) that
// --resume continues bit-identically.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { loadSafetensors, saveSafetensors, writeFileAtomic } from '../io/atomic.node.ts';
import {
  ESTIMATORS, checkDataScale, type ClosedFormPpca, checkpointFromFile, checkpointToTensors, closedFormPpca, closedFormPpcaOn, createPpca, estimateLogLik,
  fitEm, fitOem, fitSem, meanLogLik, ppcaFromTensors, ppcaToTensors, principalAngles, readPpca, releaseData,
  releasePpca, uploadData, type CheckpointRun, type DeviceData, type FitterSnapshot, type PpcaModel, type StochasticFitter,
} from '../models/ppca.ts';
import { arraySource, type RowSource } from '../data/source.ts';
import { PpcaStream, sourceLogLik } from '../models/ppca/stream.ts';
import type { CliContext, Dataset, PpcaEvalConfig, PpcaTrainConfig, Runner } from './context.ts';
import { SYNTHETIC_METADATA_KEY } from './synthetic.ts';
import { prepareRunDir, writeRunDir } from './ppcaRunDir.ts';

/** The closed form costs O(n·D²) (the covariance) + O(D²·d) per filter pass on the host: run it as a reference only when that is a few seconds at most. */
function closedFormIsCheap(n: number, D: number): boolean {
  return n * D * D <= 8e9 && D <= 2000;
}

function stamp(): string {
  return new Date().toISOString().replace(/[:.]/g, '-').replace('T', '_').slice(0, 19);
}

type ExactConfig = Extract<PpcaTrainConfig, { method: 'em' | 'squarem' | 'anderson' }>;
type ClosedConfig = Extract<PpcaTrainConfig, { method: 'closed' }>;
type StochasticConfig = Extract<PpcaTrainConfig, { method: 'sem' | 'oem' }>;

interface Fit {
  model: PpcaModel;
  /** the train log-likelihood per sample when the fit computed it over data not on the device (exact EM in passes) */
  trainLoglik?: number;
  iterations: number;
  /** (iteration or epoch, train log-likelihood per sample) */
  curve: [number, number][];
  extra: Record<string, unknown>;
}

/** --device-memory (MiB) as bytes, when given */
function deviceBytes(cfg: PpcaTrainConfig): number | undefined {
  return cfg.deviceMemoryMB === undefined ? undefined : cfg.deviceMemoryMB * 2 ** 20;
}

/** Exact EM reads the training rows in passes (never all on the device) when they exceed --device-memory. */
function exactInPasses(cfg: PpcaTrainConfig, data: Dataset): boolean {
  const budget = deviceBytes(cfg);
  return (cfg.method === 'em' || cfg.method === 'squarem' || cfg.method === 'anderson') && budget !== undefined && data.n * data.D * 4 > budget;
}

/** Exact EM on the uploaded rows, or (train null) in passes over the rows (a file over --host-memory, or rows over --device-memory) within both budgets. */
async function fitExact(ctx: CliContext<PpcaTrainConfig>, cfg: ExactConfig, train: DeviceData | null): Promise<Fit> {
  const { name, x, n, D } = ctx.train;
  // a bar for the statistics pass over a source first (fitEm reports its rows), then one for the iterations
  let phase = '';
  const enter = (what: string, total: number, rowsPerUnit: number): void => {
    if (phase === what) return;
    ctx.progress.start(total, what, rowsPerUnit);
    phase = what;
  };
  if (train) enter(`ppca ${cfg.method}`, cfg.iters, n);
  const budget = { deviceBytes: deviceBytes(cfg), hostBytes: cfg.hostMemoryMB === undefined ? undefined : cfg.hostMemoryMB * 2 ** 20 };
  const r = await fitEm(ctx.backend, train ?? ctx.trainSource ?? arraySource(name, x, n, D), {
    d: cfg.latent, method: cfg.method, maxIters: cfg.iters, tol: cfg.tol, seed: cfg.seed, budget,
    onStatsRows: (rows) => {
      enter('ppca: column statistics (one pass)', n, 1);
      ctx.progress.tick(rows);
    },
    onIter: (p) => {
      enter(`ppca ${cfg.method}`, cfg.iters, n);
      ctx.progress.tick(p.iteration, { loglik: p.loglik.toFixed(4) });
    },
  });
  ctx.progress.stop();
  const curve = r.trace.map((p): [number, number] => [p.iteration, p.loglik]);
  return { model: r.model, iterations: r.iterations, curve, trainLoglik: train ? undefined : r.loglik, extra: { converged: r.converged, cycles: r.cycles, curve, ...(r.passRows ? { pass_rows: r.passRows } : {}) } };
}

/** The most columns --method closed takes (its D×D float64 covariance is then 128 MiB). */
const CLOSED_MAX_D = 4096;

/** The closed form (`--method closed`): top d eigenpairs of the covariance (closedFormPpcaOn), no iterations. */
async function fitClosed(ctx: CliContext<PpcaTrainConfig>, cfg: ClosedConfig): Promise<{ fit: Fit; closed: ClosedFormPpca }> {
  const D = ctx.train.D;
  if (D > CLOSED_MAX_D) throw new Error(`--method closed forms the ${D}×${D} covariance of ${ctx.train.name} (${Math.round((8 * D * D) / 2 ** 20)} MiB); it takes at most ${CLOSED_MAX_D} columns: use --method em or anderson`);
  // covariance and subspace products on the backend, the final Rayleigh–Ritz step in float64
  const closed = await closedFormPpcaOn(ctx.backend, { name: ctx.train.name, host: ctx.train.x, n: ctx.train.n, D: ctx.train.D }, cfg.latent);
  // where the seconds went: covariance, subspace iteration (its backend products within), float64 Rayleigh–Ritz
  return { fit: { model: createPpca(ctx.backend, closed), iterations: 0, curve: [], extra: closed.timing ? { closed_form_timing: closed.timing } : {} }, closed };
}

/** Stochastic or online EM, resumed from --resume and checkpointed into the run folder every --checkpoint-every epochs. */
async function fitStochastic(ctx: CliContext<PpcaTrainConfig>, cfg: StochasticConfig, train: DeviceData | PpcaStream, runDir: string | undefined): Promise<Fit> {
  const { epochs, batch, checkpointEvery, seed, latent: d } = cfg;
  const stepsPerEpoch = Math.ceil(ctx.train.n / batch);
  // what a checkpoint records of the run, and a resumed one must match
  const settings: Record<string, string | number> = cfg.method === 'sem'
    ? { lr: cfg.lr, tau: cfg.tau, kappa: cfg.kappa, optimizer: cfg.optimizer }
    : { kappa: cfg.kappa };
  const run: CheckpointRun = { method: cfg.method, seed, batch, train_rows: ctx.train.n, D: ctx.train.D, latent: d, settings };
  let resume: FitterSnapshot | undefined;
  if (cfg.resume !== undefined) {
    const file = cfg.resume;
    if (!existsSync(file)) throw new Error(`checkpoint ${file} not found; --resume takes the checkpoint.safetensors that --checkpoint-every wrote into a run folder`);
    resume = checkpointFromFile(await loadSafetensors(file), file, run, stepsPerEpoch);
    if (resume.step > Math.round(epochs * stepsPerEpoch)) {
      throw new Error(`checkpoint ${file} is at epoch ${resume.step / stepsPerEpoch}, past --epochs ${epochs}; give --epochs above ${resume.step / stepsPerEpoch} to continue it`);
    }
    ctx.log(`resuming from ${file} at epoch ${resume.step / stepsPerEpoch} (step ${resume.step})`);
  }
  ctx.progress.start(epochs, `ppca ${cfg.method}`, ctx.train.n);
  const onEval = (p: { epoch: number; loglik: number }): void => ctx.progress.tick(Math.round(p.epoch), { loglik: p.loglik.toFixed(4) });
  const checkpointFile = runDir !== undefined ? join(runDir, 'checkpoint.safetensors') : '';
  const onEpoch = async (epoch: number, fitter: StochasticFitter): Promise<void> => {
    if (checkpointEvery === 0 || (epoch % checkpointEvery !== 0 && epoch !== epochs)) return;
    const { tensors, metadata } = checkpointToTensors(await readPpca(fitter.model), await fitter.snapshot(), run, stepsPerEpoch);
    await saveSafetensors(checkpointFile, tensors, metadata);
  };
  const common = { d, batch, epochs, seed, onEval, onEpoch, resume };
  const r = cfg.method === 'sem'
    ? await fitSem(ctx.backend, train, { ...common, lr: cfg.lr, tau: cfg.tau, kappa: cfg.kappa, optimizer: cfg.optimizer })
    : await fitOem(ctx.backend, train, { ...common, kappa: cfg.kappa });
  ctx.progress.stop();
  const curve = r.trace.map((p): [number, number] => [p.epoch, p.loglik]);
  return {
    model: r.model, iterations: r.steps, curve,
    extra: {
      epochs, batch, steps_per_second: r.stepsPerSecond, curve,
      ...(resume ? { resumed_from: cfg.resume, resumed_at_epoch: resume.step / stepsPerEpoch } : {}),
      ...(checkpointEvery > 0 ? { checkpoint: checkpointFile } : {}),
    },
  };
}

/**
 * Stochastic and online EM stream their rows (ppca/stream.ts) from a file over
 * the host budget, or from rows in memory over --device-memory; null: the rows
 * go to the device whole.
 */
async function openStream(ctx: CliContext<PpcaTrainConfig>, cfg: StochasticConfig): Promise<PpcaStream | null> {
  const budget = deviceBytes(cfg);
  const { n, D } = ctx.train;
  if (!ctx.trainSource && (budget === undefined || n * D * 4 <= budget)) return null;
  const src = ctx.trainSource ?? arraySource(ctx.train.name, ctx.train.x, n, D);
  const memory = { ...(cfg.hostMemoryMB !== undefined ? { hostBytes: cfg.hostMemoryMB * 2 ** 20 } : {}), ...(budget !== undefined ? { deviceBytes: budget } : {}) };
  ctx.progress.start(n, 'ppca: column means and spreads (one pass)');
  const stream = await PpcaStream.open(ctx.backend, src, { batch: cfg.batch, memory, norms: cfg.method === 'oem', onStatsRows: (r) => ctx.progress.tick(r) });
  ctx.progress.stop();
  const s = stream.stream;
  ctx.log(`${src.name}: ${n.toLocaleString('en-US')} rows streamed in chunks of ${s.chunkRows.toLocaleString('en-US')} (${stream.layout.blocksPerChunk} blocks of ${stream.layout.blockRows}; device buffers ${(s.deviceBytes / 2 ** 20).toFixed(1)} MiB, host staging ${(s.hostBytes / 2 ** 20).toFixed(1)} MiB)`);
  return stream;
}

/** Rows spread evenly over a source (row ⌊i·n/rows⌋), for the run folder's reconstructions. */
async function spreadRows(src: RowSource, rows: number): Promise<Dataset> {
  const m = Math.min(rows, src.n);
  const x = new Float32Array(m * src.D);
  for (let i = 0; i < m; i++) await src.read(Math.floor((i * src.n) / m), 1, x.subarray(i * src.D));
  return { name: src.name, x, n: m, D: src.D };
}

export const train: Runner<PpcaTrainConfig> = async (ctx) => {
  const cfg = ctx.config;
  // --missing nan: exact EM over the observed entries, its sums on the backend (src/cli/ppcaMissing.ts)
  if (cfg.method === 'em' && cfg.missing === 'nan') return (await import('./ppcaMissing.ts')).trainMissing(ctx, cfg);
  const { method, latent: d } = cfg;
  const stochastic = cfg.method === 'sem' || cfg.method === 'oem' ? cfg : null;
  // exact EM reads a file over --host-memory in passes (fitEm over ctx.trainSource)
  const exactFromSource = Boolean(ctx.trainSource) && (cfg.method === 'em' || cfg.method === 'squarem' || cfg.method === 'anderson');
  if (ctx.trainSource && !stochastic && !exactFromSource) throw new Error(`ppca --method ${method} does not read data in slices; ${ctx.train.name} streams (use --method em, squarem, anderson, sem or oem)`);
  const streamed = stochastic ? await openStream(ctx, stochastic) : null;
  // columns float32 cannot fit are an error before any work; constant ones a notice
  const shape = { name: ctx.train.name, host: ctx.train.x, n: ctx.train.n, D: ctx.train.D };
  // (exact EM over a source checks the scale itself, after its statistics pass)
  if (!exactFromSource) for (const line of checkDataScale(shape, d, streamed?.stats).notices) ctx.log(line);
  const checkpointEvery = stochastic?.checkpointEvery ?? 0;
  const runDir = cfg.runDir ?? (checkpointEvery > 0 ? join('runs', `${stamp()}-ppca-${method}`) : undefined);
  if (runDir !== undefined) prepareRunDir(runDir);
  const b = ctx.backend;
  // exact EM over more than --device-memory reads the rows in passes: they are not uploaded whole
  const train = streamed || exactFromSource || exactInPasses(cfg, ctx.train) ? null : uploadData(b, ctx.train);
  const test = ctx.testSource ? null : uploadData(b, ctx.test);
  let model: PpcaModel | null = null;
  const t0 = performance.now();
  try {
    const closedRun = cfg.method === 'closed' ? await fitClosed(ctx, cfg) : null;
    const fit = closedRun?.fit ?? (stochastic ? await fitStochastic(ctx, stochastic, streamed ?? train!, runDir) : await fitExact(ctx, cfg as ExactConfig, train));
    model = fit.model;
    // the fit alone; main adds wall_seconds for the whole command (data, device start, closed form)
    const seconds = (performance.now() - t0) / 1000;
    // streamed rows: the fit's last evaluation is the pass over them
    const trainLoglik = fit.trainLoglik ?? (streamed ? fit.curve.at(-1)![1] : await meanLogLik(model, train!));
    const testLoglik = test ? await meanLogLik(model, test) : await sourceLogLik(model, ctx.testSource!);
    const result: Record<string, unknown> = {
      model: 'ppca', method, latent: d, n_train: ctx.train.n, n_test: ctx.test.n,
      train_loglik: trainLoglik, test_loglik: testLoglik, sigma2: model.sigma2, iterations: fit.iterations, seconds,
    };
    if (streamed) {
      const s = streamed.stream;
      result.streamed = { from_file: Boolean(ctx.trainSource), chunk_rows: s.chunkRows, block_rows: streamed.layout.blockRows, reads: s.reads, device_bytes: s.deviceBytes, host_bytes: s.hostBytes };
    }
    let closedForm: number | undefined;
    if (test && ctx.train.x.length > 0 && (closedRun || closedFormIsCheap(ctx.train.n, ctx.train.D))) {
      // --method closed is its own reference (gap 0 up to the device's log-likelihood evaluation)
      const cf = closedRun?.closed ?? closedFormPpca({ name: ctx.train.name, host: ctx.train.x, n: ctx.train.n, D: ctx.train.D }, d);
      closedForm = cf.loglik;
      result.closed_form_loglik = cf.loglik;
      result.gap_to_closed_form = cf.loglik - trainLoglik;
      const cm = createPpca(b, cf);
      result.closed_form_test_loglik = await meanLogLik(cm, test);
      releasePpca(cm);
      if (ctx.truth && ctx.truth.W.length === ctx.train.D * d) {
        const host = await readPpca(model);
        result.true_sigma2 = ctx.truth.sigma2;
        result.principal_angles_deg = principalAngles(host.W, ctx.truth.W, ctx.train.D, d).map((a) => (a * 180) / Math.PI);
      }
    }
    Object.assign(result, fit.extra);
    const h = await readPpca(model);
    const meta: Record<string, string> = { method, train_loglik: String(trainLoglik) };
    // eval --data synthetic regenerates exactly these data (program.ts reads the key back)
    if (cfg.synthetic) meta[SYNTHETIC_METADATA_KEY] = JSON.stringify(cfg.synthetic);
    const modelFile = cfg.out ?? (runDir !== undefined ? join(runDir, 'model.safetensors') : undefined);
    if (modelFile !== undefined) {
      const { tensors, metadata } = ppcaToTensors(h, meta);
      await saveSafetensors(modelFile, tensors, metadata);
      if (cfg.out !== undefined) result.out = cfg.out;
    }
    if (runDir !== undefined) {
      result.run_dir = runDir;
      result.model_file = modelFile;
      const shown = ctx.testSource ? await spreadRows(ctx.testSource, 32) : ctx.test;
      const files = await writeRunDir(runDir, h, shown, fit.curve, stochastic ? 'epoch' : 'EM iteration', closedForm, result);
      result.files = [...files, 'metrics.json', ...(cfg.out === undefined ? ['model.safetensors'] : []), ...(checkpointEvery > 0 ? ['checkpoint.safetensors'] : [])];
      await writeFileAtomic(join(runDir, 'metrics.json'), new TextEncoder().encode(`${JSON.stringify(result, null, 2)}\n`));
    }
    return result;
  } finally {
    if (model) releasePpca(model);
    if (train) releaseData(b, train);
    if (test) releaseData(b, test);
    await streamed?.settle();
  }
};

export const evaluate: Runner<PpcaEvalConfig> = async (ctx) => {
  // --missing nan: the observed-data log-likelihood, the E-step on the backend (src/cli/ppcaMissing.ts)
  if (ctx.config.missing === 'nan') return (await import('./ppcaMissing.ts')).evaluateMissing(ctx);
  const { file, estimator, samples, seed, q } = ctx.config;
  const host = ppcaFromTensors(await loadSafetensors(file), file);
  if (!ESTIMATORS.includes(estimator)) throw new Error(`ppca: unknown estimator '${estimator}' (${ESTIMATORS.join(' | ')})`);
  const split = ctx.config.split === 'train' ? ctx.train : ctx.test;
  if (split.D !== host.D) throw new Error(`${file} models D=${host.D} columns but ${split.name} has ${split.D}`);
  const b = ctx.backend;
  const model = createPpca(b, host);
  const data = uploadData(b, split);
  const t0 = performance.now();
  try {
    const est = await estimateLogLik(model, data, { estimator, samples, seed, q });
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
