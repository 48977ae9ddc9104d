// CPU benchmark of the WebAssembly SIMD backend (src/wasm) against the
// TypeScript reference backend and TensorFlow.js's WASM backend, in one process
// that never creates a WebGPU instance (Dawn can keep a core busy: DESIGN §3).
//   matmul 512³ (and the classic VAE's 128×784×400): GFLOP/s, median and best
//   of several timed calls after warm-up, on 1 and 2 threads;
//   classic VAE training (batch 128, MNIST): samples/s.
// Writes bench/results/cpu-wasm-<date>.json and .md. Usage:
//   npx tsx bench/cpu-wasm.ts [--quick] [--no-tfjs] [--no-vae]
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import type { Backend } from '../src/backend.ts';
import { CpuBackend } from '../src/cpu/backend.ts';
import { createWasmBackend } from '../src/wasm/node.ts';

const quick = process.argv.includes('--quick');
const reps = quick ? 5 : 15;

interface Row {
  what: string; backend: string; threads: number; medianMs: number; bestMs: number; median: number; best: number; unit: string;
  /** process CPU time / wall time over the timed calls: how many cores the run actually got */
  coresUsed: number;
}
const rows: Row[] = [];

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) >> 1]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
}

/** ms per call (warm-up calls, then n timed calls) and the cores used while timing. */
function timeCalls(run: () => void, warm: number, n: number): { ts: number[]; coresUsed: number } {
  for (let i = 0; i < warm; i++) run();
  const ts: number[] = [];
  const cpu0 = process.cpuUsage();
  const wall0 = performance.now();
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    run();
    ts.push(performance.now() - t0);
  }
  const cpu = process.cpuUsage(cpu0);
  return { ts, coresUsed: (cpu.user + cpu.system) / 1000 / (performance.now() - wall0) };
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

const SHAPES = [
  { name: '512³', m: 512, n: 512, k: 512 },
  { name: 'VAE 128×784×400', m: 128, n: 400, k: 784 },
];

function benchMatmul(be: Backend, backend: string, threads: number, shapes = SHAPES, n = reps): void {
  for (const s of shapes) {
    const a = be.tensor(s.m * s.k, { data: fill(s.m * s.k, 1) });
    const b = be.tensor(s.k * s.n, { data: fill(s.k * s.n, 2) });
    const c = be.tensor(s.m * s.n);
    const { ts, coresUsed } = timeCalls(() => be.matmul({ a, b, c, m: s.m, n: s.n, k: s.k }), 3, n);
    const flop = 2 * s.m * s.n * s.k;
    const med = median(ts), best = Math.min(...ts);
    rows.push({ what: `matmul ${s.name}`, backend, threads, medianMs: med, bestMs: best, median: flop / med / 1e6, best: flop / best / 1e6, unit: 'GFLOP/s', coresUsed });
    console.log(`${backend} ×${threads} matmul ${s.name}: ${(flop / med / 1e6).toFixed(1)} GFLOP/s median, ${(flop / best / 1e6).toFixed(1)} best`);
    for (const t of [a, b, c]) be.release(t);
  }
}

/** TensorFlow.js WASM (XNNPACK, SIMD, one thread in Node), the yardstick. */
async function benchTfjs(): Promise<void> {
  const tf = await import('@tensorflow/tfjs-core');
  const wasm = await import('@tensorflow/tfjs-backend-wasm');
  const dir = new URL('../node_modules/@tensorflow/tfjs-backend-wasm/dist/', import.meta.url).pathname;
  wasm.setWasmPaths(dir);
  await tf.setBackend('wasm');
  for (const s of SHAPES) {
    const a = tf.tensor2d(fill(s.m * s.k, 1), [s.m, s.k]);
    const b = tf.tensor2d(fill(s.k * s.n, 2), [s.k, s.n]);
    const { ts, coresUsed } = timeCalls(() => tf.matMul(a, b).dispose(), 3, reps);
    const flop = 2 * s.m * s.n * s.k;
    const med = median(ts), best = Math.min(...ts);
    rows.push({ what: `matmul ${s.name}`, backend: 'tfjs-wasm', threads: 1, medianMs: med, bestMs: best, median: flop / med / 1e6, best: flop / best / 1e6, unit: 'GFLOP/s', coresUsed });
    console.log(`tfjs-wasm ×1 matmul ${s.name}: ${(flop / med / 1e6).toFixed(1)} GFLOP/s median, ${(flop / best / 1e6).toFixed(1)} best`);
    a.dispose();
    b.dispose();
  }
}

