// CPU reference of the random / reparameterized-sampling family (shaders/random.wgsl).
//
// The mapping from key to numbers, identical on the GPU:
// - Element i of a draw with key {seed, stream, counter} comes from Threefry-2x32-20
//   (src/cpu/threefry.ts) with key words (seed, stream) and counter block
//   (counter, i >> 1); output word 0 feeds element 2j, word 1 element 2j+1.
// - Uniform: u = (f32(bits >> 9) + 0.5) · 2^−23, the centre of one of 2^23 equal
//   cells, so u ∈ [2^−24, 1 − 2^−24]: never 0 or 1, and every value is exact in f32
//   (odd multiples of 2^−24 are representable below 1). With 24 bits, (2^24 − 1) + 0.5
//   would round to 2^24 in f32 and give u = 1. CPU and GPU uniforms are bit-identical.
// - Normal: Box–Muller on the pair (u_2j, u_2j+1): r = sqrt(−2 ln u_2j),
//   θ = 2π·u_2j+1 − π (kept in [−π, π], where GPU cos/sin are accurate),
//   element 2j = r cos θ, element 2j+1 = r sin θ. Here computed in float64 and
//   rounded, so CPU and GPU normals agree to float tolerance, not bit for bit.
// A draw is a pure function of (key, i): callers advance key.counter (or pick a new
// stream) for fresh numbers, and a sub-range of a draw can be regenerated alone.
import type * as K from '../kernels/random.ts';
import { checkRandom, checkReparamChol, checkReparamDiag, checkReparamDiagBackward } from '../kernels/random.ts';
import { threefry2x32Into } from './threefry.ts';

const TWO_POW_M23 = 2 ** -23;
const words = new Uint32Array(2);

/** The uniform in (0, 1) that one 32-bit Threefry word maps to (exact in f32). */
export function uniformFromBits(bits: number): number {
  return ((bits >>> 9) + 0.5) * TWO_POW_M23;
}

/** out[i] = uniform i of the draw, for i < n. */
export function uniformInto(key: K.RngKey, out: Float32Array, n: number): void {
  for (let j = 0; 2 * j < n; j++) {
    threefry2x32Into(key.seed, key.stream, key.counter, j, words, 0);
    out[2 * j] = uniformFromBits(words[0]!);
    if (2 * j + 1 < n) out[2 * j + 1] = uniformFromBits(words[1]!);
  }
}

/** out[i] = standard normal i of the draw, for i < n (Box–Muller on uniform pairs). */
export function normalInto(key: K.RngKey, out: Float32Array, n: number): void {
  for (let j = 0; 2 * j < n; j++) {
    threefry2x32Into(key.seed, key.stream, key.counter, j, words, 0);
    const r = Math.sqrt(-2 * Math.log(uniformFromBits(words[0]!)));
    const theta = 2 * Math.PI * uniformFromBits(words[1]!) - Math.PI;
    out[2 * j] = r * Math.cos(theta);
    if (2 * j + 1 < n) out[2 * j + 1] = r * Math.sin(theta);
  }
}

export function uniform(p: K.RandomParams<Float32Array>): void {
  checkRandom(p, 'uniform');
  uniformInto(p.key, p.out, p.n);
}

export function normal(p: K.RandomParams<Float32Array>): void {
  checkRandom(p, 'normal');
  normalInto(p.key, p.out, p.n);
}

/** eps ~ N(0, 1) from key; z = m + eps ∘ exp(½ logvar). */
export function reparamDiag(p: K.ReparamDiagParams<Float32Array>): void {
  const n = checkReparamDiag(p);
  const { m, logvar, eps, z } = p;
  normalInto(p.key, eps, n);
  for (let i = 0; i < n; i++) z[i] = m[i]! + eps[i]! * Math.exp(0.5 * logvar[i]!);
}

/** dM (+)= dz; dLogvar (+)= dz ∘ eps ∘ ½ exp(½ logvar). */
export function reparamDiagBackward(p: K.ReparamDiagBackwardParams<Float32Array>): void {
  const n = checkReparamDiagBackward(p);
  const { dz, eps, logvar, dM, dLogvar } = p;
  const acc = p.accumulate ?? false;
  for (let i = 0; i < n; i++) {
    const g = dz[i]!;
    const gl = g * eps[i]! * 0.5 * Math.exp(0.5 * logvar[i]!);
    dM[i] = acc ? dM[i]! + g : g;
    dLogvar[i] = acc ? dLogvar[i]! + gl : gl;
  }
}

/**
 * eps ~ N(0, 1) (rows×d) from key; z_r = m_r + L eps_r with L d×d row-major,
 * lower-triangular: entries above the diagonal are not read.
 */
export function reparamChol(p: K.ReparamCholParams<Float32Array>): void {
  const n = checkReparamChol(p);
  const { m, l, eps, z, rows, d } = p;
  normalInto(p.key, eps, n);
  for (let r = 0; r < rows; r++) {
    const o = r * d;
    for (let i = 0; i < d; i++) {
      let s = m[o + i]!;
      for (let j = 0; j <= i; j++) s += l[i * d + j]! * eps[o + j]!;
      z[o + i] = s;
    }
  }
}
