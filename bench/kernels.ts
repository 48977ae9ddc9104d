// Kernel benchmark: matmul GFLOP/s per variant and adapter (SwiftShader, llvmpipe,
// a real GPU when present), GB/s of the memory-bound kernels that exist, and the
// CPU backend measured in a separate process. Writes
// bench/results/kernels-<date>-<host>.json and .md and prints the table.
//   npx tsx bench/kernels.ts [--quick] [--adapters swiftshader,llvmpipe,gpu]
//   npx tsx bench/kernels.ts --narrow [--adapters llvmpipe] [--m 8192 --n 12 --k 784]
// --narrow times one narrow product (PPCA EM's Y = Xc W at d = 10, padded to 12) under every
// variant and a few launch shapes, alternating twice, wall and process-CPU ms side by side
// (docs/kernels-results.md §7); it prints the table and writes nothing.
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { hostname, loadavg, cpus } from 'node:os';
import { fileURLToPath } from 'node:url';
import { NoAdapterError, adapterName, createWebGpuBackend, type AdapterChoice } from '../src/index.ts';
import { MATMUL_VARIANTS, matmulVariant, type MatmulVariantOptions } from '../src/lib/kernels.node.ts';
import { elementwiseCases, implementedCases, matmulCases } from './shapes.ts';
import { timeKernel } from './timing.ts';

const argv = process.argv.slice(2);
const quick = argv.includes('--quick');
const adapterArg = argv[argv.indexOf('--adapters') + 1];
const adapters = (argv.includes('--adapters') && adapterArg ? adapterArg : 'swiftshader,llvmpipe,gpu').split(',') as AdapterChoice[];
const root = fileURLToPath(new URL('..', import.meta.url));
const pkg = (name: string) => JSON.parse(readFileSync(`${root}node_modules/${name}/package.json`, 'utf8')).version as string;

interface Row {
  backend: string; kernel: string; variant: string; median: number; min: number; max: number; unit: string; ms: number; inner: number; reps: number;
  /** work per process CPU-second (same unit ·s/CPU-s), where measured */
  perCpu?: number;
}
const rows: Row[] = [];
const adaptersInfo: Record<string, unknown> = {};
const notes: string[] = [];
const log = (s: string) => process.stderr.write(`${s}\n`);
const started = new Date();
const load0 = loadavg();

/** The narrow-product probe (--narrow): variants × launch shapes on one m×n×k product, twice in turn. */
async function narrowProbe(): Promise<void> {
  const num = (name: string, fallback: number) => (argv.includes(`--${name}`) ? Number(argv[argv.indexOf(`--${name}`) + 1]) : fallback);
  const m = num('m', 8192), n = num('n', 12), k = num('k', 784);
  const n4 = Math.ceil(n / 4);
  const cases: [string, (typeof MATMUL_VARIANTS)[number], MatmulVariantOptions][] = [
    ['vec4 (default launch)', 'vec4', {}],
    ['vec4, workgroup 1×64', 'vec4', { workgroup: [1, 64] }],
    ['texture (default launch)', 'texture', {}],
    [`texture, block 16×${n4}, workgroup 1×8`, 'texture', { block: [16, n4], workgroup: [1, 8] }],
    [`texture, block 16×${n4}, workgroup 1×64`, 'texture', { block: [16, n4], workgroup: [1, 64] }],
    ['unrolled (default launch)', 'unrolled', {}],
    [`unrolled, block 16×${n4}, workgroup 1×64`, 'unrolled', { block: [16, n4], workgroup: [1, 64] }],
    [`unrolled, block 8×${n4}, workgroup 1×64`, 'unrolled', { block: [8, n4], workgroup: [1, 64] }],
  ];
  for (const choice of argv.includes('--adapters') ? adapters : ['llvmpipe' as AdapterChoice]) {
    const gpu = await createWebGpuBackend(choice);
    const a = gpu.tensor(m * k, { data: Float32Array.from({ length: m * k }, (_, i) => ((i * 7) % 13) / 13 - 0.5) });
    const b = gpu.tensor(k * n, { data: Float32Array.from({ length: k * n }, (_, i) => ((i * 5) % 11) / 11 - 0.5) });
    const c = gpu.tensor(m * n);
    const probe = gpu.view(c, 0, 1);
    const times = new Map<string, { wall: number[]; cpu: number[] }>();
    const l0 = loadavg()[0]!;
    for (let rep = 0; rep < 2; rep++) {
      for (const [name, v, o] of cases) {
        if (v !== 'vec4' && (m % 4 || n % 4 || k % 4)) continue;
        const t = await timeKernel(gpu, () => matmulVariant(gpu, { a, b, c, m, n, k }, v, o), probe, { reps: 3, minSampleMs: 50, maxInner: 16 });
        const e = times.get(name) ?? { wall: [], cpu: [] };
        e.wall.push(t.median);
        e.cpu.push(t.cpuMs);
        times.set(name, e);
      }
    }
    const flop = 2 * m * n * k;
    process.stdout.write(`\n${adapterName(gpu.info.adapter!)}: ${m}×${n}×${k} (${(flop / 1e6).toFixed(0)} MFLOP), load ${l0.toFixed(1)} → ${loadavg()[0]!.toFixed(1)}\n\n`);
    process.stdout.write('| variant, launch | wall ms (two runs) | CPU ms (two runs) | GFLOP/s (best wall) |\n|---|---:|---:|---:|\n');
    for (const [name, e] of times) {
      process.stdout.write(`| ${name} | ${e.wall.map((x) => x.toFixed(1)).join(', ')} | ${e.cpu.map((x) => x.toFixed(1)).join(', ')} | ${(flop / (Math.min(...e.wall) * 1e6)).toFixed(2)} |\n`);
    }
    for (const t of [a, b, c]) gpu.release(t);
    gpu.destroy();
  }
}

