// CPU benchmark of the WebAssembly SIMD backend (src/wasm) against the
// TypeScript reference backend, TensorFlow.js's WASM backend and PyTorch on the
// CPU, in one process that never creates a WebGPU instance (Dawn can keep a
// core busy: DESIGN §3).
//   matmul 512³ and the classic VAE's shapes: GFLOP/s of each timed call after
//   warm-up, by wall time and by process CPU time (the machine is shared: CPU
//   time is what the call cost whoever else ran), median and best, 1 and 2 threads,
//   and the 2-thread speedup at 512³ paired call by call (pairedScaling), which the
//   host's drift does not bias;
//   classic VAE training (batch 128, MNIST): samples/s, wall and per CPU-second,
//   median and best of several runs;
//   PyTorch (scripts/bench-vae-torch.py with Debian's /usr/bin/python3, if it
//   imports torch): the same model's training throughput.
// Every row records the 1-minute load average when it was measured.
// Writes bench/results/cpu-wasm-<date>.json and .md. A partial run (--quick or
// any --no-…, e.g. bench/run.ts's TF.js anchor) does not replace a full run's
// files of the same day: it then writes cpu-wasm-<date>-partial.json and .md.
// Usage:
//   npx tsx bench/cpu-wasm.ts [--quick] [--no-tfjs] [--no-vae] [--no-torch]
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { CpuBackend, Vae, classicVaeConfig, loadMnist, train, type Backend } from '../src/index.ts';
import { createWasmBackend } from '../src/lib/kernels.node.ts';

const quick = process.argv.includes('--quick');
const reps = quick ? 5 : 21;

interface Row {
  what: string; backend: string; threads: number; unit: string;
  /** wall milliseconds of the median and the fastest timed call (run); bench/run.ts reads medianMs */
  medianMs: number; bestMs: number;
  /** throughput by wall time: median and best over the timed calls (runs) */
  median: number; best: number;
  /** throughput per second of process CPU time (all threads): median and best */
  cpuMedian: number; cpuBest: number;
  /** process CPU time / wall time over the timed calls: how many cores the run actually got */
  coresUsed: number;
  /** 1-minute load average after the row was measured */
  load: number;
  samples: number;
}
const rows: Row[] = [];

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) >> 1]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
}

/** Wall and CPU milliseconds of each of n timed calls (after warm-up calls). */
function timeCalls(run: () => void, warm: number, n: number): { wall: number[]; cpu: number[] } {
  for (let i = 0; i < warm; i++) run();
  const wall: number[] = [], cpu: number[] = [];
  for (let i = 0; i < n; i++) {
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    run();
    wall.push(performance.now() - t0);
    const c = process.cpuUsage(c0);
    cpu.push((c.user + c.system) / 1000);
  }
  return { wall, cpu };
}

/** A row from per-call (or per-run) amounts of work and their wall/CPU milliseconds. */
function addRow(what: string, backend: string, threads: number, unit: string, work: number, wall: number[], cpu: number[]): Row {
  // CPU time is counted in scheduler ticks on some kernels: a zero would be an infinite rate
  const cpuOk = cpu.filter((c) => c > 0);
  const r: Row = {
    what, backend, threads, unit, medianMs: median(wall), bestMs: Math.min(...wall),
    median: work / median(wall), best: work / Math.min(...wall),
    cpuMedian: cpuOk.length ? work / median(cpuOk) : NaN, cpuBest: cpuOk.length ? work / Math.min(...cpuOk) : NaN,
    coresUsed: cpu.reduce((a, b) => a + b, 0) / wall.reduce((a, b) => a + b, 0),
    load: loadavg()[0]!, samples: wall.length,
  };
  rows.push(r);
  console.log(`${backend} ×${threads} ${what}: ${f(r.median)} ${unit} median, ${f(r.best)} best; per CPU-second ${f(r.cpuMedian)} median, ` +
    `${f(r.cpuBest)} best (cores used ${r.coresUsed.toFixed(2)}, load ${r.load.toFixed(1)})`);
  return r;
}

function f(x: number): string {
  return Number.isFinite(x) ? (x >= 100 ? x.toFixed(0) : x.toFixed(1)) : '–';
}

