// The latentgpu command line: option parsing, data loading, backend creation and
// result printing. Models plug in through src/cli/<module>.ts (a ModelModule);
// runCli takes its I/O and dependencies as arguments so tests can drive it in-process.
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Backend } from '../backend.ts';
import { printable, validateForModel } from '../data/dataset.ts';
import { loadDataSource, type LoadedData } from '../data/files.node.ts';
import { ADAPTER_CHOICES, type AdapterChoice } from '../gpu/device.ts';
import { EM_METHODS } from '../models/ppca/em.ts';
import { DEFAULT_VAR_CEIL } from '../models/decoder.ts';
import { LATENT_LIMITS } from '../io/modelFile.ts';
import { loadSafetensorsMetadata } from '../io/atomic.node.ts';
import { quoteValue } from '../io/modelFile.ts';
import type { BackendChoice, BackendOptions } from '../node/backend.ts';
import type { CliContext, ModelModule } from './context.ts';
import { checkOutputs, type OutputPlan, type PathInput } from './outputs.ts';
import { silentProgress, terminalProgress } from './progress.ts';
import { syntheticOptionsForEval } from './synthetic.ts';

export const MODELS = ['ppca', 'lvm', 'vae'] as const;
export type ModelKind = (typeof MODELS)[number];

/** Latent dimension when --latent is not given: DESIGN.md's PPCA runs use d = 10; the classic VAE uses 20. */
export const DEFAULT_LATENT: Record<ModelKind, number> = { ppca: 10, lvm: 20, vae: 20 };

/** Which module holds each model's Runner. */
const MODULE_FILE: Record<ModelKind, string> = { ppca: './ppca.ts', lvm: './vae.ts', vae: './vae.ts' };

export interface CliIO {
  stdout(s: string): void;
  stderr(s: string): void;
  /** stderr when it is a terminal (progress bars go there) */
  tty?: NodeJS.WriteStream;
  env: Record<string, string | undefined>;
}

export interface CliDeps {
  createBackend(o: BackendOptions): Promise<Backend>;
  loadModelModule(kind: ModelKind): Promise<ModelModule>;
  /** the "model" key of a model file's safetensors metadata */
  readModelType(path: string): Promise<string>;
}

async function importModule(relative: string): Promise<Record<string, unknown>> {
  // the compiled package (dist/) holds ppca.js where the sources hold ppca.ts
  const url = new URL(import.meta.url.endsWith('.js') ? relative.replace(/\.ts$/, '.js') : relative, import.meta.url);
  if (!existsSync(fileURLToPath(url))) throw new Error(`${fileURLToPath(url)} does not exist in this build`);
  return (await import(url.href)) as Record<string, unknown>;
}

export const defaultDeps: CliDeps = {
  async createBackend(o) {
    const { createBackend } = await import('../node/backend.ts');
    return createBackend(o);
  },
  async loadModelModule(kind) {
    let mod: Record<string, unknown>;
    try {
      mod = await importModule(MODULE_FILE[kind]);
    } catch (e) {
      throw new Error(`model '${kind}' is not available: ${(e as Error).message}`);
    }
    if (typeof mod.train !== 'function' || typeof mod.evaluate !== 'function') {
      throw new Error(`model '${kind}': src/cli/${MODULE_FILE[kind].slice(2)} must export train and evaluate`);
    }
    return mod as unknown as ModelModule;
  },
  async readModelType(path) {
    // the header alone: a type check reads no tensor data
    const model = (await loadSafetensorsMetadata(path)).model;
    if (!model) throw new Error(`${path}: the safetensors metadata has no "model" key, so it is not a latentgpu model file`);
    if (!/^[\w.-]{1,40}$/.test(model)) throw new Error(`${path}: metadata "model" is ${quoteValue(model)}, not a model type (${MODELS.join(', ')})`);
    return model;
  },
};

// ---- option value parsers (commander turns InvalidArgumentError into "argument 'x' is invalid. <why>")

const count = (v: number): string => v.toLocaleString('en-US');

