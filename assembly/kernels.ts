// SIMD versions of the elementwise, likelihood, KL, reduction and optimizer
// kernels (semantics: src/kernels.ts; oracle: src/cpu/*.ts). Arguments are byte
// offsets into the shared memory and element counts. Each kernel runs whole
// f32x4 vectors, then one partial vector for the last n % 4 elements (masked
// out of any sum). Sums run in f32 lanes; sumAll and sumRows fold every 1024
// elements into a float64 total, so long sums keep the reference's accuracy.
import {
  ACT_IDENTITY, ACT_RELU, ACT_SIGMOID, ACT_TANH, exp4, hsum4, relu4Pass, sigmoid4, softplus4, tanh4,
} from './math';

const LOG_2PI: f32 = 1.8378770664093453;
const BLOCK: i32 = 1024;

/** The first `count` (1..3) floats at p in lanes 0..count−1, zeros after. */
@inline function loadPartial(p: usize, count: i32): v128 {
  let v = f32x4.splat(0);
  v = f32x4.replace_lane(v, 0, load<f32>(p));
  if (count > 1) v = f32x4.replace_lane(v, 1, load<f32>(p, 4));
  if (count > 2) v = f32x4.replace_lane(v, 2, load<f32>(p, 8));
  return v;
}

@inline function storePartial(p: usize, v: v128, count: i32): void {
  store<f32>(p, f32x4.extract_lane(v, 0));
  if (count > 1) store<f32>(p, f32x4.extract_lane(v, 1), 4);
  if (count > 2) store<f32>(p, f32x4.extract_lane(v, 2), 8);
}

/** All-ones in lanes < count. */
@inline function laneMask(count: i32): v128 {
  return i32x4.lt_s(i32x4(0, 1, 2, 3), i32x4.splat(count));
}

@inline function elemAt(base: usize, i: i32): usize {
  return base + (<usize>i << 2);
}

// ---------------------------------------------------------------- elementwise

@inline function activationOf(x: v128, act: i32): v128 {
  if (act == ACT_RELU) return relu4Pass(x);
  if (act == ACT_TANH) return tanh4(x);
  if (act == ACT_SIGMOID) return sigmoid4(x);
  return x;
}

/** One activation's loop: called with a constant act, so each copy is branch-free inside. */
@inline function activationLoop(x: usize, y: usize, n: i32, act: i32): void {
  let i = 0;
  for (; i + 4 <= n; i += 4) v128.store(elemAt(y, i), activationOf(v128.load(elemAt(x, i)), act));
  if (i < n) storePartial(elemAt(y, i), activationOf(loadPartial(elemAt(x, i), n - i), act), n - i);
}

export function activationForward(x: usize, y: usize, n: i32, act: i32): void {
  if (act == ACT_RELU) activationLoop(x, y, n, ACT_RELU);
  else if (act == ACT_TANH) activationLoop(x, y, n, ACT_TANH);
  else if (act == ACT_SIGMOID) activationLoop(x, y, n, ACT_SIGMOID);
  else activationLoop(x, y, n, ACT_IDENTITY);
}

/** act'(x) written through y = act(x) (src/cpu/elementwise.ts activationDerivative). */
@inline function derivativeOf(y: v128, act: i32): v128 {
  if (act == ACT_RELU) return v128.and(f32x4.gt(y, f32x4.splat(0)), f32x4.splat(1));
  if (act == ACT_TANH) return f32x4.sub(f32x4.splat(1), f32x4.mul(y, y));
  if (act == ACT_SIGMOID) return f32x4.mul(y, f32x4.sub(f32x4.splat(1), y));
  return f32x4.splat(1);
}

export function activationBackward(y: usize, dy: usize, dx: usize, n: i32, act: i32, accumulate: bool): void {
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    let d = f32x4.mul(v128.load(elemAt(dy, i)), derivativeOf(v128.load(elemAt(y, i)), act));
    if (accumulate) d = f32x4.add(v128.load(elemAt(dx, i)), d);
    v128.store(elemAt(dx, i), d);
  }
  if (i < n) {
    const c = n - i;
    let d = f32x4.mul(loadPartial(elemAt(dy, i), c), derivativeOf(loadPartial(elemAt(y, i), c), act));
    if (accumulate) d = f32x4.add(loadPartial(elemAt(dx, i), c), d);
    storePartial(elemAt(dx, i), d, c);
  }
}

