// `latentgpu train --model vae|lvm` and `latentgpu eval` for those models: trains
// on the device, evaluates the test ELBO and IWAE_K, and writes a run folder
// (metrics.json, objective curve, image grids, test latent means, the model
// file, checkpoints).
//
// --likelihood: bernoulli | gaussian (learned per-pixel variance) |
// gaussian-output (variance as a decoder output); without it, Bernoulli when
// every value lies in [0, 1], else gaussian (src/models/likelihood.ts).
// --var-floor sets σ²_min of the Gaussian decoders (default 1e-3, quoted in the results because it decides the
// nats on constant pixels, see src/models/decoder.ts).
// --device-memory MB streams training and evaluation rows larger than it in chunks
// (src/models/stream.ts); a data file over --host-memory arrives as a RowSource
// (ctx.trainSource) and is read in slices, never whole.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Backend } from '../backend.ts';
import { subsetRows, type Dataset } from '../data/dataset.ts';
import { arraySource, chunksOf, type RowSource } from '../data/source.ts';
import { loadSafetensors, saveSafetensors } from '../io/atomic.node.ts';
import { decodeLatentModel, readMetaInt, type LatentModelFile } from '../io/modelFile.ts';
import type { TensorMap } from '../io/safetensors.ts';
import {
  EvalSet, decode, evaluateElbo, evaluateIwae, latentMeans, manifoldGrid, priorSamples, reconstruct,
} from '../models/evaluate.ts';
import {
  LikelihoodError, checkLikelihoodFits, chooseLikelihood, describeOutside, firstOutsideUnit, varianceCeiling,
  type LikelihoodChoice, type OutsideUnit,
} from '../models/likelihood.ts';
import { DEFAULT_VAR_CEIL } from '../models/decoder.ts';
import { DEFAULT_HOST_BYTES, sourceColumnVariance, type MemoryBudget } from '../models/stream.ts';
import { PriorProposal, type LatentVariableModel } from '../models/latent.ts';
import { Lvm, type LvmConfig } from '../models/lvm.ts';
import { Vae, type VaeConfig } from '../models/vae.ts';
import { curveSeries } from '../report/history.ts';
import { lineChartSvg } from '../report/curve.ts';
import { imageGrid, interleaveRows } from '../report/grid.ts';
import { encodePng } from '../report/png.node.ts';
import { TestCurve } from '../train/testCurve.ts';
import { TrainingDiverged, train as runTraining, type Progress as TrainProgress } from '../train/trainer.ts';
import type { LatentEvalConfig, LvmTrainConfig, Runner, VaeTrainConfig } from './context.ts';

type Kind = 'vae' | 'lvm';
type AnyConfig = VaeConfig | LvmConfig;

/** The rows a run trains and scores: in memory, or RowSources read in slices (ctx.trainSource, ctx.testSource). */
interface RunRows {
  train: RowSource;
  test: RowSource;
  /** the memory budget of --host-memory and --device-memory */
  memory: MemoryBudget;
  /** the training rows' column variance when they are read in slices and the decoder is Gaussian */
  columnVariance?: Float32Array;
}

function runRows(ctx: { train: Dataset; test: Dataset; trainSource?: RowSource; testSource?: RowSource }, run: VaeTrainConfig | LvmTrainConfig): RunRows {
  const MB = 2 ** 20;
  return {
    train: ctx.trainSource ?? arraySource(ctx.train.name, ctx.train.x, ctx.train.n, ctx.train.D),
    test: ctx.testSource ?? arraySource(ctx.test.name, ctx.test.x, ctx.test.n, ctx.test.D),
    memory: {
      ...(run.hostMemoryMB !== undefined ? { hostBytes: run.hostMemoryMB * MB } : {}),
      ...(run.deviceMemoryMB !== undefined ? { deviceBytes: run.deviceMemoryMB * MB } : {}),
    },
  };
}