function fill(n: number, seed: number): Float32Array {
  const a = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    a[i] = s / 2 ** 32 - 0.5;
  }
  return a;
}

interface Shape { name: string; m: number; n: number; k: number; transA?: boolean; transB?: boolean }
// 512³ is the issue's yardstick; the others are the classic VAE's (784-400-20) per-step matmuls
const SHAPES: Shape[] = [
  { name: '512³', m: 512, n: 512, k: 512 },
  { name: 'VAE fwd 128×400×784', m: 128, n: 400, k: 784 },
  { name: 'VAE dX 128×784×400ᵀ', m: 128, n: 784, k: 400, transB: true },
  { name: 'VAE dW ᵀ784×400×128', m: 784, n: 400, k: 128, transA: true },
  { name: 'VAE head 128×20×400', m: 128, n: 20, k: 400 },
];

function benchMatmul(be: Backend, backend: string, threads: number, shapes = SHAPES, n = reps): void {
  for (const s of shapes) {
    const a = be.tensor(s.m * s.k, { data: fill(s.m * s.k, 1) });
    const b = be.tensor(s.k * s.n, { data: fill(s.k * s.n, 2) });
    const c = be.tensor(s.m * s.n);
    // short calls get more of them, so each shape is timed for a similar while
    const calls = Math.max(n, Math.min(20 * n, Math.round((n * 512 ** 3) / (s.m * s.n * s.k))));
    const { wall, cpu } = timeCalls(() => be.matmul({ a, b, c, m: s.m, n: s.n, k: s.k, transA: s.transA, transB: s.transB }), 3, calls);
    addRow(`matmul ${s.name}`, backend, threads, 'GFLOP/s', (2 * s.m * s.n * s.k) / 1e6, wall, cpu);
    for (const t of [a, b, c]) be.release(t);
  }
}

/**
 * Two threads against one on 512³, call by call: a 1-thread and a 2-thread backend
 * alternate, so each pair of calls sees the same state of the host (whose speed
 * here drifts by up to 2× over minutes, more than the rows timed apart can tell
 * from scaling). The speedup is the median of the per-pair ratios.
 */
async function pairedScaling(pairs: number): Promise<{ median: number; best: number; pairs: number }> {
  const s = SHAPES[0]!;
  const bes = [await createWasmBackend({ threads: 1 }), await createWasmBackend({ threads: 2 })];
  const calls = bes.map((be) => {
    const a = be.tensor(s.m * s.k, { data: fill(s.m * s.k, 1) });
    const b = be.tensor(s.k * s.n, { data: fill(s.k * s.n, 2) });
    const c = be.tensor(s.m * s.n);
    return () => be.matmul({ a, b, c, m: s.m, n: s.n, k: s.k });
  });
  for (const run of calls) for (let i = 0; i < 3; i++) run();
  const ratios: number[] = [];
  const ms: number[][] = [[], []];
  for (let i = 0; i < pairs; i++) {
    // alternate which goes first, so neither always follows the other's cache state
    const order = i % 2 ? [1, 0] : [0, 1];
    const t: number[] = [];
    for (const j of order) {
      const t0 = performance.now();
      calls[j]!();
      t[j] = performance.now() - t0;
      ms[j]!.push(t[j]!);
    }
    ratios.push(t[0]! / t[1]!);
  }
  for (const be of bes) be.destroy();
  const work = (2 * s.m * s.n * s.k) / 1e6;
  const out = { median: median(ratios), best: Math.max(...ratios), pairs };
  console.log(`paired 512³: 1 thread ${f(work / median(ms[0]!))} GFLOP/s, 2 threads ${f(work / median(ms[1]!))} GFLOP/s median; ` +
    `speedup ${out.median.toFixed(2)}× median of ${pairs} pairs (load ${loadavg()[0]!.toFixed(1)})`);
  return out;
}

