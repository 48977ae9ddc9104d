// f32x4 elementary functions for the kernels: exp by range reduction to
// [−ln2/2, ln2/2] and a degree-6 polynomial (Cephes expf coefficients), log1p on
// [0, 1] (all softplus needs) by the atanh series, both within a few ulp of the
// float64 references after rounding to f32. Activations mirror
// src/cpu/elementwise.ts: the exponentials only ever see non-positive arguments.

export const ACT_IDENTITY: i32 = 0;
export const ACT_RELU: i32 = 1;
export const ACT_TANH: i32 = 2;
export const ACT_SIGMOID: i32 = 3;

const LOG2E: f32 = 1.44269504088896341;
const LN2_HI: f32 = 0.693359375;
const ROUND_MAGIC: f32 = 12582912; // 1.5·2^23
const ROUND_MAGIC_BITS: i32 = 0x4b400000;
const LN2_LO: f32 = -2.12194440e-4;

/** e^x lane-wise; x is clamped to [−87.3, 88.7] (no Inf, no denormals). */
@inline export function exp4(x: v128): v128 {
  // pmax/pmin are one instruction each (V8 spends ~8 on f32x4.max/min for their
  // NaN and −0 rules) and still pass a NaN x through: it is their first operand
  x = f32x4.pmin(f32x4.pmax(x, f32x4.splat(-87.3)), f32x4.splat(88.7));
  // adding 1.5·2^23 rounds to the nearest integer (ties to even, as nearest) and
  // leaves it in the low mantissa bits: fn and n without roundps and trunc_sat
  const shifted = f32x4.add(f32x4.mul(x, f32x4.splat(LOG2E)), f32x4.splat(ROUND_MAGIC));
  const fn = f32x4.sub(shifted, f32x4.splat(ROUND_MAGIC));
  let r = f32x4.sub(x, f32x4.mul(fn, f32x4.splat(LN2_HI)));
  r = f32x4.sub(r, f32x4.mul(fn, f32x4.splat(LN2_LO)));
  let p = f32x4.splat(1.9875691500e-4);
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(1.3981999507e-3));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(8.3334519073e-3));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(4.1665795894e-2));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(1.6666665459e-1));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(5.0000001201e-1));
  const y = f32x4.add(f32x4.add(f32x4.mul(f32x4.mul(p, r), r), r), f32x4.splat(1));
  // 2^n built in the exponent field; n ∈ [−126, 128] after the clamp, so split it in two halves
  const n = i32x4.sub(shifted, i32x4.splat(ROUND_MAGIC_BITS));
  const n1 = i32x4.shr_s(n, 1);
  const n2 = i32x4.sub(n, n1);
  const s1 = i32x4.shl(i32x4.add(n1, i32x4.splat(127)), 23);
  const s2 = i32x4.shl(i32x4.add(n2, i32x4.splat(127)), 23);
  return f32x4.mul(f32x4.mul(y, s1), s2);
}

/**
 * ln(1 + e) for e ∈ [0, 1] as 2·atanh(s), s = e/(2 + e) ∈ [0, ⅓]: the odd series
 * 2s(1 + s²/3 + … + s¹²/13) is within 2e−9 there, one division and seven
 * multiply-adds (a general log would need frexp, a degree-9 polynomial and a
 * correction of 1 + e's rounding). Tiny e needs no special case: s = e/2 exactly.
 */
@inline export function log1pSmall4(e: v128): v128 {
  const s = f32x4.div(e, f32x4.add(f32x4.splat(2), e));
  const z = f32x4.mul(s, s);
  let p = f32x4.splat(<f32>(1.0 / 13));
  p = f32x4.add(f32x4.mul(p, z), f32x4.splat(<f32>(1.0 / 11)));
  p = f32x4.add(f32x4.mul(p, z), f32x4.splat(<f32>(1.0 / 9)));
  p = f32x4.add(f32x4.mul(p, z), f32x4.splat(<f32>(1.0 / 7)));
  p = f32x4.add(f32x4.mul(p, z), f32x4.splat(<f32>(1.0 / 5)));
  p = f32x4.add(f32x4.mul(p, z), f32x4.splat(<f32>(1.0 / 3)));
  // 2s + 2s·z·p: the leading term added last keeps its full precision
  const s2 = f32x4.add(s, s);
  return f32x4.add(s2, f32x4.mul(f32x4.mul(s2, z), p));
}

/** softplus(l) = log(1 + e^l) = max(l, 0) + log1p(e^{−|l|}). */
@inline export function softplus4(l: v128): v128 {
  return f32x4.add(f32x4.pmax(f32x4.splat(0), l), log1pSmall4(exp4(f32x4.neg(f32x4.abs(l)))));
}

/** 1/(1 + e^{−x}) with the exponential of −|x| only. */
@inline export function sigmoid4(x: v128): v128 {
  const e = exp4(f32x4.neg(f32x4.abs(x)));
  const inv = f32x4.div(f32x4.splat(1), f32x4.add(f32x4.splat(1), e));
  return v128.bitselect(inv, f32x4.mul(e, inv), f32x4.ge(x, f32x4.splat(0)));
}

/** tanh via e = e^{−2|x|}: (1 − e)/(1 + e) with the sign of x. */
@inline export function tanh4(x: v128): v128 {
  const e = exp4(f32x4.mul(f32x4.splat(-2), f32x4.abs(x)));
  const t = f32x4.div(f32x4.sub(f32x4.splat(1), e), f32x4.add(f32x4.splat(1), e));
  // copy the sign bit of x (tanh(−0) = −0, as in the reference)
  return v128.or(t, v128.and(x, i32x4.splat(0x80000000)));
}

/**
 * act(x) lane-wise. relu is `x > 0 ? x : 0` here (the matmul epilogue: NaN → 0,
 * as src/cpu/matmul.ts); the elementwise kernel uses relu4Pass.
 */
export function activation4(x: v128, act: i32): v128 {
  if (act == ACT_RELU) return f32x4.pmax(f32x4.splat(0), x);
  if (act == ACT_TANH) return tanh4(x);
  if (act == ACT_SIGMOID) return sigmoid4(x);
  return x;
}

/** `x < 0 ? 0 : x`: relu that lets NaN through (src/cpu/elementwise.ts). */
@inline export function relu4Pass(x: v128): v128 {
  return f32x4.pmax(x, f32x4.splat(0));
}

/** The sum of the four lanes. */
@inline export function hsum4(v: v128): f32 {
  return (f32x4.extract_lane(v, 0) + f32x4.extract_lane(v, 1)) + (f32x4.extract_lane(v, 2) + f32x4.extract_lane(v, 3));
}
