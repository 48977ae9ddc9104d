// `latentgpu sweep --model ppca|fa --latent 1..50`: the PPCA fit for every d of a range
// from one eigendecomposition (src/models/ppca/sweep.ts) or an FA EM fit per d, a table with the d each
// criterion chooses, and sweep.json and sweep.svg in the output folder.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { InvalidArgumentError } from 'commander';
import { validateForModel } from '../data/dataset.ts';
import type { LoadedData } from '../data/files.node.ts';
import { writeFileAtomic } from '../io/atomic.node.ts';
import type { Backend } from '../backend.ts';
import { faSweep } from '../models/fa/sweep.ts';
import { ppcaSweep } from '../models/ppca/sweep.ts';
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
  model: 'ppca' | 'fa';
  /** FA's EM fits run on a backend (the PPCA sweep is host float64 only) */
  backend?: () => Promise<Backend>;
  seed?: number;
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

type Row = Record<string, number | boolean>;
/** What the table and the plot read of either model's sweep. */
type AnySweep = { D: number; n_train: number; n_test: number; rows: Row[]; chosen: Record<string, number> };
const num = (k: string) => (r: Row): number => r[k] as number;

/** The readable table: one line per d, the chosen d of each criterion marked with *. */
export function sweepTable(s: AnySweep): string {
  const n = s.n_train;
  const first = s.rows[0]!;
  const cols: Array<[string, (r: Row) => string, string?]> = [['d', (r) => String(r.d)]];
  if ('sigma2' in first) cols.push(['sigma2', (r) => fmt(num('sigma2')(r), 5)]);
  cols.push(['train_loglik', (r) => fmt(num('train_loglik')(r), 4)], ['test_loglik', (r) => fmt(num('test_loglik')(r), 4), 'test_loglik']);
  cols.push(['params', (r) => String(r.params)], ['bic/n', (r) => fmt(num('bic')(r) / n, 4), 'bic']);
  if ('minka' in first) cols.push(['minka/n', (r) => fmt(num('minka')(r) / n, 4), 'minka']);
  if ('iterations' in first) cols.push(['iterations', (r) => String(r.iterations)], ['heywood', (r) => String(r.heywood)]);
  const lines = [cols.map(([h], i) => (i ? h.padStart(13) : h.padStart(4))).join('')];
  for (const r of s.rows) {
    lines.push(cols.map(([, v, key], i) => (i ? `${v(r)}${key ? (s.chosen[key] === r.d ? '*' : ' ') : ''}`.padStart(13) : v(r).padStart(4))).join(''));
  }
  const c = s.chosen;
  lines.push(`chosen d: held-out log-likelihood ${c.test_loglik}, BIC ${c.bic}${c.minka === undefined ? '' : `, Minka ${c.minka}`}`);
  return `${lines.join('\n')}\n`;
}

/**
 * The plot: test log-likelihood, −BIC/(2n) and (PPCA) Minka/n per d, all in
 * nats per sample, higher is better. Points below the lowest value any curve
 * takes at the first d are left out: past its peak the held-out log-likelihood
 * falls by orders of magnitude (MNIST: −1e8 at d = 655) and would flatten the rest.
 */
export function sweepSvg(s: AnySweep, title: string): string {
  const n = s.n_train;
  const c = s.chosen;
  const curves: Array<[string, string, (r: Row) => number]> = [
    [`held-out log-likelihood (best d = ${c.test_loglik})`, '#1f77b4', num('test_loglik')],
    [`−BIC/(2n) (best d = ${c.bic})`, '#d62728', (r) => -num('bic')(r) / (2 * n)],
  ];
  if (c.minka !== undefined) curves.push([`Minka log-evidence / n (best d = ${c.minka})`, '#2ca02c', (r) => num('minka')(r) / n]);
  const floor = Math.min(...curves.map(([, , y]) => y(s.rows[0]!)).filter(Number.isFinite));
  const chosen = `${c.test_loglik} (held-out), ${c.bic} (BIC)${c.minka === undefined ? '' : `, ${c.minka} (Minka)`}`;
  return lineChartSvg(
    curves.map(([name, color, y]) => ({ name, color, points: s.rows.map((r) => ({ x: num('d')(r), y: y(r) })).filter((p) => p.y >= floor) })),
    { title: `${title}: chosen d = ${chosen}`, xLabel: 'latent dimension d', yLabel: 'nats per sample (higher is better)' },
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
  let s: AnySweep & { eigenvalues?: Float64Array };
  if (run.model === 'ppca') {
    s = ppcaSweep({ name: train.name, host: train.x, n: train.n, D: train.D }, { host: test.x, n: test.n, D: test.D }, run.range[0], run.range[1]) as unknown as typeof s;
  } else {
    if (!run.backend) throw new Error('sweep: --model fa needs a backend');
    const backend = await run.backend();
    try {
      s = (await faSweep(backend, train, test, run.range[0], run.range[1], { seed: run.seed ?? 0 })) as unknown as typeof s;
    } finally {
      backend.destroy();
    }
  }
  const seconds = (performance.now() - started) / 1000;
  // Minka's evidence (PPCA) may be −∞ (a kept eigenvalue ~0), never NaN
  const bad = s.rows.find((r) => ![r.train_loglik, r.test_loglik, r.bic].every((v) => Number.isFinite(v)) || Number.isNaN(r.minka));
  if (bad) throw new Error(`sweep: d = ${bad.d} gave a non-finite log-likelihood on ${train.name}; standardise the data's columns`);
  const result = {
    command: 'sweep', model: run.model, data: run.data, train: train.name, test: test.name, n_train: s.n_train, n_test: s.n_test, D: s.D,
    latent: run.range, seconds, chosen: s.chosen, rows: s.rows, ...(s.eigenvalues ? { eigenvalues: Array.from(s.eigenvalues) } : {}), out_dir: dir,
  };
  // Minka's evidence is −∞ where a kept eigenvalue is 0: JSON writes it as null
  const json = `${JSON.stringify(result, null, 1)}\n`;
  mkdirSync(dir, { recursive: true });
  await writeFileAtomic(join(dir, 'sweep.json'), new TextEncoder().encode(json));
  await writeFileAtomic(join(dir, 'sweep.svg'), new TextEncoder().encode(sweepSvg(s, `${run.model === 'ppca' ? 'PPCA' : 'FA'} on ${train.name}`)));
  if (run.json) return `${JSON.stringify(result)}\n`;
  return `${sweepTable(s)}wrote ${join(dir, 'sweep.json')} and ${join(dir, 'sweep.svg')} (${seconds.toFixed(2)} s)\n`;
}
