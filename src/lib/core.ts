// The platform-neutral half of the public API, re-exported by both entries
// (src/index.ts for Node, src/browser.ts for the browser). Everything here is a
// re-export of the module that implements it: defaults and checks stay there.

// ---- backends

/** A compute backend (WebGPU, WebAssembly SIMD or the TypeScript reference): tensors, upload/read, the kernel set. */
export type { Backend, BackendInfo, AdapterDescription, AdapterKind, Tensor, DType } from '../backend.ts';
/** A view's offset (`backend.view(t, offset, length)`) must be a multiple of this many elements. */
export { VIEW_ALIGN } from '../backend.ts';
/** Every kernel of a backend with its parameter types, generic over the array type (a GPU tensor, a Float32Array). */
export type { KernelSet } from '../kernels.ts';
/** A bad kernel input (shape, length, parameter), naming the kernel and the problem. */
export { KernelError } from '../backend.ts';
/** No WebGPU adapter answered; the message says which were tried and why they failed. */
export { NoAdapterError, type AdapterChoice } from '../gpu/device.ts';
/** An adapter's name for people ("SwiftShader Device (Subzero) (fallback adapter)"), from `backend.info.adapter`. */
export { adapterName, type AdapterInfoLike } from '../gpu/device.ts';
/** `backend.info.summary` and, for WebGPU, a line with the device's granted limits ("limits: storage binding 128 MiB, buffer 2 GiB, …"). */
export { backendDetails } from '../gpu/device.ts';
/** The TypeScript reference CPU backend: every kernel single-threaded on Float32Arrays (the tests' oracle). */
export { CpuBackend } from '../cpu/backend.ts';
/** The WebGPU backend class (`backend instanceof WebGpuBackend` tells a GPU backend apart). */
export { WebGpuBackend } from '../gpu/backend.ts';

// ---- datasets

/** n rows of D float32 features, row-major, with optional digit labels. */
export type { Dataset } from '../data/dataset.ts';
/** Bad or unusable data; the message names the source and the row/column. */
export { DataError } from '../data/dataset.ts';
/** Wraps a row-major Float32Array of n×D values as a dataset, checking the shape. */
export { makeDataset } from '../data/dataset.ts';
/** `rows` rows spread evenly over a dataset (every class of digit-ordered data kept). */
export { subsetRows } from '../data/dataset.ts';
/** The project's canonical split: row i is test when i % 5 == 4. */
export { splitTrainTest, isTestRow } from '../data/dataset.ts';
/** Throws a DataError naming the first NaN or infinite value (row, column); with `'nan'`, NaN is a missing entry and only ±∞ is refused. */
export { checkFinite, type MissingMode } from '../data/dataset.ts';
/** CSV/TSV text to a dataset (delimiter and header detected unless given). */
export { parseCsv, parseCsvBytes, type CsvOptions, type HeaderMode } from '../data/csv.ts';
/** A 2-D float32/float64 C-order .npy file's bytes to a dataset. */
export { parseNpy } from '../data/npy.ts';
/** The bundled MNIST file's bytes (or URL) to the 8,000/2,000 train/test split. */
export { decodeMnist, fetchMnist, MNIST_SIDE, MNIST_PIXELS, type MnistOptions, type MnistSplit } from '../data/mnist.ts';
/** Seeded data from a known PPCA model, x = W z + μ + σ ε, with the generating parameters. */
export { syntheticPpca, type SyntheticPpcaOptions, type SyntheticPpca } from '../data/synthetic.ts';

// ---- model defaults

/**
 * Every model's defaults, each defined once (the CLI, the runs and the config
 * builders read them): PPCA, the VAE and the per-point model; a kind's default
 * latent size and minibatch, and the minibatch a run on some rows uses.
 */
export {
  PPCA_DEFAULTS, VAE_DEFAULTS, LVM_DEFAULTS, MODEL_KINDS, defaultLatent, defaultBatch, resolveBatch, type ModelKind,
} from '../models/config.ts';

// ---- PPCA

