// The browser half of the benchmark (npm run bench:browser): in the page, on the
// adapter navigator.gpu offers (SwiftShader in headless Chromium here), the same
// comparison as the Node suite for the headline figures — peak FMA throughput,
// matmul 512³ and the classic VAE layer shape, and the classic VAE training step
// at batch 128 — for latentgpu and for TensorFlow.js 4.22's WebGPU backend,
// where TF.js is at home. Results go to window.__bench for bench/browser/run.ts.
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-webgpu';
import { WebGpuBackend, adapterName, createBackend, fetchMnist } from '../../src/browser.ts';
import { PEAK_WORKGROUPS, fmaChains, matmulVariantFor, peakFlops, tuneMatmul } from '../../src/lib/kernels.ts';
import { matmulCases, stats } from '../shapes.ts';
import type { BenchRow } from '../suite/common.ts';
import { matmulRowName, sizePeakIters } from '../suite/kernels.ts';
import { VAE_CASES, batchIndices, measureVae, vaeRowName } from '../suite/vae-step.ts';
import { createTfjsVae } from '../tfjs/vae.ts';
import mnistUrl from '../../data/mnist-10k.bin?url';

declare global {
  interface Window { __bench?: { done: boolean; error?: string; result?: unknown } }
}

const logEl = document.getElementById('log')!;
const log = (s: string) => {
  logEl.textContent += `${s}\n`;
  console.log(s);
};

const SHAPES = matmulCases(false).filter((c) => c.name === '512³' || c.name === 'X·W1 128×784→400');
const CLASSIC_128 = VAE_CASES[1]!;

/** ms per call: `inner` calls then `sync` (a readback); median over reps. */
async function timeIt(call: () => void, sync: () => Promise<void>, reps = 3, minSampleMs = 100) {
  const sample = async (inner: number) => {
    const s = performance.now();
    for (let i = 0; i < inner; i++) call();
    await sync();
    return (performance.now() - s) / inner;
  };
  await sample(1);
  const once = await sample(1);
  const inner = Math.max(1, Math.min(32, Math.ceil(minSampleMs / once)));
  const xs: number[] = inner === 1 ? [once] : [];
  while (xs.length < reps) xs.push(await sample(inner));
  return stats(xs);
}

function gflopRow(impl: string, target: string, name: string, flops: number, t: { median: number; min: number; max: number; reps: number }, params: Record<string, number | string>): BenchRow {
  return {
    group: name.startsWith('peak') ? 'peak' : 'matmul', impl, target, name, unit: 'GFLOP/s', median: flops / (t.median * 1e6),
    min: flops / (t.max * 1e6), max: flops / (t.min * 1e6), reps: t.reps, ms: t.median, params, work: flops,
  };
}

async function latentgpu(target: string, rows: BenchRow[], data: { x: Float32Array; n: number }): Promise<Record<string, unknown>> {
  const gpu = await createBackend({ backend: 'webgpu' });
  if (!(gpu instanceof WebGpuBackend)) throw new Error(`no WebGPU backend: ${gpu.info.summary}`);
  await tuneMatmul(gpu);
  const a = gpu.info.adapter!;
  const info = { ...a, name: adapterName(a), matmulVariant: matmulVariantFor(gpu) };
  log(`latentgpu on ${info.name}, matmul variant ${info.matmulVariant}`);
  // peak
  const n = 1 << 16;
  const seed = gpu.tensor(n, { data: new Float32Array(n).map((_, i) => (i % 97) / 97) });
  const out = gpu.tensor(n);
  const probe = gpu.view(out, 0, 1);
  const sync = async () => {
    await gpu.finish();
    await gpu.read(probe);
  };
  let best: BenchRow | null = null;
  for (const wg of PEAK_WORKGROUPS) {
    if (wg > gpu.limits.maxComputeInvocationsPerWorkgroup) continue;
    const iters = await sizePeakIters((it) => fmaChains(gpu, { seed, out, n, iters: it, a: 0.99, b: 0.01 }, wg), sync);
    const t = await timeIt(() => fmaChains(gpu, { seed, out, n, iters, a: 0.99, b: 0.01 }, wg), sync, 5);
    const row = gflopRow('latentgpu', target, 'peak FMA (shaders/peak.wgsl)', peakFlops(n, iters), t, { workgroup: wg, iters });
    if (!best || row.median > best.median) best = row;
  }
  rows.push(best!);
  log(`  peak ${best!.median.toFixed(2)} GFLOP/s`);
  gpu.release(seed);
  gpu.release(out);
  for (const c of SHAPES) {
    const ta = gpu.tensor(c.m * c.k, { data: new Float32Array(c.m * c.k).map((_, i) => ((i * 7) % 13) / 13 - 0.5) });
    const tb = gpu.tensor(c.k * c.n, { data: new Float32Array(c.k * c.n).map((_, i) => ((i * 5) % 11) / 11 - 0.5) });
    const tc = gpu.tensor(c.m * c.n);
    const p = gpu.view(tc, 0, 1);
    const t = await timeIt(() => gpu.matmul({ a: ta, b: tb, c: tc, m: c.m, n: c.n, k: c.k }), async () => {
      await gpu.finish();
      await gpu.read(p);
    });
    rows.push(gflopRow('latentgpu', target, matmulRowName(c.name), 2 * c.m * c.n * c.k, t, { m: c.m, n: c.n, k: c.k }));
    log(`  ${rows.at(-1)!.name}: ${rows.at(-1)!.median.toFixed(2)} GFLOP/s`);
    for (const x of [ta, tb, tc]) gpu.release(x);
  }
  rows.push(...await measureVae(gpu, { target, cases: [CLASSIC_128], data, log }));
  gpu.destroy();
  return info;
}

