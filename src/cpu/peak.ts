// CPU reference of shaders/peak.wgsl: the same 16 FMA chains per element in
// float32 (each step rounded, as an unfused multiply-add would be; the kernel may
// fuse — the chains contract, so the difference stays within a few ulps).
import { PEAK_UNROLL, checkPeak, type PeakParams } from '../kernels/peak.ts';

/** Chain j of an element starts at seed + PEAK_OFFSETS[j] (the kernel's constants). */
export const PEAK_OFFSETS: readonly number[] = Array.from({ length: 16 }, (_, j) => j / 100);

export function fmaChainsRef(p: PeakParams<Float32Array>): void {
  checkPeak(p);
  const f = Math.fround;
  const a = f(p.a), b = f(p.b);
  for (let i = 0; i < p.n; i++) {
    const c = PEAK_OFFSETS.map((o) => f(p.seed[i]! + f(o)));
    for (let t = 0; t < p.iters * PEAK_UNROLL; t++) {
      for (let j = 0; j < 16; j++) c[j] = f(f(c[j]! * a) + b);
    }
    // the kernel's summation order: (c0+c1)+(c2+c3) per lane, then (x+y)+(z+w)
    const v = [0, 1, 2, 3].map((l) => f(f(c[l]! + c[4 + l]!) + f(c[8 + l]! + c[12 + l]!)));
    p.out[i] = f(f(v[0]! + v[1]!) + f(v[2]! + v[3]!));
  }
}
