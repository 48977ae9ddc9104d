// Which decoder likelihood the data allow, shared by the CLI and the app. A
// Bernoulli decoder describes values in [0, 1] only: on anything else its
// "log-likelihood" is not a log-density (a real-valued CSV scored +843,240
// nats). So the default is Bernoulli when every value lies in [0, 1] and the
// Gaussian decoder (learned per-dimension variance) otherwise, with the reason;
// an explicit Bernoulli on such data is an error naming the value.
import { DEFAULT_VAR_CEIL, type Likelihood, type VarianceMode } from './decoder.ts';
import { columnVariance } from './latent.ts';

/** What a user may ask for (--likelihood, the app's select); 'auto' or undefined chooses from the data. */
export type LikelihoodRequest = 'auto' | 'bernoulli' | 'gaussian' | 'gaussian-output';
export const LIKELIHOOD_REQUESTS: readonly LikelihoodRequest[] = ['auto', 'bernoulli', 'gaussian', 'gaussian-output'];

/** Rows to check: a name for messages ("real.csv:train"), n×D row-major values. */
export interface LikelihoodData {
  name: string;
  x: Float32Array;
  D: number;
}

export interface OutsideUnit {
  /** the dataset's name */
  name: string;
  /** 1-based row and column within that dataset */
  row: number;
  column: number;
  value: number;
}

export interface LikelihoodChoice {
  likelihood: Likelihood;
  variance: VarianceMode;
  /** the request's name, or the chosen one when it was chosen from the data */
  name: Exclude<LikelihoodRequest, 'auto'>;
  /** chosen from the data (no explicit request) */
  auto: boolean;
  /** one line saying why, for the CLI's notice and the app's note */
  reason: string;
  /** the first value outside [0, 1], if any */
  outside: OutsideUnit | null;
}

/** How each interface asks for the Gaussian decoder, for the messages. */
export const CLI_HINT = { gaussian: '--likelihood gaussian' };

/** The Bernoulli decoder's domain cannot hold this data; the message names the value and what to do. */
export class LikelihoodError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'LikelihoodError';
  }
}

/** The first value outside [0, 1] over the datasets, in order (−0 counts as 0). */
export function firstOutsideUnit(sets: readonly LikelihoodData[]): OutsideUnit | null {
  for (const s of sets) {
    const { x, D } = s;
    for (let k = 0; k < x.length; k++) {
      const v = x[k]!;
      // written so that NaN also counts as outside
      if (!(v >= 0 && v <= 1)) return { name: s.name, row: Math.floor(k / D) + 1, column: (k % D) + 1, value: v };
    }
  }
  return null;
}

/** The shortest decimal that reads back as this float32 (-2.4, not -2.4000000953674316). */
function f32String(v: number): string {
  if (Object.is(v, -0)) return '-0';
  for (let p = 1; p < 17; p++) {
    const s = Number(v.toPrecision(p));
    if (Math.fround(s) === v) return String(s);
  }
  return String(v);
}

/** "real.csv:train row 3, column 2 has -2.4" */
export function describeOutside(o: OutsideUnit): string {
  return `${o.name} row ${o.row}, column ${o.column} has ${f32String(o.value)}`;
}

/**
 * The decoder likelihood for data `sets` (the rows the run trains and scores:
 * train and test): the request if given and possible, else chosen from the data.
 * Throws LikelihoodError for an explicit Bernoulli on data outside [0, 1].
 */
export function chooseLikelihood(
  request: string | undefined, sets: readonly LikelihoodData[], hint: { gaussian: string } = CLI_HINT,
): LikelihoodChoice {
  const req = request ?? 'auto';
  if (!(LIKELIHOOD_REQUESTS as readonly string[]).includes(req)) {
    throw new LikelihoodError(`--likelihood must be one of ${LIKELIHOOD_REQUESTS.join(', ')}, got '${req}'`);
  }
  const outside = firstOutsideUnit(sets);
  if (req === 'bernoulli') {
    if (outside) {
      throw new LikelihoodError(`the Bernoulli decoder describes values in [0, 1], but ${describeOutside(outside)}; use the Gaussian decoder (${hint.gaussian})`);
    }
    return { likelihood: 'bernoulli', variance: 'vector', name: 'bernoulli', auto: false, reason: 'Bernoulli decoder (asked for)', outside };
  }
  if (req === 'gaussian' || req === 'gaussian-output') {
    const variance: VarianceMode = req === 'gaussian' ? 'vector' : 'output';
    return { likelihood: 'gaussian', variance, name: req, auto: false, reason: `Gaussian decoder (asked for, ${variance === 'vector' ? 'learned per-dimension variance' : 'variance as a decoder output'})`, outside };
  }
  if (outside) {
    return {
      likelihood: 'gaussian', variance: 'vector', name: 'gaussian', auto: true, outside,
      reason: `data values lie outside [0, 1] (${describeOutside(outside)}); using the Gaussian decoder (${hint.gaussian})`,
    };
  }
  return {
    likelihood: 'bernoulli', variance: 'vector', name: 'bernoulli', auto: true, outside,
    reason: 'every data value lies in [0, 1]; using the Bernoulli decoder',
  };
}

/**
 * Before scoring `sets` with a trained model: a Bernoulli decoder on values
 * outside [0, 1] would report a figure that is no log-likelihood, so refuse.
 * `what` names the model ("model.safetensors").
 */
export function checkLikelihoodFits(
  likelihood: Likelihood, sets: readonly LikelihoodData[], what: string, hint: { gaussian: string } = CLI_HINT,
): void {
  if (likelihood !== 'bernoulli') return;
  const outside = firstOutsideUnit(sets);
  if (outside) {
    throw new LikelihoodError(`${what} has a Bernoulli decoder, which describes values in [0, 1], but ${describeOutside(outside)}; ` +
      `its log-likelihood there would be meaningless: score it on data in [0, 1], or train a Gaussian model (${hint.gaussian})`);
  }
}

/**
 * The decoder's variance ceiling σ²_max for these training rows (n×D): the default
 * (ample for data in [0, 1]; a Bernoulli decoder ignores it) or, for a Gaussian
 * decoder on data of a larger scale, twice the largest
 * column variance, so that σ² can reach the data's own spread (a ceiling of 4 on
 * columns of variance ~200 gave a test ELBO of −140 nats where independent
 * Gaussians per column give about −33).
 */
export function varianceCeiling(likelihood: Likelihood, train: { x: Float32Array; n: number; D: number }): number {
  if (likelihood !== 'gaussian') return DEFAULT_VAR_CEIL;
  let top = 0;
  for (const v of columnVariance(train.x, train.n, train.D)) top = Math.max(top, v);
  return Math.max(DEFAULT_VAR_CEIL, 2 * Math.fround(top));
}
