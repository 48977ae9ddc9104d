// Input validation for the random / reparameterized-sampling family, shared by
// the CPU reference (src/cpu/random.ts) and the WebGPU wrapper
// (src/gpu/ops/random.ts) so both reject the same inputs with the same message.
import { checkDims, checkLen, need } from '../backend.ts';
import type {
  RandomParams, ReparamCholParams, ReparamDiagBackwardParams, ReparamDiagParams, RngKey,
} from '../kernels.ts';

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

export function validateRandom<T extends { length: number }>(p: RandomParams<T>, kernel: string): void {
  need(p !== null && typeof p === 'object', kernel, 'expects a parameter object');
  checkDims(kernel, { n: p.n });
  checkCount(kernel, 'n', p.n);
  checkLen(kernel, 'out', p.out, p.n);
  checkKey(kernel, p.key);
}

export function validateReparamDiag<T extends { length: number }>(p: ReparamDiagParams<T>, kernel = 'reparamDiag'): number {
  need(p !== null && typeof p === 'object', kernel, 'expects a parameter object');
  checkDims(kernel, { rows: p.rows, cols: p.cols });
  const n = p.rows * p.cols;
  checkCount(kernel, 'rows·cols', n);
  for (const name of ['m', 'logvar', 'eps', 'z'] as const) checkLen(kernel, name, p[name], n);
  checkDistinct(kernel, { eps: p.eps, z: p.z }, { m: p.m, logvar: p.logvar });
  checkKey(kernel, p.key);
  return n;
}

export function validateReparamDiagBackward<T extends { length: number }>(
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

export function validateReparamChol<T extends { length: number }>(p: ReparamCholParams<T>, kernel = 'reparamChol'): number {
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
