// The latentgpu command line: option parsing, data loading, backend creation and
// result printing. Models plug in through the static registry (src/cli/registry.ts):
// each declares its options and parses them into its typed config for its module
// (src/cli/ppca.ts, src/cli/vae.ts). runCli takes its I/O and dependencies as
// arguments so tests can drive it in-process.
import { Command, CommanderError, Option } from 'commander';
import { existsSync } from 'node:fs';
import { extname } from 'node:path';
import type { Backend } from '../backend.ts';
import { printable, validateForModel } from '../data/dataset.ts';
import { loadDataSource, type LoadedData } from '../data/files.node.ts';
import { RAW_F32_EXTENSIONS } from '../data/source.node.ts';
import { ADAPTER_CHOICES, backendDetails, type AdapterChoice } from '../gpu/device.ts';
import { loadSafetensorsMetadata } from '../io/atomic.node.ts';
import { quoteValue } from '../io/modelFile.ts';
import { MODEL_KINDS, defaultLatent, type ModelKind } from '../models/config.ts';
import type { BackendChoice, BackendOptions } from '../node/backend.ts';
import type { CliContext, ModelModule, Runner } from './context.ts';
import {
  FLAG_LIMITS, MEMORY, commanderOption, count, intIn, nonNegativeInt, nonNegativeNumber, positiveInt, seedValue, type OptionSpec,
} from './options.ts';
import { checkOutputs, type OutputPlan, type PathInput } from './outputs.ts';
import { plainInterval, plainProgress, terminalProgress } from './progress.ts';
import { FA, LVM, MPPCA, PPCA, REGISTRY, VAE, type EntryOf, type ModelEntry, type OptionValues, type TrainFacts } from './registry.ts';
import { syntheticOptionsForEval, syntheticSettings } from './synthetic.ts';
import { latentRange, runSweep, type SweepRun } from './sweep.ts';

export { FLAG_LIMITS, type ModelKind };
export const MODELS = MODEL_KINDS;

/** A model's CLI module, as its registry entry loads it. */
export type ModuleOf<K extends ModelKind> = Awaited<ReturnType<EntryOf<K>['load']>>;

export interface CliIO {
  stdout(s: string): void;
  stderr(s: string): void;
  /** stderr when it is a terminal (progress bars go there) */
  tty?: NodeJS.WriteStream;
  env: Record<string, string | undefined>;
}

export interface CliDeps {
  createBackend(o: BackendOptions): Promise<Backend>;
  /** a model's CLI module: the registry's load (tests put a recording module here) */
  loadModelModule<K extends ModelKind>(kind: K): Promise<ModuleOf<K>>;
  /** the "model" key of a model file's safetensors metadata */
  readModelType(path: string): Promise<string>;
}

export const defaultDeps: CliDeps = {
  async createBackend(o) {
    const { createBackend } = await import('../node/backend.ts');
    return createBackend(o);
  },
  loadModelModule: (kind) => REGISTRY[kind].load() as Promise<ModuleOf<typeof kind>>,
  async readModelType(path) {
    // the header alone: a type check reads no tensor data
    const model = (await loadSafetensorsMetadata(path)).model;
    if (!model) throw new Error(`${path}: the safetensors metadata has no "model" key, so it is not a latentgpu model file`);
    if (!/^[\w.-]{1,40}$/.test(model)) throw new Error(`${path}: metadata "model" is ${quoteValue(model)}, not a model type (${MODELS.join(', ')})`);
    return model;
  },
};

/** Calls `use` with a kind's registry entry and its module loader, typed alike. */
function withEntry<R>(kind: ModelKind, deps: CliDeps, use: <T, E>(entry: ModelEntry<T, E>, load: () => Promise<ModelModule<T, E>>) => R): R {
  switch (kind) {
    case 'ppca': return use(PPCA, () => deps.loadModelModule('ppca'));
    case 'lvm': return use(LVM, () => deps.loadModelModule('lvm'));
    case 'vae': return use(VAE, () => deps.loadModelModule('vae'));
    case 'fa': return use(FA, () => deps.loadModelModule('fa'));
    case 'mppca': return use(MPPCA, () => deps.loadModelModule('mppca'));
  }
}

