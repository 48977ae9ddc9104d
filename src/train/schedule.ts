// Step-size schedules α_t as a function of the global step t (0-based).
import { need } from '../backend.ts';

export type Schedule =
  | { kind: 'constant' }
  /** Robbins–Monro: α_t = α_0 (1 + t/τ)^(−κ), κ ∈ (0.5, 1] (DESIGN §1.2) */
  | { kind: 'robbins-monro'; tau: number; kappa: number }
  /** cosine decay from α_0 to α_0·floor over `total` steps, then flat */
  | { kind: 'cosine'; total: number; floor?: number }
  /** α_0 · gamma^floor(t / every) */
  | { kind: 'step'; every: number; gamma: number };

export function checkSchedule(s: Schedule): void {
  switch (s.kind) {
    case 'constant': return;
    case 'robbins-monro':
      need(s.tau > 0, 'schedule', `robbins-monro needs tau > 0, got ${s.tau}`);
      need(s.kappa > 0.5 && s.kappa <= 1, 'schedule', `robbins-monro needs kappa in (0.5, 1], got ${s.kappa}`);
      return;
    case 'cosine':
      need(s.total > 0, 'schedule', `cosine needs total > 0 steps, got ${s.total}`);
      return;
    case 'step':
      need(s.every > 0 && s.gamma > 0, 'schedule', `step needs every > 0 and gamma > 0, got ${s.every}, ${s.gamma}`);
      return;
    default:
      need(false, 'schedule', `unknown schedule ${JSON.stringify(s)}`);
  }
}

export function learningRate(base: number, s: Schedule, t: number): number {
  switch (s.kind) {
    case 'constant': return base;
    case 'robbins-monro': return base * Math.pow(1 + t / s.tau, -s.kappa);
    case 'cosine': {
      const f = s.floor ?? 0;
      const u = Math.min(1, t / s.total);
      return base * (f + (1 - f) * 0.5 * (1 + Math.cos(Math.PI * u)));
    }
    case 'step': return base * Math.pow(s.gamma, Math.floor(t / s.every));
  }
}

/** Parses "constant", "rm:TAU:KAPPA", "cosine:TOTAL[:FLOOR]", "step:EVERY:GAMMA". */
export function parseSchedule(text: string): Schedule {
  const [kind, ...args] = text.split(':');
  const nums = args.map(Number);
  let s: Schedule;
  switch (kind) {
    case 'constant': s = { kind: 'constant' }; break;
    case 'rm': case 'robbins-monro': s = { kind: 'robbins-monro', tau: nums[0] ?? 1000, kappa: nums[1] ?? 0.75 }; break;
    case 'cosine': s = { kind: 'cosine', total: nums[0] ?? NaN, floor: nums[1] }; break;
    case 'step': s = { kind: 'step', every: nums[0] ?? NaN, gamma: nums[1] ?? 0.5 }; break;
    default: throw new Error(`schedule: unknown kind '${kind}' (constant | rm:TAU:KAPPA | cosine:TOTAL[:FLOOR] | step:EVERY:GAMMA)`);
  }
  checkSchedule(s);
  return s;
}