/** An integer flag in [min, max], written in digits; `why` says where the bound comes from. */
function intIn(min: number, max: number, why = ''): (v: string) => number {
  return (v) => {
    const s = v.trim();
    const x = Number(s);
    if (!/^\d+$/.test(s) || !Number.isSafeInteger(x) || x < min || x > max) {
      throw new InvalidArgumentError(max === Number.MAX_SAFE_INTEGER
        ? `It must be ${min === 0 ? 'a non-negative' : 'a positive'} integer${why}.`
        : `It must be an integer from ${count(min)} to ${count(max)}${why}.`);
    }
    return x;
  };
}
const positiveInt = intIn(1, Number.MAX_SAFE_INTEGER);
const nonNegativeInt = intIn(0, Number.MAX_SAFE_INTEGER);

/**
 * Stated caps on sizes and counts given as flags, so that a typo fails at the
 * flag instead of in a kernel or an allocation. Widths, layers, latent size and
 * φ steps are the model-file decoder's caps (LATENT_LIMITS).
 */
export const FLAG_LIMITS = {
  /** seeds key Threefry-2x32 with one 32-bit word (src/validate/random.ts) */
  seed: 2 ** 32 - 1,
  latent: LATENT_LIMITS.latent,
  width: LATENT_LIMITS.width,
  layers: LATENT_LIMITS.layers,
  phiSteps: LATENT_LIMITS.phiSteps,
  batch: 2 ** 24,
  /** importance samples per row: 100,000 × 2,000 test rows is hours already */
  samples: 100_000,
  epochs: 1_000_000,
  iters: 10_000_000,
  fitSteps: 1_000_000,
  /** a run's training steps (× φ steps for lvm): each keys its random numbers with a 32-bit counter */
  steps: 2 ** 32 - 1,
};
const L = FLAG_LIMITS;

function positiveNumber(v: string): number {
  const x = Number(v);
  if (v.trim() === '' || !Number.isFinite(x) || x <= 0) throw new InvalidArgumentError('It must be a positive number.');
  return x;
}
function nonNegativeNumber(v: string): number {
  const x = Number(v);
  if (v.trim() === '' || !Number.isFinite(x) || x < 0) throw new InvalidArgumentError('It must be a number ≥ 0.');
  return x;
}
/** "400" or "400,400": hidden layer widths, kept as the string (options are scalars) */
function intList(v: string): string {
  const s = v.replace(/\s+/g, '');
  if (!/^[1-9]\d*(,[1-9]\d*)*$/.test(s)) throw new InvalidArgumentError('It must be positive integers separated by commas, e.g. 400 or 512,256.');
  const widths = s.split(',').map(Number);
  if (widths.length > L.layers || widths.some((w) => w > L.width)) {
    throw new InvalidArgumentError(`It must be at most ${L.layers} widths, each from 1 to ${count(L.width)}.`);
  }
  return s;
}
/** The Gaussian decoder's variance floor: below its ceiling DEFAULT_VAR_CEIL. */
function varFloor(v: string): number {
  const x = Number(v);
  if (v.trim() === '' || !Number.isFinite(x) || x <= 0 || x >= DEFAULT_VAR_CEIL) throw new InvalidArgumentError(`It must be a number above 0 and below the variance ceiling ${DEFAULT_VAR_CEIL}.`);
  return x;
}

/** Parses a --hidden value ("400,400") into widths. */
export function hiddenSizes(v: string | number | boolean | undefined): number[] | undefined {
  if (v === undefined || typeof v === 'boolean') return undefined;
  return String(v).split(',').map(Number);
}

function addBackendOptions(cmd: Command, env: CliIO['env']): Command {
  return cmd
    .addOption(new Option('--backend <b>', 'where kernels run (auto falls back to the CPU when no adapter answers)').choices(['auto', 'webgpu', 'cpu']).default('auto'))
    .addOption(new Option('--adapter <a>', 'which WebGPU adapter').choices([...ADAPTER_CHOICES]).default(env.LATENTGPU_ADAPTER?.trim().toLowerCase() || 'auto'))
    .option('--json', 'print one JSON object on stdout (nothing else goes to stdout)');
}