const L = FLAG_LIMITS;

function addBackendOptions(cmd: Command, env: CliIO['env']): Command {
  return cmd
    .addOption(new Option('--backend <b>', 'where kernels run (auto falls back to the CPU when no adapter answers)').choices(['auto', 'webgpu', 'cpu']).default('auto'))
    .addOption(new Option('--adapter <a>', 'which WebGPU adapter').choices([...ADAPTER_CHOICES]).default(env.LATENTGPU_ADAPTER?.trim().toLowerCase() || 'auto'))
    .option('--json', 'print one JSON object on stdout (nothing else goes to stdout)');
}

function addDataOptions(cmd: Command): Command {
  return cmd
    .option('--data <source>', "'mnist' (bundled 8,000/2,000 split), 'synthetic' (PPCA data), or a .csv/.tsv/.npy file or raw float32 rows (.f32/.bin with --dim D)", 'mnist')
    .option('--test <file>', 'test data file (default: every 5th row of --data FILE, rows i % 5 == 4)')
    .option('--subset <n>', 'use only the first n training rows', positiveInt)
    .option('--test-subset <n>', 'use only the first n test rows', positiveInt)
    .addOption(new Option('--header <mode>', 'CSV header row').choices(['auto', 'yes', 'no']).default('auto'))
    .option('--n <rows>', 'synthetic data: rows before the split', positiveInt, 2500)
    .option('--dim <D>', 'synthetic data: data dimension; a raw float32 --data file (.f32, .bin): its row width', positiveInt, 20)
    .option('--true-latent <d>', 'synthetic data: generating latent dimension (default: --latent)', positiveInt)
    .option('--sigma <s>', 'synthetic data: noise standard deviation', nonNegativeNumber, 0.5)
    .option('--data-seed <s>', 'synthetic data: seed', nonNegativeInt, 1);
}

type Opts = OptionValues;

// ---- which options apply where, from the registry's declarations

/** A model that reads an option, and for ppca the methods it applies to (all when absent). */
interface Target {
  kind: ModelKind;
  methods?: readonly string[];
}
interface Scoped {
  spec: OptionSpec;
  targets: Target[];
}

/**
 * The model options of `train` or `eval`, in declaration order, each with the
 * models (and methods) that read it. Every other option applies to every
 * model. Given where it does not apply, an option is an error, never silently
 * ignored.
 */
function scopeOf(command: 'train' | 'eval'): Map<string, Scoped> {
  const scope = new Map<string, Scoped>();
  for (const [kind, entry] of Object.entries(REGISTRY) as Array<[ModelKind, EntryOf<ModelKind>]>) {
    for (const d of entry[command]) {
      const seen = scope.get(d.spec.name);
      if (seen && seen.spec !== d.spec) throw new Error(`src/cli/registry.ts: ${d.spec.flags} is declared twice with different meanings (${seen.spec.flags})`);
      const target: Target = d.methods ? { kind, methods: d.methods } : { kind };
      if (seen) seen.targets.push(target);
      else scope.set(d.spec.name, { spec: d.spec, targets: [target] });
    }
  }
  return scope;
}

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
  return targets.map(({ kind, methods }) => {
    const all = REGISTRY[kind].methods ?? [];
    return !methods || all.every((m) => methods.includes(m)) ? kind : `${kind} --method ${methods.join(', ')}`;
  }).join(', ');
}

/**
 * Rejects a given option that the model (and method) does not read, naming the
 * option, the model, where the option does apply, and what this one takes.
 */
