// Test harness: the WebGPU adapters the kernel suite runs on. A missing adapter
// is a failure, never a skip (set LATENTGPU_TEST_ADAPTERS to choose others,
// e.g. "gpu" on a machine with a real GPU).
import { afterAll } from 'vitest';
import { CpuBackend } from '../src/cpu/backend.ts';
import type { WebGpuBackend } from '../src/gpu/backend.ts';
import { ADAPTER_CHOICES, type AdapterChoice } from '../src/gpu/device.ts';
import { createWebGpuBackend } from '../src/node/backend.ts';

export const DEFAULT_TEST_ADAPTERS = 'swiftshader,llvmpipe';

/**
 * LATENTGPU_TEST_ADAPTERS as a list. Unset: swiftshader and llvmpipe. An empty or
 * blank value, or "none", is an error: every GPU suite would vanish without a failure.
 */
export function parseTestAdapters(value: string | undefined): AdapterChoice[] {
  const names = (value ?? DEFAULT_TEST_ADAPTERS).split(',').map((s) => s.trim().toLowerCase()).filter(Boolean);
  if (names.length === 0) {
    throw new Error(`LATENTGPU_TEST_ADAPTERS is set but empty: every GPU suite would be skipped. Name the adapters (e.g. "${DEFAULT_TEST_ADAPTERS}" or "gpu")`);
  }
  const choices = ADAPTER_CHOICES.filter((c) => c !== 'auto');
  for (const n of names) {
    if (!(choices as readonly string[]).includes(n)) throw new Error(`LATENTGPU_TEST_ADAPTERS: '${n}' is not one of ${choices.join(', ')} (the WebGPU suites cannot be turned off: a missing adapter is a failure)`);
  }
  return names as AdapterChoice[];
}

export const TEST_ADAPTERS: AdapterChoice[] = parseTestAdapters(process.env.LATENTGPU_TEST_ADAPTERS);

const cache = new Map<string, Promise<WebGpuBackend>>();

/** One backend per adapter per test file (worker process). */
export function gpuBackend(adapter: AdapterChoice): Promise<WebGpuBackend> {
  let b = cache.get(adapter);
  if (!b) {
    b = createWebGpuBackend(adapter);
    cache.set(adapter, b);
  }
  return b;
}

// Dawn keeps a process alive while a device exists (node-webgpu issue 17)
afterAll(async () => {
  for (const b of cache.values()) (await b).destroy();
  cache.clear();
});

export const cpu = new CpuBackend();

/** Deterministic pseudo-random data for tests (mulberry32). */
export function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function randomArray(n: number, seed: number, lo = -1, hi = 1): Float32Array {
  const r = rng(seed);
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = lo + (hi - lo) * r();
  return a;
}

/** max |a−b| / (atol + rtol·|b|) ≤ 1 elementwise; returns the worst ratio and index. */
export function closeness(a: ArrayLike<number>, b: ArrayLike<number>, atol: number, rtol: number): { worst: number; at: number } {
  if (a.length !== b.length) throw new Error(`length ${a.length} vs ${b.length}`);
  let worst = 0;
  let at = -1;
  for (let i = 0; i < a.length; i++) {
    const r = Math.abs(a[i]! - b[i]!) / (atol + rtol * Math.abs(b[i]!));
    if (!(r <= worst)) {
      worst = r;
      at = i;
    }
  }
  return { worst, at };
}

export function expectClose(a: ArrayLike<number>, b: ArrayLike<number>, atol: number, rtol: number, what = ''): void {
  const { worst, at } = closeness(a, b, atol, rtol);
  if (!(worst <= 1)) {
    throw new Error(`${what}: mismatch at ${at}: got ${a[at]}, want ${b[at]} (atol ${atol}, rtol ${rtol}, ratio ${worst.toFixed(2)})`);
  }
}
