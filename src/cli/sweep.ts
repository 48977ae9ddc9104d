// `latentgpu sweep --model ppca --latent 1..50`: the PPCA fit for every d of a range
// from one eigendecomposition (src/models/ppca/sweep.ts), a table with the d each
// criterion chooses, and sweep.json and sweep.svg in the output folder.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { InvalidArgumentError } from 'commander';
import { validateForModel } from '../data/dataset.ts';
import type { LoadedData } from '../data/files.node.ts';
import { writeFileAtomic } from '../io/atomic.node.ts';
import { ppcaSweep, type PpcaSweep, type SweepRow } from '../models/ppca/sweep.ts';
import { lineChartSvg } from '../report/curve.ts';
import { FLAG_LIMITS, count } from './options.ts';
import { checkOutputs, type PathInput } from './outputs.ts';

/** Columns above which the sweep's full D×D eigendecomposition (float64, on the host, O(D³): ~11 s at D = 784) is refused. */
export const SWEEP_MAX_D = 1024;

/** `--latent first..last` (or one d): both from 1 to the latent limit, first ≤ last. */
export function latentRange(v: string): [number, number] {
  const m = /^\s*(\d{1,9})\s*(?:\.\.\s*(\d{1,9})\s*)?$/.exec(v);
  const lo = m ? Number(m[1]) : NaN;
  const hi = m ? Number(m[2] ?? m[1]) : NaN;
  if (!(lo >= 1 && hi >= lo && hi <= FLAG_LIMITS.latent)) {
    throw new InvalidArgumentError(`It must be first..last (e.g. 1..50) or one d, with 1 ≤ first ≤ last ≤ ${count(FLAG_LIMITS.latent)}.`);
  }
  return [lo, hi];
}

export interface SweepRun {
  model: 'ppca';
  range: [number, number];
  /** --out-dir as given, or undefined for runs/<time>-sweep */
  outDir?: string;
  json: boolean;
  /** the data files read (checked against the outputs) */
  inputs: PathInput[];
  data: string;
  load(): LoadedData;
}

function stamp(): string {
  return new Date().toISOString().replace(/[:.]/g, '-').replace('T', '_').slice(0, 19);
}

const fmt = (v: number, digits: number): string => (Number.isFinite(v) ? v.toFixed(digits) : String(v));

/** The readable table: one line per d, the chosen d of each criterion marked with *. */
export function sweepTable(s: PpcaSweep): string {
  const head = ['d', 'sigma2', 'train_loglik', 'test_loglik', 'params', 'bic/n', 'minka/n'];
  const lines = [head.map((h, i) => (i ? h.padStart(13) : h.padStart(4))).join('')];
  for (const r of s.rows) {
    const mark = (on: boolean, t: string): string => `${t}${on ? '*' : ' '}`.padStart(13);
    lines.push(
      String(r.d).padStart(4) + fmt(r.sigma2, 5).padStart(13) + fmt(r.train_loglik, 4).padStart(13) +
        mark(s.chosen.test_loglik === r.d, fmt(r.test_loglik, 4)) + String(r.params).padStart(13) +
        mark(s.chosen.bic === r.d, fmt(r.bic / s.n_train, 4)) + mark(s.chosen.minka === r.d, fmt(r.minka / s.n_train, 4)),
    );
  }
  const c = s.chosen;
  lines.push(`chosen d: held-out log-likelihood ${c.test_loglik}, BIC ${c.bic}, Minka ${c.minka}`);
  return `${lines.join('\n')}\n`;
}

/**
 * The plot: test log-likelihood, −BIC/(2n) and Minka/n per d (all in nats per
 * sample, higher is better). Points below the lowest value any curve takes at
 * the first d are left out: past its peak the held-out log-likelihood falls by
 * orders of magnitude (MNIST: −1e8 at d = 655) and would flatten the rest.
 */
export function sweepSvg(s: PpcaSweep, title: string): string {
  const n = s.n_train;
  const c = s.chosen;
  const curves: Array<[string, string, (r: SweepRow) => number]> = [
    [`held-out log-likelihood (best d = ${c.test_loglik})`, '#1f77b4', (r) => r.test_loglik],
    [`−BIC/(2n) (best d = ${c.bic})`, '#d62728', (r) => -r.bic / (2 * n)],
    [`Minka log-evidence / n (best d = ${c.minka})`, '#2ca02c', (r) => r.minka / n],
  ];
  const floor = Math.min(...curves.map(([, , y]) => y(s.rows[0]!)).filter(Number.isFinite));
  return lineChartSvg(
    curves.map(([name, color, y]) => ({ name, color, points: s.rows.map((r) => ({ x: r.d, y: y(r) })).filter((p) => p.y >= floor) })),
    { title: `${title}: chosen d = ${c.test_loglik} (held-out), ${c.bic} (BIC), ${c.minka} (Minka)`, xLabel: 'latent dimension d', yLabel: 'nats per sample (higher is better)' },
  );
}

/** Checks the outputs, loads the data, sweeps, writes sweep.json and sweep.svg; returns what to print. */
export async function runSweep(run: SweepRun): Promise<string> {
  const dir = run.outDir ?? join('runs', `${stamp()}-sweep`);
  const files = ['sweep.json', 'sweep.svg'];
  checkOutputs({ inputs: run.inputs, runDir: { path: dir, given: run.outDir !== undefined, flag: '--out-dir' }, runFiles: files });
  const { train, test } = run.load();
  // no rows, or a NaN/infinite entry: the one-line data error train gives
  validateForModel(train, {});
  validateForModel(test, {});
  if (train.D > SWEEP_MAX_D) {
    throw new Error(`sweep: ${train.name} has ${count(train.D)} columns; the sweep decomposes the full ${train.D}×${train.D} covariance on the host and takes at most ${count(SWEEP_MAX_D)}`);
  }
  const started = performance.now();
  const s = ppcaSweep({ name: train.name, host: train.x, n: train.n, D: train.D }, { host: test.x, n: test.n, D: test.D }, run.range[0], run.range[1]);
  const seconds = (performance.now() - started) / 1000;
  // Minka's evidence may be −∞ (a kept eigenvalue ~0), never NaN
  const bad = s.rows.find((r) => ![r.train_loglik, r.test_loglik, r.bic].every(Number.isFinite) || Number.isNaN(r.minka));
  if (bad) throw new Error(`sweep: d = ${bad.d} gave a non-finite log-likelihood on ${train.name}; standardise the data's columns`);
  const result = {
    command: 'sweep', model: run.model, data: run.data, train: train.name, test: test.name, n_train: s.n_train, n_test: s.n_test, D: s.D,
    latent: run.range, seconds, chosen: s.chosen, rows: s.rows, eigenvalues: Array.from(s.eigenvalues), out_dir: dir,
  };
  // Minka's evidence is −∞ where a kept eigenvalue is 0: JSON writes it as null
  const json = `${JSON.stringify(result, null, 1)}\n`;
  mkdirSync(dir, { recursive: true });
  await writeFileAtomic(join(dir, 'sweep.json'), new TextEncoder().encode(json));
  await writeFileAtomic(join(dir, 'sweep.svg'), new TextEncoder().encode(sweepSvg(s, `PPCA on ${train.name}`)));
  if (run.json) return `${JSON.stringify(result)}\n`;
  return `${sweepTable(s)}wrote ${join(dir, 'sweep.json')} and ${join(dir, 'sweep.svg')} (${seconds.toFixed(2)} s)\n`;
}