/** TensorFlow.js WASM (XNNPACK, SIMD, one thread in Node), the issue's yardstick. */
async function benchTfjs(): Promise<void> {
  const tf = await import('@tensorflow/tfjs-core');
  const wasm = await import('@tensorflow/tfjs-backend-wasm');
  const dir = new URL('../node_modules/@tensorflow/tfjs-backend-wasm/dist/', import.meta.url).pathname;
  wasm.setWasmPaths(dir);
  await tf.setBackend('wasm');
  for (const s of SHAPES.slice(0, 2)) {
    const a = tf.tensor2d(fill(s.m * s.k, 1), [s.m, s.k]);
    const b = tf.tensor2d(fill(s.k * s.n, 2), [s.k, s.n]);
    const { wall, cpu } = timeCalls(() => tf.matMul(a, b).dispose(), 3, reps);
    addRow(`matmul ${s.name}`, 'tfjs-wasm', 1, 'GFLOP/s', (2 * s.m * s.n * s.k) / 1e6, wall, cpu);
    a.dispose();
    b.dispose();
  }
}

async function benchVae(be: Backend, backend: string, threads: number, steps: number, runs: number): Promise<void> {
  const { train: tr } = loadMnist();
  const vae = new Vae(be, classicVaeConfig(), tr.x, tr.n);
  // warm-up (JIT tier-up, first allocations), then the timed runs
  await train(vae, { epochs: 1, batch: 128, lr: 1e-3, seed: 0, maxSteps: 3 });
  const wall: number[] = [], cpu: number[] = [];
  for (let i = 0; i < runs; i++) {
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    await train(vae, { epochs: 1, batch: 128, lr: 1e-3, seed: 1 + i, maxSteps: steps });
    wall.push(performance.now() - t0);
    const c = process.cpuUsage(c0);
    cpu.push((c.user + c.system) / 1000);
  }
  vae.release();
  // samples per millisecond × 1000 = samples/s
  addRow('VAE training, batch 128', backend, threads, 'samples/s', steps * 128 * 1000, wall, cpu);
}

