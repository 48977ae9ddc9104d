// Checked reads of a model file's parts (platform-neutral, shared by the CLI and
// the app): metadata integers, numbers and JSON, and float32 tensors with their
// shape and finiteness. Every failure is a ModelFileError of one line naming
// the file (`source`), the key or tensor, the value, and what was expected.
import { VIEW_ALIGN } from '../backend.ts';
import type { Activation } from '../kernels.ts';
import type { LvmConfig } from '../models/lvm.ts';
import type { VaeConfig } from '../models/vae.ts';
import { ModelFileError, encodeSafetensors, type Safetensors, type TensorMap } from './safetensors.ts';

export interface MetaRange {
  min?: number;
  max?: number;
  /** an absent key gives undefined instead of an error */
  optional?: boolean;
}

const UNPRINTABLE = /[\u007f-\u009f\u2028\u2029]/g;

/** JSON text with the characters JSON.stringify leaves raw but a terminal would act on escaped. */
function escapeUnprintable(s: string): string {
  return s.replace(UNPRINTABLE, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** A value from a file, quoted for a one-line message: JSON-escaped (no control characters), at most 40 characters. */
export function quoteValue(v: string): string {
  return escapeUnprintable(JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}…` : v));
}

/** Any JSON value from a file for a one-line message, clipped. */
function showJson(v: unknown): string {
  if (typeof v === 'string') return quoteValue(v);
  const s = String(JSON.stringify(v));
  return escapeUnprintable(s.length > 60 ? `${s.slice(0, 60)}…` : s);
}

function fail(source: string, problem: string): never {
  throw new ModelFileError(`${source}: ${problem}`);
}

function present(meta: Record<string, string>, key: string, source: string, optional: boolean | undefined): string | undefined {
  const v = Object.hasOwn(meta, key) ? meta[key] : undefined;
  if (v === undefined && !optional) fail(source, `the metadata has no "${key}" key (is it a latentgpu model file?)`);
  return v;
}

function expected(what: string, range: MetaRange): string {
  const min = range.min ?? -Infinity;
  const max = range.max ?? Infinity;
  if (Number.isFinite(min) && Number.isFinite(max) && max < Number.MAX_SAFE_INTEGER) return `${what} between ${min} and ${max}`;
  if (Number.isFinite(min)) return `${what} ≥ ${min}`;
  return Number.isFinite(max) ? `${what} ≤ ${max}` : what;
}

function readChecked(meta: Record<string, string>, key: string, source: string, range: MetaRange,
  what: string, parse: (raw: string) => number | null): number | undefined {
  const raw = present(meta, key, source, range.optional);
  if (raw === undefined) return undefined;
  const x = parse(raw);
  if (x === null || x < (range.min ?? -Infinity) || x > (range.max ?? Infinity)) {
    fail(source, `metadata "${key}" is ${quoteValue(raw)}; it must be ${expected(what, range)}`);
  }
  return x;
}

/** A metadata integer in decimal digits, by default ≥ 0 ("abc", "-5", "2.5", "1e3" are rejected). */
export function readMetaInt(meta: Record<string, string>, key: string, source: string, range: MetaRange & { optional: true }): number | undefined;
export function readMetaInt(meta: Record<string, string>, key: string, source: string, range?: MetaRange): number;
export function readMetaInt(meta: Record<string, string>, key: string, source: string, range: MetaRange = {}): number | undefined {
  const r = { ...range, min: range.min ?? 0, max: range.max ?? Number.MAX_SAFE_INTEGER };
  return readChecked(meta, key, source, r, 'an integer',
    (raw) => (/^-?\d{1,16}$/.test(raw) && Number.isSafeInteger(Number(raw)) ? Number(raw) : null));
}

/** A metadata number: a finite decimal (exponent allowed), within range. */
export function readMetaNumber(meta: Record<string, string>, key: string, source: string, range: MetaRange & { optional: true }): number | undefined;
export function readMetaNumber(meta: Record<string, string>, key: string, source: string, range?: MetaRange): number;
export function readMetaNumber(meta: Record<string, string>, key: string, source: string, range: MetaRange = {}): number | undefined {
  return readChecked(meta, key, source, range, 'a finite number',
    (raw) => (/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(raw) && Number.isFinite(Number(raw)) ? Number(raw) : null));
}

/** A metadata value holding JSON (e.g. "config"), parsed. */
export function readMetaJson(meta: Record<string, string>, key: string, source: string): unknown {
  const raw = present(meta, key, source, false)!;
  try {
    return JSON.parse(raw) as unknown;
  } catch (e) {
    // the engine's message quotes the text; keep it printable
    const why = (e as Error).message.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g, '?').slice(0, 120);
    fail(source, `metadata "${key}" is not valid JSON (${why})`);
  }
}

export interface F32Checks {
  /** exact element count */
  length?: number;
  /** exact shape */
  shape?: number[];
  /** every value finite (default true) */
  finite?: boolean;
  /** every |value| ≤ maxAbs */
  maxAbs?: number;
}

/** Index of the first value that is not finite or beyond ±maxAbs, or −1. */
export function firstBadValue(a: Float32Array | Float64Array, maxAbs = Infinity): number {
  for (let i = 0; i < a.length; i++) {
    const v = a[i]!;
    // NaN fails every comparison, so test for the good case
    if (!(Math.abs(v) <= maxAbs) || !Number.isFinite(v)) return i;
  }
  return -1;
}

/** Why value v of tensor `name` at `index` failed firstBadValue's test, as one line. */
export function badValueProblem(name: string, index: number, v: number, maxAbs: number): string {
  if (!Number.isFinite(v)) return `tensor "${name}" holds ${v} at index ${index}; a model's values must be finite numbers (the file is corrupt or training diverged)`;
  return `tensor "${name}" holds ${v.toExponential(3)} at index ${index}, beyond the ±${maxAbs.toExponential(0)} limit on its magnitudes (such values overflow float32 arithmetic)`;
}

/** A float32 tensor with its shape and values checked. */
export function requireF32(tensors: TensorMap, name: string, source: string, opts: F32Checks = {}): Float32Array {
  const t = Object.hasOwn(tensors, name) ? tensors[name] : undefined;
  if (t === undefined) fail(source, `the file has no tensor "${name}"`);
  if (t.dtype !== 'F32') fail(source, `tensor "${name}" is ${t.dtype}; latentgpu model files store it as F32 (float32)`);
  const data = t.data as Float32Array;
  if (opts.shape !== undefined && (t.shape.length !== opts.shape.length || t.shape.some((d, i) => d !== opts.shape![i]))) {
    fail(source, `tensor "${name}" has shape [${t.shape.join(', ')}], expected [${opts.shape.join(', ')}]`);
  }
  if (opts.length !== undefined && data.length !== opts.length) {
    fail(source, `tensor "${name}" has ${data.length} values, expected ${opts.length}`);
  }
  if (opts.finite ?? true) checkValues(data, name, source, opts.maxAbs);
  return data;
}

/** Rejects a tensor holding a non-finite value or one beyond ±maxAbs, naming the first such index. */
export function checkValues(data: Float32Array | Float64Array, name: string, source: string, maxAbs = Infinity): void {
  const bad = firstBadValue(data, maxAbs);
  if (bad >= 0) fail(source, badValueProblem(name, bad, data[bad]!, maxAbs));
}

// ---- vae / lvm model files and checkpoints (the CLI's `train --out`, `--checkpoint-every`, and the app's saves)
//
// Metadata: model (vae | lvm), format latentgpu-1, config (the model's JSON
// configuration), step, epoch (checkpoints) or epochs (model files),
// train_rows, batch, lr. Tensors, all F32: params; a checkpoint or an app save
// adds the Adam moments adam.m, adam.v and, for lvm, the per-row φ table (phi.*).

export const LATENT_FILE_FORMAT = 'latentgpu-1';
export type LatentKind = 'vae' | 'lvm';
export type LatentFileConfig = VaeConfig | LvmConfig;

/** Stated caps on a model's configuration, checked before anything is sized from it. */
export const LATENT_LIMITS = {
  dataDim: 2 ** 24,
  latent: 4096,
  width: 65_536,
  layers: 32,
  /** float32 values in the parameter layout (1 GiB) */
  params: 2 ** 28,
  phiSteps: 10_000,
};

/** |θ| above this in a model's params overflows float32 evaluation (a trained model's weights are O(1–100)). */
export const MAX_PARAM_ABS = 1e6;

/** Names of an lvm's per-row φ table and its Adam moments in a checkpoint. */
export const PHI_TENSORS = ['phi.m', 'phi.logvar', 'phi.adam.m.m', 'phi.adam.m.logvar', 'phi.adam.v.m', 'phi.adam.v.logvar'];

const ACTIVATIONS: readonly Activation[] = ['identity', 'relu', 'tanh', 'sigmoid'];

type Json = Record<string, unknown>;

function configField(cfg: Json, key: string, source: string, check: (v: unknown) => boolean, what: string): unknown {
  const v = Object.hasOwn(cfg, key) ? cfg[key] : undefined;
  if (v === undefined) fail(source, `the model's "config" metadata has no "${key}" (${what})`);
  if (!check(v)) {
    fail(source, `the model's "config" metadata has "${key}": ${showJson(v)}; it must be ${what}`);
  }
  return v;
}

const isInt = (min: number, max: number) => (v: unknown): boolean => typeof v === 'number' && Number.isInteger(v) && v >= min && v <= max;
const isPositive = (v: unknown): boolean => typeof v === 'number' && Number.isFinite(v) && v > 0;
const oneOf = (...values: string[]) => (v: unknown): boolean => typeof v === 'string' && values.includes(v);

function widths(cfg: Json, key: string, source: string): number[] {
  const L = LATENT_LIMITS;
  return configField(cfg, key, source,
    (v) => Array.isArray(v) && v.length <= L.layers && v.every(isInt(1, L.width)),
    `a list of at most ${L.layers} hidden widths, each an integer from 1 to ${L.width}`) as number[];
}

/** The configuration keys of each kind: LatentModelConfig's, plus the VAE's encoder or the lvm's φ step settings. */
const COMMON_KEYS = ['dataDim', 'latent', 'decoderHidden', 'act', 'likelihood', 'variance', 'varFloor', 'varCeil', 'objective', 'seed', 'adam'];
export const LATENT_CONFIG_KEYS: Readonly<Record<LatentKind, readonly string[]>> = {
  vae: [...COMMON_KEYS, 'encoderHidden'],
  lvm: [...COMMON_KEYS, 'phiLr', 'phiSteps'],
};
const ADAM_KEYS = ['beta1', 'beta2', 'eps', 'weightDecay'];

/** Rejects a key the kind's model does not have (e.g. an lvm's `encoderHidden`): the file would be sized for another model. */
function onlyKeys(obj: Json, allowed: readonly string[], kind: LatentKind, where: string, source: string): void {
  const stray = Object.keys(obj).find((k) => !allowed.includes(k));
  if (stray === undefined) return;
  const name = kind === 'vae' ? 'a vae' : 'a per-point (lvm) model';
  fail(source, `the model's "config" metadata has ${quoteValue(stray)}${where}, which ${name} does not have: the file is corrupt or its "model" key wrong`);
}

/** Checks a vae/lvm configuration from a file, naming the first missing, mistyped or foreign key. */
export function latentConfigFrom(kind: LatentKind, raw: unknown, source: string): LatentFileConfig {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) fail(source, 'the "config" metadata is not a JSON object');
  const cfg = raw as Json;
  const L = LATENT_LIMITS;
  onlyKeys(cfg, LATENT_CONFIG_KEYS[kind], kind, '', source);
  configField(cfg, 'dataDim', source, isInt(1, L.dataDim), `an integer from 1 to ${L.dataDim}`);
  configField(cfg, 'latent', source, isInt(1, L.latent), `an integer from 1 to ${L.latent}`);
  if (kind === 'vae') widths(cfg, 'encoderHidden', source);
  widths(cfg, 'decoderHidden', source);
  configField(cfg, 'act', source, oneOf(...ACTIVATIONS), `one of ${ACTIVATIONS.join(', ')}`);
  const likelihood = configField(cfg, 'likelihood', source, oneOf('bernoulli', 'gaussian'), 'bernoulli or gaussian');
  configField(cfg, 'variance', source, oneOf('vector', 'output'), 'vector or output');
  const floor = configField(cfg, 'varFloor', source, isPositive, 'a positive number') as number;
  configField(cfg, 'varCeil', source, (v) => isPositive(v) && (likelihood !== 'gaussian' || (v as number) > floor),
    `a positive number above varFloor (${floor})`);
  configField(cfg, 'objective', source, oneOf('elbo', 'prior'), 'elbo or prior');
  configField(cfg, 'seed', source, isInt(0, Number.MAX_SAFE_INTEGER), 'a non-negative integer');
  if (kind === 'lvm') {
    configField(cfg, 'phiLr', source, isPositive, 'a positive number');
    configField(cfg, 'phiSteps', source, isInt(1, L.phiSteps), `an integer from 1 to ${L.phiSteps}`);
  }
  if (cfg.adam !== undefined) {
    const adam = configField(cfg, 'adam', source, (v) => v !== null && typeof v === 'object' && !Array.isArray(v), 'an object') as Json;
    onlyKeys(adam, ADAM_KEYS, kind, ' in config.adam', source);
    const unit = (v: unknown): boolean => typeof v === 'number' && v >= 0 && v < 1;
    for (const k of ['beta1', 'beta2']) configField(adam, k, source, unit, 'a number in [0, 1) (in config.adam)');
    configField(adam, 'eps', source, isPositive, 'a positive number (in config.adam)');
    configField(adam, 'weightDecay', source, (v) => typeof v === 'number' && Number.isFinite(v) && v >= 0, 'a number ≥ 0 (in config.adam)');
  }
  return cfg as unknown as LatentFileConfig;
}

/**
 * The parameter layout's length (padding included) for a configuration,
 * computed from the sizes alone, without building the network: the blocks
 * src/models/mlp.ts (HeadedMlp), decoder.ts and vae.ts add to their ParamLayout,
 * in order, each starting at a multiple of VIEW_ALIGN. test/hostile-models.test.ts
 * checks it against built models.
 */
export function latentParamSize(kind: LatentKind, cfg: LatentFileConfig): number {
  const blocks: number[] = [];
  const headed = (inDim: number, hidden: readonly number[], heads: number[]): void => {
    let prev = inDim;
    for (const h of hidden) {
      blocks.push(prev * h, h);
      prev = h;
    }
    for (const dim of heads) blocks.push(prev * dim, dim);
  };
  // by the kind, as the model is built (an lvm has no encoder), never by which keys the config holds
  if (kind === 'vae') headed(cfg.dataDim, (cfg as VaeConfig).encoderHidden, [cfg.latent, cfg.latent]);
  const gaussian = cfg.likelihood === 'gaussian';
  headed(cfg.latent, cfg.decoderHidden, gaussian && cfg.variance === 'output' ? [cfg.dataDim, cfg.dataDim] : [cfg.dataDim]);
  if (gaussian && cfg.variance === 'vector') blocks.push(cfg.dataDim);
  let end = 0;
  for (const length of blocks) end = Math.ceil(end / VIEW_ALIGN) * VIEW_ALIGN + length;
  return Math.max(VIEW_ALIGN, Math.ceil(end / VIEW_ALIGN) * VIEW_ALIGN);
}

export interface LatentModelFile {
  kind: LatentKind;
  config: LatentFileConfig;
  /** the metadata as stored (extra keys such as synthetic_data included) */
  metadata: Record<string, string>;
  step: number;
  epoch: number;
  trainRows: number | null;
  batch: number | null;
  params: Float32Array;
  /** every tensor of the file by name (params included), all checked F32 and finite */
  tensors: Record<string, Float32Array>;
  /** whether the optimizer state (and for lvm the φ table) is present: training can resume exactly */
  hasState: boolean;
}

/**
 * Decodes and checks a vae/lvm model file or checkpoint before any model is
 * built: kind, format, config (keys, types, caps), the parameter count the
 * config implies against the stored `params`, metadata counters, tensor
 * dtypes and shapes, and finite parameters within ±MAX_PARAM_ABS.
 * `want`: the kind the caller loads; `requireState`: a checkpoint to resume from.
 */
export function decodeLatentModel(file: Safetensors, source: string, opts: { want?: LatentKind; requireState?: boolean } = {}): LatentModelFile {
  const meta = file.metadata;
  const kind = Object.hasOwn(meta, 'model') ? meta.model : undefined;
  if (kind === undefined) fail(source, 'the safetensors metadata has no "model" key, so it is not a latentgpu model file');
  if (kind !== 'vae' && kind !== 'lvm') fail(source, `holds a ${quoteValue(kind)} model, not vae or lvm`);
  if (opts.want !== undefined && kind !== opts.want) fail(source, `holds a '${kind}' model, not ${opts.want}`);
  const format = Object.hasOwn(meta, 'format') ? meta.format : undefined;
  if (format !== LATENT_FILE_FORMAT) {
    fail(source, `metadata "format" is ${format === undefined ? 'missing' : quoteValue(format)}; this version reads ${LATENT_FILE_FORMAT}`);
  }
  const config = latentConfigFrom(kind, readMetaJson(meta, 'config', source), source);
  const size = latentParamSize(kind, config);
  if (size > LATENT_LIMITS.params) {
    fail(source, `the config implies ${size} parameters, over the limit of ${LATENT_LIMITS.params} (2^28): the config is corrupt or the model too large`);
  }
  const step = readMetaInt(meta, 'step', source, { optional: true }) ?? 0;
  const epochKey = Object.hasOwn(meta, 'epoch') ? 'epoch' : 'epochs';
  const epoch = readMetaInt(meta, epochKey, source, { optional: true }) ?? 0;
  // the app wrote "null" for a model without training rows
  const trainRows = meta.train_rows === 'null' ? null : readMetaInt(meta, 'train_rows', source, { optional: true, min: 1 }) ?? null;
  const batch = readMetaInt(meta, 'batch', source, { optional: true, min: 1 }) ?? null;

  // the config's size against the stored params, before any tensor is trusted
  const stored = Object.hasOwn(file.tensors, 'params') ? file.tensors.params : undefined;
  if (stored !== undefined && stored.data.length !== size) {
    fail(source, `tensor "params" holds ${stored.data.length} parameters but the config (${describe(kind, config)}) needs ${size}: the file is corrupt or not this model's`);
  }
  const params = requireF32(file.tensors, 'params', source, { length: size, maxAbs: MAX_PARAM_ABS });
  const tensors: Record<string, Float32Array> = { params };
  for (const name of ['adam.m', 'adam.v']) {
    if (Object.hasOwn(file.tensors, name) || opts.requireState) tensors[name] = requireF32(file.tensors, name, source, { length: size });
  }
  if (kind === 'lvm') {
    const present = PHI_TENSORS.filter((n) => Object.hasOwn(file.tensors, n));
    if (present.length > 0 || opts.requireState) {
      if (trainRows === null) fail(source, 'the file holds the per-row φ table but its metadata has no "train_rows"');
      for (const name of PHI_TENSORS) tensors[name] = requireF32(file.tensors, name, source, { length: trainRows * config.latent });
    }
  }
  // other tensors (none are written today) must still be float32
  for (const [name, t] of Object.entries(file.tensors)) {
    if (!Object.hasOwn(tensors, name)) tensors[name] = requireF32({ [name]: t }, name, source);
  }
  const hasState = 'adam.m' in tensors && 'adam.v' in tensors && (kind === 'vae' || PHI_TENSORS.every((n) => n in tensors));
  return { kind, config, metadata: meta, step, epoch, trainRows, batch, params, tensors, hasState };
}

function describe(kind: LatentKind, cfg: LatentFileConfig): string {
  const enc = kind === 'vae' ? `encoder [${(cfg as VaeConfig).encoderHidden.join(', ')}], ` : '';
  return `D ${cfg.dataDim}, latent ${cfg.latent}, ${enc}decoder [${cfg.decoderHidden.join(', ')}], ${cfg.likelihood}`;
}

/**
 * Encodes a vae/lvm model file: every tensor F32, the metadata decodeLatentModel reads.
 * The config keeps only the kind's keys (LATENT_CONFIG_KEYS), the ones its model is built
 * from, so that a config carrying another kind's key still saves a file that loads.
 */
export function encodeLatentModel(f: {
  kind: LatentKind; config: object; tensors: Record<string, Float32Array>; metadata: Record<string, string | number | null>;
}): Uint8Array {
  if (!f.tensors.params) throw new ModelFileError("a model file needs the 'params' tensor");
  const pick = (obj: object, keys: readonly string[]): Json => Object.fromEntries(Object.entries(obj).filter(([k]) => keys.includes(k)));
  const config = pick(f.config, LATENT_CONFIG_KEYS[f.kind]);
  if (config.adam !== null && typeof config.adam === 'object') config.adam = pick(config.adam, ADAM_KEYS);
  const tensors: TensorMap = {};
  for (const [name, data] of Object.entries(f.tensors)) tensors[name] = { dtype: 'F32', shape: [data.length], data };
  const metadata: Record<string, string> = {};
  for (const [k, v] of Object.entries(f.metadata)) metadata[k] = String(v);
  return encodeSafetensors(tensors, { ...metadata, model: f.kind, format: LATENT_FILE_FORMAT, config: JSON.stringify(config) });
}