function checkScope(cmd: Command, scope: Map<string, Scoped>, kind: ModelKind, method: string | undefined, label: string): void {
  const given = givenIn(cmd);
  const applies = (s: Scoped): boolean => s.targets.some((t) => t.kind === kind && (!t.methods || method === undefined || t.methods.includes(method)));
  for (const [name, s] of scope) {
    if (!given(name) || applies(s)) continue;
    const takes = [...scope].filter(([, t]) => applies(t)).map(([n]) => flagOf(cmd, n));
    throw new Error(
      `${flagOf(cmd, name)} does not apply to ${label} (it is for ${describeTargets(s.targets)}); ` +
      `${label} takes ${takes.length ? takes.join(', ') : 'none of the model options'} besides the data and backend options`,
    );
  }
}

/** Synthetic-generator options without --data synthetic, and --header without a data file, are errors too. */
function checkDataScope(cmd: Command, o: Opts): void {
  const given = givenIn(cmd);
  const data = String(o.data);
  // --dim is also the row width of a raw float32 data file, which needs it
  const raw = isRawF32(data);
  if (raw && !given('dim')) throw new Error(`--data ${printable(data, 200)}: a raw float32 file has no header; give its row width with --dim D`);
  const stray = SYNTHETIC_OPTIONS.find((n) => given(n) && !(raw && n === 'dim'));
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
  } else if ((kind !== 'ppca' && kind !== 'fa' && kind !== 'mppca') || checkpoints) {
    // the model module makes runs/<time>-<model>: the folder it goes in must take it
    plan.runDir = { path: 'runs', given: false };
  }
  return plan;
}

/**
 * A run's training steps key their random numbers with a 32-bit counter (× φ
 * steps for lvm): more would repeat them, so --epochs × steps per epoch is
 * capped. The plan is the run's config, defaults filled in.
 */
function checkStepCount(plan: { epochs: number; batch: number; perStep: number }, rows: number): void {
  const { epochs, batch, perStep } = plan;
  const steps = epochs * Math.ceil(rows / batch) * perStep;
  if (steps > L.steps) {
    throw new Error(
      `--epochs ${count(epochs)} × ${count(Math.ceil(rows / batch))} steps per epoch${perStep > 1 ? ` × ${perStep} φ steps` : ''} = ${count(steps)}, ` +
      `over the ${count(L.steps)} a run's 32-bit random-number counter allows; use fewer epochs or a larger --batch`,
    );
  }
}

/** Whether a --data value names a headerless float32 file (.f32/.bin, row width from --dim). */
function isRawF32(data: string): boolean {
  return (RAW_F32_EXTENSIONS as readonly string[]).includes(extname(data).toLowerCase());
}

/**
 * The models (and methods) whose train reads a data file over the host budget
 * in slices (issue 14); each streaming model adds itself here.
 */
const STREAMING: Partial<Record<ModelKind, readonly string[] | 'all'>> = { ppca: ['sem', 'oem', 'em', 'squarem', 'anderson'], vae: 'all', lvm: 'all' };

/** Whether train of this model and method streams, and the list of those that do for the error. */
function streamPlan(kind: ModelKind, method: string | undefined): { allowed: boolean; which: string } {
  const m = STREAMING[kind];
  const allowed = m === 'all' || (m !== undefined && method !== undefined && m.includes(method));
  const which = (Object.entries(STREAMING) as [ModelKind, readonly string[] | 'all'][])
    .map(([k, ms]) => (ms === 'all' ? k : `${k} --method ${ms.join(', ')}`)).join('; ');
  return { allowed, which };
}