/** A dataset uploaded to a backend (and its release), the input of every PPCA fit and estimator. */
export { uploadData, releaseData, type DeviceData } from '../models/ppca/model.ts';
/** PPCA parameters on a backend (`PpcaModel`) and on the host (`PpcaHost`), and the moves between them. */
export { createPpca, readPpca, releasePpca, type PpcaModel, type PpcaHost } from '../models/ppca/model.ts';
/** Exact EM (plain, SQUAREM or Anderson-accelerated) to convergence; `onIter` reports each iterate's log-likelihood. */
export { fitEm, emPassRows, EM_METHODS, type EmMethod, type EmOptions, type EmProgress, type EmResult, type EmBudget } from '../models/ppca/em.ts';
/** Stochastic EM (minibatch gradient steps on the exact log-likelihood): a whole fit, or a fitter stepped a tick at a time. */
export { fitSem, createSemFitter, type SemOptions, type SemFitterOptions } from '../models/ppca/sem.ts';
/**
 * Stochastic and online EM over rows that are not in memory (a file, a File/Blob, a generator):
 * `fitSem(backend, await PpcaStream.open(backend, source, { batch, memory: { hostBytes, deviceBytes } }), opts)`
 * (online EM: `norms: true`). The column statistics come from one streamed pass; every epoch reads
 * the rows in chunks within the host budget, centres them in float64 and uploads them double-buffered
 * within the device budget (`MemoryBudget`), minibatches in the `streamEpoch` order.
 * `sourceLogLik` is the exact mean log-likelihood over a source (a host pass).
 */
export { PpcaStream, sourceLogLik, type PpcaStreamOptions } from '../models/ppca/stream.ts';
/**
 * Rows read a slice at a time: the RowSource contract, rows in memory as one (`arraySource`), the
 * canonical train/test split of a source (`splitSource`, row i a test row when i % 5 == 4), the
 * contiguous chunks of a source and their epoch order, and a browser File/Blob (.npy or raw float32)
 * read in slices (`blobSource`).
 */
export { arraySource, splitSource, chunksOf, epochChunkOrder, type RowSource, type Chunk } from '../data/source.ts';
export { blobSource, type BlobSourceOptions, type BlobLike } from '../data/source.blob.ts';
/** Online EM (running sufficient statistics, Robbins–Monro steps): a whole fit, or a fitter stepped a tick at a time. */
export { fitOem, createOemFitter, type OemOptions, type OemFitterOptions } from '../models/ppca/oem.ts';
/** Drives a stochastic fitter over whole epochs; the fitter's `step(n)`, `snapshot()` and `restore()` run it in ticks. */
export {
  runStochasticFit, type StochasticFitter, type StochasticProgress, type StochasticResult, type FitterSnapshot,
  type FitterState, type RunOptions,
} from '../models/ppca/fitter.ts';
/** The maximum-likelihood PPCA in closed form (the top d eigenpairs of the float64 sample covariance, on the host; `'full'` decomposes all of it). */
export { closedFormPpca, type ClosedFormPpca, type ClosedFormSolver } from '../models/ppca/closed.ts';
/** The closed form with the covariance and the subspace iteration's products on a backend's matmul, the eigenvalues by a float64 Rayleigh–Ritz step on the host. */
export { closedFormPpcaOn, type ClosedFormOnOptions } from '../models/ppca/closed.ts';
/** The top d eigenpairs of a symmetric PSD matrix (Chebyshev-filtered subspace iteration, float64 Rayleigh–Ritz). */
export { topEigenpairs, type TopEigenpairs, type TopEigOptions } from '../models/ppca/eigs.ts';
/** Choosing d: PPCA's train/held-out log-likelihood, BIC and Minka's evidence for every d of a range, from one eigendecomposition. */
export { ppcaSweep, minkaLogEvidence, ppcaParams, type PpcaSweep, type SweepRow } from '../models/ppca/sweep.ts';
/** Exact log-likelihood of PPCA: per row, and the mean per sample (nats). */
export { logLikRows, meanLogLik } from '../models/ppca/loglik.ts';
/** PPCA with missing values (NaN): exact EM over the observed entries (host float64), the observed-data log-likelihood, posterior-mean imputation. */
export { fitPpcaMissing, missingLogLikRows, missingMeanLogLik, imputeMissing, type MissingData, type MissingFitOptions, type MissingFitResult, type PpcaParams } from '../models/ppca/missing.ts';
/** PPCA with missing values on a backend: the E- and M-step sums by its matmul (float32), the small solves in float64 on the host; `onIteration` reports each E-step. */
export { fitPpcaMissingOn, missingLogLikRowsOn, imputeMissingOn, type MissingOnOptions, type MissingOnResult } from '../models/ppca/missingOn.ts';
/** log p(x) estimators for PPCA: exact, ELBO, IWAE_K, prior Monte Carlo and its Jensen bound, with standard errors. */
export {
  estimateLogLik, ESTIMATORS, type EstimatorName, type EstimateOptions, type Estimate, type Proposal, type GivenGaussian,
} from '../models/ppca/estimators.ts';
/** Principal angles (radians) between the column spaces of two D×d matrices. */
export { principalAngles } from '../models/ppca/subspace.ts';