/** scripts/bench-vae-torch.py under Debian's Python (where python3-torch installs), if torch imports. */
function benchTorch(threads: number, steps: number, runs: number): void {
  const python = '/usr/bin/python3';
  const script = new URL('../scripts/bench-vae-torch.py', import.meta.url).pathname;
  if (!existsSync(python)) {
    console.log(`pytorch skipped: no ${python}`);
    return;
  }
  const out: { samples_per_second: number; samples_per_cpu_second: number; cores_used: number; impl: string; blas: string }[] = [];
  try {
    for (let i = 0; i < runs; i++) {
      const stdout = execFileSync(python, [script, '--threads', String(threads), '--steps', String(steps)], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
      out.push(JSON.parse(stdout));
    }
  } catch (e) {
    console.log(`pytorch skipped: ${(e as { stderr?: string }).stderr?.trim().split('\n').pop() ?? String(e)}`);
    return;
  }
  // the script reports rates; as the milliseconds 1000 samples took they fit addRow's work / ms
  const wall = out.map((o) => 1e6 / o.samples_per_second), cpu = out.map((o) => 1e6 / o.samples_per_cpu_second);
  const r = addRow('VAE training, batch 128', 'pytorch-cpu', threads, 'samples/s', 1000 * 1000, wall, cpu);
  torchInfo = `${out[0]!.impl}, BLAS ${out[0]!.blas}`;
  r.coresUsed = median(out.map((o) => o.cores_used));
}
let torchInfo = '';

const load0 = loadavg()[0]!;
const started = new Date();
const vae = !process.argv.includes('--no-vae');

benchMatmul(new CpuBackend(), 'ts-reference', 1, SHAPES.slice(0, 2), quick ? 2 : 3);
for (const threads of [1, 2]) {
  const be = await createWasmBackend({ threads });
  benchMatmul(be, 'wasm-simd', threads);
  if (vae) await benchVae(be, 'wasm-simd', threads, quick ? 20 : 40, quick ? 2 : 5);
  be.destroy();
}
if (vae) await benchVae(new CpuBackend(), 'ts-reference', 1, quick ? 2 : 4, 1);
const paired = await pairedScaling(quick ? 7 : 31);
if (vae && !process.argv.includes('--no-torch')) {
  for (const threads of [1, 2]) benchTorch(threads, quick ? 10 : 30, quick ? 1 : 3);
}
if (!process.argv.includes('--no-tfjs')) {
  try {
    await benchTfjs();
  } catch (e) {
    console.log(`tfjs-wasm skipped: ${e instanceof Error ? e.message : String(e)}`);
  }
}

const get = (what: string, backend: string, threads: number) => rows.find((r) => r.what === what && r.backend === backend && r.threads === threads);
const one = get('matmul 512³', 'wasm-simd', 1), two = get('matmul 512³', 'wasm-simd', 2);
const conditions = {
  date: started.toISOString(), node: process.version, cpu: cpus()[0]?.model ?? 'unknown', cores: cpus().length,
  loadAverageAtStart: load0, loadAverageAtEnd: loadavg()[0]!,
  note: 'the machine was shared with other jobs; best-of is the least disturbed sample, median the typical one; ' +
    'per-CPU-second figures divide by the process CPU time, which other jobs do not inflate',
};
const ratio = (a?: number, b?: number) => (a !== undefined && b !== undefined ? a / b : null);
const targets = {
  matmul512SingleThreadGflops: { bar: 35, median: one?.median, best: one?.best, cpuMedian: one?.cpuMedian, cpuBest: one?.cpuBest },
  twoThreadSpeedup: { bar: 1.6, median: ratio(two?.median, one?.median), best: ratio(two?.best, one?.best) },
  twoThreadSpeedupPaired: { bar: 1.6, ...paired },
};

const day = started.toISOString().slice(0, 10);
const partial = quick || process.argv.some((a) => a.startsWith('--no-'));
mkdirSync(new URL('./results/', import.meta.url), { recursive: true });
const fullFile = new URL(`./results/cpu-wasm-${day}.json`, import.meta.url);
const holdsFullRun = existsSync(fullFile) && (JSON.parse(readFileSync(fullFile, 'utf8')) as { partial?: boolean }).partial === false;
const stem = partial && holdsFullRun ? `cpu-wasm-${day}-partial` : `cpu-wasm-${day}`;
writeFileSync(new URL(`./results/${stem}.json`, import.meta.url), `${JSON.stringify({ conditions, partial, torch: torchInfo || null, targets, rows }, null, 2)}\n`);
const md = [
  `# CPU backend: WebAssembly SIMD vs TypeScript reference, TF.js WASM and PyTorch (${day}${partial ? ', partial run' : ''})`,
  '',
  `${conditions.cpu}, ${conditions.cores} cores, Node ${conditions.node}; load average ${load0.toFixed(1)} at start, ` +
  `${conditions.loadAverageAtEnd.toFixed(1)} at end (shared machine).${torchInfo ? ` PyTorch: ${torchInfo}.` : ''}`,
  '',
  '| benchmark | backend | threads | median | best | per CPU-s median | per CPU-s best | unit | cores used | load | n |',
  '|---|---|---:|---:|---:|---:|---:|---|---:|---:|---:|',
  ...rows.map((r) => `| ${r.what} | ${r.backend} | ${r.threads} | ${f(r.median)} | ${f(r.best)} | ${f(r.cpuMedian)} | ${f(r.cpuBest)} | ` +
    `${r.unit} | ${r.coresUsed.toFixed(2)} | ${r.load.toFixed(1)} | ${r.samples} |`),
  '',
  `Targets (issue 7): 512³ single thread ≥ 35 GFLOP/s: wall median ${f(one?.median ?? NaN)}, best ${f(one?.best ?? NaN)}; ` +
  `per CPU-second median ${f(one?.cpuMedian ?? NaN)}, best ${f(one?.cpuBest ?? NaN)}; ` +
  `two threads ≥ 1.6× one: median ${targets.twoThreadSpeedup.median?.toFixed(2) ?? '–'}×, best ${targets.twoThreadSpeedup.best?.toFixed(2) ?? '–'}× ` +
  `(the rows above, timed apart); paired call by call, ${paired.median.toFixed(2)}× (median of ${paired.pairs} pairs).`,
  '',
  '"median"/"best" are by wall time per call (matmul) or per run (training). "per CPU-s" divides the same work by the',
  'process CPU time of all its threads: it is not inflated by other jobs taking the cores, and for two threads it is the',
  'throughput per core actually used. "cores used" is CPU time over wall time: on a loaded machine two threads may get',
  'less than two cores, and the wall speedup then measures the scheduler, not the kernel. "load" is the 1-minute load',
  'average (2 cores) right after the row.',
  '',
].join('\n');
writeFileSync(new URL(`./results/${stem}.md`, import.meta.url), md);
console.log(md);
process.exit(0);
