// The scale curve (issue 14 item 5): throughput and memory of the streaming fitters
// against the number of rows, n = 10⁴ … 10⁷ at D = 784, on generated rows (a
// synthetic PPCA RowSource, src/data/generated.ts: row i from (seed, i), never all in
// memory). Every point runs the SAME number of steps (minibatches), so samples/s are
// comparable across n; each runs in its own child process, whose peak RSS (VmHWM)
// is that point's alone. The first WARM_STEPS steps (the first chunk's read) count as setup. Device memory is the WebGPU backend's allocated bytes
// (pooled buffers included: the peak); the CPU backend's rows are host memory.
//   npx tsx bench/scale.ts [--targets cpu,llvmpipe,swiftshader] [--methods vae,sem,oem]
//        [--n 1e4,1e5,1e6,1e7] [--max-n cpu=1e7,llvmpipe=1e7,swiftshader=1e6]
//        [--steps 200] [--batch 128] [--reps 1] [--host-memory MB] [--device-memory MB] [--out NAME|PATH]
// --reps R sweeps the n values R times in turn (n₁ n₂ … n₁ n₂ …) and reports each point's median
// samples/s with its range: on a shared machine the load drifts between points.
// Writes bench/results/NAME.json and .md (default NAME: scale), or PATH.json and .md when it holds a '/'.
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  PpcaStream, Trainer, Vae, classicVaeConfig, createCpuBackend, createOemFitter, createSemFitter, createWebGpuBackend, generatedPpca,
  type Backend, type StochasticFitter,
} from '../src/index.ts';

const here = dirname(fileURLToPath(import.meta.url));
const ROOT = join(here, '..');
const args = process.argv.slice(2);
const arg = (name: string, fallback: string): string => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && args[i + 1] !== undefined ? args[i + 1]! : fallback;
};

const D = 784;
const LATENT = 10;
const MB = 2 ** 20;
/** steps run before the timed ones (the first chunk is read during them) */
const WARM_STEPS = 5;

/** One point of the curve, as the child measures it. */
export interface ScalePoint {
  target: string;
  adapter: string;
  method: string;
  n: number;
  steps: number;
  batch: number;
  /** samples per second over the timed steps (the median over --reps) */
  samplesPerSecond: number;
  /** every repetition's samples/s */
  samples?: number[];
  seconds: number;
  /** seconds before the first step (statistics passes, buffers) */
  setupSeconds: number;
  /** peak resident set of the child process (VmHWM), MiB */
  peakRssMB: number;
  /** the WebGPU backend's allocated buffer bytes at the end (its peak: buffers are pooled, not freed), MiB; null on the CPU backend */
  deviceMB: number | null;
  /** 1-minute load average before and after */
  load: [number, number];
  /** why the point did not run (a method not yet streaming, an error) */
  error?: string;
}

interface ChildSpec {
  target: string;
  method: string;
  n: number;
  steps: number;
  batch: number;
  hostMB?: number;
  deviceMB?: number;
}

function peakRssMB(): number {
  const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'));
  return m ? Number(m[1]) / 1024 : process.memoryUsage().rss / MB;
}

async function backendFor(target: string): Promise<Backend> {
  return target === 'cpu' ? createCpuBackend() : createWebGpuBackend(target as 'llvmpipe' | 'swiftshader' | 'gpu');
}

function deviceMB(be: Backend): number | null {
  const stats = (be as { memoryStats?: () => { bytes: number } }).memoryStats?.();
  return stats ? stats.bytes / MB : null;
}

/** A method's run over a source: `steps` minibatches of `batch`; returns seconds of setup and of the steps. */
type Runner = (be: Backend, spec: ChildSpec, n: number, steps: number) => Promise<{ setup: number; seconds: number }>;

/** the memory budget of a point (--host-memory, --device-memory) */
function budgetOf(spec: ChildSpec): { hostBytes?: number; deviceBytes?: number } {
  return { ...(spec.hostMB ? { hostBytes: spec.hostMB * MB } : {}), ...(spec.deviceMB ? { deviceBytes: spec.deviceMB * MB } : {}) };
}

/**
 * Stochastic or online EM over the generated rows: the statistics pass (PpcaStream.open)
 * is setup, then WARM_STEPS steps, then `steps` timed steps; no evaluation (an exact
 * log-likelihood is a full pass over the rows).
 */
function ppcaRunner(make: (be: Backend, stream: PpcaStream, batch: number) => StochasticFitter, norms: boolean): Runner {
  return async (be, spec, n, steps) => {
    const t0 = performance.now();
    const stream = await PpcaStream.open(be, generatedPpca({ n, D, d: LATENT, seed: 1 }), { batch: spec.batch, memory: budgetOf(spec), norms });
    const fitter = make(be, stream, spec.batch);
    try {
      await fitter.step(WARM_STEPS);
      const t1 = performance.now();
      await fitter.step(steps);
      return { setup: (t1 - t0) / 1000, seconds: (performance.now() - t1) / 1000 };
    } finally {
      fitter.dispose();
    }
  };
}