async function tfjs(target: string, rows: BenchRow[], data: { x: Float32Array; n: number }): Promise<void> {
  if (!(await tf.setBackend('webgpu'))) throw new Error('TF.js: the WebGPU backend did not start');
  await tf.ready();
  log(`TF.js ${tf.version_core} on ${tf.getBackend()}`);
  for (const c of SHAPES) {
    const a = tf.tensor2d(new Float32Array(c.m * c.k).map((_, i) => ((i * 7) % 13) / 13 - 0.5), [c.m, c.k]);
    const b = tf.tensor2d(new Float32Array(c.k * c.n).map((_, i) => ((i * 5) % 11) / 11 - 0.5), [c.k, c.n]);
    let last: tf.Tensor | null = null;
    const t = await timeIt(() => {
      last?.dispose();
      last = tf.matMul(a, b);
    }, async () => {
      await last!.data();
    });
    (last as tf.Tensor | null)?.dispose();
    rows.push(gflopRow('tfjs', target, matmulRowName(c.name), 2 * c.m * c.n * c.k, t, { m: c.m, n: c.n, k: c.k }));
    log(`  TF.js ${rows.at(-1)!.name}: ${rows.at(-1)!.median.toFixed(2)} GFLOP/s`);
    a.dispose();
    b.dispose();
  }
  // the same asynchronous loss read as in Node (bench/tfjs/bench.ts): synchronous reads stall the page
  const pending: Promise<unknown>[] = [];
  (tf.Tensor.prototype as unknown as { dataSync: () => Float32Array }).dataSync = function (this: tf.Tensor) {
    const c = this.clone();
    pending.push(c.data().then((v) => {
      c.dispose();
      return v;
    }));
    return new Float32Array([NaN]);
  };
  const c = CLASSIC_128, D = 784;
  const vae = createTfjsVae({ dataDim: D, latent: c.cfg.latent, hidden: c.cfg.encoderHidden });
  const batches = [0, 1, 2, 3].map((w) => {
    const x = new Float32Array(c.batch * D);
    batchIndices(data.n, c.batch, w).forEach((r, i) => x.set(data.x.subarray(r * D, (r + 1) * D), i * D));
    return x;
  });
  let step = 0;
  const t = await timeIt(() => vae.trainStep(batches[step++ % 4]!, c.batch), async () => {
    await Promise.all(pending.splice(0));
  }, 3, 300);
  rows.push({
    group: 'vae', impl: 'tfjs', target, name: vaeRowName(c), unit: 'samples/s', median: (c.batch * 1e3) / t.median,
    min: (c.batch * 1e3) / t.max, max: (c.batch * 1e3) / t.min, reps: t.reps, ms: t.median, params: { network: c.network, batch: c.batch }, work: c.batch,
  });
  log(`  TF.js ${rows.at(-1)!.name}: ${rows.at(-1)!.median.toFixed(0)} samples/s`);
  vae.dispose();
}

async function main(): Promise<void> {
  window.__bench = { done: false };
  try {
    const { train } = await fetchMnist(mnistUrl);
    const rows: BenchRow[] = [];
    const target = 'browser';
    const adapter = await latentgpu(target, rows, train);
    await tfjs(target, rows, train);
    window.__bench = { done: true, result: { userAgent: navigator.userAgent, adapter, rows, date: new Date().toISOString() } };
  } catch (e) {
    window.__bench = { done: true, error: e instanceof Error ? `${e.message}\n${e.stack}` : String(e) };
  }
}

if (new URLSearchParams(location.search).has('run')) void main();