// ---- factor analysis

/** Factor analysis by exact EM (`fitFa`: plain, SQUAREM or Anderson; data in one device buffer or several), its exact log-likelihood (Woodbury, float64), the ψ floor rule and the defaults. */
/** A resumable exact-EM fit of FA (`step(k)` spends k EM maps, the acceleration's history kept between calls): for pages that fit a tick at a time. */
export { createFaEmFitter, type FaEmFitter } from '../models/fa/fa.ts';
export {
  fitFa, faLogLikRows, faMeanLogLik, psiFloor, initialFa, FA_DEFAULTS, FA_PSI_FLOOR, FA_PSI_FLOOR_MEAN,
  type FaHost, type FaOptions, type FaProgress, type FaResult,
} from '../models/fa/fa.ts';
/** Rows on the host (row-major n×D, a `Dataset` or a `DeviceData`): what the host evaluations such as `faLogLikRows` read. */
export { type HostData } from '../models/ppca/model.ts';
/** fa model files: parameters as safetensors tensors and back (checked), and a fit rounded to what a file stores. */
export { faToTensors, faFromTensors, roundFa, FA_FILE_LIMITS } from '../models/fa/file.ts';
/** Choosing d for FA: an EM fit per d with its train/held-out log-likelihood and BIC. */
export { faSweep, faParams, type FaSweep, type FaSweepRow } from '../models/fa/sweep.ts';
/** The EM accelerations FA uses (`FaOptions.method`): SQUAREM and Anderson over a host parameter vector, with a monotone safeguard. */
export { accelerate, ACCEL_METHODS, ACCEL_ANDERSON_MEMORY, type AccelMethod, type AccelOptions, type AccelResult, type EmMap } from '../models/accel.ts';
/** Stochastic EM for FA: a whole fit (`fitFaSem`), or a fitter stepped a tick at a time (`createFaSemFitter`). */
export {
  fitFaSem, createFaSemFitter, FA_SEM_DEFAULTS, type FaSemOptions, type FaSemFitter, type FaSemProgress, type FaSemResult,
} from '../models/fa/sem.ts';
/** FA with missing values (NaN): EM over the observed entries (host float64), the observed-data log-likelihood, imputation by the posterior mean. */
export {
  fitFaMissing, faMissingLogLikRows, faMissingMeanLogLik, faImpute, type FaMissingOptions, type FaMissingResult,
} from '../models/fa/missing.ts';
/** FA with missing values with the E- and M-step sums on a backend (the solves in float64 on the host): what `--missing nan` runs. */
export { fitFaMissingOn } from '../models/fa/missingOn.ts';

// ---- mixtures of PPCA

/**
 * Mixtures of PPCA by EM (`fitMppca`, or `MppcaFitter` step by step), the evaluation of a model
 * (per-row log-likelihood, responsibilities, assignments), cluster purity, the parameter count,
 * the k-means++ start, the σ² floor and the defaults.
 */
