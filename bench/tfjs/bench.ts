// The TensorFlow.js 4.22 anchor of the suite, in its own process (bench/run.ts
// starts it with bench/tfjs/register.mjs, so TF.js loads from its ES builds with
// gradients): on the same Dawn adapter as latentgpu, the same matmul shapes
// (bench/shapes.ts) and the same VAE networks and batches (bench/suite/vae-step.ts)
// with the TF.js VAE of bench/tfjs/vae.ts.
//   node --import ./bench/tfjs/register.mjs --import tsx bench/tfjs/bench.ts --adapter llvmpipe --out FILE [--parts matmul,vae] [--heavy yes|no]
// Every sample stops the clock after reading a result back (tensor.data()).
// SwiftShader runs TF.js ~10–50× slower than latentgpu: --heavy no (its default
// there) keeps to the shapes the report compares (512³, the classic VAE at 128).
import { loadavg } from 'node:os';
import { loadMnist } from '../../src/index.ts';
import { stats } from '../shapes.ts';
import { matmulCases } from '../shapes.ts';
import { argValue, log, pkgVersion, writeReport, type BenchRow, type ChildReport } from '../suite/common.ts';
import { matmulRowName } from '../suite/kernels.ts';
import { VAE_CASES, batchIndices, vaeRowName } from '../suite/vae-step.ts';
import { loadTfjsWebGpu, type TfjsAdapter } from './webgpu.ts';

const adapter = argValue('adapter', 'llvmpipe') as TfjsAdapter;
const out = argValue('out');
if (!out) throw new Error('bench/tfjs/bench.ts: --out FILE is required');
const parts = new Set(argValue('parts', 'matmul,vae')!.split(','));
const heavy = (argValue('heavy', adapter === 'swiftshader' ? 'no' : 'yes')) === 'yes';
const t0 = performance.now();
const load0 = loadavg();
const target = adapter;
const impl = 'tfjs';

const { tf, adapter: info } = await loadTfjsWebGpu(adapter);
log(`tfjs ${tf.version_core} webgpu on ${info.device} ${info.description}${info.isFallbackAdapter ? ' (fallback adapter)' : ''}`);
const rows: BenchRow[] = [];
const notes: string[] = [];

/** ms per call: `inner` calls, then the last result read back; median over reps. */
async function timeTf(call: () => import('@tensorflow/tfjs-core').Tensor, o: { reps: number; minSampleMs: number; maxInner: number }) {
  const sample = async (inner: number) => {
    const s = performance.now();
    let last: import('@tensorflow/tfjs-core').Tensor | null = null;
    for (let i = 0; i < inner; i++) {
      last?.dispose();
      last = call();
    }
    await last!.data();
    last!.dispose();
    return (performance.now() - s) / inner;
  };
  await sample(1);
  const once = await sample(1);
  const inner = Math.max(1, Math.min(o.maxInner, Math.ceil(o.minSampleMs / once)));
  // on slow adapters (one call ≥ minSampleMs) the sizing call is already a sample
  const samples: number[] = inner === 1 ? [once] : [];
  while (samples.length < o.reps) samples.push(await sample(inner));
  return { ...stats(samples), inner };
}

if (parts.has('matmul')) {
  for (const c of matmulCases(false)) {
    const square = c.m === c.n && c.n === c.k;
    if (!heavy && !(square && c.m === 512) && c.name !== 'X·W1 128×784→400') continue;
    const a = tf.tensor2d(new Float32Array(c.m * c.k).map((_, i) => ((i * 7) % 13) / 13 - 0.5), c.transA ? [c.k, c.m] : [c.m, c.k]);
    const b = tf.tensor2d(new Float32Array(c.k * c.n).map((_, i) => ((i * 5) % 11) / 11 - 0.5), c.transB ? [c.n, c.k] : [c.k, c.n]);
    const flops = 2 * c.m * c.n * c.k;
    const t = await timeTf(() => tf.matMul(a, b, !!c.transA, !!c.transB), { reps: flops > 1e9 || !heavy ? 3 : 5, minSampleMs: 100, maxInner: 32 });
    rows.push({
      group: 'matmul', impl, target, name: matmulRowName(c.name), unit: 'GFLOP/s',
      median: flops / (t.median * 1e6), min: flops / (t.max * 1e6), max: flops / (t.min * 1e6), reps: t.reps, ms: t.median,
      params: { m: c.m, n: c.n, k: c.k, transA: c.transA ? 1 : 0, transB: c.transB ? 1 : 0, inner: t.inner }, work: flops,
    });
    log(`tfjs ${adapter}  ${rows.at(-1)!.name}: ${rows.at(-1)!.median.toFixed(2)} GFLOP/s`);
    a.dispose();
    b.dispose();
  }
  if (!heavy) notes.push(`tfjs on ${adapter}: matmul only at 512³ and 128×784→400 (the other shapes take minutes on this adapter)`);
}