const RUNNERS: Record<string, Runner> = {
  sem: ppcaRunner((be, stream, batch) => createSemFitter(be, stream, { d: LATENT, batch, lr: 0.01, optimizer: 'adam', seed: 1, evalEvery: 0 }), false),
  oem: ppcaRunner((be, stream, batch) => createOemFitter(be, stream, { d: LATENT, batch, kappa: 0.6, seed: 1, evalEvery: 0 }), true),
  async vae(be, spec, n, steps) {
    const t0 = performance.now();
    const source = generatedPpca({ n, D, d: LATENT, seed: 1 });
    const memory = budgetOf(spec);
    // the classic network with a Gaussian decoder (the generated rows are not in [0, 1])
    const vae = new Vae(be, { ...classicVaeConfig(D), likelihood: 'gaussian' }, source, undefined, { memory, batch: spec.batch, columnVariance: source.columnVariance });
    const trainer = new Trainer(vae, { batch: spec.batch, lr: 1e-3, seed: 1 });
    try {
      // the first chunk's read and the first steps are setup; then `steps` steps are timed
      await trainer.tick(WARM_STEPS);
      const t1 = performance.now();
      await trainer.tick(steps);
      return { setup: (t1 - t0) / 1000, seconds: (performance.now() - t1) / 1000 };
    } finally {
      trainer.release();
      vae.release();
    }
  },
};

/** Runs one point in this process (the child side). */
async function child(spec: ChildSpec): Promise<ScalePoint> {
  const be = await backendFor(spec.target);
  const run = RUNNERS[spec.method];
  const load0 = loadavg()[0]!;
  const base = { target: spec.target, adapter: be.info.summary, method: spec.method, n: spec.n, steps: spec.steps, batch: spec.batch };
  if (!run) return { ...base, samplesPerSecond: NaN, seconds: NaN, setupSeconds: NaN, peakRssMB: peakRssMB(), deviceMB: null, load: [load0, load0], error: `no streaming runner for '${spec.method}' yet` };
  try {
    // compile the pipelines on a small source first, so no point pays for them
    await run(be, spec, 4 * spec.batch, 3);
    const r = await run(be, spec, spec.n, spec.steps);
    return {
      ...base, samplesPerSecond: (spec.steps * spec.batch) / r.seconds, seconds: r.seconds, setupSeconds: r.setup,
      peakRssMB: peakRssMB(), deviceMB: deviceMB(be), load: [load0, loadavg()[0]!],
    };
  } catch (e) {
    return { ...base, samplesPerSecond: NaN, seconds: NaN, setupSeconds: NaN, peakRssMB: peakRssMB(), deviceMB: deviceMB(be), load: [load0, loadavg()[0]!], error: (e as Error).message.split('\n')[0]! };
  } finally {
    be.destroy();
  }
}

/** One point from its repetitions: the median samples/s (their range in `samples`), the largest RSS and device memory, the first and last load. */
export function medianPoint(runs: ScalePoint[]): ScalePoint {
  const ok = runs.filter((p) => !p.error);
  if (ok.length === 0) return runs[0]!;
  const rates = ok.map((p) => p.samplesPerSecond).sort((a, b) => a - b);
  const mid = rates.length >> 1;
  const median = rates.length % 2 ? rates[mid]! : (rates[mid - 1]! + rates[mid]!) / 2;
  const most = (f: (p: ScalePoint) => number | null): number | null => (ok.some((p) => f(p) !== null) ? Math.max(...ok.map((p) => f(p) ?? 0)) : null);
  return {
    ...ok[0]!, samplesPerSecond: median, samples: ok.map((p) => p.samplesPerSecond), peakRssMB: most((p) => p.peakRssMB)!, deviceMB: most((p) => p.deviceMB),
    load: [ok[0]!.load[0], ok.at(-1)!.load[1]],
  };
}