async function benchVae(be: Backend, backend: string, threads: number, steps: number): Promise<void> {
  const { loadMnist } = await import('../src/data/mnist.node.ts');
  const { Vae, classicVaeConfig } = await import('../src/models/vae.ts');
  const { train } = await import('../src/train/trainer.ts');
  const { train: tr } = loadMnist();
  const vae = new Vae(be, classicVaeConfig(), tr.x, tr.n);
  // warm-up (JIT tier-up, first allocations), then the timed run
  await train(vae, { epochs: 1, batch: 128, lr: 1e-3, seed: 0, maxSteps: 3 });
  const cpu0 = process.cpuUsage();
  const wall0 = performance.now();
  const r = await train(vae, { epochs: 1, batch: 128, lr: 1e-3, seed: 1, maxSteps: steps });
  const cpu = process.cpuUsage(cpu0);
  rows.push({ what: 'VAE training, batch 128', backend, threads, medianMs: (r.seconds * 1000) / r.steps, bestMs: NaN,
    median: r.samplesPerSecond, best: NaN, unit: 'samples/s', coresUsed: (cpu.user + cpu.system) / 1000 / (performance.now() - wall0) });
  vae.release();
  console.log(`${backend} ×${threads} VAE training: ${r.samplesPerSecond.toFixed(0)} samples/s over ${r.steps} steps`);
}

const load0 = loadavg()[0]!;
const started = new Date();

benchMatmul(new CpuBackend(), 'ts-reference', 1, SHAPES, quick ? 2 : 3);
for (const threads of [1, 2]) {
  const be = await createWasmBackend({ threads });
  benchMatmul(be, 'wasm-simd', threads);
  if (!process.argv.includes('--no-vae')) await benchVae(be, 'wasm-simd', threads, quick ? 20 : 60);
  be.destroy();
}
if (!process.argv.includes('--no-vae')) await benchVae(new CpuBackend(), 'ts-reference', 1, quick ? 2 : 4);
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
  note: 'the machine was shared with other jobs; best-of is the least disturbed sample, median the typical one',
};
const targets = {
  matmul512SingleThreadGflops: { bar: 35, median: one?.median, best: one?.best },
  twoThreadSpeedup: { bar: 1.6, median: two && one ? two.median / one.median : null, best: two && one ? two.best / one.best : null },
};

const day = started.toISOString().slice(0, 10);
mkdirSync(new URL('./results/', import.meta.url), { recursive: true });
writeFileSync(new URL(`./results/cpu-wasm-${day}.json`, import.meta.url), `${JSON.stringify({ conditions, targets, rows }, null, 2)}\n`);
const f = (x: number) => (Number.isFinite(x) ? (x >= 100 ? x.toFixed(0) : x.toFixed(1)) : '–');
const md = [
  `# CPU backend: WebAssembly SIMD vs TypeScript reference vs TF.js WASM (${day})`,
  '',
  `${conditions.cpu}, ${conditions.cores} cores, Node ${conditions.node}; load average ${load0.toFixed(1)} at start, ${conditions.loadAverageAtEnd.toFixed(1)} at end (shared machine).`,
  '',
  '| benchmark | backend | threads | median | best | unit | cores used | median per core used |',
  '|---|---|---:|---:|---:|---|---:|---:|',
  ...rows.map((r) => `| ${r.what} | ${r.backend} | ${r.threads} | ${f(r.median)} | ${f(r.best)} | ${r.unit} | ${r.coresUsed.toFixed(2)} | ${f(r.median / r.coresUsed)} |`),
  '',
  `Targets (issue 7): 512³ single thread ≥ 35 GFLOP/s: median ${f(one?.median ?? NaN)}, best ${f(one?.best ?? NaN)}; ` +
  `two threads ≥ 1.6× one: median ${targets.twoThreadSpeedup.median?.toFixed(2) ?? '–'}×, best ${targets.twoThreadSpeedup.best?.toFixed(2) ?? '–'}×.`,
  '',
  '"cores used" is process CPU time over wall time while timing: on a loaded machine two threads may get',
  'less than two cores, and the speedup then measures the scheduler, not the kernel. "Median per core used"',
  'divides by it: an estimate of the throughput per fully available core (threads add no work of their own).',
  '',
].join('\n');
writeFileSync(new URL(`./results/cpu-wasm-${day}.md`, import.meta.url), md);
console.log(md);
process.exit(0);
