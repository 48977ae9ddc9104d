// The CPU backends' half of the suite (a child process of bench/run.ts that never
// creates a WebGPU instance: Dawn may keep a core busy, DESIGN §3): the
// TypeScript reference kernels and the WebAssembly SIMD backend, each on the
// same matmul shapes, memory-bound kernels, VAE networks and PPCA problems as the
// adapters.
//   npx tsx bench/suite/cpu.ts --backend ts|wasm --out FILE [--parts matmul,memory,vae,ppca|ppca-nocurve]
import { cpus, loadavg } from 'node:os';
import { CpuBackend, loadMnist, type Backend } from '../../src/index.ts';
import { createWasmBackend } from '../../src/lib/kernels.node.ts';
import { measurePpca } from '../ppca.ts';
import { argValue, log, writeReport, type BenchRow, type ChildReport } from './common.ts';
import { measureMatmul, measureMemory } from './kernels.ts';
import { measureVae } from './vae-step.ts';

const which = argValue('backend', 'ts');
const out = argValue('out');
if (!out) throw new Error('bench/suite/cpu.ts: --out FILE is required');
if (which !== 'ts' && which !== 'wasm') throw new Error(`bench/suite/cpu.ts: --backend must be ts or wasm, got '${which}'`);
const parts = new Set(argValue('parts', 'matmul,memory,vae,ppca')!.split(','));
const target = which === 'ts' ? 'cpu-ts' : 'cpu-wasm';
const t0 = performance.now();
const load0 = loadavg();

let be: Backend;
if (which === 'ts') be = new CpuBackend();
else be = await createWasmBackend();
const say = (s: string) => log(`${target}${s}`);
say(`: ${be.info.summary}`);
const rows: BenchRow[] = [];
const notes: string[] = [];
if (parts.has('matmul')) rows.push(...await measureMatmul(be, { target, variant: which, log: say }));
if (parts.has('memory')) {
  const m = await measureMemory(be, { target, log: say });
  rows.push(...m.rows);
  if (m.skipped.length) notes.push(`${target}: not implemented, skipped: ${m.skipped.join(', ')}`);
}
if (parts.has('vae')) rows.push(...await measureVae(be, { target, data: loadMnist().train, log: say }));
if (parts.has('ppca') || parts.has('ppca-nocurve')) {
  rows.push(...await measurePpca(be, { target, log: say, noCurve: !parts.has('ppca') }));
  if (!parts.has('ppca')) notes.push(`${target}: PPCA without the cost curve (time budget)`);
}
be.destroy();

const report: ChildReport = {
  target, impl: 'latentgpu', adapter: { name: be.info.summary, cpu: cpus()[0]?.model ?? 'unknown', cores: cpus().length },
  rows, notes, loadavg: { start: load0, end: loadavg() }, seconds: (performance.now() - t0) / 1e3,
};
writeReport(out, report);
process.exit(0);