export {
  fitMppca, MppcaFitter, evaluateMppca, clusterPurity, componentSizes, mppcaParameterCount, checkMppca, initialMppca, roundMppca,
  MPPCA_DEFAULTS, MPPCA_SIGMA2_FLOOR, MPPCA_INIT_LLOYD, MPPCA_MAX_VALUES,
  type MppcaHost, type MppcaOptions, type MppcaProgress, type MppcaResult, type MppcaDrop, type MppcaEvaluation,
} from '../models/mppca/mppca.ts';
/** mppca model files: parameters as safetensors tensors and back (checked: shapes, finite, σ² range, π on the simplex). */
export { mppcaToTensors, mppcaFromTensors, MPPCA_FILE_LIMITS } from '../models/mppca/file.ts';

// ---- latent-variable models: the VAE and the per-point model

/** The variational autoencoder and its configuration; `classicVaeConfig` is 784→400→20 with a Bernoulli decoder. */
export { Vae, classicVaeConfig, type VaeConfig } from '../models/vae.ts';
/** The per-point (non-amortised) latent model: one φ = (m, log s²) per row; `fitPosterior` fits φ for new rows. */
export { Lvm, defaultLvmConfig, FIT_STEPS, type LvmConfig } from '../models/lvm.ts';
/** What the VAE and the per-point model share: the configuration, the objective, the evaluable model half. */
export { PriorProposal, type LatentModelConfig, type LatentVariableModel, type Objective } from '../models/latent.ts';
/**
 * Training and evaluation rows streamed from a RowSource (a file read in slices, a generator) in chunks
 * under a memory budget: `new Vae(backend, cfg, source, source.n, { memory, batch })`, the same for Lvm and
 * EvalSet. `streams` says whether rows stream; `streamEpoch` is the documented epoch order over chunks;
 * `sourceColumnVariance` gives the Gaussian decoder's initial variance of rows not in memory.
 */
export {
  streams, streamEpoch, sourceColumnVariance, DEFAULT_HOST_BYTES, MIX_BLOCKS,
  type MemoryBudget, type RowsOptions, type StreamLayout, type EpochChunk,
} from '../models/stream.ts';
/** The hidden layers' activation (`LatentModelConfig.act`). */
export type { Activation } from '../kernels/elementwise.ts';
/** The decoder's likelihood and variance settings and their defaults. */
export {
  DEFAULT_VAR_FLOOR, DEFAULT_VAR_CEIL, type Likelihood, type VarianceMode,
} from '../models/decoder.ts';
/** Bernoulli when every value lies in [0, 1], else Gaussian; the Gaussian variance ceiling for some data. */
export {
  chooseLikelihood, varianceCeiling, type LikelihoodChoice, type LikelihoodRequest, type LikelihoodData, type OutsideUnit,
} from '../models/likelihood.ts';
/** A decoder likelihood the data cannot have (a Bernoulli decoder on values outside [0, 1]); the message names the value. */
export { LikelihoodError } from '../models/likelihood.ts';
/** Adam's settings (β₁, β₂, ε, weight decay) and their defaults. */
export { DEFAULT_ADAM, type AdamConfig } from '../train/optimizer.ts';

// ---- training

/**
 * Trains a VAE or per-point model to the end: epochs of minibatch steps, one
 * submission per step, the objective read back every `checkEvery` steps and
 * reported through `onProgress`/`onEpoch`/`onEvaluate`; `signal` (an
 * AbortSignal) stops it cleanly between steps; a NaN restores the last good
 * parameters and throws {@link TrainingDiverged}.
 */
export {
  train, TrainingDiverged, type TrainOptions, type TrainResult, type Progress, type EpochSummary, type Evaluation,
  type Trainable, type StepInput,
} from '../train/trainer.ts';
/**
 * The resumable training driver behind `train`: `tick(k)` runs k steps and
 * resolves with their objective (a page trains a tick per frame), `run()` runs
 * to the end; any mix of ticks equals one run. `release()` frees its buffers.
 */
