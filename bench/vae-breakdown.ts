// Where the time of one VAE training step goes, per kernel call (issue #6).
// One step of Vae.step is recorded through a proxy of the backend (every kernel
// call with its parameters, in step order); then each recorded call is replayed
// alone, `inner` times back to back in one submission, closed by finish() and a
// one-element readback, and timed (median of reps). The whole step is timed the
// same way, so the table also shows what the isolated calls do not account for
// (submission, synchronisation). Matmul rows include the operand copies into
// textures that the texture variant records. Timestamp queries are not used:
// neither software adapter here offers 'timestamp-query'.
//   npx tsx bench/vae-breakdown.ts --backend llvmpipe|swiftshader|cpu [--batch 128] [--reps 5]
// Writes bench/results/vae-breakdown-<backend>.json and .md.
// Entry point for other scripts: vaeStepBreakdown(backend, options).
import { mkdirSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { VIEW_ALIGN, Vae, classicVaeConfig, type Backend, type KernelSet, type Tensor, type VaeConfig } from '../src/index.ts';
import { timeKernel } from './timing.ts';

/** Kernel-set methods: what the proxy records. */
const KERNELS: readonly (keyof KernelSet<Tensor>)[] = [
  'matmul', 'gaussianLogDensity', 'gaussianLogDensityBackward', 'bernoulliLogLik', 'bernoulliLogLikBackward',
  'uniform', 'normal', 'reparamDiag', 'reparamDiagBackward', 'reparamChol', 'sumRows', 'sumCols', 'sumAll',
  'countNonFinite', 'activation', 'activationBackward', 'axpy', 'scale', 'fill', 'copy', 'klStdNormal',
  'klStdNormalBackward', 'adam', 'sgd', 'gatherRows', 'scatterRows',
];

interface Recorded { kernel: string; params: Record<string, unknown> }

export interface KernelCallTiming {
  /** position in the step */
  index: number;
  kernel: string;
  /** shape and options, e.g. "128×400×784 transB" */
  detail: string;
  /** median ms per call, replayed alone */
  ms: number;
  /** median process CPU ms per call (steadier than wall time on a shared machine) */
  cpuMs: number;
  min: number;
  max: number;
  /** share of the whole step's median */
  share: number;
}

export interface VaeBreakdown {
  backend: string;
  summary: string;
  network: string;
  batch: number;
  date: string;
  /** load average (1, 5, 15 min) at start and end: the adapters share the CPU with everything else */
  loadavg: { start: number[]; end: number[] };
  /** the whole step (all its calls, one submission), median ms */
  stepMs: number;
  /** process CPU ms per step, all threads */
  stepCpuMs: number;
  stepMin: number;
  stepMax: number;
  /** Σ of the isolated calls' medians */
  sumOfCallsMs: number;
  calls: KernelCallTiming[];
  /** the calls grouped by kernel name, largest first */
  byKernel: { kernel: string; calls: number; ms: number; cpuMs: number; share: number }[];
  reps: number;
}

export interface BreakdownOptions {
  cfg?: VaeConfig;
  /** label of cfg in the report */
  network?: string;
  batch?: number;
  /** timed samples per call (median reported) */
  reps?: number;
  /** each sample runs a call this many ms or more (the call repeated), capped at 64 repeats */
  minSampleMs?: number;
  /** training rows n×D (default: deterministic pseudo-random pixels in [0, 1]) */
  data?: { x: Float32Array; n: number };
  log?: (line: string) => void;
}

function describe(kernel: string, p: Record<string, unknown>): string {
  const num = (k: string) => (typeof p[k] === 'number' ? (p[k] as number) : undefined);
  if (kernel === 'matmul') {
    const flags = [p.transA && 'transA', p.transB && 'transB', p.bias && 'bias', p.act && p.act !== 'identity' && String(p.act), p.accumulate && 'acc']
      .filter(Boolean).join(' ');
    return `${num('m')}×${num('n')}×${num('k')}${flags ? ` ${flags}` : ''}`;
  }
  const parts: string[] = [];
  if (num('rows') !== undefined) parts.push(`${num('rows')}×${num('cols') ?? num('d')}`);
  else if (num('n') !== undefined) parts.push(`n=${num('n')}`);
  if (typeof p.act === 'string') parts.push(p.act);
  if (p.accumulate) parts.push('acc');
  return parts.join(' ');
}

/** A backend whose kernel calls are also appended to `log` (while `on`). */
function recording(be: Backend): { proxy: Backend; calls: Recorded[]; setOn(v: boolean): void } {
  const calls: Recorded[] = [];
  let on = false;
  const names = new Set<string>(KERNELS);
  const proxy = new Proxy(be, {
    get(target, prop, receiver) {
      const v = Reflect.get(target, prop, receiver) as unknown;
      if (typeof v !== 'function') return v;
      if (typeof prop === 'string' && names.has(prop)) {
        return (p: Record<string, unknown>) => {
          if (on) calls.push({ kernel: prop, params: { ...p } });
          return (v as (q: unknown) => unknown).call(target, p);
        };
      }
      return (v as (...a: unknown[]) => unknown).bind(target);
    },
  });
  return { proxy, calls, setOn: (v) => { on = v; } };
}

/** Deterministic pseudo-pixels in [0, 1] (a stand-in for MNIST when no data is given). */
function syntheticRows(n: number, D: number): Float32Array {
  const x = new Float32Array(n * D);
  let s = 12345;
  for (let i = 0; i < x.length; i++) {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    x[i] = (s >>> 8) / 16777216;
  }
  return x;
}

/**
 * Times one training step of the VAE (default: the classic 784-400-20 Bernoulli
 * network at batch 128) and each of its kernel calls alone on `backend`.
 */
export async function vaeStepBreakdown(backend: Backend, o: BreakdownOptions = {}): Promise<VaeBreakdown> {
  const cfg = o.cfg ?? classicVaeConfig();
  const batch = o.batch ?? 128;
  const reps = o.reps ?? 5;
  const minSampleMs = o.minSampleMs ?? 100;
  const log = o.log ?? (() => {});
  const load0 = loadavg();
  const n = o.data?.n ?? Math.max(batch, 512);
  const x = o.data?.x ?? syntheticRows(n, cfg.dataDim);
  const rec = recording(backend);
  const vae = new Vae(rec.proxy, cfg, x, n);
  const idx = backend.tensor(batch, { dtype: 'u32', label: 'breakdown idx', data: Uint32Array.from({ length: batch }, (_, i) => (i * 7) % n) });
  const sums = backend.tensor(2 * VIEW_ALIGN, { label: 'breakdown sums' });
  const sumLogLik = backend.view(sums, 0, 1);
  const sumKl = backend.view(sums, VIEW_ALIGN, 1);
  const probe = backend.tensor(1, { label: 'breakdown probe' });
  let step = 0;
  const runStep = () => {
    vae.step({ idx, rows: batch, step: step++, epoch: 0, lr: 1e-3, sumLogLik, sumKl });
    backend.flush();
  };
  try {
    runStep(); // warm-up: pipelines compiled, buffers allocated
    await backend.finish();
    rec.setOn(true);
    runStep();
    rec.setOn(false);
    await backend.finish();
    const whole = await timeKernel(backend, runStep, probe, { reps, minSampleMs });
    log(`whole step: ${whole.median.toFixed(2)} ms`);
    const calls: KernelCallTiming[] = [];
    for (const [i, c] of rec.calls.entries()) {
      const fn = (backend as unknown as Record<string, (p: unknown) => void>)[c.kernel]!.bind(backend);
      const t = await timeKernel(backend, () => { fn(c.params); backend.flush(); }, probe, { reps, minSampleMs });
      const detail = describe(c.kernel, c.params);
      calls.push({ index: i, kernel: c.kernel, detail, ms: t.median, cpuMs: t.cpuMs, min: t.min, max: t.max, share: t.median / whole.median });
      log(`  ${i} ${c.kernel} ${detail}: ${t.median.toFixed(3)} ms (${t.cpuMs.toFixed(3)} CPU ms)`);
    }
    const groups = new Map<string, { calls: number; ms: number; cpuMs: number }>();
    for (const c of calls) {
      const g = groups.get(c.kernel) ?? { calls: 0, ms: 0, cpuMs: 0 };
      g.calls++;
      g.ms += c.ms;
      g.cpuMs += c.cpuMs;
      groups.set(c.kernel, g);
    }
    const byKernel = [...groups.entries()].map(([kernel, g]) => ({ kernel, ...g, share: g.ms / whole.median })).sort((a, b) => b.ms - a.ms);
    return {
      backend: backend.info.backend, summary: backend.info.summary,
      network: o.network ?? `${cfg.dataDim}-${cfg.encoderHidden.join('-')}-${cfg.latent} ${cfg.likelihood}`,
      batch, date: new Date().toISOString(), loadavg: { start: load0, end: loadavg() },
      stepMs: whole.median, stepCpuMs: whole.cpuMs, stepMin: whole.min, stepMax: whole.max,
      sumOfCallsMs: calls.reduce((s, c) => s + c.ms, 0), calls, byKernel, reps,
    };
  } finally {
    vae.release();
    for (const t of [idx, sums, probe]) backend.release(t);
  }
}

export function breakdownMarkdown(b: VaeBreakdown): string {
  const f = (v: number) => (v >= 10 ? v.toFixed(1) : v.toFixed(3));
  const pct = (v: number) => `${(100 * v).toFixed(1)}%`;
  const lines = [
    `### One VAE step on ${b.summary}: ${b.network}, batch ${b.batch}`,
    '',
    `${b.date}; load average ${b.loadavg.start.map((v) => v.toFixed(2)).join('/')} at start, ${b.loadavg.end.map((v) => v.toFixed(2)).join('/')} at end.`,
    `Whole step (one submission, finish + readback): median ${f(b.stepMs)} ms (${f(b.stepMin)}–${f(b.stepMax)}), ${(1000 * b.batch / b.stepMs).toFixed(0)} samples/s; ` +
      `${f(b.stepCpuMs)} ms of process CPU time (all threads), ${(1000 * b.batch / b.stepCpuMs).toFixed(0)} samples per CPU-second. ` +
      `Σ of the ${b.calls.length} calls timed alone: ${f(b.sumOfCallsMs)} ms.`,
    '',
    '| kernel | calls | ms | CPU ms | share of step |',
    '|---|---:|---:|---:|---:|',
    ...b.byKernel.map((g) => `| ${g.kernel} | ${g.calls} | ${f(g.ms)} | ${f(g.cpuMs)} | ${pct(g.share)} |`),
    '',
    '| # | kernel | shape | ms (median) | min–max | CPU ms | share |',
    '|---:|---|---|---:|---:|---:|---:|',
    ...b.calls.map((c) => `| ${c.index} | ${c.kernel} | ${c.detail} | ${f(c.ms)} | ${f(c.min)}–${f(c.max)} | ${f(c.cpuMs)} | ${pct(c.share)} |`),
    '',
  ];
  return lines.join('\n');
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const arg = (name: string): string | undefined => {
    const i = args.indexOf(`--${name}`);
    return i >= 0 ? args[i + 1] : undefined;
  };
  const choice = arg('backend') ?? 'llvmpipe';
  const batch = Number(arg('batch') ?? 128);
  const reps = Number(arg('reps') ?? 5);
  let be: Backend;
  if (choice === 'cpu') {
    const { createCpuBackend } = await import('../src/index.ts');
    be = await createCpuBackend();
  } else {
    const { createWebGpuBackend } = await import('../src/index.ts');
    be = await createWebGpuBackend(choice as 'llvmpipe' | 'swiftshader');
  }
  const { loadMnist } = await import('../src/index.ts');
  const { train: ds } = loadMnist();
  const b = await vaeStepBreakdown(be, { batch, reps, data: { x: ds.x, n: ds.n }, network: '784-400-20 (classic)', log: (l) => process.stderr.write(`${l}\n`) });
  const dir = join(dirname(fileURLToPath(import.meta.url)), 'results');
  mkdirSync(dir, { recursive: true });
  const md = breakdownMarkdown(b);
  writeFileSync(join(dir, `vae-breakdown-${choice}.json`), `${JSON.stringify(b, null, 2)}\n`);
  writeFileSync(join(dir, `vae-breakdown-${choice}.md`), md);
  process.stdout.write(md);
  be.destroy();
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  await main();
  process.exit(0);
}