/** Markdown table: one row per (target, method, n), throughput relative to the smallest n of its (target, method). */
export function scaleTable(points: ScalePoint[]): string {
  const lines = [
    '| target | method | n | samples/s (median) | range | vs smallest n | setup s | peak RSS MiB | device MiB | load |',
    '|---|---|---:|---:|---:|---:|---:|---:|---:|---|',
  ];
  for (const p of points) {
    const first = points.find((q) => q.target === p.target && q.method === p.method && !q.error);
    const ratio = first && !p.error ? (p.samplesPerSecond / first.samplesPerSecond).toFixed(2) : '';
    const fix = (v: number | null, k = 0) => (v === null || !Number.isFinite(v) ? '–' : v.toFixed(k));
    const range = p.samples && p.samples.length > 1 ? `${fix(Math.min(...p.samples))}–${fix(Math.max(...p.samples))}` : '';
    lines.push(`| ${p.target} | ${p.method} | ${p.n.toExponential(0).replace('e+', 'e')} | ${p.error ? `not run: ${p.error}` : fix(p.samplesPerSecond)} | ${range} | ${ratio} | ${fix(p.setupSeconds, 1)} | ${fix(p.peakRssMB)} | ${fix(p.deviceMB)} | ${p.load[0].toFixed(1)}→${p.load[1].toFixed(1)} |`);
  }
  return lines.join('\n');
}

/** The line of a failed child's stderr that says why: its first error line, else its last line. */
function childError(stderr: string): string {
  const lines = stderr.trim().split('\n').filter((l) => !l.startsWith('Warning:'));
  return (lines.find((l) => /error/i.test(l)) ?? lines.at(-1) ?? '').trim().slice(0, 200);
}

async function main(): Promise<void> {
  if (args[0] === '--child') {
    process.stdout.write(`${JSON.stringify(await child(JSON.parse(args[1]!) as ChildSpec))}\n`);
    return;
  }
  const targets = arg('targets', 'cpu,llvmpipe,swiftshader').split(',');
  const methods = arg('methods', 'vae,sem,oem').split(',');
  const ns = arg('n', '1e4,1e5,1e6,1e7').split(',').map(Number);
  const maxN = Object.fromEntries(arg('max-n', 'cpu=1e7,llvmpipe=1e7,swiftshader=1e6').split(',').map((kv) => {
    const [k, v] = kv.split('=');
    return [k!, Number(v)];
  }));
  const steps = Number(arg('steps', '200'));
  const batch = Number(arg('batch', '128'));
  const hostMB = args.includes('--host-memory') ? Number(arg('host-memory', '')) : undefined;
  const devMB = args.includes('--device-memory') ? Number(arg('device-memory', '')) : undefined;
  const reps = Number(arg('reps', '1'));
  const points: ScalePoint[] = [];
  for (const target of targets) {
    for (const method of methods) {
      const sweep = ns.filter((v) => v <= (maxN[target] ?? Infinity));
      const runs: ScalePoint[][] = sweep.map(() => []);
      for (let r = 0; r < reps; r++) for (const [i, n] of sweep.entries()) {
        const spec: ChildSpec = { target, method, n, steps, batch, ...(hostMB ? { hostMB } : {}), ...(devMB ? { deviceMB: devMB } : {}) };
        const r = spawnSync(join(ROOT, 'node_modules', '.bin', 'tsx'), [fileURLToPath(import.meta.url), '--child', JSON.stringify(spec)], { cwd: ROOT, encoding: 'utf8', maxBuffer: 1 << 24 });
        const last = r.stdout.trim().split('\n').at(-1) ?? '';
        let p: ScalePoint;
        try {
          p = JSON.parse(last) as ScalePoint;
        } catch {
          p = { target, adapter: '', method, n, steps, batch, samplesPerSecond: NaN, seconds: NaN, setupSeconds: NaN, peakRssMB: NaN, deviceMB: null, load: [loadavg()[0]!, loadavg()[0]!], error: `child failed (${r.status}): ${childError(r.stderr ?? '')}` };
        }
        runs[i]!.push(p);
        process.stderr.write(`${target} ${method} n=${n}: ${p.error ?? `${p.samplesPerSecond.toFixed(0)} samples/s, setup ${p.setupSeconds.toFixed(1)} s, RSS ${p.peakRssMB.toFixed(0)} MiB, device ${p.deviceMB?.toFixed(0) ?? '–'} MiB`}\n`);
      }
      for (const got of runs) points.push(medianPoint(got));
    }
  }
  const name = arg('out', 'scale');
  const base = name.includes('/') ? name : join(here, 'results', name);
  mkdirSync(dirname(base), { recursive: true });
  const meta = { date: new Date().toISOString(), D, latent: LATENT, steps, batch, reps, hostMB: hostMB ?? null, deviceMB: devMB ?? null, adapters: [...new Set(points.map((p) => p.adapter))] };
  writeFileSync(`${base}.json`, `${JSON.stringify({ ...meta, points }, null, 2)}\n`);
  const md = [
    `# Scale curve: ${steps} steps of ${batch} rows at every n (D = ${D}, generated rows)`, '',
    `Measured ${meta.date}; adapters: ${meta.adapters.join('; ')}. \`npx tsx bench/scale.ts ${args.join(' ')}\`.`, '',
    scaleTable(points), '',
  ].join('\n');
  writeFileSync(`${base}.md`, md);
  process.stdout.write(md);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  await main();
  process.exit(0);
}