function addDataOptions(cmd: Command): Command {
  return cmd
    .option('--data <source>', "'mnist' (bundled 8,000/2,000 split), 'synthetic' (PPCA data), or a .csv/.tsv/.npy file", 'mnist')
    .option('--test <file>', 'test data file (default: every 5th row of --data FILE, rows i % 5 == 4)')
    .option('--subset <n>', 'use only the first n training rows', positiveInt)
    .option('--test-subset <n>', 'use only the first n test rows', positiveInt)
    .addOption(new Option('--header <mode>', 'CSV header row').choices(['auto', 'yes', 'no']).default('auto'))
    .option('--n <rows>', 'synthetic data: rows before the split', positiveInt, 2500)
    .option('--dim <D>', 'synthetic data: data dimension', positiveInt, 20)
    .option('--true-latent <d>', 'synthetic data: generating latent dimension (default: --latent)', positiveInt)
    .option('--sigma <s>', 'synthetic data: noise standard deviation', nonNegativeNumber, 0.5)
    .option('--data-seed <s>', 'synthetic data: seed', nonNegativeInt, 1);
}

type Opts = Record<string, string | number | boolean | undefined>;

// ---- which options apply where

/** A model, or for ppca a model and method: what a train option can apply to. */
type Target = 'vae' | 'lvm' | `ppca:${string}`;
const EXACT_EM: readonly Target[] = EM_METHODS.map((m) => `ppca:${m}` as const);
const STOCHASTIC_EM: readonly Target[] = ['ppca:sem', 'ppca:oem'];
const LATENT_MODELS: readonly Target[] = ['vae', 'lvm'];

/**
 * The model-specific options of `train` and where each applies: what
 * src/cli/vae.ts and src/cli/ppca.ts read (keep in step with them). Every other
 * option applies to every model. Given where it does not apply, an option is an
 * error, never silently ignored.
 */
const TRAIN_SCOPE: Record<string, readonly Target[]> = {
  method: [...EXACT_EM, ...STOCHASTIC_EM],
  iters: EXACT_EM,
  tol: EXACT_EM,
  epochs: [...LATENT_MODELS, ...STOCHASTIC_EM],
  batch: [...LATENT_MODELS, ...STOCHASTIC_EM],
  lr: [...LATENT_MODELS, 'ppca:sem'],
  optimizer: ['ppca:sem'],
  kappa: [...LATENT_MODELS, ...STOCHASTIC_EM],
  tau: [...LATENT_MODELS, 'ppca:sem'],
  hidden: LATENT_MODELS,
  likelihood: LATENT_MODELS,
  objective: LATENT_MODELS,
  varFloor: LATENT_MODELS,
  samples: LATENT_MODELS,
  phiLr: ['lvm'],
  phiSteps: ['lvm'],
  fitSteps: ['lvm'],
  checkpointEvery: [...LATENT_MODELS, ...STOCHASTIC_EM],
  resume: [...LATENT_MODELS, ...STOCHASTIC_EM],
};

/** The same for `eval`, by the model file's type. */
const EVAL_SCOPE: Record<string, readonly Target[]> = { q: ['ppca:'], fitSteps: ['lvm'] };

/** Options of the synthetic generator, which only --data synthetic reads. */
const SYNTHETIC_OPTIONS = ['n', 'dim', 'trueLatent', 'sigma', 'dataSeed'];

/** Whether an option was given (on the command line or through its environment variable) rather than defaulted. */
function givenIn(cmd: Command): (name: string) => boolean {
  return (name) => ['cli', 'env'].includes(cmd.getOptionValueSource(name) ?? '');
}

function flagOf(cmd: Command, name: string): string {
  return cmd.options.find((o) => o.attributeName() === name)?.long ?? name;
}

/** "vae, lvm, ppca --method sem" for a list of targets. */
function describeTargets(targets: readonly Target[]): string {
  const methods = targets.filter((t) => t.startsWith('ppca:')).map((t) => t.slice(5));
  const all = [...EM_METHODS, 'sem', 'oem'];
  const ppca = methods.length === 0 ? [] : methods.includes('') || all.every((m) => methods.includes(m)) ? ['ppca'] : [`ppca --method ${methods.join(', ')}`];
  return [...targets.filter((t) => !t.startsWith('ppca:')), ...ppca].join(', ');
}

/**
 * Rejects a given option that `target` does not read, naming the option, the
 * model (and method), where the option does apply, and what this one takes.
 */
function checkScope(cmd: Command, scope: Record<string, readonly Target[]>, target: Target, label: string): void {
  const given = givenIn(cmd);
  const applies = (targets: readonly Target[]): boolean => targets.includes(target) || (target.startsWith('ppca:') && targets.includes('ppca:'));
  for (const [name, targets] of Object.entries(scope)) {
    if (!given(name) || applies(targets)) continue;
    const takes = Object.entries(scope).filter(([, t]) => applies(t)).map(([n]) => flagOf(cmd, n));
    throw new Error(
      `${flagOf(cmd, name)} does not apply to ${label} (it is for ${describeTargets(targets)}); ` +
      `${label} takes ${takes.length ? takes.join(', ') : 'none of the model options'} besides the data and backend options`,
    );
  }
}