export function axpy(x: usize, y: usize, n: i32, alpha: f32): void {
  const a = f32x4.splat(alpha);
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    v128.store(elemAt(y, i), f32x4.add(v128.load(elemAt(y, i)), f32x4.mul(a, v128.load(elemAt(x, i)))));
  }
  for (; i < n; i++) store<f32>(elemAt(y, i), load<f32>(elemAt(y, i)) + alpha * load<f32>(elemAt(x, i)));
}

export function scale(x: usize, n: i32, alpha: f32): void {
  const a = f32x4.splat(alpha);
  let i = 0;
  for (; i + 4 <= n; i += 4) v128.store(elemAt(x, i), f32x4.mul(a, v128.load(elemAt(x, i))));
  for (; i < n; i++) store<f32>(elemAt(x, i), alpha * load<f32>(elemAt(x, i)));
}

// ----------------------------------------------------------------- reductions

/** Σ x[0..n) in f32 lanes, folded into float64 every BLOCK elements. */
function sumRange(x: usize, n: i32): f64 {
  let total: f64 = 0;
  for (let b = 0; b < n; b += BLOCK) {
    const end = min(n, b + BLOCK);
    let s0 = f32x4.splat(0), s1 = f32x4.splat(0);
    let i = b;
    for (; i + 8 <= end; i += 8) {
      s0 = f32x4.add(s0, v128.load(elemAt(x, i)));
      s1 = f32x4.add(s1, v128.load(elemAt(x, i), 16));
    }
    for (; i + 4 <= end; i += 4) s0 = f32x4.add(s0, v128.load(elemAt(x, i)));
    let t: f64 = <f64>hsum4(f32x4.add(s0, s1));
    for (; i < end; i++) t += <f64>load<f32>(elemAt(x, i));
    total += t;
  }
  return total;
}

export function sumRows(x: usize, out: usize, rows: i32, cols: i32, accumulate: bool): void {
  for (let r = 0; r < rows; r++) {
    const s = sumRange(elemAt(x, r * cols), cols);
    const o = elemAt(out, r);
    store<f32>(o, accumulate ? <f32>(<f64>load<f32>(o) + s) : <f32>s);
  }
}

/**
 * out[j] (+)= Σ_i x_ij. Rows are added in f32 vectors into scratch (cols f32)
 * BLOCK rows at a time, each block then folded into a float64 total
 * (cols f64 from scratch + 8·⌈cols/2⌉, 8-byte aligned).
 */
export function sumCols(x: usize, out: usize, rows: i32, cols: i32, accumulate: bool, scratch: usize): void {
  const part = scratch;
  const total = scratch + (<usize>((cols + 1) >> 1) << 3);
  for (let j = 0; j < cols; j++) store<f64>(total + (<usize>j << 3), 0);
  for (let b = 0; b < rows; b += BLOCK) {
    const end = min(rows, b + BLOCK);
    memory.fill(part, 0, <usize>cols << 2);
    for (let r = b; r < end; r++) {
      const row = elemAt(x, r * cols);
      let j = 0;
      for (; j + 4 <= cols; j += 4) v128.store(elemAt(part, j), f32x4.add(v128.load(elemAt(part, j)), v128.load(elemAt(row, j))));
      for (; j < cols; j++) store<f32>(elemAt(part, j), load<f32>(elemAt(part, j)) + load<f32>(elemAt(row, j)));
    }
    for (let j = 0; j < cols; j++) {
      const t = total + (<usize>j << 3);
      store<f64>(t, load<f64>(t) + <f64>load<f32>(elemAt(part, j)));
    }
  }
  for (let j = 0; j < cols; j++) {
    const s = load<f64>(total + (<usize>j << 3));
    const o = elemAt(out, j);
    store<f32>(o, accumulate ? <f32>(<f64>load<f32>(o) + s) : <f32>s);
  }
}

export function sumAll(x: usize, out: usize, n: i32, accumulate: bool): void {
  const s = sumRange(x, n);
  store<f32>(out, accumulate ? <f32>(<f64>load<f32>(out) + s) : <f32>s);
}

