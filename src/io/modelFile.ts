// Checked reads of a model file's parts (platform-neutral, shared by the CLI and
// the app): metadata integers, numbers and JSON, and float32 tensors with their
// shape and finiteness. Every failure is a ModelFileError of one line naming
// the file (`source`), the key or tensor, the value, and what was expected.
import { ModelFileError, type TensorMap } from './safetensors.ts';

export interface MetaRange {
  min?: number;
  max?: number;
  /** an absent key gives undefined instead of an error */
  optional?: boolean;
}

/** A value from a file, quoted for a one-line message: JSON-escaped (no control characters), at most 40 characters. */
export function quoteValue(v: string): string {
  const s = v.length > 40 ? `${v.slice(0, 40)}…` : v;
  return JSON.stringify(s).replace(/[\u007f-\u009f\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
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