/** Synthetic-generator options without --data synthetic, and --header without a data file, are errors too. */
function checkDataScope(cmd: Command, o: Opts): void {
  const given = givenIn(cmd);
  const data = String(o.data);
  const stray = SYNTHETIC_OPTIONS.find((n) => given(n));
  if (data !== 'synthetic' && stray) throw new Error(`${flagOf(cmd, stray)} sets up --data synthetic; it does not apply to --data ${printable(data, 200)}`);
  if ((data === 'mnist' || data === 'synthetic') && given('header')) throw new Error(`--header applies to a data file, not to --data ${data}`);
}

/** The files `train` reads and writes, for checkOutputs. */
function trainOutputs(kind: ModelKind, o: Opts): OutputPlan {
  const inputs: PathInput[] = [];
  if (o.data !== 'mnist' && o.data !== 'synthetic') inputs.push({ flag: '--data', path: String(o.data) });
  if (o.test !== undefined) inputs.push({ flag: '--test', path: String(o.test) });
  if (o.resume !== undefined) inputs.push({ flag: '--resume', path: String(o.resume) });
  const checkpoints = o.checkpointEvery !== undefined;
  const plan: OutputPlan = { inputs, replaceable: { flag: '--resume', file: 'checkpoint.safetensors' } };
  if (o.out !== undefined) plan.out = String(o.out);
  if (o.runDir !== undefined) {
    plan.runDir = { path: String(o.runDir), given: true };
    plan.runFiles = [...(checkpoints ? ['checkpoint.safetensors'] : []), ...(o.out === undefined ? ['model.safetensors'] : [])];
  } else if (kind !== 'ppca' || checkpoints) {
    // the model module makes runs/<time>-<model>: the folder it goes in must take it
    plan.runDir = { path: 'runs', given: false };
  }
  return plan;
}

/**
 * A run's training steps key their random numbers with a 32-bit counter (× φ
 * steps for lvm): more would repeat them, so --epochs × steps per epoch is
 * capped. The modules' defaults stand in for absent flags (vae.ts: 20 epochs,
 * batch 128, 2 φ steps; ppca.ts: 10 epochs, batch 100).
 */
function checkStepCount(kind: ModelKind, o: Opts, rows: number): void {
  const stochastic = kind !== 'ppca' || o.method === 'sem' || o.method === 'oem';
  if (!stochastic) return;
  const epochs = Number(o.epochs ?? (kind === 'ppca' ? 10 : 20));
  const batch = Math.min(Number(o.batch ?? (kind === 'ppca' ? 100 : 128)), rows);
  const perStep = kind === 'lvm' ? Number(o.phiSteps ?? 2) : 1;
  const steps = epochs * Math.ceil(rows / batch) * perStep;
  if (steps > L.steps) {
    throw new Error(
      `--epochs ${count(epochs)} × ${count(Math.ceil(rows / batch))} steps per epoch${perStep > 1 ? ` × ${perStep} φ steps` : ''} = ${count(steps)}, ` +
      `over the ${count(L.steps)} a run's 32-bit random-number counter allows; use fewer epochs or a larger --batch`,
    );
  }
}

function loadData(o: Opts, latent: number | undefined): LoadedData {
  const data = String(o.data);
  return loadDataSource({
    data,
    test: o.test as string | undefined,
    subset: o.subset as number | undefined,
    testSubset: o.testSubset as number | undefined,
    header: o.header as 'auto' | 'yes' | 'no',
    synthetic:
      data === 'synthetic'
        ? { n: o.n as number, D: o.dim as number, d: (o.trueLatent as number | undefined) ?? latent ?? 2, sigma: o.sigma as number, seed: o.dataSeed as number }
        : undefined,
  });
}

/** JSON with typed arrays as arrays and non-finite numbers as null. */
export function toJson(value: unknown): string {
  return JSON.stringify(value, (_k, v: unknown) => {
    if (ArrayBuffer.isView(v) && !(v instanceof DataView)) return Array.from(v as unknown as ArrayLike<number>);
    if (typeof v === 'bigint') return v.toString();
    return v;
  });
}

