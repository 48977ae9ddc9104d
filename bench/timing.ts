// Timing one recorded kernel call on a backend: warm-up (compiles), then samples
// of `inner` back-to-back calls each closed by finish() and a one-element readback,
// so GPU work is done when the clock stops. `inner` grows for short kernels, since
// a single finish() round trip costs milliseconds on the software adapters.
import type { Backend, Tensor } from '../src/lib/core.ts';
import { stats, type Stats } from './shapes.ts';

export interface Timing extends Stats {
  /** kernel calls per sample */
  inner: number;
  /**
   * median process CPU time per call, ms (user + system, all threads: Dawn's and the
   * software adapter's workers included) — steadier than wall time on a shared machine
   */
  cpuMs: number;
}

export async function timeKernel(
  be: Backend, run: () => void, probe: Tensor,
  opts: { reps: number; minSampleMs: number; maxInner?: number },
): Promise<Timing> {
  const sync = async () => {
    await be.finish();
    await be.read(probe);
  };
  run();
  await sync();
  const t0 = performance.now();
  run();
  await sync();
  const once = Math.max(performance.now() - t0, 1e-3);
  const inner = Math.max(1, Math.min(opts.maxInner ?? 64, Math.ceil(opts.minSampleMs / once)));
  const samples: number[] = [];
  const cpu: number[] = [];
  for (let r = 0; r < opts.reps; r++) {
    const c0 = process.cpuUsage();
    const s = performance.now();
    for (let i = 0; i < inner; i++) run();
    await sync();
    samples.push((performance.now() - s) / inner);
    const c = process.cpuUsage(c0);
    cpu.push((c.user + c.system) / 1e3 / inner);
  }
  return { ...stats(samples), inner, cpuMs: stats(cpu).median };
}