if (parts.has('vae')) {
  const { createTfjsVae } = await import('./vae.ts');
  // TfjsVae.trainStep reads its loss with dataSync(), which TF.js's WebGPU backend
  // implements only through an OffscreenCanvas (absent in Node). Here dataSync
  // starts an asynchronous read of a clone instead (same GPU work, same readback)
  // and returns NaN; each sample awaits all its reads before the clock stops.
  const pending: Promise<unknown>[] = [];
  const proto = tf.Tensor.prototype as unknown as { dataSync: () => Float32Array };
  proto.dataSync = function (this: import('@tensorflow/tfjs-core').Tensor) {
    const c = this.clone();
    pending.push(c.data().then((v) => {
      c.dispose();
      return v;
    }));
    return new Float32Array([NaN]);
  };
  const { train } = loadMnist();
  const D = train.D;
  for (const c of VAE_CASES) {
    if (!heavy && !(c.batch === 128 && c.network.includes('classic'))) continue;
    const vae = createTfjsVae({ dataDim: D, latent: c.cfg.latent, hidden: c.cfg.encoderHidden });
    // four host minibatches gathered up front (the gather is not TF.js's work); uploading one per step is
    const batches = [0, 1, 2, 3].map((w) => {
      const idx = batchIndices(train.n, c.batch, w);
      const x = new Float32Array(c.batch * D);
      idx.forEach((r, i) => x.set(train.x.subarray(r * D, (r + 1) * D), i * D));
      return x;
    });
    let step = 0;
    const steps = async (k: number) => {
      for (let i = 0; i < k; i++, step++) vae.trainStep(batches[step % 4]!, c.batch);
      const losses = await Promise.all(pending.splice(0));
      const last = (losses.at(-1) as Float32Array)[0]!;
      if (!Number.isFinite(last)) throw new Error(`TF.js VAE ${c.network} batch ${c.batch}: the loss became ${last}`);
    };
    await steps(1);
    const s0 = performance.now();
    await steps(1);
    const once = performance.now() - s0;
    const k = Math.max(1, Math.min(10, Math.ceil(300 / once)));
    // on slow adapters (one step ≥ 300 ms) the sizing step is already a sample
    const samples: number[] = k === 1 ? [once] : [];
    const start = performance.now();
    while (samples.length < 3 || (samples.length < 7 && performance.now() - start < 4000)) {
      const s = performance.now();
      await steps(k);
      samples.push((performance.now() - s) / k);
    }
    const t = stats(samples);
    rows.push({
      group: 'vae', impl, target, name: vaeRowName(c), unit: 'samples/s',
      median: (c.batch * 1e3) / t.median, min: (c.batch * 1e3) / t.max, max: (c.batch * 1e3) / t.min, reps: t.reps, ms: t.median,
      params: { model: 'vae', network: c.network, batch: c.batch, stepsPerRep: k }, work: c.batch,
    });
    log(`tfjs ${adapter}  ${rows.at(-1)!.name}: ${rows.at(-1)!.median.toFixed(0)} samples/s (${t.median.toFixed(0)} ms/step)`);
    vae.dispose();
  }
  notes.push(`tfjs VAE (bench/tfjs/vae.ts): tf.train.adam + TF.js autodiff, fused matmul+bias+ReLU; the minibatch is uploaded from the host each step (latentgpu gathers it on the GPU)`);
  if (!heavy) notes.push(`tfjs on ${adapter}: VAE only for the classic network at batch 128`);
}

const report: ChildReport = {
  target, impl, adapter: { ...info, tfjs: pkgVersion('@tensorflow/tfjs-core'), tfjsWebgpu: pkgVersion('@tensorflow/tfjs-backend-webgpu') },
  rows, notes, loadavg: { start: load0, end: loadavg() }, seconds: (performance.now() - t0) / 1e3,
};
writeReport(out, report);
process.exit(0);
