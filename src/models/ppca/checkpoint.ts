// Checkpoints of the resumable PPCA fitters (stochastic and online EM) as
// safetensors: a PPCA model file (W, mu, sigma2, so `eval` reads one) plus the
// fitter's state as `state.<name>` tensors and the run it belongs to in the
// metadata (method, step, epoch, seed, batch, train_rows, step-size settings,
// the evaluations so far). Reading checks every part and that the run matches.
import { checkValues, quoteValue, readMetaInt, readMetaJson } from '../../io/modelFile.ts';
import { ModelFileError, type Safetensors, type TensorMap } from '../../io/safetensors.ts';
import type { FitterSnapshot, StochasticProgress } from './fitter.ts';
import { ppcaToTensors } from './file.ts';
import type { PpcaHost } from './model.ts';
import { semLayout } from './sem.ts';

export const PPCA_CHECKPOINT_FORMAT = 'latentgpu-ppca-fitter-1';

/** What must be the same for a checkpoint to continue this run. */
export interface CheckpointRun {
  method: 'sem' | 'oem';
  seed: number;
  batch: number;
  train_rows: number;
  D: number;
  latent: number;
  /** step-size settings, e.g. { lr, tau, kappa, optimizer } */
  settings: Record<string, string | number>;
}

const STATE_PREFIX = 'state.';
/** evaluations a checkpoint may list: one per step at most, plus step 0 */
const traceRow = (p: StochasticProgress): number[] => [p.step, p.epoch, p.loglik, p.sigma2, p.seconds];

export function checkpointToTensors(model: PpcaHost, snap: FitterSnapshot, run: CheckpointRun, stepsPerEpoch: number): { tensors: TensorMap; metadata: Record<string, string> } {
  const { tensors, metadata } = ppcaToTensors(model, {
    checkpoint: PPCA_CHECKPOINT_FORMAT,
    method: run.method,
    step: String(snap.step),
    epoch: String(snap.step / stepsPerEpoch),
    seed: String(run.seed),
    batch: String(run.batch),
    train_rows: String(run.train_rows),
    settings: JSON.stringify(run.settings),
    trace: JSON.stringify(snap.trace.map(traceRow)),
  });
  for (const [name, a] of Object.entries(snap.state)) {
    tensors[STATE_PREFIX + name] = a instanceof Float64Array
      ? { dtype: 'F64', shape: [a.length], data: Float64Array.from(a) }
      : { dtype: 'F32', shape: [a.length], data: Float32Array.from(a) };
  }
  return { tensors, metadata };
}

/** The state tensors a fitter of this run exports (sem.ts, oem.ts exportState): name → [dtype, length]. */
function expectedState(run: CheckpointRun): Record<string, ['F32' | 'F64', number]> {
  const { D, latent: d } = run;
  if (run.method === 'sem') {
    const n = semLayout(D, d).size;
    return {
      params: ['F32', n], wtw: ['F64', d * d], sigma2: ['F64', 1],
      ...(run.settings.optimizer === 'adam' ? { adamM: ['F32', n], adamV: ['F32', n] } : {}),
    };
  }
  const k = d + 1;
  return { Wtilde: ['F32', D * k], s: ['F32', D * k], Gtilde: ['F64', k * k], Szz: ['F64', k * k], sxx: ['F64', 1], sigma2: ['F64', 1] };
}

function fail(source: string, problem: string): never {
  throw new ModelFileError(`${source}: ${problem}`);
}

function readTrace(raw: unknown, step: number, source: string): StochasticProgress[] {
  if (!Array.isArray(raw) || raw.length > step + 1) fail(source, `metadata "trace" must list at most ${step + 1} evaluations`);
  return raw.map((r: unknown, i) => {
    if (!Array.isArray(r) || r.length !== 5 || !r.every((v) => typeof v === 'number' && Number.isFinite(v))) {
      fail(source, `metadata "trace" entry ${i} must be 5 finite numbers [step, epoch, loglik, sigma2, seconds]`);
    }
    const [s, epoch, loglik, sigma2, seconds] = r as number[];
    if (!Number.isSafeInteger(s) || s! < 0 || s! > step) fail(source, `metadata "trace" entry ${i} has step ${s}, outside 0…${step}`);
    return { step: s!, epoch: epoch!, loglik: loglik!, sigma2: sigma2!, seconds: seconds! };
  });
}

