// The synthetic-data settings a model was trained on, kept in its model file's
// metadata so that `eval --data synthetic` regenerates the same data instead of
// the option defaults.
type Opts = Record<string, string | number | boolean | undefined>;

export const SYNTHETIC_METADATA_KEY = 'synthetic_data';

/** option name (camelCase, as commander stores it) → key in the stored JSON */
const SETTINGS = { n: 'n', dim: 'D', trueLatent: 'd', sigma: 'sigma', dataSeed: 'seed' } as const;
type OptionName = keyof typeof SETTINGS;
const FLAGS: Record<OptionName, string> = { n: '--n', dim: '--dim', trueLatent: '--true-latent', sigma: '--sigma', dataSeed: '--data-seed' };

/** The generator settings of a train run on --data synthetic (the generating d defaults to --latent, as in program.ts). */
export function syntheticSettings(o: Opts, latent: number): Record<string, number> {
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
      `${file} does not record the synthetic data it was trained on; give ${missing.map((k) => FLAGS[k]).join(', ')} ` +
      '(the values used at train time) to evaluate on the same data',
    );
  }
  let parsed: Record<string, unknown>;
  try {
    parsed = JSON.parse(stored) as Record<string, unknown>;
  } catch {
    throw new Error(`${file}: metadata ${SYNTHETIC_METADATA_KEY} is not JSON: ${stored.slice(0, 80)}`);
  }
  const out: Opts = {};
  for (const k of names) {
    if (given(k)) continue;
    const v = parsed[SETTINGS[k]];
    if (typeof v !== 'number' || !Number.isFinite(v)) throw new Error(`${file}: metadata ${SYNTHETIC_METADATA_KEY} has no numeric '${SETTINGS[k]}'`);
    out[k] = v;
  }
  return { ...o, ...out };
}