export { Trainer, type TrainerOptions, type TickReport } from '../train/trainer.ts';
/** Step-size schedules (constant, Robbins–Monro, cosine, step) and the step size at step t. */
export { learningRate, parseSchedule, type Schedule } from '../train/schedule.ts';

// ---- estimators of the latent models

/** Evaluation rows on a backend, shared by the estimators below (release it when done). */
export { EvalSet, type EvalData } from '../models/evaluate.ts';
/** Mean one-sample ELBO and the importance-weighted bound IWAE_K over an evaluation set. */
export { evaluateElbo, evaluateIwae, type ElboResult, type IwaeResult } from '../models/evaluate.ts';
/** Reconstructions, posterior means, decoded latents, prior samples and the 2-D latent manifold grid. */
export { reconstruct, latentMeans, decode, priorSamples, manifoldGrid } from '../models/evaluate.ts';

// ---- model files

/** Every model file through one codec: decode (checked before any model is built), encode, build the model a file holds. */
export {
  decodeModelFile, encodeModelFile, buildModel, type ModelFile, type SavableModel, type EncodeOptions, type LoadedModel,
} from './modelFiles.ts';
/** A malformed or unusable model file; the message names the file and the problem. */
export { ModelFileError } from '../io/safetensors.ts';
/** The safetensors container itself (both platforms). */
export {
  encodeSafetensors, decodeSafetensors, type Safetensors, type TensorMap, type SafetensorsTensor, type SafetensorsDType, type DTypeArray,
} from '../io/safetensors.ts';
/** The vae/lvm file's configuration and caps as decoded. */
export { LATENT_LIMITS, type LatentModelFile, type LatentKind, type LatentFileConfig } from '../io/modelFile.ts';

// ---- runs: a model trained a tick at a time by a page

/**
 * A model being trained a tick at a time, with everything a page shows of it
 * (objective on train and test, reconstructions, samples, latent means,
 * estimators, its model file), and its settings; defaults live in src/models/config.ts.
 */
export {
  RUN_KINDS, resolveRunConfig, type RunKind, type RunConfig, type ResolvedRunConfig, type ModelRun, type RunTick,
  type EstimatorRow, type ModelRunOptions,
} from './run.ts';
/** Builds a run: new (`createRun`), or continuing a model file (`loadRun`; `decodeRunFile` says which run continues a file). */
export { createRun, loadRun, decodeRunFile, type RunFile } from './runs.ts';
/** A run's data: a user's CSV/NPY File read with its size checked first, synthetic PPCA data, or any dataset split into train and test. */
export { readDataBlob, splitRunData, syntheticRunData, BLOB_LIMITS, type RunData } from './runData.ts';
/** Synthetic PPCA rows generated on demand from (seed, row index): a RowSource of any size that is never held in memory. */
export { generatedPpca, type GeneratedPpca, type GeneratedPpcaOptions } from '../data/generated.ts';
/** What a run reports beyond its objective (FA's Heywood columns) and a missing-values run's imputations. */
export type { RunFigure, Imputation, ComponentView } from './run.ts';
/** Factor analysis's methods in a run (exact EM, SQUAREM, Anderson, stochastic EM). */
export { FA_RUN_METHODS, type FaRunMethod } from './run.ts';
/** A .npy File/Blob larger than a page's memory: the training rows read a slice at a time (a RowSource for the STREAMING_KINDS), samples in memory. */
export { streamDataBlob, STREAM_SAMPLE_ROWS, type StreamedRunData } from './runData.ts';
/** The run kinds that train on rows read a slice at a time (`ModelRunOptions.trainSource`): PPCA's stochastic and online EM, the VAE. */
export { STREAMING_KINDS } from './runs.ts';
/** An fa or mppca model file as a run continues it (`decodeRunFile` reads every model's file). */
export type { LinearModelFile } from './runs.ts';
/** Missing values in a page: entries hidden at random (seeded) with the complete rows kept, the imputation RMSE on them, NaN counted. */
export { hideAtRandom, imputationRmse, countMissing, type HiddenRunData } from './runData.ts';