/** The first value outside [0, 1] of rows read in slices within the host budget (as firstOutsideUnit on rows in memory). */
async function outsideUnitIn(src: RowSource, hostBytes: number): Promise<OutsideUnit | null> {
  const R = Math.max(1, Math.min(src.n, Math.floor(hostBytes / (src.D * 4))));
  const buf = new Float32Array(R * src.D);
  for (const { r0, rows } of chunksOf(src.n, R)) {
    await src.read(r0, rows, buf);
    const o = firstOutsideUnit([{ name: src.name, x: buf.subarray(0, rows * src.D), D: src.D }]);
    if (o) return { ...o, row: o.row + r0 };
  }
  return null;
}

/**
 * The model's configuration from the run's; the decoder likelihood is
 * --likelihood if given, else chosen from the train and test rows
 * (src/models/likelihood.ts). Rows read in slices are scanned a slice at a time.
 */
async function configFrom(run: VaeTrainConfig | LvmTrainConfig, rows: RunRows): Promise<{ cfg: AnyConfig; choice: LikelihoodChoice }> {
  const { hidden } = run;
  const inMemory = [rows.train, rows.test].filter((r) => r.array).map((r) => ({ name: r.name, x: r.array!, D: r.D }));
  const hostBytes = rows.memory.hostBytes ?? DEFAULT_HOST_BYTES;
  let sliced: OutsideUnit | null = null;
  for (const r of [rows.train, rows.test]) if (!r.array && !sliced) sliced = await outsideUnitIn(r, hostBytes);
  let choice = chooseLikelihood(run.likelihood, inMemory);
  if (sliced && !choice.outside) {
    // what chooseLikelihood decides for values outside [0, 1], on the rows read in slices
    if (run.likelihood === 'bernoulli') throw new LikelihoodError(`the Bernoulli decoder describes values in [0, 1], but ${describeOutside(sliced)}; use the Gaussian decoder (--likelihood gaussian)`);
    if (choice.auto) choice = { ...choice, likelihood: 'gaussian', variance: 'vector', name: 'gaussian', reason: `data values lie outside [0, 1] (${describeOutside(sliced)}); using the Gaussian decoder (--likelihood gaussian)` };
    choice = { ...choice, outside: sliced };
  }
  const { likelihood, variance } = choice;
  let varCeil: number;
  if (rows.train.array) varCeil = varianceCeiling(likelihood, { x: rows.train.array, n: rows.train.n, D: rows.train.D });
  else if (likelihood !== 'gaussian') varCeil = DEFAULT_VAR_CEIL;
  else {
    // varianceCeiling's rule on the streamed column variance
    rows.columnVariance = await sourceColumnVariance(rows.train, hostBytes);
    varCeil = Math.max(DEFAULT_VAR_CEIL, 2 * Math.fround(Math.max(...rows.columnVariance)));
  }
  const base = {
    dataDim: rows.train.D, latent: run.latent, decoderHidden: [...hidden].reverse(), act: 'relu' as const,
    likelihood, variance, varFloor: run.varFloor, varCeil,
    objective: run.objective, seed: run.seed,
  };
  if (run.kind === 'vae') return { cfg: { ...base, encoderHidden: [...hidden] }, choice };
  return { cfg: { ...base, phiLr: run.phiLr, phiSteps: run.phiSteps }, choice };
}

function buildModel(be: Backend, kind: Kind, cfg: AnyConfig, ds: Dataset): Vae | Lvm {
  return kind === 'vae' ? new Vae(be, cfg as VaeConfig, ds.x, ds.n) : new Lvm(be, cfg as LvmConfig, ds.x, ds.n);
}

/** The model to train on the run's rows: resident, or streamed under the memory budget in chunks of whole minibatches. */
function trainModel(be: Backend, kind: Kind, cfg: AnyConfig, rows: RunRows, batch: number): Vae | Lvm {
  const opts = { memory: rows.memory, batch, ...(rows.columnVariance ? { columnVariance: rows.columnVariance } : {}) };
  return kind === 'vae' ? new Vae(be, cfg as VaeConfig, rows.train, rows.train.n, opts) : new Lvm(be, cfg as LvmConfig, rows.train, rows.train.n, opts);
}

