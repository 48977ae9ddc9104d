// The CPU backend's half of the kernel benchmark. Runs as a child process of
// bench/kernels.ts that never creates a WebGPU instance (Dawn may keep a core
// busy: DESIGN §3), single-threaded; prints one JSON object on stdout.
import { CpuBackend } from '../src/index.ts';
import { elementwiseCases, implementedCases, matmulCases } from './shapes.ts';
import { timeKernel } from './timing.ts';

const quick = process.argv.includes('--quick');
const cpu = new CpuBackend();
const reps = quick ? 3 : 5;

const matmul: Record<string, unknown>[] = [];
for (const c of matmulCases(quick)) {
  const a = cpu.tensor(c.m * c.k, { data: new Float32Array(c.m * c.k).map((_, i) => ((i * 7) % 13) / 13 - 0.5) });
  const b = cpu.tensor(c.k * c.n, { data: new Float32Array(c.k * c.n).map((_, i) => ((i * 5) % 11) / 11 - 0.5) });
  const out = cpu.tensor(c.m * c.n);
  const t = await timeKernel(cpu, () => cpu.matmul({ a, b, c: out, m: c.m, n: c.n, k: c.k, transA: c.transA, transB: c.transB }), out,
    { reps, minSampleMs: 50, maxInner: 16 });
  const flops = 2 * c.m * c.n * c.k;
  matmul.push({ shape: c.name, m: c.m, n: c.n, k: c.k, transA: !!c.transA, transB: !!c.transB, variant: 'cpu', ms: t, gflops: flops / (t.median * 1e6) });
}

const n = 1 << 20;
const { cases } = elementwiseCases(cpu, n);
const elementwise: Record<string, unknown>[] = [];
const probe = cpu.tensor(1);
const { runnable, skipped } = implementedCases(cases);
for (const c of runnable) {
  const t = await timeKernel(cpu, c.run, probe, { reps, minSampleMs: 20, maxInner: 64 });
  elementwise.push({ kernel: c.name, n, bytes: c.bytes, ms: t, gbps: c.bytes / (t.median * 1e6) });
}

process.stdout.write(JSON.stringify({ matmul, elementwise, skipped }));