function loadData(o: Opts, latent: number | undefined, stream?: { allowed: boolean; which: string }): LoadedData {
  const data = String(o.data);
  return loadDataSource({
    data,
    ...(isRawF32(data) ? { dim: o.dim as number } : {}),
    ...(o.hostMemory !== undefined ? { hostMemoryMB: o.hostMemory as number } : {}),
    ...(stream ? { stream } : {}),
    test: o.test as string | undefined,
    subset: o.subset as number | undefined,
    testSubset: o.testSubset as number | undefined,
    header: o.header as 'auto' | 'yes' | 'no',
    missing: o.missing === 'nan' ? 'nan' : undefined,
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

/** The adapter default comes from LATENTGPU_ADAPTER, which commander's choices do not check. */
function checkAdapter(o: Opts): void {
  if (!(ADAPTER_CHOICES as readonly unknown[]).includes(o.adapter)) {
    throw new Error(`adapter '${String(o.adapter)}' (from LATENTGPU_ADAPTER) is not one of ${ADAPTER_CHOICES.join(', ')}`);
  }
}

interface Run<C> {
  command: 'train' | 'eval';
  runner: Runner<C>;
  config: C;
  data: LoadedData;
  /** the parsed options: backend, adapter, data, json */
  opts: Opts;
  /** extra result fields main reports */
  base: Record<string, unknown>;
}

/** Starts the backend, runs the model's entry on its config, and prints the merged result. */
async function execute<C>(run: Run<C>, io: CliIO, deps: CliDeps, started: number): Promise<void> {
  const { opts, data } = run;
  // a bar on a terminal; otherwise (or with --json) a plain line every LATENTGPU_PROGRESS_SECONDS
  const sink = io.tty && !opts.json ? terminalProgress(io.tty) : plainProgress(io.stderr, plainInterval(io.env));
  const backend = await deps.createBackend({
    backend: opts.backend as BackendChoice,
    adapter: opts.adapter as AdapterChoice,
    log: sink.log,
  });
  let result: Record<string, unknown>;
  try {
    const ctx: CliContext<C> = { backend, train: data.train, test: data.test, config: run.config, progress: sink, log: sink.log };
    if (data.truth) ctx.truth = data.truth;
    if (data.trainSource) ctx.trainSource = data.trainSource;
    if (data.testSource) ctx.testSource = data.testSource;
    result = await run.runner(ctx);
  } finally {
    sink.stop();
    backend.destroy();
    await data.trainSource?.close();
    await data.testSource?.close();
  }
  const merged: Record<string, unknown> = {
    command: run.command,
    ...run.base,
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
    const who = run.command === 'eval' ? `${String(opts.model)}: the evaluation` : 'the trained model';
    throw new Error(`${who} gave ${bad[0]} = ${bad[1]}: the parameters overflow float32 arithmetic on this data (standardise the data's columns${run.command === 'train' ? ', or lower --lr' : ''})`);
  }
  if (opts.json) io.stdout(`${toJson(merged)}\n`);
  else io.stdout(summarize(merged, backend.info.summary));
}

/**
 * `train` once the options are checked: loads the data, has the model's entry
 * make its typed config (defaults filled in, the batch resolved), checks the
 * data against it (the one check of the batch size), then runs the module.
 */
async function runTrain<T, E>(
  entry: ModelEntry<T, E>, load: () => Promise<ModelModule<T, E>>, kind: ModelKind, o: Opts, io: CliIO, deps: CliDeps, started: number,
): Promise<void> {
  checkAdapter(o);
  const latent = (o.latent as number | undefined) ?? defaultLatent(kind);
  const data = loadData(o, latent, streamPlan(kind, entry.method?.(o)));
  const facts: TrainFacts = { latent, rows: data.train.n };
  if (String(o.data) === 'synthetic') facts.synthetic = syntheticSettings(o, latent);
  const config = entry.trainConfig(o, facts);
  const minibatches = entry.minibatches(config);
  const missing = o.missing === 'nan' ? 'nan' : undefined;
  validateForModel(data.train, { latent, batch: minibatches?.batch, missing });
  validateForModel(data.test, { latent, missing });
  if (minibatches) checkStepCount(minibatches, data.train.n);
  // the module is loaded before the (slow) device start
  const mod = await load();
  await execute({ command: 'train', runner: mod.train, config, data, opts: o, base: { model: kind, latent } }, io, deps, started);
}

/** `eval` of a model file of this kind: the entry's typed config, the data (for --data synthetic, the file's), the module. */
async function runEval<T, E>(
  entry: ModelEntry<T, E>, load: () => Promise<ModelModule<T, E>>, kind: ModelKind, file: string, o: Opts,
  given: (name: string) => boolean, io: CliIO, deps: CliDeps, started: number,
): Promise<void> {
  const config = entry.evalConfig(o, file);
  // --data synthetic: the data the model was trained on, unless the settings are given
  const opts = String(o.data) === 'synthetic' ? syntheticOptionsForEval(file, await loadSafetensorsMetadata(file), o, given) : o;
  checkAdapter(opts);
  // eval reads its data whole: a file over the host budget names the train runs that stream
  const data = loadData(opts, undefined, { allowed: false, which: `train with ${streamPlan(kind, undefined).which} (eval reads the data whole)` });
  const missing = o.missing === 'nan' ? 'nan' : undefined;
  validateForModel(data.train, { missing });
  validateForModel(data.test, { missing });
  const mod = await load();
  await execute({ command: 'eval', runner: mod.evaluate, config, data, opts, base: { model: kind, model_file: file } }, io, deps, started);
}

/** Adds the registry's model options of a command, each once, in declaration order. */
function addModelOptions(cmd: Command, scope: Map<string, Scoped>): Command {
  for (const { spec } of scope.values()) cmd.addOption(commanderOption(spec));
  return cmd;
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
      // the text adds the device's granted limits (the adapter's maxima, asked for when it opened)
      io.stdout(o.json ? `${JSON.stringify(b.info, null, 2)}\n` : `${backendDetails(b.info)}\n`);
    } finally {
      b.destroy();
    }
  });

  const trainScope = scopeOf('train');
  const train = program
    .command('train')
    .description('train a model and report its train/test figures (exact log-likelihood for ppca, ELBO/IWAE for lvm and vae)')
    .addOption(new Option('--model <name>', 'which model').choices([...MODELS]).makeOptionMandatory())
    .option('--latent <d>', `latent dimension (default ${MODELS.map((m) => `${m} ${defaultLatent(m)}`).join(', ')})`, intIn(1, L.latent))
    .option('--seed <s>', 'random seed (initialisation, minibatches, sampling)', seedValue, 0);
  addModelOptions(train, trainScope)
    .addOption(commanderOption(MEMORY.hostMemory))
    .addOption(commanderOption(MEMORY.deviceMemory))
    .option('--run-dir <dir>', 'folder for metrics, curves and image grids')
    .option('--out <file>', 'write the trained model (safetensors)');
  addBackendOptions(addDataOptions(train), io.env).action(async (o: Opts) => {
    const kind = o.model as ModelKind;
    // before any work: options that do not apply, outputs that would fail or overwrite an input
    const method = REGISTRY[kind].method?.(o);
    checkScope(train, trainScope, kind, method, method === undefined ? `--model ${kind}` : `--model ${kind} --method ${method}`);
    checkDataScope(train, o);
    checkOutputs(trainOutputs(kind, o));
    await withEntry(kind, deps, (entry, load) => runTrain(entry, load, kind, o, io, deps, started));
  });

  const evalScope = scopeOf('eval');
  const evaluate = program
    .command('eval')
    .description('evaluate a saved model file on a data split')
    .requiredOption('--model <file>', 'model file written by train --out')
    .addOption(new Option('--estimator <e>', 'estimator of log p(x)').choices(['exact', 'elbo', 'iwae', 'prior', 'prior-jensen']))
    .option('--samples <K>', 'samples per data point (iwae, prior, elbo)', intIn(1, L.samples))
    .addOption(new Option('--split <s>', 'which split to evaluate').choices(['test', 'train']).default('test'))
    .option('--seed <s>', 'random seed', seedValue, 0);
  addModelOptions(evaluate, evalScope);
  addBackendOptions(addDataOptions(evaluate), io.env).action(async (o: Opts) => {
    const file = String(o.model);
    if (!existsSync(file)) throw new Error(`model file ${file} not found`);
    const type = await deps.readModelType(file);
    if (!(MODELS as readonly string[]).includes(type)) throw new Error(`${file}: unknown model type '${type}' (expected ${MODELS.join(', ')})`);
    const kind = type as ModelKind;
    checkScope(evaluate, evalScope, kind, undefined, `eval of a ${kind} model`);
    checkDataScope(evaluate, o);
    await withEntry(kind, deps, (entry, load) => runEval(entry, load, kind, file, o, givenIn(evaluate), io, deps, started));
  });

  // the PPCA fit for every d of a range from one eigendecomposition (src/cli/sweep.ts)
  const sweep = program
    .command('sweep')
    .description('choose the latent dimension: held-out log-likelihood, BIC and Minka\'s evidence for each d (writes sweep.json, sweep.svg)')
    .addOption(new Option('--model <name>', 'which model: ppca (one eigendecomposition) or fa (an EM fit per d)').choices(['ppca', 'fa']).makeOptionMandatory())
    .requiredOption('--latent <range>', 'latent dimensions first..last, e.g. 1..50', latentRange)
    .option('--out-dir <dir>', 'folder for sweep.json and sweep.svg (default runs/<time>-sweep)')
    .option('--seed <s>', 'fa: random seed of each EM fit', seedValue, 0);
  addBackendOptions(addDataOptions(sweep), io.env).action(async (o: Opts) => {
    checkDataScope(sweep, o);
    // the PPCA sweep is host float64 only: a backend or seed there would be ignored
    const stray = o.model === 'ppca' ? ['backend', 'adapter', 'seed'].find((k) => givenIn(sweep)(k)) : undefined;
    if (stray) throw new Error(`--${stray} applies to sweep --model fa; the ppca sweep runs on the host in float64`);
    const inputs: PathInput[] = [];
    if (o.data !== 'mnist' && o.data !== 'synthetic') inputs.push({ flag: '--data', path: String(o.data) });
    if (o.test !== undefined) inputs.push({ flag: '--test', path: String(o.test) });
    const run: SweepRun = { model: o.model as 'ppca' | 'fa', range: o.latent as [number, number], json: Boolean(o.json), inputs, data: String(o.data), load: () => loadData(o, undefined) };
    if (o.model === 'fa') {
      checkAdapter(o);
      run.seed = o.seed as number;
      run.backend = () => deps.createBackend({ backend: o.backend as BackendChoice, adapter: o.adapter as AdapterChoice, log: (m) => io.stderr(`${m}\n`) });
    }
    if (o.outDir !== undefined) run.outDir = String(o.outDir);
    io.stdout(await runSweep(run));
  });

  // a table saved once as float32 .npy, which train then reads in slices when it is over --host-memory (src/cli/convert.ts)
  program
    .command('convert')
    .description('save a data file (.csv, .tsv, .txt, raw .f32/.bin) as a float32 .npy, written atomically; large .npy files train in slices (--host-memory)')
    .argument('<input>', 'the data file')
    .argument('<output>', 'the .npy file to write (never one of the inputs)')
    .addOption(new Option('--header <mode>', 'CSV header row').choices(['auto', 'yes', 'no']).default('auto'))
    .addOption(new Option('--missing <how>', 'NaN (in CSV also an empty, nan or NA cell) marks a missing entry, kept as NaN (default: an error)').choices(['nan']))
    .option('--dim <D>', 'a raw float32 input: its row width', positiveInt)
    .option('--json', 'print one JSON object on stdout')
    .action(async (input: string, output: string, o: Opts) => {
      const { convertToNpy } = await import('./convert.ts');
      const r = await convertToNpy(input, output, {
        header: o.header as 'auto' | 'yes' | 'no',
        ...(o.missing === 'nan' ? { missing: 'nan' as const } : {}),
        ...(o.dim !== undefined ? { dim: o.dim as number } : {}),
      });
      const result = { command: 'convert', input, output, ...r };
      io.stdout(o.json ? `${toJson(result)}\n` : `${printable(output, 200)}: ${r.rows.toLocaleString('en-US')} rows × ${r.cols.toLocaleString('en-US')} float32 (${r.bytes.toLocaleString('en-US')} bytes)\n`);
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
