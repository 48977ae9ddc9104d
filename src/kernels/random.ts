// The random family (shaders/random.wgsl; CPU reference src/cpu/random.ts, whose
// header documents the key → numbers mapping; WebGPU src/gpu/ops/random.ts):
// parameter types and the checks every backend runs.
import { checkDims, checkLen, need } from './check.ts';

/** Counter-based RNG key: element i of a draw is a pure function of (seed, stream, counter, i). */
export interface RngKey { seed: number; stream: number; counter: number }
export interface RandomParams<T> { out: T; n: number; key: RngKey }
/** eps ~ N(0,1) from key; z = m + eps ∘ exp(½ logvar); all rows×cols. */
export interface ReparamDiagParams<T> {
  m: T; logvar: T; eps: T; z: T; rows: number; cols: number; key: RngKey;
}
/** dM += dz; dLogvar += dz ∘ eps ∘ ½exp(½ logvar) (or = without accumulate). */
export interface ReparamDiagBackwardParams<T> {
  dz: T; eps: T; logvar: T; dM: T; dLogvar: T; rows: number; cols: number;
  accumulate?: boolean;
}
/** eps ~ N(0,1) from key; z_i = m_i + L eps_i with L (d×d) lower-triangular, shared by all rows. */
export interface ReparamCholParams<T> {
  m: T; l: T; eps: T; z: T; rows: number; d: number; key: RngKey;
}

const U32_MAX = 0xffffffff;

function isU32(v: unknown): v is number {
  return typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= U32_MAX;
}

/** The key's three words must be u32 integers: they become Threefry key and counter words. */
export function checkKey(kernel: string, key: RngKey | undefined): void {
  need(key !== null && typeof key === 'object', kernel, 'missing RNG key {seed, stream, counter}');
  for (const f of ['seed', 'stream', 'counter'] as const) {
    need(isU32(key[f]), kernel, `key.${f} must be an integer in [0, 2^32), got ${key[f]}`);
  }
}

/** Element counts are u32 on the GPU. */
function checkCount(kernel: string, what: string, n: number): void {
  need(n <= U32_MAX, kernel, `${what} = ${n} elements is over the 2^32 − 1 a kernel can index`);
}

/** Writes to the same tensor as a read would race on the GPU (and WebGPU forbids the aliasing). */
function checkDistinct(kernel: string, outputs: Record<string, unknown>, others: Record<string, unknown>): void {
  const all = { ...outputs, ...others };
  for (const [o, t] of Object.entries(outputs)) {
    for (const [n, u] of Object.entries(all)) {
      need(n === o || t !== u, kernel, `'${o}' and '${n}' are the same tensor; the output must be a separate tensor`);
    }
  }
}

/** uniform and normal (`kernel` names which). */
export function checkRandom<T extends { length: number }>(p: RandomParams<T>, kernel: string): void {
  need(p !== null && typeof p === 'object', kernel, 'expects a parameter object');
  checkDims(kernel, { n: p.n });
  checkCount(kernel, 'n', p.n);
  checkLen(kernel, 'out', p.out, p.n);
  checkKey(kernel, p.key);
}

/** Returns the element count rows·cols. */
export function checkReparamDiag<T extends { length: number }>(p: ReparamDiagParams<T>, kernel = 'reparamDiag'): number {
  need(p !== null && typeof p === 'object', kernel, 'expects a parameter object');
  checkDims(kernel, { rows: p.rows, cols: p.cols });
  const n = p.rows * p.cols;
  checkCount(kernel, 'rows·cols', n);
  for (const name of ['m', 'logvar', 'eps', 'z'] as const) checkLen(kernel, name, p[name], n);
  checkDistinct(kernel, { eps: p.eps, z: p.z }, { m: p.m, logvar: p.logvar });
  checkKey(kernel, p.key);
  return n;
}

/** Returns the element count rows·cols. */
export function checkReparamDiagBackward<T extends { length: number }>(
  p: ReparamDiagBackwardParams<T>, kernel = 'reparamDiagBackward',
): number {
  need(p !== null && typeof p === 'object', kernel, 'expects a parameter object');
  checkDims(kernel, { rows: p.rows, cols: p.cols });
  const n = p.rows * p.cols;
  checkCount(kernel, 'rows·cols', n);
  for (const name of ['dz', 'eps', 'logvar', 'dM', 'dLogvar'] as const) checkLen(kernel, name, p[name], n);
  checkDistinct(kernel, { dM: p.dM, dLogvar: p.dLogvar }, { dz: p.dz, eps: p.eps, logvar: p.logvar });
  return n;
}

/** Returns the element count rows·d. */
export function checkReparamChol<T extends { length: number }>(p: ReparamCholParams<T>, kernel = 'reparamChol'): number {
  need(p !== null && typeof p === 'object', kernel, 'expects a parameter object');
  checkDims(kernel, { rows: p.rows, d: p.d });
  const n = p.rows * p.d;
  checkCount(kernel, 'rows·d', n);
  for (const name of ['m', 'eps', 'z'] as const) checkLen(kernel, name, p[name], n);
  checkLen(kernel, 'l', p.l, p.d * p.d);
  checkDistinct(kernel, { eps: p.eps, z: p.z }, { m: p.m, l: p.l });
  checkKey(kernel, p.key);
  return n;
}
