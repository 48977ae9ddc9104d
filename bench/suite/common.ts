// Shared pieces of the benchmark suite (bench/run.ts): the result row every
// child process reports, repeated timing with a time budget, and the
// conditions recorded with each run (versions, load, adapter).
import { readFileSync, writeFileSync } from 'node:fs';
import { cpus, hostname, loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import type { AdapterChoice, WebGpuBackend } from '../../src/index.ts';
import { stats, type Stats } from '../shapes.ts';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** One measured figure. `median/min/max` are in `unit`; min/max over the repetitions. */
export interface BenchRow {
  /** peak | matmul | memory | vae | ppca-em | ppca-sem | curve | breakdown */
  group: string;
  /** who ran it: latentgpu, tfjs, ... */
  impl: string;
  /** where: llvmpipe, swiftshader, gpu, cpu-ts, cpu-wasm, ... */
  target: string;
  name: string;
  unit: string;
  median: number; min: number; max: number; reps: number;
  /** median milliseconds per call / step / iteration */
  ms: number;
  /** shape parameters, for the cost curves: n, D, d, batch, m, k ... */
  params?: Record<string, number | string>;
  /** work per call (FLOP for GFLOP/s, bytes for GB/s, samples for samples/s) */
  work?: number;
}

export interface ChildReport {
  target: string;
  impl: string;
  /** adapter.info (name, isFallbackAdapter) or the CPU description */
  adapter: Record<string, unknown> | null;
  rows: BenchRow[];
  notes: string[];
  loadavg: { start: number[]; end: number[] };
  seconds: number;
  /** anything else the child measured (the VAE step breakdown) */
  extra?: Record<string, unknown>;
}

export function pkgVersion(name: string): string {
  return (JSON.parse(readFileSync(`${ROOT}node_modules/${name}/package.json`, 'utf8')) as { version: string }).version;
}

export function conditions(): Record<string, unknown> {
  return {
    host: hostname(), node: process.version, cpus: cpus().length, cpuModel: cpus()[0]?.model ?? 'unknown',
    loadavg: loadavg(),
  };
}

export const log = (s: string): void => {
  process.stderr.write(`${s}\n`);
};

export interface TimeOptions {
  /** untimed calls first (pipeline compilation, JIT, pools) */
  warmup?: number;
  minReps?: number;
  maxReps?: number;
  /** stop adding repetitions once this much time went into them (after minReps) */
  budgetMs?: number;
  /** each repetition repeats the call until it lasts this long (at most maxInner times) */
  minSampleMs?: number;
  maxInner?: number;
}

/**
 * Milliseconds per call of `run` (median, min, max over repetitions). `run` must
 * return only when its work is done — for GPU work, after a readback — so each
 * repetition's clock stops on finished work; `inner` calls share one repetition.
 */
export async function timeCalls(run: () => Promise<void> | void, o: TimeOptions = {}): Promise<Stats & { inner: number }> {
  const warmup = o.warmup ?? 1, minReps = o.minReps ?? 3, maxReps = o.maxReps ?? 7;
  const budget = o.budgetMs ?? 3000, minSample = o.minSampleMs ?? 50, maxInner = o.maxInner ?? 32;
  for (let i = 0; i < warmup; i++) await run();
  const t0 = performance.now();
  await run();
  const once = Math.max(performance.now() - t0, 1e-3);
  const inner = Math.max(1, Math.min(maxInner, Math.ceil(minSample / once)));
  const samples: number[] = [];
  const start = performance.now();
  while (samples.length < minReps || (samples.length < maxReps && performance.now() - start < budget)) {
    const s = performance.now();
    for (let i = 0; i < inner; i++) await run();
    samples.push((performance.now() - s) / inner);
  }
  return { ...stats(samples), inner };
}

/** A row of a throughput figure from per-call times: rate = work / time. */
export function rateRow(base: Omit<BenchRow, 'median' | 'min' | 'max' | 'reps' | 'ms' | 'unit'>, t: Stats, work: number, unit: 'GFLOP/s' | 'GB/s' | 'samples/s' | 'steps/s'): BenchRow {
  const scale = unit === 'GFLOP/s' || unit === 'GB/s' ? 1e6 : 1e-3;
  const rate = (ms: number) => work / (ms * scale);
  return { ...base, unit, median: rate(t.median), min: rate(t.max), max: rate(t.min), reps: t.reps, ms: t.median, work };
}

export function argValue(name: string, fallback?: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1] : fallback;
}

export function writeReport(path: string, r: ChildReport): void {
  writeFileSync(path, `${JSON.stringify(r, null, 2)}\n`);
}

/** A WebGPU backend on the adapter, or exit code 3 when it is not there (the drivers record that and go on). */
export async function openAdapterOrExit(adapter: AdapterChoice): Promise<WebGpuBackend> {
  // loaded here, so the TF.js and browser drivers that import this file do not load the library
  const { NoAdapterError, createWebGpuBackend } = await import('../../src/index.ts');
  try {
    return await createWebGpuBackend(adapter);
  } catch (e) {
    if (e instanceof NoAdapterError) {
      log(`${adapter}: ${(e as Error).message}`);
      process.exit(3);
    }
    throw e;
  }
}
