// The benchmark tab: the same work on WebGPU and on the CPU backend (the
// WebAssembly SIMD one) in this browser — matmul GFLOP/s at a few sizes and
// training samples/s for each model with an adapter — shown as bars and as raw
// JSON. Every GPU figure is synchronized by waiting for the queue (finish)
// before the clock stops; a training figure counts whole ticks, each ending in
// a read-back.
import { createRun, type Backend, type RunConfig, type RunKind } from '../src/browser.ts';
import { loadMnist } from './data.ts';
import { runOptions } from './runs.ts';
import { backendLabel, openBackend, openCpuBackend, yieldToEventLoop } from './runtime.ts';
import { BenchChart } from './ui/charts.ts';
import { $, setText } from './ui/dom.ts';

interface Figure {
  name: string;
  unit: string;
  webgpu: number | null;
  cpu: number | null;
}

const MATMUL_SIZES = [64, 128, 256];

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

async function timeMatmul(b: Backend, n: number): Promise<number> {
  const a = b.tensor(n * n, { data: Float32Array.from({ length: n * n }, (_, i) => ((i * 7919) % 13) / 13 - 0.5) });
  const bb = b.tensor(n * n, { data: Float32Array.from({ length: n * n }, (_, i) => ((i * 104729) % 17) / 17 - 0.5) });
  const c = b.tensor(n * n);
  try {
    const run = (): void => b.matmul({ a, b: bb, c, m: n, n, k: n });
    run();
    await b.finish();
    // enough repetitions for ~0.2 s per sample on this backend
    let reps = 1;
    for (;;) {
      const t0 = performance.now();
      for (let r = 0; r < reps; r++) run();
      await b.finish();
      const dt = performance.now() - t0;
      if (dt > 150 || reps >= 256) break;
      reps *= 2;
      await yieldToEventLoop();
    }
    const times: number[] = [];
    for (let s = 0; s < 3; s++) {
      const t0 = performance.now();
      for (let r = 0; r < reps; r++) run();
      await b.finish();
      times.push((performance.now() - t0) / reps);
      await yieldToEventLoop();
    }
    return (2 * n ** 3) / (median(times) / 1000) / 1e9;
  } finally {
    b.release(a);
    b.release(bb);
    b.release(c);
  }
}

/** The classic VAE of the Node benchmarks (bench/vae.ts, bench/cpu-wasm.ts): 784-400-20, Bernoulli, batch 128. */
export const CLASSIC_VAE: Partial<RunConfig> = { hidden: [400], latent: 20, batch: 128, stepsPerTick: 5, likelihood: 'bernoulli' };

const TRAIN_KINDS: { kind: RunKind; label: string; cfg: Partial<RunConfig> }[] = [
  { kind: 'vae', label: 'VAE 784→128→2 training, batch 128', cfg: { hidden: [128], latent: 2, batch: 128, stepsPerTick: 5 } },
  { kind: 'vae', label: 'VAE 784→400→20 (classic) training, batch 128', cfg: CLASSIC_VAE },
  { kind: 'ppca-em', label: 'PPCA exact EM, d = 10', cfg: { latent: 10, stepsPerTick: 1 } },
  // α₀ small enough for MNIST's σ² ≈ 0.05 (the gradient scales with 1/σ²); only the speed is measured
  { kind: 'ppca-sem', label: 'PPCA stochastic EM, d = 10, batch 128', cfg: { latent: 10, batch: 128, stepsPerTick: 10, semLr: 1e-4 } },
];

const BASE: RunConfig = {
  kind: 'vae', latent: 2, seed: 1, batch: 128, stepsPerTick: 5, semLr: 0.05, semTau: 100, semKappa: 0.7,
  oemKappa: 0.6, hidden: [128], likelihood: 'bernoulli', lr: 1e-3, testCurve: false,
};

/** Training samples per second over ≥ `seconds` of whole ticks on the MNIST subset (after one warm-up tick). */
export async function timeTraining(b: Backend, kind: RunKind, cfg: Partial<RunConfig>, seconds = 1.5): Promise<number> {
  const data = await loadMnist(2048, 256);
  const runner = await createRun(b, { ...BASE, ...cfg, kind }, data.train, data.test, runOptions(data));
  try {
    await runner.tick();
    let samples = 0;
    const t0 = performance.now();
    while (performance.now() - t0 < seconds * 1000) {
      samples += (await runner.tick()).samples;
      await yieldToEventLoop();
    }
    return samples / ((performance.now() - t0) / 1000);
  } finally {
    runner.dispose();
  }
}

/** Wires the benchmark tab; returns its chart (the end-to-end tests read the labels drawn). */
export function setupBenchmark(): BenchChart {
  const chart = new BenchChart($<HTMLCanvasElement>('chart-bench'));
  const button = $<HTMLButtonElement>('btn-bench');
  button.addEventListener('click', async () => {
    button.disabled = true;
    const figures: Figure[] = [];
    const { backend: gpu, fallbackNotice } = await openBackend('webgpu');
    const cpu = await openCpuBackend();
    const backends: [keyof Pick<Figure, 'webgpu' | 'cpu'>, Backend | null][] = [
      ['webgpu', gpu.info.backend === 'webgpu' ? gpu : null],
      ['cpu', cpu],
    ];
    const result = {
      date: new Date().toISOString(),
      userAgent: navigator.userAgent,
      webgpu: gpu.info.backend === 'webgpu' ? backendLabel(gpu).name : `unavailable: ${fallbackNotice}`,
      adapter: gpu.info.adapter ?? null,
      cpu: cpu.info.summary,
      crossOriginIsolated: globalThis.crossOriginIsolated === true,
      figures,
    };
    try {
      for (const n of MATMUL_SIZES) {
        const f: Figure = { name: `matmul ${n}³`, unit: 'GFLOP/s', webgpu: null, cpu: null };
        for (const [key, b] of backends) {
          if (!b) continue;
          setText('bench-status', `matmul ${n}³ on ${key}…`);
          f[key] = await timeMatmul(b, n);
        }
        figures.push(f);
      }
      for (const t of TRAIN_KINDS) {
        const f: Figure = { name: t.label, unit: 'samples/s', webgpu: null, cpu: null };
        for (const [key, b] of backends) {
          if (!b) continue;
          setText('bench-status', `${t.label} on ${key}…`);
          f[key] = await timeTraining(b, t.kind, t.cfg);
        }
        figures.push(f);
      }
      setText('bench-status', 'done');
    } catch (e) {
      setText('bench-status', `failed: ${(e as Error).message}`);
    } finally {
      if (gpu !== cpu) gpu.destroy();
      cpu.destroy();
      button.disabled = false;
    }
    chart.set(
      figures.map((f) => `${f.name} (${f.unit})`),
      [
        { name: 'WebGPU', values: figures.map((f) => f.webgpu) },
        { name: 'CPU backend', values: figures.map((f) => f.cpu) },
      ],
    );
    $<HTMLTextAreaElement>('bench-json').value = JSON.stringify(result, null, 2);
  });
  $('btn-bench-copy').addEventListener('click', () => {
    const text = $<HTMLTextAreaElement>('bench-json').value;
    void navigator.clipboard?.writeText(text);
  });
  return chart;
}
