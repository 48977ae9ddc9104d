// One WebGPU adapter's half of the suite (a child process of bench/run.ts):
// peak FMA throughput, matmul and memory-bound kernels, VAE training, the VAE
// step's per-kernel breakdown (bench/vae-breakdown.ts, when present) and PPCA.
//   npx tsx bench/suite/webgpu.ts --adapter llvmpipe|swiftshader|gpu --out FILE [--parts peak,matmul,memory,vae,breakdown,ppca|ppca-nocurve]
// Exits 3 when the adapter is not there (bench/run.ts records it and goes on).
import { existsSync } from 'node:fs';
import { loadavg } from 'node:os';
import { adapterName, loadMnist, type AdapterChoice, type WebGpuBackend } from '../../src/index.ts';
import { PEAK_WORKGROUPS, fmaChains, matmulVariantFor, peakFlops } from '../../src/lib/kernels.node.ts';
import { measurePpca } from '../ppca.ts';
import { timeKernel } from '../timing.ts';
import { ROOT, argValue, log, openAdapterOrExit, writeReport, type BenchRow, type ChildReport } from './common.ts';
import { measureMatmul, measureMemory, sizePeakIters } from './kernels.ts';
import { measureVae } from './vae-step.ts';

const adapter = argValue('adapter', 'llvmpipe') as AdapterChoice;
const out = argValue('out');
if (!out) throw new Error('bench/suite/webgpu.ts: --out FILE is required');
const parts = new Set((argValue('parts', 'peak,matmul,memory,vae,breakdown,ppca')!).split(','));
const t0 = performance.now();
const load0 = loadavg();

/** Best GFLOP/s of the FMA-chain kernel over the workgroup sizes the adapter allows. */
async function measurePeak(gpu: WebGpuBackend): Promise<BenchRow> {
  const n = 1 << 16;
  const seed = gpu.tensor(n, { data: new Float32Array(n).map((_, i) => (i % 97) / 97) });
  const res = gpu.tensor(n);
  const probe = gpu.view(res, 0, 1);
  let best: BenchRow | null = null;
  for (const wg of PEAK_WORKGROUPS) {
    if (wg > gpu.limits.maxComputeInvocationsPerWorkgroup) continue;
    const iters = await sizePeakIters((it) => fmaChains(gpu, { seed, out: res, n, iters: it, a: 0.99, b: 0.01 }, wg), async () => {
      await gpu.finish();
      await gpu.read(probe);
    });
    const t = await timeKernel(gpu, () => fmaChains(gpu, { seed, out: res, n, iters, a: 0.99, b: 0.01 }, wg), probe, { reps: 5, minSampleMs: 100, maxInner: 8 });
    const flops = peakFlops(n, iters);
    const row: BenchRow = {
      group: 'peak', impl: 'latentgpu', target: adapter, name: 'peak FMA (shaders/peak.wgsl)', unit: 'GFLOP/s',
      median: flops / (t.median * 1e6), min: flops / (t.max * 1e6), max: flops / (t.min * 1e6), reps: t.reps, ms: t.median,
      params: { workgroup: wg, invocations: n, iters }, work: flops,
    };
    log(`  peak wg ${wg}: ${row.median.toFixed(2)} GFLOP/s`);
    if (!best || row.median > best.median) best = row;
  }
  gpu.release(seed);
  gpu.release(res);
  return best!;
}

const gpu = await openAdapterOrExit(adapter);
const a = gpu.info.adapter!;
const info = { ...a, name: adapterName(a), matmulVariant: matmulVariantFor(gpu), limits: { maxComputeInvocationsPerWorkgroup: gpu.limits.maxComputeInvocationsPerWorkgroup } };
log(`${adapter}: ${info.name}, matmul variant ${info.matmulVariant}`);
const rows: BenchRow[] = [];
const notes: string[] = [];
const extra: Record<string, unknown> = {};
const say = (s: string) => log(`${adapter}${s}`);

if (parts.has('peak')) rows.push(await measurePeak(gpu));
if (parts.has('matmul')) rows.push(...await measureMatmul(gpu, { target: adapter, variant: info.matmulVariant, log: say }));
if (parts.has('memory')) {
  const m = await measureMemory(gpu, { target: adapter, log: say });
  rows.push(...m.rows);
  if (m.skipped.length) notes.push(`${adapter}: not implemented, skipped: ${m.skipped.join(', ')}`);
}
if (parts.has('vae')) rows.push(...await measureVae(gpu, { target: adapter, data: loadMnist().train, log: say }));
if (parts.has('breakdown')) {
  const file = `${ROOT}bench/vae-breakdown.ts`;
  if (existsSync(file)) {
    const { vaeStepBreakdown } = await import('../vae-breakdown.ts');
    const { train } = loadMnist();
    extra.breakdown = await vaeStepBreakdown(gpu, { data: { x: train.x, n: train.n }, batch: 128, reps: 3, minSampleMs: 30 });
    say(`  breakdown done`);
  } else notes.push('bench/vae-breakdown.ts is not there: no per-kernel breakdown of the VAE step');
}
if (parts.has('ppca') || parts.has('ppca-nocurve')) {
  // SwiftShader's d = 50 EM iteration takes ~10 s here: two timed iterations there
  rows.push(...await measurePpca(gpu, { target: adapter, log: say, noCurve: !parts.has('ppca'), emIters: a.kind === 'swiftshader' ? 2 : 3 }));
  if (!parts.has('ppca')) notes.push(`${adapter}: PPCA without the cost curve (time budget)`);
}
gpu.destroy();

const report: ChildReport = {
  target: adapter, impl: 'latentgpu', adapter: info, rows, notes, extra,
  loadavg: { start: load0, end: loadavg() }, seconds: (performance.now() - t0) / 1e3,
};
writeReport(out, report);
process.exit(0);
