// Acceleration of an EM map whose parameters are a host vector θ (float64):
// SQUAREM (Varadhan & Roland 2008, scheme S3) and Anderson acceleration
// (type II, Walker & Ni 2011, with DAAREM's restarts and monotone safeguard),
// the same mathematics as PPCA's device-slot versions (ppca/em.ts), here over
// plain arrays for models whose parameters live on the host (factor analysis).
// Each extrapolated point passes through `project` (e.g. a variance floor)
// before the map sees it, and is kept only when its log-likelihood is at least
// that of the point it extrapolates from (less `slack`, the evaluation's noise);
// otherwise the plain EM step is taken.
import { KernelError } from '../backend.ts';
import { factorSpd, symmetrize } from './ppca/linalg.ts';

/** Plain EM, SQUAREM (scheme S3) or Anderson acceleration. */
export type AccelMethod = 'em' | 'squarem' | 'anderson';
/** Every AccelMethod. */
export const ACCEL_METHODS: readonly AccelMethod[] = ['em', 'squarem', 'anderson'];

/** past iterates Anderson acceleration combines by default */
export const ACCEL_ANDERSON_MEMORY = 10;

/** One EM map: the log-likelihood per sample of θ and F(θ). */
export type EmMap = (theta: Float64Array) => Promise<{ loglik: number; next: Float64Array }>;

/** How long to iterate and how to keep extrapolated points valid. */
export interface AccelOptions {
  maxIters: number;
  /** stop when the log-likelihood per sample changes less than this between accepted iterates */
  tol: number;
  /**
   * how far (nats/sample) an extrapolated point's log-likelihood may fall below the one it is
   * compared with and still count as no worse: the noise of a float32 evaluation (default 0)
   */
  slack?: number;
  /** Anderson: how many past differences the extrapolation uses */
  memory?: number;
  /** maps an extrapolated θ into the parameter space (in place), e.g. floors variances */
  project?: (theta: Float64Array) => void;
  /** every accepted iterate: EM maps spent before it, its log-likelihood */
  onIter?: (evals: number, loglik: number) => void;
}

/** Where the iteration ended and what it spent. */
export interface AccelResult {
  theta: Float64Array;
  /** EM-map evaluations spent */
  iterations: number;
  /** accepted iterates (SQUAREM: cycles) */
  cycles: number;
  converged: boolean;
}

function dot(a: Float64Array, b: Float64Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]! * b[i]!;
  return s;
}

function sub(a: Float64Array, b: Float64Array): Float64Array {
  return a.map((v, i) => v - b[i]!);
}

/** Iterates `map` from θ₀ by plain EM, SQUAREM or Anderson acceleration. */
export async function accelerate(method: AccelMethod, map: EmMap, theta0: Float64Array, o: AccelOptions): Promise<AccelResult> {
  if (method === 'em') return plainEm(map, theta0, o);
  if (method === 'squarem') return squarem(map, theta0, o);
  if (method === 'anderson') return anderson(map, theta0, o);
  throw new KernelError('EM acceleration', `unknown method '${method as string}' (${ACCEL_METHODS.join(' | ')})`);
}

async function plainEm(map: EmMap, theta0: Float64Array, o: AccelOptions): Promise<AccelResult> {
  let theta = theta0;
  let prev = -Infinity;
  let it = 0;
  while (it < o.maxIters) {
    const r = await map(theta);
    o.onIter?.(it, r.loglik);
    it++;
    const change = r.loglik - prev;
    prev = r.loglik;
    theta = r.next;
    if (Math.abs(change) < o.tol) return { theta, iterations: it, cycles: it, converged: true };
  }
  return { theta, iterations: it, cycles: it, converged: false };
}

/**
 * SQUAREM S3: r = θ₁−θ₀, v = θ₂−2θ₁+θ₀, α = ‖r‖/‖v‖ clipped to [1, αmax],
 * θ' = θ₀ + 2αr + α²v, then a stabilising EM step, whose map also gives log p(θ').
 * Rejected (log p(θ') < log p(θ₀), or NaN): the cycle ends with the EM step from θ₂.
 * αmax starts at 1, ×4 when a step at the cap is accepted, ÷4 after a rejection at the
 * cap or a second one in a row (the policy ppca/em.ts runSquarem measured).
 */