if (argv.includes('--narrow')) {
  await narrowProbe();
  process.exit(0);
}

// ---- CPU first, in a child that never touches WebGPU --------------------------
log('cpu backend (child process)...');
const child = spawnSync(process.execPath, ['--import', 'tsx', `${root}bench/cpu-kernels.ts`, ...(quick ? ['--quick'] : [])], {
  cwd: root, encoding: 'utf8', maxBuffer: 1 << 24,
});
if (child.status !== 0) throw new Error(`bench/cpu-kernels.ts failed:\n${child.stderr}`);
const cpuRes = JSON.parse(child.stdout) as {
  matmul: { shape: string; ms: { median: number; min: number; max: number; inner: number; reps: number }; gflops: number }[];
  elementwise: { kernel: string; bytes: number; ms: { median: number; min: number; max: number; inner: number; reps: number }; gbps: number }[];
  skipped: string[];
};
for (const r of cpuRes.matmul) {
  const f = r.gflops * r.ms.median;
  rows.push({ backend: 'cpu', kernel: `matmul ${r.shape}`, variant: 'cpu', median: r.gflops, min: f / r.ms.max, max: f / r.ms.min, unit: 'GFLOP/s', ms: r.ms.median, inner: r.ms.inner, reps: r.ms.reps });
}
for (const r of cpuRes.elementwise) {
  const g = r.gbps * r.ms.median;
  rows.push({ backend: 'cpu', kernel: r.kernel, variant: '-', median: r.gbps, min: g / r.ms.max, max: g / r.ms.min, unit: 'GB/s', ms: r.ms.median, inner: r.ms.inner, reps: r.ms.reps });
}
if (cpuRes.skipped.length) notes.push(`cpu: not yet implemented, skipped: ${cpuRes.skipped.join(', ')}`);