/** NaN and ±Inf are exactly the values with x − x ≠ 0. */
export function countNonFinite(x: usize, out: usize, n: i32): void {
  let counts = i32x4.splat(0);
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const v = v128.load(elemAt(x, i));
    counts = i32x4.sub(counts, f32x4.ne(f32x4.sub(v, v), f32x4.splat(0)));
  }
  let c = i32x4.extract_lane(counts, 0) + i32x4.extract_lane(counts, 1) + i32x4.extract_lane(counts, 2) + i32x4.extract_lane(counts, 3);
  for (; i < n; i++) {
    const v = load<f32>(elemAt(x, i));
    if (v - v != 0) c++;
  }
  store<f32>(out, <f32>c);
}

// ----------------------------------------------------------------- likelihood

export const LOGVAR_ELEMENT: i32 = 0;
export const LOGVAR_COLUMN: i32 = 1;
export const LOGVAR_SCALAR: i32 = 2;

/** out[i] = −½ Σ_j (log 2π + lv + (x − μ)² e^{−lv}). */
export function gaussianLogDensity(x: usize, mu: usize, lv: usize, out: usize, rows: i32, cols: i32, mode: i32): void {
  const lvScalar = mode == LOGVAR_SCALAR ? f32x4.splat(load<f32>(lv)) : f32x4.splat(0);
  const log2pi = f32x4.splat(LOG_2PI);
  for (let r = 0; r < rows; r++) {
    const e0 = r * cols;
    const lvRow = mode == LOGVAR_ELEMENT ? elemAt(lv, e0) : lv;
    let s = f32x4.splat(0);
    let j = 0;
    for (; j < cols; j += 4) {
      const c = min(4, cols - j);
      const full = c == 4;
      const xv = full ? v128.load(elemAt(x, e0 + j)) : loadPartial(elemAt(x, e0 + j), c);
      const mv = full ? v128.load(elemAt(mu, e0 + j)) : loadPartial(elemAt(mu, e0 + j), c);
      const l = mode == LOGVAR_SCALAR ? lvScalar : full ? v128.load(elemAt(lvRow, j)) : loadPartial(elemAt(lvRow, j), c);
      const d = f32x4.sub(xv, mv);
      let t = f32x4.add(f32x4.add(log2pi, l), f32x4.mul(f32x4.mul(d, d), exp4(f32x4.neg(l))));
      if (!full) t = v128.and(t, laneMask(c));
      s = f32x4.add(s, t);
    }
    store<f32>(elemAt(out, r), -0.5 * hsum4(s));
  }
}

/**
 * dμ = g·r·e^{−lv}, dlv = g·½(r²e^{−lv} − 1) per element; column mode sums dlv
 * over rows into scratch (cols f32), scalar mode into f32 lanes per row,
 * folded into float64 across rows.
 */
export function gaussianLogDensityBackward(
  x: usize, mu: usize, lv: usize, dOut: usize, dMu: usize, dLv: usize,
  rows: i32, cols: i32, mode: i32, accumulate: bool, scratch: usize,
): void {
  const lvScalar = mode == LOGVAR_SCALAR ? f32x4.splat(load<f32>(lv)) : f32x4.splat(0);
  const half = f32x4.splat(0.5);
  const one = f32x4.splat(1);
  if (mode == LOGVAR_COLUMN) memory.fill(scratch, 0, <usize>cols << 2);
  let scalarTotal: f64 = 0;
  for (let r = 0; r < rows; r++) {
    const e0 = r * cols;
    const g = f32x4.splat(load<f32>(elemAt(dOut, r)));
    const lvRow = mode == LOGVAR_ELEMENT ? elemAt(lv, e0) : lv;
    let rowLv = f32x4.splat(0);
    for (let j = 0; j < cols; j += 4) {
      const c = min(4, cols - j);
      const full = c == 4;
      const xv = full ? v128.load(elemAt(x, e0 + j)) : loadPartial(elemAt(x, e0 + j), c);
      const mv = full ? v128.load(elemAt(mu, e0 + j)) : loadPartial(elemAt(mu, e0 + j), c);
      const l = mode == LOGVAR_SCALAR ? lvScalar : full ? v128.load(elemAt(lvRow, j)) : loadPartial(elemAt(lvRow, j), c);
      const d = f32x4.sub(xv, mv);
      const rw = f32x4.mul(d, exp4(f32x4.neg(l)));
      let gm = f32x4.mul(g, rw);
      let gl = f32x4.mul(f32x4.mul(g, half), f32x4.sub(f32x4.mul(d, rw), one));
      const pm = elemAt(dMu, e0 + j);
      if (accumulate) gm = f32x4.add(full ? v128.load(pm) : loadPartial(pm, c), gm);
      if (full) v128.store(pm, gm); else storePartial(pm, gm, c);
      if (mode == LOGVAR_ELEMENT) {
        const pl = elemAt(dLv, e0 + j);
        if (accumulate) gl = f32x4.add(full ? v128.load(pl) : loadPartial(pl, c), gl);
        if (full) v128.store(pl, gl); else storePartial(pl, gl, c);
      } else if (mode == LOGVAR_COLUMN) {
        const ps = elemAt(scratch, j);
        if (full) v128.store(ps, f32x4.add(v128.load(ps), gl));
        else storePartial(ps, f32x4.add(loadPartial(ps, c), gl), c);
      } else {
        if (!full) gl = v128.and(gl, laneMask(c));
        rowLv = f32x4.add(rowLv, gl);
      }
    }
    scalarTotal += <f64>hsum4(rowLv);
  }
  if (mode == LOGVAR_COLUMN) {
    for (let j = 0; j < cols; j++) {
      const o = elemAt(dLv, j);
      const s = load<f32>(elemAt(scratch, j));
      store<f32>(o, accumulate ? load<f32>(o) + s : s);
    }
  } else if (mode == LOGVAR_SCALAR) {
    store<f32>(dLv, accumulate ? <f32>(<f64>load<f32>(dLv) + scalarTotal) : <f32>scalarTotal);
  }
}