function stamp(): string {
  return new Date().toISOString().replace(/[:.]/g, '-').replace('T', '_').slice(0, 19);
}

function f32(data: Float32Array, shape?: number[]): TensorMap[string] {
  return { dtype: 'F32', shape: shape ?? [data.length], data };
}

function metadataOf(kind: Kind, cfg: AnyConfig, extra: Record<string, string | number>): Record<string, string> {
  const m: Record<string, string> = { model: kind, format: 'latentgpu-1', config: JSON.stringify(cfg) };
  for (const [k, v] of Object.entries(extra)) m[k] = String(v);
  return m;
}

function hiddenOf(cfg: AnyConfig): number[] {
  return 'encoderHidden' in cfg ? cfg.encoderHidden : [...cfg.decoderHidden].reverse();
}

function writePng(path: string, values: Float32Array, count: number, side: number, cols: number): void {
  writeFileSync(path, encodePng(imageGrid(values, count, { side, cols })));
}

/**
 * A diverged run on data far from unit scale: the encoder's first layer overflows before any
 * learning rate helps, so say which column is large and to standardise.
 */
function scaleHint(e: TrainingDiverged, ds: Dataset): Error {
  let worst = 0;
  let col = 0;
  for (let i = 0; i < ds.x.length; i++) {
    const a = Math.abs(ds.x[i]!);
    if (a > worst) [worst, col] = [a, i % ds.D];
  }
  if (!(worst > 100)) return e;
  const base = e.message.replace(/ \(lower the learning rate\)$/, '');
  return new Error(`${base}; the data reach ${worst.toPrecision(3)} in column ${col + 1}: standardise the columns (zero mean, unit variance) first, or lower the learning rate`);
}

