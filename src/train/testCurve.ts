// The test curve: the ELBO of held-out rows measured while training (the
// trainer's `evaluate` hook), on a fixed subset of at most TEST_CURVE_ROWS rows
// chosen by a seeded shuffle, with the same noise at every point, so that
// successive points differ only by the parameters. For models with an
// amortised posterior (the VAE): a per-point model must fit the rows' φ first.
import { EvalSet, evaluateElbo, type EvalData } from '../models/evaluate.ts';
import type { LatentVariableModel } from '../models/latent.ts';
import { HostRng, mixSeed } from './rng.ts';

/** Rows of the test curve at most: a point costs about four training steps' forward passes. */
export const TEST_CURVE_ROWS = 500;

/** `max` of the row indices 0..n−1 chosen by `seed` (a partial Fisher–Yates shuffle), ascending; all rows when n ≤ max. */
export function testCurveRows(n: number, seed: number, max = TEST_CURVE_ROWS): Uint32Array {
  const p = Uint32Array.from({ length: n }, (_, i) => i);
  if (n <= max) return p;
  const r = new HostRng(mixSeed(seed, 0x54455354));
  for (let i = 0; i < max; i++) {
    const j = i + r.below(n - i);
    const t = p[i]!;
    p[i] = p[j]!;
    p[j] = t;
  }
  return p.slice(0, max).sort();
}

/** The test ELBO per sample on a fixed seeded subset of `data` (rows of `D` values), one point per step. */
export class TestCurve {
  readonly set: EvalSet;
  private last: { step: number; value: number } | null = null;

  constructor(readonly model: LatentVariableModel, data: EvalData, readonly seed: number, max = TEST_CURVE_ROWS) {
    const D = model.dataDim;
    const rows = testCurveRows(data.n, seed, max);
    const x = new Float32Array(rows.length * D);
    rows.forEach((r, i) => x.set(data.x.subarray(r * D, (r + 1) * D), i * D));
    this.set = new EvalSet(model.backend, { x, n: rows.length }, D);
  }

  get rows(): number {
    return this.set.data.n;
  }

  /** The test ELBO with the parameters after `step` steps (measured once per step). */
  async at(step: number): Promise<number> {
    if (this.last?.step !== step) this.last = { step, value: (await evaluateElbo(this.model, this.set, { seed: this.seed })).elbo };
    return this.last.value;
  }

  release(): void {
    this.set.release();
  }
}