/** out[i] = Σ_j x·l − softplus(l). */
export function bernoulliLogLik(x: usize, logits: usize, out: usize, rows: i32, cols: i32): void {
  for (let r = 0; r < rows; r++) {
    const e0 = r * cols;
    let s = f32x4.splat(0);
    let j = 0;
    for (; j + 4 <= cols; j += 4) {
      const l = v128.load(elemAt(logits, e0 + j));
      s = f32x4.add(s, f32x4.sub(f32x4.mul(v128.load(elemAt(x, e0 + j)), l), softplus4(l)));
    }
    if (j < cols) {
      const c = cols - j;
      const l = loadPartial(elemAt(logits, e0 + j), c);
      const t = f32x4.sub(f32x4.mul(loadPartial(elemAt(x, e0 + j), c), l), softplus4(l));
      s = f32x4.add(s, v128.and(t, laneMask(c)));
    }
    store<f32>(elemAt(out, r), hsum4(s));
  }
}

/** dl = g·(x − sigmoid(l)). */
export function bernoulliLogLikBackward(x: usize, logits: usize, dOut: usize, dLogits: usize, rows: i32, cols: i32, accumulate: bool): void {
  for (let r = 0; r < rows; r++) {
    const e0 = r * cols;
    const g = f32x4.splat(load<f32>(elemAt(dOut, r)));
    let j = 0;
    for (; j + 4 <= cols; j += 4) {
      const p = elemAt(dLogits, e0 + j);
      let d = f32x4.mul(g, f32x4.sub(v128.load(elemAt(x, e0 + j)), sigmoid4(v128.load(elemAt(logits, e0 + j)))));
      if (accumulate) d = f32x4.add(v128.load(p), d);
      v128.store(p, d);
    }
    if (j < cols) {
      const c = cols - j;
      const p = elemAt(dLogits, e0 + j);
      let d = f32x4.mul(g, f32x4.sub(loadPartial(elemAt(x, e0 + j), c), sigmoid4(loadPartial(elemAt(logits, e0 + j), c))));
      if (accumulate) d = f32x4.add(loadPartial(p, c), d);
      storePartial(p, d, c);
    }
  }
}

/** out[i] = ½ Σ_j (m² + e^{lv} − 1 − lv). */
export function klStdNormal(m: usize, lv: usize, out: usize, rows: i32, cols: i32): void {
  const one = f32x4.splat(1);
  for (let r = 0; r < rows; r++) {
    const e0 = r * cols;
    let s = f32x4.splat(0);
    for (let j = 0; j < cols; j += 4) {
      const c = min(4, cols - j);
      const full = c == 4;
      const mv = full ? v128.load(elemAt(m, e0 + j)) : loadPartial(elemAt(m, e0 + j), c);
      const l = full ? v128.load(elemAt(lv, e0 + j)) : loadPartial(elemAt(lv, e0 + j), c);
      let t = f32x4.sub(f32x4.sub(f32x4.add(f32x4.mul(mv, mv), exp4(l)), one), l);
      if (!full) t = v128.and(t, laneMask(c));
      s = f32x4.add(s, t);
    }
    store<f32>(elemAt(out, r), 0.5 * hsum4(s));
  }
}