function formatScalar(v: unknown): string {
  if (typeof v === 'number') return Number.isInteger(v) ? String(v) : Math.abs(v) >= 1e6 || (v !== 0 && Math.abs(v) < 1e-3) ? v.toExponential(4) : v.toFixed(4);
  if (v === null || v === undefined) return '—';
  if (typeof v === 'string' || typeof v === 'boolean') return String(v);
  // a BackendInfo (or anything else that carries its own one-line summary)
  if (typeof v === 'object' && typeof (v as { summary?: unknown }).summary === 'string') return (v as { summary: string }).summary;
  if (Array.isArray(v) || ArrayBuffer.isView(v)) {
    const a = Array.from(v as ArrayLike<unknown>);
    if (a.length <= 8 && a.every((e) => typeof e !== 'object' || e === null)) return `[${a.map(formatScalar).join(', ')}]`;
    const last = a[a.length - 1];
    return `[${a.length} values${a.length && typeof last !== 'object' ? `, last ${formatScalar(last)}` : ''}]`;
  }
  const s = toJson(v);
  return s.length <= 100 ? s : `{${Object.keys(v as object).join(', ')}}`;
}

/** The readable summary printed without --json: one "key: value" line per entry. */
export function summarize(result: Record<string, unknown>, backendSummary: string): string {
  const lines: string[] = [];
  const width = Math.max(...Object.keys(result).map((k) => k.length));
  for (const [k, v] of Object.entries(result)) {
    const text = k === 'adapter' ? backendSummary : formatScalar(v);
    lines.push(`${k.padEnd(width)}  ${text}`);
  }
  return `${lines.join('\n')}\n`;
}

interface RunPlan {
  command: 'train' | 'eval';
  kind: ModelKind;
  opts: Opts;
  /** extra result fields main reports */
  base: Record<string, unknown>;
}

/** The adapter default comes from LATENTGPU_ADAPTER, which commander's choices do not check. */
function checkAdapter(o: Opts): void {
  if (!(ADAPTER_CHOICES as readonly unknown[]).includes(o.adapter)) {
    throw new Error(`adapter '${String(o.adapter)}' (from LATENTGPU_ADAPTER) is not one of ${ADAPTER_CHOICES.join(', ')}`);
  }
}

async function runModel(plan: RunPlan, io: CliIO, deps: CliDeps, started: number): Promise<void> {
  const { opts, kind } = plan;
  checkAdapter(opts);
  const latent = plan.command === 'train' ? (opts.latent as number) : undefined;
  const data = loadData(opts, latent);
  validateForModel(data.train, { latent, batch: plan.command === 'train' ? (opts.batch as number | undefined) : undefined });
  validateForModel(data.test, { latent });
  if (plan.command === 'train') checkStepCount(kind, opts, data.train.n);
  // a missing model module is reported before the (slow) device start
  const mod = await deps.loadModelModule(kind);
  const sink = io.tty && !opts.json ? terminalProgress(io.tty) : silentProgress(io.stderr);
  const backend = await deps.createBackend({
    backend: opts.backend as BackendChoice,
    adapter: opts.adapter as AdapterChoice,
    log: sink.log,
  });
  let result: Record<string, unknown>;
  try {
    const ctx: CliContext = { backend, train: data.train, test: data.test, opts, progress: sink, log: sink.log };
    if (data.truth) ctx.truth = data.truth;
    result = await (plan.command === 'train' ? mod.train(ctx) : mod.evaluate(ctx));
  } finally {
    sink.stop();
    backend.destroy();
  }
  const merged: Record<string, unknown> = {
    command: plan.command,
    ...plan.base,
    backend: backend.info.backend,
    adapter: backend.info.adapter ?? null,
    data: String(opts.data),
    n_train: data.train.n,
    n_test: data.test.n,
    D: data.train.D,
    seconds: (performance.now() - started) / 1000,
    ...result,
    // a model's `seconds` (its fit time) replaces the one above; this is the whole command
    wall_seconds: (performance.now() - started) / 1000,
  };
  // never exit 0 with a NaN or infinite figure (finite parameters can still overflow float32)
  const bad = Object.entries(merged).find(([, v]) => typeof v === 'number' && !Number.isFinite(v));
  if (bad) {
    const who = plan.command === 'eval' ? `${String(opts.model)}: the evaluation` : 'the trained model';
    throw new Error(`${who} gave ${bad[0]} = ${bad[1]}: the parameters overflow float32 arithmetic on this data (standardise the data's columns${plan.command === 'train' ? ', or lower --lr' : ''})`);
  }
  if (opts.json) io.stdout(`${toJson(merged)}\n`);
  else io.stdout(summarize(merged, backend.info.summary));
}