export const train: Runner<VaeTrainConfig | LvmTrainConfig> = async (ctx) => {
  const run = ctx.config;
  const { kind } = run;
  const be = ctx.backend;
  const ds = ctx.train;
  const rows = runRows(ctx, run);
  const { cfg, choice } = await configFrom(run, rows);
  if (choice.auto && choice.likelihood === 'gaussian') ctx.log(`latentgpu: ${choice.reason}`);
  // the batch is resolved and checked against the rows by the command line (src/cli/registry.ts)
  const { epochs, batch, lr, schedule, checkpointEvery, samples: K } = run;
  const runDir = run.runDir ?? join('runs', `${stamp()}-${kind}`);
  const modelFile = run.out ?? join(runDir, 'model.safetensors');
  const checkpointFile = join(runDir, 'checkpoint.safetensors');
  // a checkpoint is checked whole before anything is built or written
  const resume = run.resume === undefined ? null : await readCheckpoint(run.resume, kind, cfg, batch, ds.n);
  mkdirSync(runDir, { recursive: true });

  const model = trainModel(be, kind, cfg, rows, batch);
  if (model.stream) ctx.log(`latentgpu: the training rows stream in chunks of ${model.stream.chunkRows.toLocaleString('en-US')} rows (${(model.stream.deviceBytes / 2 ** 20).toFixed(1)} MiB on the device, ${(model.stream.hostBytes / 2 ** 20).toFixed(1)} MiB host staging)`);
  const startEpoch = resume?.epoch ?? 0;
  const startStep = resume?.step ?? 0;
  if (resume) {
    model.loadState(resume.tensors);
    ctx.log(`resuming from ${run.resume} at epoch ${startEpoch}, step ${startStep}`);
  }

  const stepsPerEpoch = Math.ceil(ds.n / batch);
  ctx.progress.start(epochs * stepsPerEpoch, `training ${kind}`, batch);
  const history: TrainProgress[] = [];
  // the VAE's test curve: the test ELBO on a fixed seeded subset after every epoch (a per-point model would fit φ first;
  // test rows read in slices have none)
  const curve = model instanceof Vae && rows.test.array ? new TestCurve(model, ctx.test, cfg.seed) : null;
  const t0 = performance.now();
  const result = await runTraining(model, {
    epochs, batch, lr, schedule, seed: cfg.seed, startEpoch, startStep,
    checkEvery: 20,
    evaluate: curve ? { every: stepsPerEpoch, run: (step) => curve.at(step) } : undefined,
    onProgress: (p) => {
      history.push(p);
      ctx.progress.tick(p.step, { epoch: p.epoch + 1, objective: p.objective, 'samples/s': Math.round(p.samplesPerSecond) });
    },
    onEpoch: async (done, step, summary) => {
      ctx.log(`epoch ${done}/${epochs}: ${cfg.objective === 'elbo' ? 'ELBO' : 'prior bound'} ${summary.objective.toFixed(3)} nats/sample (log p(x|z) ${summary.logLik.toFixed(3)}, KL ${summary.kl.toFixed(3)})`);
      if (checkpointEvery > 0 && (done % checkpointEvery === 0 || done === epochs)) {
        const state = await model.state();
        const tensors: TensorMap = {};
        for (const [k, v] of Object.entries(state)) tensors[k] = f32(v);
        await saveSafetensors(checkpointFile, tensors, metadataOf(kind, cfg, { epoch: done, step, batch, train_rows: ds.n, lr, seed: cfg.seed }));
      }
    },
  }).catch((e: unknown) => {
    curve?.release();
    throw e instanceof TrainingDiverged ? scaleHint(e, ds) : e;
  });
  ctx.progress.stop();
  curve?.release();
  const trainSeconds = (performance.now() - t0) / 1000;

  // the trained model
  const params = await be.read(model.params);
  await saveSafetensors(modelFile, { params: f32(params) },
    metadataOf(kind, cfg, { epochs: result.epochsDone, step: result.steps, train_rows: ds.n }));

  // evaluation
  ctx.log('evaluating the test set');
  const evalT0 = performance.now();
  const trainSet = new EvalSet(be, rows.train, ds.D, rows.memory);
  const trainElbo = await evaluateElbo(model, trainSet, { seed: cfg.seed });
  trainSet.release();
  const testSet = new EvalSet(be, rows.test, ds.D, rows.memory);
  if (model instanceof Lvm && run.kind === 'lvm') await model.fitPosterior(testSet, testSet.n, { steps: run.fitSteps, seed: cfg.seed });
  const testElbo = await evaluateElbo(model, testSet, { seed: cfg.seed });
  ctx.progress.start(ctx.test.n, `IWAE_${K}`, 1);
  const iwae = await evaluateIwae(model, testSet, K, { seed: cfg.seed, onChunk: (r) => ctx.progress.tick(r) });
  ctx.progress.stop();

  // pictures and latents
  const side = Math.round(Math.sqrt(ds.D));
  const images = side * side === ds.D;
  const files: string[] = [];
  // rows spread over the test set as subsetRows picks them: the MNIST split is ordered
  // by digit, its first 32 rows are all zeros
  const nShow = Math.min(32, ctx.test.n);
  const shownRows = Uint32Array.from({ length: nShow }, (_, i) => Math.floor((i * ctx.test.n) / nShow));
  const { recon } = await reconstruct(model, testSet, shownRows);
  const means = await latentMeans(model, testSet);
  testSet.release();
  const latentTensors: TensorMap = { means: f32(means, [ctx.test.n, cfg.latent]) };
  if (ctx.test.labels) latentTensors.labels = { dtype: 'U8', shape: [ctx.test.n], data: ctx.test.labels };
  await saveSafetensors(join(runDir, 'test_latent_means.safetensors'), latentTensors, { model: kind, what: 'posterior means of the test rows' });
  files.push('test_latent_means.safetensors');
  if (images) {
    writePng(join(runDir, 'reconstructions.png'), interleaveRows(await shownOriginals(ctx.test, rows.test, shownRows), recon, nShow, ds.D), 2 * nShow, side, 16);
    writePng(join(runDir, 'prior_samples.png'), await priorSamples(model, 64, (cfg.seed + 1) >>> 0), 64, side, 8);
    files.push('reconstructions.png', 'prior_samples.png');
    if (cfg.latent === 2) {
      writePng(join(runDir, 'manifold.png'), await decode(model, manifoldGrid(20)), 400, side, 20);
      files.push('manifold.png');
    }
  }
  const evalSeconds = (performance.now() - evalT0) / 1000;

  const title = `${kind} ${cfg.objective === 'elbo' ? 'ELBO' : 'prior bound'} per sample (nats), ${be.info.summary}`;
  const testSeries = { name: `test ELBO, ${curve?.rows} rows`, color: '#e80', points: result.evaluations.map((e) => ({ x: e.step / stepsPerEpoch, y: e.objective })) };
  writeFileSync(join(runDir, 'objective.svg'), lineChartSvg([...curveSeries(history, result.epochs, stepsPerEpoch), ...(curve ? [testSeries] : [])], {
    title, xLabel: 'epoch', yLabel: 'nats per sample',
  }));
  files.push('objective.svg');

  const out: Record<string, unknown> = {
    model: kind,
    backend: be.info.backend,
    adapter: be.info.adapter?.choice ?? null,
    latent: cfg.latent,
    hidden: hiddenOf(cfg),
    likelihood: cfg.likelihood,
    likelihood_choice: choice.auto ? 'auto' : 'given',
    likelihood_reason: choice.reason,
    ...(cfg.likelihood === 'gaussian' ? { variance: cfg.variance, var_floor: cfg.varFloor, var_ceiling: cfg.varCeil } : {}),
    objective: cfg.objective,
    epochs: result.epochsDone,
    batch,
    lr,
    seed: cfg.seed,
    steps: result.steps,
    params: model.layout.count,
    train_objective_last_epoch: result.epochs.length ? result.epochs[result.epochs.length - 1]!.objective : null,
    train_elbo: trainElbo.elbo,
    test_elbo: testElbo.elbo,
    test_log_lik: testElbo.logLik,
    test_kl: testElbo.kl,
    test_iwae: iwae.iwae,
    iwae_k: K,
    ...(run.kind === 'lvm' ? { test_fit_steps: run.fitSteps, phi_lr: run.phiLr, phi_steps: run.phiSteps } : {}),
    ...(model.stream ? {
      stream: { chunk_rows: model.stream.chunkRows, device_bytes: model.stream.deviceBytes, host_staging_bytes: model.stream.hostBytes, slices_read: model.stream.reads },
    } : {}),
    samples_per_second: result.samplesPerSecond,
    train_seconds: trainSeconds,
    eval_seconds: evalSeconds,
    epoch_objectives: result.epochs.map((e) => e.objective),
    ...(curve ? { test_curve_rows: curve.rows, test_curve: result.evaluations.map((e) => ({ step: e.step, epoch: e.step / stepsPerEpoch, elbo: e.objective })) } : {}),
    run_dir: runDir,
    model_file: modelFile,
    files,
  };
  writeFileSync(join(runDir, 'metrics.json'), `${JSON.stringify(out, null, 2)}\n`);
  model.release();
  return out;
};