async function squarem(map: EmMap, theta0: Float64Array, o: AccelOptions): Promise<AccelResult> {
  const STEP_FACTOR = 4;
  const slack = o.slack ?? 0;
  let p0 = theta0;
  let evals = 0;
  let cycles = 0;
  let stepMax = 1;
  let rejections = 0;
  let prev = -Infinity;
  while (evals + 3 <= o.maxIters) {
    const r1 = await map(p0);
    o.onIter?.(evals, r1.loglik);
    evals++;
    const l0 = r1.loglik;
    if (Math.abs(l0 - prev) < o.tol) return { theta: p0, iterations: evals, cycles, converged: true };
    prev = l0;
    const p1 = r1.next;
    const p2 = (await map(p1)).next;
    evals++;
    const r = sub(p1, p0);
    const v = p2.map((x, i) => x - 2 * p1[i]! + p0[i]!);
    const rr = dot(r, r);
    const vv = dot(v, v);
    let alpha = vv > 0 && rr > 0 ? Math.sqrt(rr / vv) : 1;
    alpha = Math.max(1, Math.min(stepMax, alpha));
    cycles++;
    if (alpha > 1) {
      const ext = p0.map((x, i) => x + 2 * alpha * r[i]! + alpha * alpha * v[i]!);
      o.project?.(ext);
      const r3 = await map(ext);
      evals++;
      if (r3.loglik >= l0 - slack) {
        if (alpha === stepMax) stepMax *= STEP_FACTOR;
        rejections = 0;
        p0 = r3.next;
        continue;
      }
      rejections++;
      if (alpha === stepMax || rejections >= 2) stepMax = Math.max(1, Math.min(stepMax, alpha) / STEP_FACTOR);
      if (evals >= o.maxIters) return { theta: p2, iterations: evals, cycles, converged: false };
    } else if (stepMax === 1) {
      stepMax *= STEP_FACTOR;
    }
    p0 = (await map(p2)).next;
    evals++;
  }
  return { theta: p0, iterations: evals, cycles, converged: false };
}

/** ridge of the Anderson normal equations, relative to their largest diagonal entry */
const ANDERSON_RIDGE = 1e-10;

/**
 * Anderson acceleration: g = F(θ) − θ, ΔF_j and Δg_j the differences of consecutive
 * accepted iterates (the last m kept); γ = argmin ‖g − Σ γ_j Δg_j‖ (normal equations,
 * small ridge), θ_next = F(θ) − Σ γ_j ΔF_j. When the map of θ_next shows a lower
 * log-likelihood than the last accepted iterate, the plain EM step F(θ_acc) is taken
 * instead and the history restarts.
 */
async function anderson(map: EmMap, theta0: Float64Array, o: AccelOptions): Promise<AccelResult> {
  const memory = o.memory ?? ACCEL_ANDERSON_MEMORY;
  const slack = o.slack ?? 0;
  if (!(Number.isInteger(memory) && memory >= 1)) throw new KernelError('EM acceleration', `Anderson memory must be a positive integer, got ${memory}`);
  const dF: Float64Array[] = [];
  const dG: Float64Array[] = [];
  let acc: { loglik: number; f: Float64Array; g: Float64Array } | null = null;
  let x = theta0;
  let extrapolated = false;
  let evals = 0;
  let cycles = 0;
  while (evals < o.maxIters) {
    const r = await map(x);
    evals++;
    if (extrapolated && acc && !(r.loglik >= acc.loglik - slack)) {
      dF.length = 0;
      dG.length = 0;
      x = acc.f;
      acc = null;
      extrapolated = false;
      continue;
    }
    o.onIter?.(evals - 1, r.loglik);
    cycles++;
    const converged = acc !== null && Math.abs(r.loglik - acc.loglik) < o.tol;
    const g = sub(r.next, x);
    if (acc) {
      if (dF.length >= memory) { dF.shift(); dG.shift(); }
      dF.push(sub(r.next, acc.f));
      dG.push(sub(g, acc.g));
    }
    acc = { loglik: r.loglik, f: r.next, g };
    if (converged) return { theta: r.next, iterations: evals, cycles, converged: true };
    if (dG.length === 0) {
      x = r.next;
      extrapolated = false;
      continue;
    }
    const m = dG.length;
    const A = new Float64Array(m * m);
    const rhs = new Float64Array(m);
    let scale = 0;
    for (let i = 0; i < m; i++) {
      for (let j = 0; j <= i; j++) A[i * m + j] = A[j * m + i] = dot(dG[i]!, dG[j]!);
      rhs[i] = dot(dG[i]!, g);
      scale = Math.max(scale, A[i * m + i]!);
    }
    if (!(scale > 0)) {
      // every Δg is 0: nothing to extrapolate from
      x = r.next;
      extrapolated = false;
      continue;
    }
    for (let i = 0; i < m; i++) A[i * m + i]! += ANDERSON_RIDGE * scale;
    const inv = factorSpd(symmetrize(A, m), m, 'Anderson normal equations').inverse;
    const next = Float64Array.from(r.next);
    for (let j = 0; j < m; j++) {
      let gj = 0;
      for (let k = 0; k < m; k++) gj += inv[j * m + k]! * rhs[k]!;
      const f = dF[j]!;
      for (let i = 0; i < next.length; i++) next[i]! -= gj * f[i]!;
    }
    o.project?.(next);
    x = next;
    extrapolated = true;
  }
  return { theta: acc ? acc.f : x, iterations: evals, cycles, converged: false };
}