export function buildProgram(io: CliIO, deps: CliDeps, started: number): Command {
  const program = new Command();
  program
    .name('latentgpu')
    .description('Latent-variable models (PPCA, per-point VI, VAE) trained with WGSL kernels on WebGPU')
    .exitOverride()
    .configureOutput({ writeOut: io.stdout, writeErr: io.stderr, outputError: () => {} });

  addBackendOptions(
    program.command('info').description('show which WebGPU adapter (or the CPU fallback) this machine gives'),
    io.env,
  ).action(async (o: Opts) => {
    checkAdapter(o);
    const b = await deps.createBackend({ backend: o.backend as BackendChoice, adapter: o.adapter as AdapterChoice, log: (m) => io.stderr(`${m}\n`) });
    try {
      io.stdout(o.json ? `${JSON.stringify(b.info, null, 2)}\n` : `${b.info.summary}\n`);
    } finally {
      b.destroy();
    }
  });

  const train = program
    .command('train')
    .description('train a model and report its train/test figures (exact log-likelihood for ppca, ELBO/IWAE for lvm and vae)')
    .addOption(new Option('--model <name>', 'which model').choices([...MODELS]).makeOptionMandatory())
    .addOption(new Option('--method <m>', 'ppca: exact EM, SQUAREM- or Anderson-accelerated exact EM, stochastic EM, online EM (default em)').choices([...EM_METHODS, 'sem', 'oem']))
    .option('--latent <d>', `latent dimension (default ${Object.entries(DEFAULT_LATENT).map(([m, d]) => `${m} ${d}`).join(', ')})`, intIn(1, L.latent))
    .option('--epochs <n>', 'passes over the training rows (minibatch methods)', intIn(1, L.epochs))
    .option('--iters <n>', 'ppca exact EM: most iterations', intIn(1, L.iters))
    .option('--batch <B>', 'minibatch rows', intIn(1, L.batch))
    .option('--lr <x>', 'learning rate / initial step size α₀', positiveNumber)
    .option('--seed <s>', 'random seed (initialisation, minibatches, sampling)', intIn(0, L.seed, ' (the random generator\'s 32-bit key)'), 0)
    .option('--tol <x>', 'ppca EM: stop when the log-likelihood per sample changes less than this', positiveNumber)
    .addOption(new Option('--optimizer <o>', 'gradient steps: Robbins–Monro SGD or Adam').choices(['sgd', 'adam']))
    .option('--kappa <k>', 'step-size decay exponent κ in α₀(1 + t/τ)^−κ', positiveNumber)
    .option('--tau <t>', 'step-size delay τ in α₀(1 + t/τ)^−κ', positiveNumber)
    .option('--hidden <sizes>', 'lvm/vae: hidden layer widths, e.g. 400 or 512,256', intList)
    .option('--likelihood <l>', 'lvm/vae decoder likelihood: bernoulli, gaussian (learned per-pixel variance) or gaussian-output (decoder-output variance)')
    .addOption(new Option('--objective <o>', 'lvm/vae: the ELBO, or the seed\'s prior-sample bound').choices(['elbo', 'prior']))
    .option('--var-floor <v>', 'Gaussian decoder: variance floor', varFloor)
    .option('--samples <K>', 'importance samples for the test IWAE bound', intIn(1, L.samples))
    .option('--phi-lr <x>', 'lvm: learning rate of the per-point variational parameters', positiveNumber)
    .option('--phi-steps <n>', 'lvm: variational-parameter steps per minibatch', intIn(1, L.phiSteps))
    .option('--fit-steps <n>', 'lvm: optimisation steps fitting the test rows\' variational parameters', intIn(1, L.fitSteps))
    .option('--checkpoint-every <n>', 'write a checkpoint every n epochs', intIn(1, L.epochs))
    .option('--resume <file>', 'continue from a checkpoint')
    .option('--run-dir <dir>', 'folder for metrics, curves and image grids')
    .option('--out <file>', 'write the trained model (safetensors)');
  addBackendOptions(addDataOptions(train), io.env).action(async (o: Opts) => {
    const kind = o.model as ModelKind;
    // before any work: options that do not apply, outputs that would fail or overwrite an input
    const method = String(o.method ?? 'em');
    checkScope(train, TRAIN_SCOPE, kind === 'ppca' ? `ppca:${method}` : kind, kind === 'ppca' ? `--model ppca --method ${method}` : `--model ${kind}`);
    checkDataScope(train, o);
    checkOutputs(trainOutputs(kind, o));
    const opts: Opts = { ...o, latent: (o.latent as number | undefined) ?? DEFAULT_LATENT[kind] };
    await runModel({ command: 'train', kind, opts, base: { model: kind, latent: opts.latent } }, io, deps, started);
  });

  const evaluate = program
    .command('eval')
    .description('evaluate a saved model file on a data split')
    .requiredOption('--model <file>', 'model file written by train --out')
    .addOption(new Option('--estimator <e>', 'estimator of log p(x)').choices(['exact', 'elbo', 'iwae', 'prior', 'prior-jensen']))
    .option('--samples <K>', 'samples per data point (iwae, prior, elbo)', intIn(1, L.samples))
    .addOption(new Option('--q <q>', 'ppca elbo/iwae proposal: the exact posterior or its mean-field optimum').choices(['posterior', 'mean-field']))
    .addOption(new Option('--split <s>', 'which split to evaluate').choices(['test', 'train']).default('test'))
    .option('--fit-steps <n>', 'lvm: optimisation steps fitting the test rows\' variational parameters', intIn(1, L.fitSteps))
    .option('--seed <s>', 'random seed', intIn(0, L.seed, ' (the random generator\'s 32-bit key)'), 0);
  addBackendOptions(addDataOptions(evaluate), io.env).action(async (o: Opts) => {
    const file = String(o.model);
    if (!existsSync(file)) throw new Error(`model file ${file} not found`);
    const type = await deps.readModelType(file);
    if (!(MODELS as readonly string[]).includes(type)) throw new Error(`${file}: unknown model type '${type}' (expected ${MODELS.join(', ')})`);
    const kind = type as ModelKind;
    checkScope(evaluate, EVAL_SCOPE, kind === 'ppca' ? 'ppca:' : kind, `eval of a ${kind} model`);
    checkDataScope(evaluate, o);
    if (kind !== 'ppca' && o.estimator === 'exact') throw new Error(`--estimator exact applies to ppca models; ${printable(file, 200)} holds a ${kind} (use elbo, iwae, prior or prior-jensen)`);
    // --data synthetic: the data the model was trained on, unless the settings are given
    const given = (name: string): boolean => ['cli', 'env'].includes(evaluate.getOptionValueSource(name) ?? '');
    const opts = String(o.data) === 'synthetic' ? syntheticOptionsForEval(file, await loadSafetensorsMetadata(file), o, given) : o;
    await runModel({ command: 'eval', kind, opts: { ...opts, modelType: kind }, base: { model: kind, model_file: file } }, io, deps, started);
  });

  return program;
}

/** One line for an error: "latentgpu: <message>" (the stack too with LATENTGPU_DEBUG=1). */
function reportError(e: unknown, io: CliIO): void {
  const err = e instanceof Error ? e : new Error(String(e));
  const message = err.message.replace(/^error: /, '').replace(/\s*\n\s*/g, ' ').trim();
  io.stderr(`latentgpu: ${message}\n`);
  if (io.env.LATENTGPU_DEBUG === '1' && err.stack) io.stderr(`${err.stack}\n`);
}

/** Runs the command line; returns the exit code. */
export async function runCli(args: string[], io: CliIO, deps: CliDeps = defaultDeps): Promise<number> {
  const program = buildProgram(io, deps, performance.now());
  try {
    await program.parseAsync(args, { from: 'user' });
    return 0;
  } catch (e) {
    if (e instanceof CommanderError) {
      // help and version were printed by commander; "no command" printed the help to stderr
      if (e.exitCode === 0 || e.code === 'commander.help' || e.code === 'commander.helpDisplayed') return e.exitCode;
    }
    reportError(e, io);
    return 1;
  }
}
