// Command-line option declarations: value parsers with their stated caps, and
// the OptionSpec a model's registry entry (src/cli/registry.ts) declares its
// options with. Commander turns a parser's InvalidArgumentError into
// "option '--x <v>' argument 'y' is invalid. <why>".
import { InvalidArgumentError, Option } from 'commander';
import { LATENT_LIMITS } from '../io/modelFile.ts';
import { DEFAULT_VAR_CEIL } from '../models/decoder.ts';

export const count = (v: number): string => v.toLocaleString('en-US');

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

// ---- value parsers

/** An integer flag in [min, max], written in digits; `why` says where the bound comes from. */
export function intIn(min: number, max: number, why = ''): (v: string) => number {
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
export const positiveInt = intIn(1, Number.MAX_SAFE_INTEGER);
export const nonNegativeInt = intIn(0, Number.MAX_SAFE_INTEGER);
export const seedValue = intIn(0, L.seed, ' (the random generator\'s 32-bit key)');

export function positiveNumber(v: string): number {
  const x = Number(v);
  if (v.trim() === '' || !Number.isFinite(x) || x <= 0) throw new InvalidArgumentError('It must be a positive number.');
  return x;
}
export function nonNegativeNumber(v: string): number {
  const x = Number(v);
  if (v.trim() === '' || !Number.isFinite(x) || x < 0) throw new InvalidArgumentError('It must be a number ≥ 0.');
  return x;
}
/** "400" or "400,400": hidden layer widths. */
export function widthList(v: string): number[] {
  const s = v.replace(/\s+/g, '');
  if (!/^[1-9]\d*(,[1-9]\d*)*$/.test(s)) throw new InvalidArgumentError('It must be positive integers separated by commas, e.g. 400 or 512,256.');
  const widths = s.split(',').map(Number);
  if (widths.length > L.layers || widths.some((w) => w > L.width)) {
    throw new InvalidArgumentError(`It must be at most ${L.layers} widths, each from 1 to ${count(L.width)}.`);
  }
  return widths;
}
/** The Gaussian decoder's variance floor: below its ceiling DEFAULT_VAR_CEIL. */
export function varFloor(v: string): number {
  const x = Number(v);
  if (v.trim() === '' || !Number.isFinite(x) || x <= 0 || x >= DEFAULT_VAR_CEIL) throw new InvalidArgumentError(`It must be a number above 0 and below the variance ceiling ${DEFAULT_VAR_CEIL}.`);
  return x;
}

// ---- declarations

/** One option: its flags, help, and either a value parser or the values it takes. */
export interface OptionSpec {
  /** commander's flags, e.g. "--phi-lr <x>" */
  readonly flags: string;
  readonly help: string;
  readonly parse?: (v: string) => unknown;
  readonly choices?: readonly string[];
  /** the camelCase key commander stores the value under ("phiLr") */
  readonly name: string;
}

/** Declares an option; `how` is its value parser or the list of values it takes. */
export function option(flags: string, help: string, how?: ((v: string) => unknown) | readonly string[]): OptionSpec {
  const name = new Option(flags).attributeName();
  return typeof how === 'function' ? { flags, help, parse: how, name } : { flags, help, choices: how, name };
}

/** The commander Option for a declaration (no default: a model's config supplies it, so "given" stays visible). */
export function commanderOption(spec: OptionSpec): Option {
  const o = new Option(spec.flags, spec.help);
  if (spec.choices) o.choices([...spec.choices]);
  if (spec.parse) o.argParser(spec.parse as (v: string, previous: unknown) => unknown);
  return o;
}

/** Options more than one model reads (each model's registry entry says which it takes, and for which methods). */
export const SHARED = {
  epochs: option('--epochs <n>', 'passes over the training rows (minibatch methods)', intIn(1, L.epochs)),
  batch: option('--batch <B>', 'minibatch rows (default: the model\'s, at most the training rows)', intIn(1, L.batch)),
  lr: option('--lr <x>', 'learning rate / initial step size α₀', positiveNumber),
  kappa: option('--kappa <k>', 'step-size decay exponent κ in α₀(1 + t/τ)^−κ', positiveNumber),
  tau: option('--tau <t>', 'step-size delay τ in α₀(1 + t/τ)^−κ', positiveNumber),
  checkpointEvery: option('--checkpoint-every <n>', 'write a checkpoint every n epochs', intIn(1, L.epochs)),
  resume: option('--resume <file>', 'continue from a checkpoint'),
  fitSteps: option('--fit-steps <n>', 'lvm: optimisation steps fitting the test rows\' variational parameters', intIn(1, L.fitSteps)),
} as const;

/** Largest memory budget a flag takes, in MiB (1 TiB): more is a typo. */
export const MEMORY_MAX_MB = 2 ** 20;

/**
 * Memory budgets of `train` (issue 14), in MiB, for every model: data files
 * larger than the host budget are read in slices by the methods that stream,
 * and the data on the device are uploaded in chunks within the device budget.
 * Absent: the host budget is the data-file cap (¼ of RAM, at most 2 GiB) and the
 * device holds the data whole when the adapter allows.
 */
export const MEMORY = {
  hostMemory: option('--host-memory <MB>', 'host memory for the data, in MiB: a larger .npy/.f32 file is read in slices by the methods that stream (default: ¼ of RAM, at most 2 GiB)', intIn(1, MEMORY_MAX_MB, ' MiB')),
  deviceMemory: option('--device-memory <MB>', 'device memory for the training data, in MiB: larger data are uploaded in chunks, double-buffered (default: the data whole when the adapter allows)', intIn(1, MEMORY_MAX_MB, ' MiB')),
} as const;
