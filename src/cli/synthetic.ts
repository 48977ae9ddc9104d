// The synthetic-data settings a model was trained on, kept in its model file's
// metadata so that `eval --data synthetic` regenerates the same data instead of
// the option defaults.
import { printable } from '../data/dataset.ts';
import { SYNTHETIC_FLAGS, SYNTHETIC_METADATA_KEY, syntheticProblem, type SyntheticKey } from '../data/synthetic.ts';
import type { SyntheticSettings } from './context.ts';

/** Option values as commander parsed them. */
type Opts = Record<string, unknown>;

export { SYNTHETIC_METADATA_KEY };

/** option name (camelCase, as commander stores it) → key in the stored JSON */
const SETTINGS = { n: 'n', dim: 'D', trueLatent: 'd', sigma: 'sigma', dataSeed: 'seed' } as const;
type OptionName = keyof typeof SETTINGS;
const FLAGS = Object.fromEntries(Object.entries(SETTINGS).map(([k, key]) => [k, SYNTHETIC_FLAGS[key]])) as Record<OptionName, string>;

/** The generator settings of a train run on --data synthetic (the generating d defaults to --latent, as in program.ts). */
export function syntheticSettings(o: Opts, latent: number): SyntheticSettings {
  return { n: Number(o.n), D: Number(o.dim), d: Number(o.trueLatent ?? latent), sigma: Number(o.sigma), seed: Number(o.dataSeed) };
}

/**
 * Options for eval on --data synthetic: settings given on the command line win,
 * the rest come from the model file's metadata. A file without them is an error
 * unless every setting was given.
 */
export function syntheticOptionsForEval(
  file: string, metadata: Record<string, string>, o: Opts, given: (name: OptionName) => boolean,
): Opts {
  const names = Object.keys(SETTINGS) as OptionName[];
  const stored = metadata[SYNTHETIC_METADATA_KEY];
  if (stored === undefined) {
    const missing = names.filter((k) => !given(k));
    if (missing.length === 0) return o;
    throw new Error(
      `${printable(file, 200)} does not record the synthetic data it was trained on; give ${missing.map((k) => FLAGS[k]).join(', ')} ` +
      '(the values used at train time) to evaluate on the same data',
    );
  }
  const where = `${printable(file, 200)}: metadata ${SYNTHETIC_METADATA_KEY}`;
  let parsed: unknown;
  try {
    parsed = JSON.parse(stored);
  } catch {
    throw new Error(`${where} is not JSON: "${printable(stored, 80)}"`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new Error(`${where} is not a JSON object: "${printable(stored, 80)}"`);
  const record = parsed as Record<string, unknown>;
  const out: Opts = {};
  const settings = {} as Record<SyntheticKey, unknown>;
  const optionOf = {} as Record<SyntheticKey, OptionName>;
  for (const k of names) {
    const key = SETTINGS[k];
    optionOf[key] = k;
    if (given(k)) {
      settings[key] = o[k];
      continue;
    }
    const v = record[key];
    if (typeof v !== 'number' || !Number.isFinite(v)) throw new Error(`${where} has no numeric '${key}'`);
    out[k] = settings[key] = v;
  }
  // the same types and caps as the flags; values from the file are named by their key
  const problem = syntheticProblem(settings, (key) => (given(optionOf[key]) ? FLAGS[optionOf[key]] : `'${key}'`));
  if (problem && names.some((k) => !given(k))) {
    throw new Error(`${where}: ${problem} (a corrupt or edited file; give ${names.filter((k) => !given(k)).map((k) => FLAGS[k]).join(', ')} to override)`);
  }
  return { ...o, ...out };
}