// ---- each WebGPU adapter ---------------------------------------------------------
for (const choice of adapters) {
  let gpu;
  try {
    gpu = await createWebGpuBackend(choice);
  } catch (e) {
    if (e instanceof NoAdapterError || choice === 'gpu') {
      notes.push(`${choice}: no adapter (${(e as Error).message.split('\n')[0]})`);
      log(`${choice}: no adapter, skipped`);
      continue;
    }
    throw e;
  }
  const label = choice;
  const a = gpu.info.adapter!;
  adaptersInfo[label] = { ...a, name: adapterName(a), limits: { maxComputeInvocationsPerWorkgroup: gpu.limits.maxComputeInvocationsPerWorkgroup, maxComputeWorkgroupStorageSize: gpu.limits.maxComputeWorkgroupStorageSize } };
  log(`${label}: ${adapterName(a)}`);
  for (const c of matmulCases(quick)) {
    const ta = gpu.tensor(c.m * c.k, { data: new Float32Array(c.m * c.k).map((_, i) => ((i * 7) % 13) / 13 - 0.5) });
    const tb = gpu.tensor(c.k * c.n, { data: new Float32Array(c.k * c.n).map((_, i) => ((i * 5) % 11) / 11 - 0.5) });
    const tc = gpu.tensor(c.m * c.n);
    const probe = gpu.view(tc, 0, 1);
    const flops = 2 * c.m * c.n * c.k;
    for (const v of MATMUL_VARIANTS) {
      // the tiled kernel is 5–20× slower on the software adapters (see 512³): its 1024³ would take minutes
      if (v === 'tiled' && a.software && c.m * c.n * c.k > 512 ** 3) continue;
      const big = flops > 1e9;
      const t = await timeKernel(gpu, () => matmulVariant(gpu, { a: ta, b: tb, c: tc, m: c.m, n: c.n, k: c.k, transA: c.transA, transB: c.transB }, v), probe,
        { reps: quick || big ? 3 : 5, minSampleMs: 100, maxInner: 32 });
      rows.push({ backend: label, kernel: `matmul ${c.name}`, variant: v, median: flops / (t.median * 1e6), min: flops / (t.max * 1e6), max: flops / (t.min * 1e6), unit: 'GFLOP/s', ms: t.median, inner: t.inner, reps: t.reps, perCpu: flops / (t.cpuMs * 1e6) });
      log(`  matmul ${c.name} ${v}: ${(flops / (t.median * 1e6)).toFixed(2)} GFLOP/s, ${(flops / (t.cpuMs * 1e6)).toFixed(2)} GFLOP per CPU-s`);
    }
    for (const t of [ta, tb, tc]) gpu.release(t);
  }
  const n = 1 << 20;
  const { cases, tensors } = elementwiseCases(gpu, n);
  const probe = gpu.tensor(1);
  const { runnable, skipped } = implementedCases(cases);
  for (const c of runnable) {
    const t = await timeKernel(gpu, c.run, probe, { reps: quick ? 3 : 5, minSampleMs: 50, maxInner: 64 });
    rows.push({ backend: label, kernel: c.name, variant: '-', median: c.bytes / (t.median * 1e6), min: c.bytes / (t.max * 1e6), max: c.bytes / (t.min * 1e6), unit: 'GB/s', ms: t.median, inner: t.inner, reps: t.reps });
    log(`  ${c.name}: ${(c.bytes / (t.median * 1e6)).toFixed(2)} GB/s`);
  }
  if (skipped.length) notes.push(`${label}: not yet implemented, skipped: ${skipped.join(', ')}`);
  for (const t of [...tensors, probe]) gpu.release(t);
  gpu.destroy();
}

// ---- report ------------------------------------------------------------------------
const date = started.toISOString().slice(0, 10);
const host = hostname().replace(/[^A-Za-z0-9_.-]/g, '_');
const load1 = loadavg();
notes.push(`load average (1/5/15 min) at start ${load0.map((x) => x.toFixed(2)).join('/')}, at end ${load1.map((x) => x.toFixed(2)).join('/')} on ${cpus().length} CPUs: the software adapters and the CPU share these cores with whatever else runs`);
const fmt = (x: number) => (x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x.toFixed(2));
const lines = [
  `# Kernel benchmark ${started.toISOString()} on ${host}${quick ? ' (--quick)' : ''}`,
  '',
  `node ${process.version}, webgpu ${pkg('webgpu')}; median of reps (min–max); each sample ends with finish() and a readback.`,
  '',
  ...Object.entries(adaptersInfo).map(([k, v]) => `- ${k}: ${(v as { name: string }).name}`),
  '- cpu: TypeScript reference kernels, single thread, separate process',
  '',
  'per CPU-s: the same work divided by the process CPU time (all threads) instead of wall time — what a kernel costs when other processes share the cores.',
  '',
  '| backend | kernel | variant | median | min–max | unit | per CPU-s | ms/call |',
  '|---|---|---|---:|---:|---|---:|---:|',
  ...rows.map((r) => `| ${r.backend} | ${r.kernel} | ${r.variant} | ${fmt(r.median)} | ${fmt(r.min)}–${fmt(r.max)} | ${r.unit} | ${r.perCpu === undefined ? '' : fmt(r.perCpu)} | ${r.ms.toFixed(r.ms < 1 ? 3 : 1)} |`),
  '',
  ...notes.map((n) => `- ${n}`),
  '',
];
const md = lines.join('\n');
mkdirSync(`${root}bench/results`, { recursive: true });
const base = `${root}bench/results/kernels-${date}-${host}`;
writeFileSync(`${base}.json`, `${JSON.stringify({
  date: started.toISOString(), host, quick, node: process.version,
  versions: { webgpu: pkg('webgpu'), wgsl_reflect: pkg('wgsl_reflect') },
  cpus: cpus().length, cpuModel: cpus()[0]?.model, loadavg: { start: load0, end: load1 },
  adapters: adaptersInfo, results: rows, notes,
}, null, 2)}\n`);
writeFileSync(`${base}.md`, md);
process.stdout.write(md);
log(`wrote ${base}.json and .md`);
process.exit(0);