/**
 * The fitter snapshot in a checkpoint, after checking that it is a PPCA
 * checkpoint of this run (method, seed, batch, rows, shape, step-size
 * settings) at a whole epoch; `source` names the file in every error.
 */
export function checkpointFromFile(file: Safetensors, source: string, run: CheckpointRun, stepsPerEpoch: number): FitterSnapshot {
  const meta = file.metadata;
  if (meta.checkpoint !== PPCA_CHECKPOINT_FORMAT) {
    const what = meta.checkpoint === undefined ? `a ${quoteValue(meta.model ?? '(unknown)')} model file, not a checkpoint` : `checkpoint format ${quoteValue(meta.checkpoint)}`;
    fail(source, `is ${what}; --resume takes the checkpoint.safetensors a ppca sem/oem run with --checkpoint-every wrote`);
  }
  if (meta.model !== 'ppca') fail(source, `holds model ${quoteValue(meta.model ?? '(none)')}, not ppca`);
  const step = readMetaInt(meta, 'step', source, { min: 1 });
  const epoch = readMetaInt(meta, 'epoch', source, { min: 1 });
  const seed = readMetaInt(meta, 'seed', source);
  const batch = readMetaInt(meta, 'batch', source, { min: 1 });
  const rows = readMetaInt(meta, 'train_rows', source, { min: 1 });
  const D = readMetaInt(meta, 'D', source, { min: 2 });
  const latent = readMetaInt(meta, 'latent', source, { min: 1 });
  const settings = readMetaJson(meta, 'settings', source);
  const mismatches: string[] = [];
  const same = (what: string, have: unknown, want: unknown): void => {
    if (have !== want) mismatches.push(`${what} ${typeof have === 'string' ? quoteValue(have) : String(have)} (this run: ${String(want)})`);
  };
  same('method', meta.method, run.method);
  same('seed', seed, run.seed);
  same('batch', batch, run.batch);
  same('train_rows', rows, run.train_rows);
  same('D', D, run.D);
  same('latent', latent, run.latent);
  same('step-size settings', JSON.stringify(settings), JSON.stringify(run.settings));
  if (mismatches.length) fail(source, `was written by a different run: ${mismatches.join('; ')}; resume with the same --method, --seed, --batch, --latent, step-size options and data`);
  if (step !== epoch * stepsPerEpoch) fail(source, `metadata "step" ${step} is not epoch ${epoch} × ${stepsPerEpoch} steps per epoch`);
  const state: FitterSnapshot['state'] = {};
  const want = expectedState(run);
  for (const name of Object.keys(file.tensors)) {
    if (name.startsWith(STATE_PREFIX) && !Object.hasOwn(want, name.slice(STATE_PREFIX.length))) fail(source, `tensor "${name}" is not part of a ${run.method} checkpoint${name === 'state.adamM' ? ' (was it written with --optimizer adam?)' : ''}`);
  }
  for (const [key, [dtype, length]] of Object.entries(want)) {
    const name = STATE_PREFIX + key;
    const t = Object.hasOwn(file.tensors, name) ? file.tensors[name] : undefined;
    if (t === undefined) fail(source, `the checkpoint has no tensor "${name}"${key === 'adamM' ? ' (was it written with --optimizer sgd?)' : ''}`);
    if (t.dtype !== dtype) fail(source, `tensor "${name}" is ${t.dtype}; a ${run.method} checkpoint stores it as ${dtype}`);
    if (t.data.length !== length || t.shape.length !== 1) fail(source, `tensor "${name}" has shape [${t.shape.join(', ')}], expected [${length}]`);
    const data = t.data as Float32Array | Float64Array;
    checkValues(data, name, source);
    state[key] = data;
  }
  if (!(state.sigma2![0]! > 0)) fail(source, `tensor "state.sigma2" is ${state.sigma2![0]}; it must be positive`);
  return { method: run.method, step, state, trace: readTrace(readMetaJson(meta, 'trace', source), step, source) };
}