/** dm = g·m, dlv = g·½(e^{lv} − 1). */
export function klStdNormalBackward(m: usize, lv: usize, dOut: usize, dM: usize, dLv: usize, rows: i32, cols: i32, accumulate: bool): void {
  const half = f32x4.splat(0.5);
  const one = f32x4.splat(1);
  for (let r = 0; r < rows; r++) {
    const e0 = r * cols;
    const g = f32x4.splat(load<f32>(elemAt(dOut, r)));
    for (let j = 0; j < cols; j += 4) {
      const c = min(4, cols - j);
      const full = c == 4;
      const mv = full ? v128.load(elemAt(m, e0 + j)) : loadPartial(elemAt(m, e0 + j), c);
      const l = full ? v128.load(elemAt(lv, e0 + j)) : loadPartial(elemAt(lv, e0 + j), c);
      let gm = f32x4.mul(g, mv);
      let gl = f32x4.mul(f32x4.mul(g, half), f32x4.sub(exp4(l), one));
      const pm = elemAt(dM, e0 + j);
      const pl = elemAt(dLv, e0 + j);
      if (accumulate) {
        gm = f32x4.add(full ? v128.load(pm) : loadPartial(pm, c), gm);
        gl = f32x4.add(full ? v128.load(pl) : loadPartial(pl, c), gl);
      }
      if (full) { v128.store(pm, gm); v128.store(pl, gl); } else { storePartial(pm, gm, c); storePartial(pl, gl, c); }
    }
  }
}

// ------------------------------------------------------------------ optimizer

/**
 * Adam with bias correction and decoupled weight decay, as src/cpu/optim.ts;
 * the bias corrections 1 − β^t come from the host in float64.
 */
export function adam(
  param: usize, grad: usize, m: usize, v: usize, n: i32,
  lr: f32, beta1: f32, beta2: f32, eps: f32, biasCorrection1: f32, biasCorrection2: f32, weightDecay: f32,
): void {
  const b1 = f32x4.splat(beta1), b2 = f32x4.splat(beta2);
  const c1 = f32x4.splat(1 - beta1), c2 = f32x4.splat(1 - beta2);
  const invBc1 = f32x4.splat(1 / biasCorrection1), invBc2 = f32x4.splat(1 / biasCorrection2);
  const lrv = f32x4.splat(lr), epsv = f32x4.splat(eps), wd = f32x4.splat(weightDecay);
  for (let i = 0; i < n; i += 4) {
    const c = min(4, n - i);
    const full = c == 4;
    const pp = elemAt(param, i), pg = elemAt(grad, i), pm = elemAt(m, i), pv = elemAt(v, i);
    const g = full ? v128.load(pg) : loadPartial(pg, c);
    const mi = f32x4.add(f32x4.mul(b1, full ? v128.load(pm) : loadPartial(pm, c)), f32x4.mul(c1, g));
    const vi = f32x4.add(f32x4.mul(b2, full ? v128.load(pv) : loadPartial(pv, c)), f32x4.mul(c2, f32x4.mul(g, g)));
    const w = full ? v128.load(pp) : loadPartial(pp, c);
    const step = f32x4.add(
      f32x4.div(f32x4.mul(mi, invBc1), f32x4.add(f32x4.sqrt(f32x4.mul(vi, invBc2)), epsv)),
      f32x4.mul(wd, w));
    const nw = f32x4.sub(w, f32x4.mul(lrv, step));
    if (full) { v128.store(pm, mi); v128.store(pv, vi); v128.store(pp, nw); } else {
      storePartial(pm, mi, c); storePartial(pv, vi, c); storePartial(pp, nw, c);
    }
  }
}

/** param −= lr·grad */
export function sgd(param: usize, grad: usize, n: i32, lr: f32): void {
  axpy(grad, param, n, -lr);
}