/** The rows a picture shows (those subsetRows picks), from memory or read one by one. */
async function shownOriginals(test: Dataset, src: RowSource, picked: Uint32Array): Promise<Float32Array> {
  if (src.array) return subsetRows(test, picked.length).x;
  const out = new Float32Array(picked.length * src.D);
  for (let i = 0; i < picked.length; i++) await src.read(picked[i]!, 1, out.subarray(i * src.D, (i + 1) * src.D));
  return out;
}

/**
 * A checkpoint to resume this run from, checked by the shared decoder (types,
 * ranges, dtypes, shapes, finite values) and against this run: same model and
 * config, batch and training rows, and a step count that matches its epoch.
 */
async function readCheckpoint(path: string, kind: Kind, cfg: AnyConfig, batch: number, rows: number): Promise<LatentModelFile> {
  const ck = decodeLatentModel(await loadSafetensors(path), `checkpoint ${path}`, { requireState: true });
  const meta = ck.metadata;
  const epoch = readMetaInt(meta, 'epoch', `checkpoint ${path}`);
  const step = readMetaInt(meta, 'step', `checkpoint ${path}`);
  if (ck.kind !== kind) throw new Error(`checkpoint ${path} holds a ${ck.kind} model; this run trains ${kind}`);
  const theirs = ck.config as unknown as Record<string, unknown>;
  const ours = cfg as unknown as Record<string, unknown>;
  const differ = [...new Set([...Object.keys(theirs), ...Object.keys(ours)])]
    .filter((k) => JSON.stringify(theirs[k]) !== JSON.stringify(ours[k]))
    .map((k) => `${k} ${JSON.stringify(theirs[k]) ?? '(none)'} there, ${JSON.stringify(ours[k]) ?? '(none)'} here`);
  if (differ.length > 0) throw new Error(`checkpoint ${path} was trained with another configuration (${differ.join('; ')}); resume with the same options`);
  if (ck.batch !== batch || ck.trainRows !== rows) {
    throw new Error(`checkpoint ${path} was trained with batch ${ck.batch} on ${ck.trainRows} rows; resume needs the same (got batch ${batch}, ${rows} rows)`);
  }
  if (step !== epoch * Math.ceil(rows / batch)) {
    throw new Error(`checkpoint ${path}: metadata "step" ${step} does not match epoch ${epoch} (${Math.ceil(rows / batch)} steps per epoch); the file is corrupt`);
  }
  return ck;
}

export const evaluate: Runner<LatentEvalConfig> = async (ctx) => {
  const { file, estimator, samples: K, fitSteps, seed } = ctx.config;
  // checked before the model is built: config keys and caps, its parameter count against the stored params, finite values
  const mf = decodeLatentModel(await loadSafetensors(file), file);
  const { kind, config: cfg, params } = mf;
  const be = ctx.backend;
  const split = ctx.config.split === 'train' ? ctx.train : ctx.test;
  if (split.D !== cfg.dataDim) throw new Error(`${file}: the model has D = ${cfg.dataDim}, the data ${split.D}`);
  checkLikelihoodFits(cfg.likelihood, [split], file);
  // an lvm's φ table is sized by the evaluated rows; its values are fitted below
  const model = buildModel(be, kind, cfg, kind === 'lvm' ? split : ctx.train);
  model.loadParams(params);
  if (model instanceof Lvm && (estimator === 'elbo' || estimator === 'iwae')) {
    await model.fitPosterior(split.x, split.n, { steps: fitSteps, seed });
  }
  const set = new EvalSet(be, split, split.D);
  const prefix = ctx.config.split;
  const res: Record<string, unknown> = {
    model: kind, backend: be.info.backend, adapter: be.info.adapter?.choice ?? null, latent: cfg.latent, hidden: hiddenOf(cfg),
    likelihood: cfg.likelihood, ...(cfg.likelihood === 'gaussian' ? { var_floor: cfg.varFloor } : {}),
    epochs: mf.epoch, estimator, split: prefix,
  };
  const t0 = performance.now();
  try {
    const q: LatentVariableModel = estimator === 'prior' || estimator === 'prior-jensen' ? new PriorProposal(model) : model;
    switch (estimator) {
      case 'elbo':
        res[`${prefix}_elbo`] = (await evaluateElbo(q, set, { seed })).elbo;
        break;
      case 'iwae':
        res[`${prefix}_elbo`] = (await evaluateElbo(q, set, { seed })).elbo;
        res[`${prefix}_iwae`] = (await evaluateIwae(q, set, K, { seed })).iwae;
        res.iwae_k = K;
        break;
      case 'prior':
        res[`${prefix}_prior_mc`] = (await evaluateIwae(q, set, K, { seed })).iwae;
        res.samples = K;
        break;
      case 'prior-jensen':
        res[`${prefix}_prior_jensen`] = (await evaluateElbo(q, set, { seed })).logLik;
        break;
      default:
        throw new Error(`estimator '${estimator}' is not available for ${kind} (elbo, iwae, prior, prior-jensen)`);
    }
    if (model instanceof Lvm) res.fit_steps = fitSteps;
    res.eval_seconds = (performance.now() - t0) / 1000;
  } finally {
    set.release();
    model.release();
  }
  return res;
};
